/**
 * A real `slipway server` process killed with SIGKILL in the middle of a canary and started
 * again on the same SLIPWAY_HOME: by default the release rolls back with a reason naming the
 * restart and the champion serves everything; with `onRestart: resume` it continues from its
 * recorded step and promotes.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from './e2e/server-process.js';
import { fixture, holdout } from './support/serving.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const cancer = holdout('breast_cancer');
const TERMINAL = ['promoted', 'rejected', 'rolled_back', 'aborted'];

class Client {
  readonly pool: Pool;
  constructor(readonly server: ServerProcess) {
    this.pool = new Pool(server.url, { connections: 8 });
  }
  async api(method: string, path: string, body?: unknown, raw?: Buffer): Promise<Json> {
    const headers = { 'content-type': raw ? 'application/octet-stream' : 'application/json' };
    const res = await this.pool.request({ method: method as 'GET', path: `/api/v1${path}`, headers, ...(raw ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.body.text();
    return { ...(text ? (JSON.parse(text) as Json) : {}), http: res.statusCode };
  }
  async infer(i: number): Promise<{ status: number; version: string }> {
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[i % cancer.rows.length] }] });
    const res = await this.pool.request({ method: 'POST', path: '/v2/models/cancer/infer', body, headers: { 'content-type': 'application/json' } });
    const text = await res.body.text();
    return { status: res.statusCode, version: res.statusCode === 200 ? (JSON.parse(text) as Json).model_version : text };
  }
  async served(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if ((await this.infer(0)).status === 200) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('cancer is not served');
  }
  async until(id: string, done: (r: Json) => boolean): Promise<Json> {
    for (let i = 0; i < 400; i++) {
      const r = await this.api('GET', `/releases/${id}`);
      if (done(r)) return r;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`release ${id} did not get there`);
  }
  /** Requests from `n` callers until `stop` resolves; the versions that answered and the failures. */
  async loadUntil<T>(n: number, stop: Promise<T>): Promise<{ result: T; versions: Set<string>; failures: string[] }> {
    const versions = new Set<string>();
    const failures: string[] = [];
    let done = false;
    let i = 0;
    const deadline = Date.now() + 20_000;
    const client = async () => {
      while (!done && Date.now() < deadline) {
        const r = await this.infer(i++);
        if (r.status === 200) versions.add(r.version);
        else failures.push(`${r.status} ${r.version}`);
      }
    };
    const running = Promise.all(Array.from({ length: n }, client));
    const result = await stop.finally(() => (done = true));
    await running;
    return { result, versions, failures };
  }
  async close(): Promise<void> {
    await this.pool.close();
  }
}

describe('a server killed during a canary', () => {
  let home: string | undefined;
  const procs: ServerProcess[] = [];
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    if (home) removeHome(home);
    home = undefined;
  });

  async function start(): Promise<Client> {
    const p = await startServerProcess(home as string);
    procs.push(p);
    return new Client(p);
  }

  async function kill(c: Client): Promise<void> {
    await c.close();
    c.server.child.kill('SIGKILL');
    expect(await c.server.exited).toBe('SIGKILL');
  }

  it('rolls back by default (reason names the restart, alias unchanged, champion serves all) and resumes when asked', async () => {
    home = freshHome();
    const c = await start();
    for (const [v, file] of [[1, 'breast_cancer_mlp.onnx'], [2, 'release/cancer_good.onnx']] as const) {
      expect((await c.api('PUT', `/artifacts/models/cancer/v${v}/model.onnx`, undefined, readFileSync(fixture(file)))).http).toBe(200);
    }
    expect((await c.api('POST', '/models', { name: 'cancer' })).http).toBe(201);
    for (const v of [1, 2]) expect((await c.api('POST', '/models/cancer/versions', { source: `mlflow-artifacts:/models/cancer/v${v}` })).http).toBe(201);
    await c.api('PUT', '/models/cancer/aliases/champion', { version: '1' });
    await c.served();
    const checks = { maxP99Ratio: 20, minRequests: 5 };

    // Default: the rollout cut short by the kill rolls back on the next start.
    const a = await c.api('POST', '/releases', { model: 'cancer', version: '2', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [10, 50, 100], interval: '10m', checks } } });
    expect(a.http).toBe(201);
    await c.until(a.id, (r) => r.state === 'rolling_out' && r.rollout !== undefined);
    await kill(c);

    const c2 = await start();
    const after = await c2.until(a.id, (r) => TERMINAL.includes(r.state));
    expect(after.state).toBe('rolled_back');
    expect(after.reason).toMatch(/The server restarted during the rollout \(step 1, 10 %\); rolled back/);
    expect((await c2.api('GET', '/models/cancer/aliases/champion')).version).toBe('1');
    await c2.served();
    const versions = new Set<string>();
    for (let i = 0; i < 60; i++) versions.add((await c2.infer(i)).version);
    expect([...versions]).toEqual(['1']);

    // Resume: the next start picks the canary up at its recorded step and promotes it.
    const b = await c2.api('POST', '/releases', {
      model: 'cancer',
      version: '2',
      environment: 'champion',
      policy: { onRestart: 'resume', strategy: { kind: 'canary', steps: [10, 50, 100], interval: '1500ms', checks } },
    });
    expect(b.http).toBe(201);
    await c2.until(b.id, (r) => r.state === 'rolling_out' && r.rollout !== undefined);
    await kill(c2);

    const c3 = await start();
    const run = await c3.loadUntil(4, c3.until(b.id, (r) => TERMINAL.includes(r.state)));
    expect(run.result.state, run.result.reason).toBe('promoted');
    expect(run.failures).toEqual([]);
    expect(run.versions.has('2')).toBe(true);
    // The step-1 rollout ran again after the restart, then 50 and 100.
    expect(run.result.events.filter((e: Json) => e.type === 'step').map((e: Json) => e.details.weight)).toEqual([10, 10, 50, 100]);
    expect((await c3.api('GET', '/models/cancer/aliases/champion')).version).toBe('2');
    expect((await c3.infer(3)).version).toBe('2');
    await c3.close();
  }, 60_000);
});
