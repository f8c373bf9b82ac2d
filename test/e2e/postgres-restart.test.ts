/**
 * PostgreSQL restarts under load, with two `slipway server` replicas on it (a cluster of the
 * test's own): requests fail only while it is down, every replica answers again without a restart
 * of its own, every acknowledged write is kept, and the job leases and LISTEN connections come back.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTempPostgres, type TempPostgres } from '../support/temp-postgres.js';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from './server-process.js';

const LEASE_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a PostgreSQL restart under load', () => {
  let cluster: TempPostgres;
  const homes: string[] = [];
  const replicas: ServerProcess[] = [];

  beforeAll(async () => {
    cluster = await startTempPostgres();
    await cluster.createDatabase('slipway');
    for (let i = 0; i < 2; i++) {
      const home = freshHome();
      homes.push(home);
      replicas.push(await startServerProcess(home, ['--backend-store-uri', cluster.uri('slipway')], 20_000, { SLIPWAY_JOB_LEASE: `${LEASE_MS}ms` }));
    }
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    for (const h of homes) removeHome(h);
    cluster?.destroy();
  });

  it('costs failed requests only while it is down; every replica recovers on its own', async () => {
    let stopping = false;
    const acknowledged: string[] = [];
    const failures: Array<{ at: number; status: number; retryAfter?: string | null; code?: string }> = [];
    const lastOk = new Map<number, number>();
    let n = 0;
    const writer = async (r: ServerProcess, i: number) => {
      while (!stopping) {
        const name = `exp-${i}-${n++}`;
        const at = Date.now();
        try {
          const res = await fetch(`${r.url}/api/2.0/mlflow/experiments/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }), signal: AbortSignal.timeout(10_000) });
          const text = await res.text();
          if (res.status === 200) {
            acknowledged.push(name);
            lastOk.set(i, Date.now());
          } else failures.push({ at, status: res.status, retryAfter: res.headers.get('retry-after'), code: (JSON.parse(text) as { error_code?: string }).error_code });
        } catch {
          failures.push({ at, status: 0 });
        }
        await sleep(20);
      }
    };
    const writers = replicas.flatMap((r, i) => [writer(r, i), writer(r, i)]);
    await sleep(1000);
    const from = Date.now();
    cluster.stop();
    await sleep(1000);
    cluster.start();
    const down = { from, to: Date.now() };
    // Load goes on after the restart: each replica must be answering writes again.
    await sleep(4000);
    stopping = true;
    await Promise.all(writers);

    // The restart did land under load.
    expect(failures.length).toBeGreaterThan(0);
    for (const [i, r] of replicas.entries()) expect(lastOk.get(i) ?? 0, `replica ${i} answers after the restart; its log ends:\n${r.stderr().slice(-2000)}`).toBeGreaterThan(down.to);
    for (const r of replicas) expect(r.child.exitCode).toBeNull();
    // A request sent before the stop may fail as the stop lands; none sent well after the start does.
    const late = failures.filter((f) => f.at > down.to + 1000);
    expect(late, JSON.stringify(late)).toEqual([]);
    expect(failures.every((f) => f.at >= down.from - 1000)).toBe(true);
    // The database out of reach is no fault of the replica: clients are told to retry, not shown a 500.
    const answered = failures.filter((f) => f.status !== 0);
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.filter((f) => !(f.status === 503 && f.retryAfter === '1' && f.code === 'TEMPORARILY_UNAVAILABLE')), JSON.stringify(answered.slice(0, 5))).toEqual([]);

    const check = new pg.Client({ connectionString: cluster.uri('slipway') });
    await check.connect();
    try {
      const names = new Set((await check.query<{ name: string }>('select name from experiments')).rows.map((r) => r.name));
      expect(acknowledged.filter((a) => !names.has(a))).toEqual([]);
      // The leases and the LISTEN connections came back by themselves.
      const leases = await check.query('select name from job_leases where expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint');
      expect(leases.rows.map((r: { name: string }) => r.name).sort()).toEqual(['monitoring.alerts', 'releases']);
      const listeners = await check.query(`select count(*)::int as n from pg_stat_activity where application_name = 'slipway-listen' and datname = 'slipway'`);
      expect(listeners.rows[0]?.n).toBe(2);
    } finally {
      await check.end();
    }
  });
});
