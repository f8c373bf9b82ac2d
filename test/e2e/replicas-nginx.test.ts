/**
 * The scale-out check of the whole: three `slipway server` replicas on loopback behind nginx, on
 * one PostgreSQL cluster of the test's own. Tracking writes and inference go through nginx while
 * one replica is SIGKILLed: only requests in flight at the kill fail, every acknowledged write is
 * stored, the background jobs move to a survivor within the lease time, and every surviving replica
 * still answers. Then PostgreSQL restarts under the same load plus writes straight to each replica:
 * writes fail only while it is down, inference never does, no replica exits, every acknowledged
 * write is stored, and the job leases and LISTEN connections come back by themselves.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, holdout } from '../support/serving.js';
import { freePort, startTempPostgres, type TempPostgres } from '../support/temp-postgres.js';
import { freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from './server-process.js';

const NGINX = '/usr/sbin/nginx';
const LEASE_MS = 2000;
const WRITERS = 3;
const INFERERS = 3;
/** After PostgreSQL is back, requests sent later than this must all succeed. */
const RECOVERY_MS = 5000;
/** PostgreSQL stays down at least this long, several audit checkpoint ticks: each one fails, and must not end a replica. */
const DOWN_MS = 1500;
const AUDIT_TICK_MS = 250;
const cancer = holdout('breast_cancer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!existsSync(NGINX))('three replicas behind nginx', () => {
  let cluster: TempPostgres;
  let nginx: ChildProcess | undefined;
  let nginxDir: string;
  let front: string;
  let artifacts: string;
  const homes: string[] = [];
  const replicas: ServerProcess[] = [];
  const alive = (r: ServerProcess) => r.child.exitCode === null && r.child.signalCode === null;

  beforeAll(async () => {
    cluster = await startTempPostgres();
    await cluster.createDatabase('slipway');
    artifacts = mkdtempSync(join(tmpdir(), 'slipway-nginx-artifacts-'));
    for (let i = 0; i < 3; i++) {
      const home = freshHome();
      homes.push(home);
      replicas.push(await startServerProcess(home, ['--backend-store-uri', cluster.uri('slipway'), '--artifacts-destination', artifacts], 20_000, { SLIPWAY_JOB_LEASE: `${LEASE_MS}ms`, SLIPWAY_AUDIT_CHECKPOINT_INTERVAL: `${AUDIT_TICK_MS}ms` }));
    }
    nginxDir = mkdtempSync(join(tmpdir(), 'slipway-nginx-'));
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(nginxDir, d));
    const port = await freePort();
    const upstreams = replicas.map((r) => `    server ${new URL(r.url).host} max_fails=1 fail_timeout=30s;`).join('\n');
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${join(nginxDir, k === 'client_body' ? 'body' : k)};`).join('\n');
    writeFileSync(
      join(nginxDir, 'nginx.conf'),
      `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
worker_processes 1;
pid ${join(nginxDir, 'nginx.pid')};
error_log ${join(nginxDir, 'error.log')} warn;
events { worker_connections 256; }
http {
  access_log off;
${temp}
  upstream slipway {
${upstreams}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 64m;
    location / {
      proxy_pass http://slipway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      # A replica that refuses connections is skipped; a request it already took is not sent twice.
      proxy_next_upstream error;
    }
  }
}
`,
    );
    nginx = spawn(NGINX, ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf'), '-e', join(nginxDir, 'error.log')], { stdio: 'ignore' });
    front = `http://127.0.0.1:${port}`;
    let last = '';
    for (let i = 0; ; i++) {
      const ok = await fetch(`${front}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`).then(
        async (r) => ((last = `${r.status} ${await r.text()}`), r.ok),
        (err: Error) => ((last = String(err.cause ?? err.message)), false),
      );
      if (ok) break;
      if (i > 100) throw new Error(`nginx did not start (${last}): ${existsSync(join(nginxDir, 'error.log')) ? readFileSync(join(nginxDir, 'error.log'), 'utf8') : ''}`);
      await sleep(50);
    }
    const reg = await runCli(['models', 'register', fixture('breast_cancer_mlp.onnx'), '--name', 'cancer', '--alias', 'champion', '--server', front], {}, 30_000);
    expect(reg.code, reg.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      await new Promise((r) => nginx?.once('exit', r));
    }
    for (const r of replicas) {
      if (alive(r)) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
    for (const h of homes) removeHome(h);
    cluster?.destroy();
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
    if (artifacts) rmSync(artifacts, { recursive: true, force: true });
  });

  /** Polls `done` every 50 ms until it holds; throws naming `what` once `withinMs` has passed. */
  async function waitFor(what: string, withinMs: number, done: () => boolean | Promise<boolean>): Promise<void> {
    const until = Date.now() + withinMs;
    while (!(await done())) {
      if (Date.now() > until) throw new Error(`${what}: not within ${withinMs} ms`);
      await sleep(50);
    }
  }

  /**
   * Tracking writes and inference through nginx (kinds `write` and `infer`), plus a tracking
   * writer straight to each of `direct` (kind `direct <i>`), until `stop`. Every request is
   * recorded with the time it was sent and the time it ended.
   */
  function startLoad(direct: ServerProcess[] = []) {
    let stopping = false;
    const acknowledged: string[] = [];
    const oks: Array<{ kind: string; at: number; end: number }> = [];
    const failures: Array<{ kind: string; at: number; end: number; what: string }> = [];
    const infer = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] });
    const request = async (kind: string, url: string, payload: string): Promise<Response | undefined> => {
      const at = Date.now();
      try {
        const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, signal: AbortSignal.timeout(10_000) });
        if (res.ok) {
          oks.push({ kind, at, end: Date.now() });
          return res;
        }
        failures.push({ kind, at, end: Date.now(), what: `${res.status} ${(await res.text()).slice(0, 200)}` });
      } catch (err) {
        failures.push({ kind, at, end: Date.now(), what: `${(err as Error).message} ${String((err as Error).cause ?? '')}` });
      }
      return undefined;
    };
    const writer = async (kind: string, base: string) => {
      while (!stopping) {
        const res = await request(kind, `${base}/api/2.0/mlflow/runs/create`, JSON.stringify({ experiment_id: '0' }));
        if (res) acknowledged.push(((await res.json()) as { run: { info: { run_id: string } } }).run.info.run_id);
        await sleep(10);
      }
    };
    const inferer = async () => {
      while (!stopping) {
        const res = await request('infer', `${front}/v2/models/cancer/infer`, infer);
        await res?.arrayBuffer();
        await sleep(10);
      }
    };
    const clients = [
      ...Array.from({ length: WRITERS }, () => writer('write', front)),
      ...Array.from({ length: INFERERS }, inferer),
      ...direct.map((r, i) => writer(`direct ${i}`, r.url)),
    ];
    const kinds = ['write', 'infer', ...direct.map((_, i) => `direct ${i}`)];
    return {
      kinds,
      acknowledged,
      oks,
      failures,
      /** Whether every kind has `n` successes among the requests sent after `since`. */
      answered: (n: number, since: number) => kinds.every((k) => oks.filter((o) => o.kind === k && o.at > since).length >= n),
      stop: async () => {
        stopping = true;
        await Promise.all(clients);
      },
    };
  }

  async function expectStored(acknowledged: string[]): Promise<void> {
    const after = new pg.Client({ connectionString: cluster.uri('slipway') });
    await after.connect();
    try {
      const stored = new Set((await after.query<{ run_uuid: string }>('select run_uuid from runs')).rows.map((r) => r.run_uuid));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      await after.end();
    }
  }

  it('survives a SIGKILLed replica under load', async () => {
    const load = startLoad();
    const check = new pg.Client({ connectionString: cluster.uri('slipway') });
    await check.connect();
    const holderOf = async (name: string) => (await check.query<{ holder: string }>('select holder from job_leases where name = $1 and expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint', [name])).rows[0]?.holder;
    let killedAt = 0;
    try {
      await waitFor('writes and inference through nginx', 30_000, () => load.answered(20, 0));
      const holder = await holderOf('monitoring.alerts');
      const victim = replicas.find((r) => holder?.split(':').at(-2) === String(r.child.pid)) as ServerProcess;
      expect(victim).toBeDefined();
      killedAt = Date.now();
      victim.child.kill('SIGKILL');
      let movedAfter: number | undefined;
      while (movedAfter === undefined && Date.now() - killedAt < LEASE_MS * 3) {
        const h = await holderOf('monitoring.alerts');
        if (h && h !== holder) movedAfter = Date.now() - killedAt;
        else await sleep(25);
      }
      expect(movedAfter, 'the jobs moved to a survivor').toBeLessThan(LEASE_MS);
      // Load goes on until the survivors have answered plenty sent well after the kill.
      await waitFor('writes and inference after the kill', 30_000, () => load.answered(20, killedAt + 1000));
    } finally {
      await load.stop();
      await check.end().catch(() => {});
    }
    // Only what the dead replica had in flight may fail: at most one request per client.
    const killFailures = load.failures.filter((f) => f.at <= killedAt + 1000);
    expect(killFailures.length, JSON.stringify(killFailures)).toBeLessThanOrEqual(WRITERS + INFERERS);
    expect(load.failures.filter((f) => f.at > killedAt + 1000)).toEqual([]);
    await expectStored(load.acknowledged);
    for (const r of replicas.filter(alive)) {
      const res = await fetch(`${r.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`);
      expect(res.status).toBe(200);
    }
  }, 90_000);

  it('recovers from a PostgreSQL restart under load', async () => {
    const survivors = replicas.filter(alive);
    const activeLeases = async () => {
      const c = new pg.Client({ connectionString: cluster.uri('slipway') });
      await c.connect();
      try {
        return (await c.query<{ name: string; holder: string; acquired_time: number }>('select name, holder, acquired_time::float8 as acquired_time from job_leases where expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint')).rows;
      } finally {
        await c.end();
      }
    };
    const leasesBefore = (await activeLeases()).map((l) => l.name).sort();
    expect(leasesBefore.length).toBeGreaterThan(0);
    const load = startLoad(survivors);
    let stopFrom = 0;
    let upAt = 0;
    try {
      await waitFor('load before the restart', 30_000, () => load.answered(5, 0));
      stopFrom = Date.now();
      cluster.stop();
      // The restart lands under load: every writer, through nginx and direct, has seen it fail.
      const writers = load.kinds.filter((k) => k !== 'infer');
      await waitFor('writes failing while PostgreSQL is down', 30_000, () => Date.now() >= stopFrom + DOWN_MS && writers.every((k) => load.failures.some((f) => f.kind === k && f.end >= stopFrom)));
      cluster.start();
      upAt = Date.now();
      await waitFor('every kind answering after the restart', 60_000, () => {
        // A replica that exited will not answer: say so at once, with its log.
        const dead = survivors.find((r) => !alive(r));
        if (dead) throw new Error(`replica ${dead.url} exited (${dead.child.exitCode ?? dead.child.signalCode}); its log ends:\n${dead.stderr().slice(-3000)}`);
        return load.answered(1, upAt);
      });
      const firstOk = load.kinds.map((k) => `${k} ${Math.min(...load.oks.filter((o) => o.kind === k && o.at > upAt).map((o) => o.end)) - upAt} ms`);
      console.info(`first success after PostgreSQL was back (stopped for ${upAt - stopFrom} ms): ${firstOk.join(', ')}`);
      // Load goes on until plenty sent after the recovery bound have been answered.
      await waitFor('load after the restart', 60_000, () => load.answered(20, upAt + RECOVERY_MS));
    } finally {
      await load.stop();
    }

    for (const r of survivors) expect(alive(r), `replica ${r.url} is still running; its log ends:\n${r.stderr().slice(-3000)}`).toBe(true);
    // Failures only while PostgreSQL is down: none ended before the stop, none was sent later than the recovery bound after the start.
    expect(load.failures.some((f) => f.end >= stopFrom)).toBe(true);
    expect(load.failures.filter((f) => f.end < stopFrom || f.at > upAt + RECOVERY_MS)).toEqual([]);
    // Inference reads no database: it never stopped answering.
    expect(load.failures.filter((f) => f.kind === 'infer')).toEqual([]);
    await expectStored(load.acknowledged);
    // Each replica answers a database read of its own, straight, not through nginx.
    for (const r of survivors) {
      const res = await fetch(`${r.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`);
      expect(res.status).toBe(200);
    }
    // The restart dropped every lease's lock: each job is taken again, by a running replica.
    const pids = new Set(survivors.map((r) => String(r.child.pid)));
    await waitFor('the job leases taken again', 30_000, async () => {
      const now = await activeLeases();
      return leasesBefore.every((name) => now.some((l) => l.name === name && l.acquired_time > stopFrom && pids.has(l.holder.split(':').at(-2) ?? '')));
    });
    // And every replica listens for changes again.
    await waitFor('every replica listening again', 30_000, async () => {
      const c = new pg.Client({ connectionString: cluster.uri('slipway') });
      await c.connect();
      try {
        const n = (await c.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where application_name = 'slipway-listen' and datname = 'slipway'`)).rows[0]?.n;
        return n === survivors.length;
      } finally {
        await c.end();
      }
    });
  }, 180_000);
});
