import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.js';
import { SwapCoordinator } from './supervisor.js';

describe('swapping a new version across workers', () => {
  let ready = [1, 2, 3];
  let sent: string[] = [];
  const coordinators: SwapCoordinator[] = [];
  const make = (timeoutMs?: number) => {
    const c = new SwapCoordinator({ ready: () => ready, send: (w, name, version, go) => sent.push(`${w}:${name}@${version}:${go ? 'swap' : 'drop'}`), logger: silentLogger, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    coordinators.push(c);
    // Every worker serves version 1 of m.
    for (const w of ready) c.serving(w, 'm', '1');
    return c;
  };
  afterEach(() => {
    for (const c of coordinators.splice(0)) c.close();
    ready = [1, 2, 3];
    sent = [];
  });

  it('swaps in every worker at once, only when the last ready worker has the version loaded', () => {
    const c = make();
    c.prepared(1, 'm', '2');
    c.prepared(2, 'm', '2');
    expect(sent).toEqual([]);
    c.prepared(3, 'm', '2');
    expect(sent).toEqual(['1:m@2:swap', '2:m@2:swap', '3:m@2:swap']);
  });

  it('drops the version everywhere when one worker cannot load it, also in a worker that loads it later', () => {
    const c = make();
    c.prepared(1, 'm', '2');
    c.failed(2, 'm', '2', 'out of memory');
    expect(sent).toEqual(['1:m@2:drop']);
    c.prepared(3, 'm', '2');
    expect(sent).toEqual(['1:m@2:drop', '3:m@2:drop']);
  });

  it('does not wait for a worker that died; a replacement already serving the version counts as having it', () => {
    const c = make();
    c.prepared(1, 'm', '2');
    c.prepared(2, 'm', '2');
    ready = [1, 2];
    c.gone(3);
    expect(sent).toEqual(['1:m@2:swap', '2:m@2:swap']);
    sent = [];
    c.prepared(1, 'm', '3');
    ready = [1, 4];
    c.serving(4, 'm', '3');
    expect(sent).toEqual(['1:m@3:swap']);
  });

  it('ends a round when the alias moves on: workers waiting on the older version drop it and gather on the newer one', () => {
    const c = make();
    c.prepared(1, 'm', '2');
    c.prepared(2, 'm', '3');
    expect(sent).toEqual(['1:m@2:drop']);
    c.prepared(1, 'm', '3');
    c.prepared(3, 'm', '3');
    expect(sent.slice(1)).toEqual(['2:m@3:swap', '1:m@3:swap', '3:m@3:swap']);
  });

  it('does not wait for a worker that does not serve the model, and counts one that loaded the new version on its own', () => {
    const c = new SwapCoordinator({ ready: () => [1, 2, 3], send: (w, name, version, go) => sent.push(`${w}:${name}@${version}:${go ? 'swap' : 'drop'}`), logger: silentLogger });
    coordinators.push(c);
    c.serving(1, 'm', '1');
    c.serving(2, 'm', '1');
    // Worker 3 never had a request for m: it has nothing to swap.
    c.prepared(1, 'm', '2');
    expect(sent).toEqual([]);
    // Worker 2 loads m for the first time meanwhile, at the version the alias names now (no gate: it had none).
    c.serving(2, 'm', '2');
    expect(sent).toEqual(['1:m@2:swap']);
    // A worker that unloaded m no longer counts.
    sent = [];
    c.serving(3, 'm', '2');
    c.serving(2, 'm', undefined);
    c.prepared(1, 'm', '3');
    c.prepared(3, 'm', '3');
    expect(sent).toEqual(['1:m@3:swap', '3:m@3:swap']);
  });

  it('calls the swap off when not every worker has the version within the time allowed', async () => {
    const c = make(50);
    c.prepared(1, 'm', '2');
    await new Promise((r) => setTimeout(r, 120));
    expect(sent).toEqual(['1:m@2:drop']);
  });
});
