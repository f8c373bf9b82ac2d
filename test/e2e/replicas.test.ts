/**
 * Three `slipway server` processes on one PostgreSQL database: they serve the same data, one of
 * them at a time holds each background job, a killed or stalled holder is taken over within the
 * lease time (and the stalled one, resumed, acts no more), an alias moved through one replica
 * is served by another within about a second, and a canary splits the traffic of every replica.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../support/dialects.js';
import { fixture, holdout } from '../support/serving.js';
import { freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from './server-process.js';

const LEASE_MS = 2000;
const cancer = holdout('breast_cancer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LeaseRow {
  name: string;
  holder: string;
  token: number;
}

describe('replicas on one PostgreSQL database', () => {
  let db: { uri: string; drop(): Promise<void> };
  let admin: pg.Client;
  let artifacts: string;
  const homes: string[] = [];
  const replicas: ServerProcess[] = [];

  const pidOf = (holder: string): number => Number(holder.split(':').at(-2));
  const replicaOf = (holder: string): ServerProcess | undefined => replicas.find((r) => r.child.pid === pidOf(holder));
  const lease = async (name: string): Promise<LeaseRow | undefined> =>
    (await admin.query<LeaseRow>('select name, holder, token::int as token from job_leases where name = $1 and expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint', [name])).rows[0];
  const alive = (r: ServerProcess) => r.child.exitCode === null && r.child.signalCode === null;

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
  }

  async function infer(url: string): Promise<{ status: number; version?: string; text: string }> {
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] });
    const res = await fetch(`${url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.text();
    return { status: res.status, text, ...(res.ok ? { version: (JSON.parse(text) as { model_version: string }).model_version } : {}) };
  }

  beforeAll(async () => {
    db = await freshPostgresDatabase();
    admin = new pg.Client({ connectionString: db.uri });
    artifacts = mkdtempSync(join(tmpdir(), 'slipway-replica-artifacts-'));
    const args = ['--backend-store-uri', db.uri, '--artifacts-destination', artifacts, '--model-control', 'explicit'];
    // One after the other: the first applies the migrations.
    for (let i = 0; i < 3; i++) {
      const home = freshHome();
      homes.push(home);
      replicas.push(await startServerProcess(home, args, 20_000, { SLIPWAY_JOB_LEASE: `${LEASE_MS}ms`, SLIPWAY_LOG_LEVEL: 'warn' }));
    }
    await admin.connect();
  }, 90_000);

  afterAll(async () => {
    for (const r of replicas) {
      if (alive(r)) {
        r.child.kill('SIGCONT');
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    await admin?.end();
    await db?.drop();
    for (const h of homes) removeHome(h);
    if (artifacts) rmSync(artifacts, { recursive: true, force: true });
  });

  it('a write acknowledged by one replica is read by the others on the next request', async () => {
    const [a, b, c] = replicas as [ServerProcess, ServerProcess, ServerProcess];
    const created = await fetch(`${a.url}/api/2.0/mlflow/experiments/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shared' }) });
    expect(created.status).toBe(200);
    const { experiment_id: id } = (await created.json()) as { experiment_id: string };
    for (const r of [b, c]) {
      const got = await fetch(`${r.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=shared`);
      expect(got.status).toBe(200);
      expect(((await got.json()) as { experiment: { experiment_id: string } }).experiment.experiment_id).toBe(id);
    }
  });

  it('an alias moved through one replica is served by another within about a second', async () => {
    const [a, b] = replicas as [ServerProcess, ServerProcess];
    const model = fixture('breast_cancer_mlp.onnx');
    for (const extra of [['--alias', 'champion'], []]) {
      const reg = await runCli(['models', 'register', model, '--name', 'cancer', ...extra, '--server', a.url], {}, 30_000);
      expect(reg.code, reg.stderr).toBe(0);
    }
    const load = await fetch(`${b.url}/v2/repository/models/cancer/load`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parameters: { uri: 'models:/cancer@champion' } }),
    });
    expect(load.status, await load.text()).toBe(200);
    expect((await infer(b.url)).version).toBe('1');
    const moved = await fetch(`${a.url}/api/2.0/mlflow/registered-models/alias`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'cancer', alias: 'champion', version: '2' }),
    });
    expect(moved.status).toBe(200);
    const started = Date.now();
    await waitFor('replica B to serve version 2', async () => ((await infer(b.url)).version === '2' ? true : undefined), 5000);
    // LISTEN/NOTIFY, not the 2 s poll.
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('a canary runs in every replica whichever drives it, and its analysis counts the traffic of all of them', async () => {
    const [a, b, c] = replicas as [ServerProcess, ServerProcess, ServerProcess];
    const reg = await runCli(['models', 'register', fixture('release/cancer_good.onnx'), '--name', 'cancer', '--server', a.url], {}, 30_000);
    expect(reg.code, reg.stderr).toBe(0);
    for (const r of [a, c]) {
      const load = await fetch(`${r.url}/v2/repository/models/cancer/load`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ parameters: { uri: 'models:/cancer@champion' } }) });
      expect(load.status, await load.text()).toBe(200);
    }
    type Traffic = { split: { id: string; weight: number } | null; agents: { splitId: string | null }[] };
    const trafficOf = async (url: string) => (await (await fetch(`${url}/api/v1/traffic/cancer`)).json()) as Traffic;
    // Each replica's serving reports on the board once it serves the model.
    await waitFor('the three replicas to follow the traffic of cancer', async () => ((await trafficOf(b.url)).agents.length === 3 ? true : undefined), 10_000);
    const holder = await waitFor('a releases lease holder', async () => (await lease('releases'))?.holder, 10_000);
    const driver = replicaOf(holder);
    expect(driver).toBeDefined();
    const others = replicas.filter((r) => r !== driver);
    // Load on the replicas that do not drive the release only: its analysis sees requests only if their figures reach the driver.
    let stopped = false;
    const failures: string[] = [];
    const loops = others.map(async (r) => {
      while (!stopped) {
        const res = await infer(r.url).catch((err: unknown) => ({ status: 0, text: String(err) }));
        if (res.status !== 200) failures.push(`${res.status} ${res.text}`);
        await sleep(5);
      }
    });
    try {
      const created = await fetch(`${a.url}/api/v1/releases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'cancer', version: '3', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '4s', checks: { maxP99Ratio: 20, minRequests: 5 } } } }),
      });
      const release = (await created.json()) as { id: string };
      expect(created.status, JSON.stringify(release)).toBe(201);
      const get = async (url: string) => (await (await fetch(`${url}/api/v1/releases/${release.id}`)).json()) as { state: string; reason?: string; rollout?: { weight: number }; events: { type: string; details: { challenger?: { requests: number } } }[] };
      await waitFor('the 50 % step', async () => ((await get(c.url)).rollout?.weight === 50 ? true : undefined), 20_000);
      // Any replica tells serving processes the same split, and lists the three replicas as applying it.
      const traffic = await waitFor(
        'every replica to apply the split',
        async () => {
          const t = await trafficOf(b.url);
          return t.agents.filter((x) => x.splitId === t.split?.id).length === 3 ? t : undefined;
        },
        10_000,
      );
      expect(traffic.split?.weight).toBe(0.5);
      // Every replica, the driver included, splits its own traffic: both versions answer each of them.
      for (const r of replicas) {
        const seen = new Set<string>();
        for (let i = 0; i < 30 && seen.size < 2; i++) seen.add((await infer(r.url)).version ?? '');
        expect([...seen].sort()).toEqual(['2', '3']);
      }
      const done = await waitFor(
        'the release to finish',
        async () => {
          const r = await get(a.url);
          return ['promoted', 'rolled_back', 'rejected', 'aborted'].includes(r.state) ? r : undefined;
        },
        40_000,
      );
      expect(done.state, done.reason).toBe('promoted');
      const analysed = done.events.filter((e) => e.type === 'analysis').map((e) => e.details.challenger?.requests ?? 0);
      expect(analysed.length).toBeGreaterThan(0);
      expect(analysed.every((n) => n >= 5)).toBe(true);
    } finally {
      stopped = true;
      await Promise.all(loops);
    }
    expect(failures).toEqual([]);
    for (const r of replicas) await waitFor(`${r.url} to serve version 3`, async () => ((await infer(r.url)).version === '3' ? true : undefined), 5000);
  }, 90_000);

  it('each job is held by one replica; a SIGKILLed holder is taken over within the lease time', async () => {
    const held = await waitFor('the alerts lease', () => lease('monitoring.alerts'), 10_000);
    const holder = replicaOf(held.holder);
    expect(holder, `holder ${held.holder} is one of the replicas`).toBeDefined();
    expect(await waitFor('the releases lease', () => lease('releases'), 10_000)).toBeDefined();
    // Each replica says on /metrics whether it holds the job; summed, one holds it.
    const held1 = await Promise.all(
      replicas.map(async (r) => {
        const text = await (await fetch(`${r.url}/metrics`)).text();
        return Number(/^slipway_job_lease_held\{job="monitoring\.alerts"\} (\d+)$/m.exec(text)?.[1] ?? NaN);
      }),
    );
    expect(held1.reduce((a, b) => a + b, 0)).toBe(1);
    expect(held1[replicas.indexOf(holder as ServerProcess)]).toBe(1);
    const killedAt = Date.now();
    holder?.child.kill('SIGKILL');
    await holder?.exited;
    const next = await waitFor(
      'a surviving replica to take the alerts lease',
      async () => {
        const row = await lease('monitoring.alerts');
        return row && row.holder !== held.holder ? row : undefined;
      },
      LEASE_MS * 3,
    );
    expect(Date.now() - killedAt).toBeLessThan(LEASE_MS);
    expect(next.token).toBeGreaterThan(held.token);
    expect(replicaOf(next.holder) && alive(replicaOf(next.holder) as ServerProcess)).toBe(true);
  });

  it('a holder that stalls is taken over, and once resumed it acts on the lost lease no more', async () => {
    const held = await waitFor('the alerts lease', () => lease('monitoring.alerts'), 10_000);
    const stalled = replicaOf(held.holder) as ServerProcess;
    stalled.child.kill('SIGSTOP');
    const next = await waitFor(
      'another replica to take over from the stalled holder',
      async () => {
        const row = await lease('monitoring.alerts');
        return row && row.holder !== held.holder ? row : undefined;
      },
      LEASE_MS * 5,
    );
    expect(next.token).toBeGreaterThan(held.token);
    stalled.child.kill('SIGCONT');
    // The resumed process finds its lease connection ended and stops the job instead of acting on it.
    await waitFor('the resumed replica to notice', async () => (/lease (lost|connection ended)/.test(stalled.stdout() + stalled.stderr()) ? true : undefined), 5000);
    await sleep(LEASE_MS);
    const after = await lease('monitoring.alerts');
    expect(after?.holder).toBe(next.holder);
    expect(after?.token).toBe(next.token);
    // Still serving: only its job stopped.
    const health = await fetch(`${stalled.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=shared`);
    expect(health.status).toBe(200);
  });
});
