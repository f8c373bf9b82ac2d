/** The embedded API the command line answers itself with: bodies stream like a server's and can be dropped half read. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { silentLogger } from '../core/logger.js';
import { SlipwayClient } from '../client/slipway-client.js';
import { openInProcessApi, type InProcessApi } from './in-process-api.js';

describe('the in-process API', () => {
  let home: string;
  let api: InProcessApi;
  let client: SlipwayClient;
  const data = new Uint8Array(3 * 1024 * 1024).fill(1);

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-in-process-'));
    api = await openInProcessApi(resolveConfig({}, { SLIPWAY_HOME: home }, home), { logger: silentLogger });
    client = new SlipwayClient({ url: api.url, fetch: api.fetch });
    await client.artifacts.put('releases/holdouts/big.bin', data);
  });
  afterAll(async () => {
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('lets a download be cancelled unread or after a chunk without failing the process (Node 20 toWeb threw "Controller is already closed")', async () => {
    const unread = await client.artifacts.get('releases/holdouts/big.bin');
    await unread.body.cancel();
    const started = await client.artifacts.get('releases/holdouts/big.bin');
    const reader = started.body.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    // Chunks that were already flowing must not reach the cancelled stream: give them time to arrive.
    await new Promise((done) => setTimeout(done, 200));
    const whole = await client.artifacts.get('releases/holdouts/big.bin');
    expect((await new Response(whole.body).arrayBuffer()).byteLength).toBe(data.length);
  });
});
