/**
 * The scale-out check of the whole: three `slipway server` replicas on loopback behind nginx, on
 * one PostgreSQL cluster of the test's own. Tracking writes and inference go through nginx while
 * one replica is SIGKILLed: only requests in flight at the kill fail, every acknowledged write is
 * stored, the background jobs move to a survivor within the lease time, and every surviving replica
 * still answers. (PostgreSQL restarting under load is postgres-restart.test.ts's.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, holdout } from '../support/serving.js';
import { startTempPostgres, type TempPostgres } from '../support/temp-postgres.js';
import { freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from './server-process.js';

const NGINX = '/usr/sbin/nginx';
const LEASE_MS = 2000;
const WRITERS = 3;
const INFERERS = 3;
const cancer = holdout('breast_cancer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

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
    const admin = new pg.Client({ connectionString: cluster.uri('postgres') });
    await admin.connect();
    await admin.query('create database slipway');
    await admin.end();
    artifacts = mkdtempSync(join(tmpdir(), 'slipway-nginx-artifacts-'));
    for (let i = 0; i < 3; i++) {
      const home = freshHome();
      homes.push(home);
      replicas.push(await startServerProcess(home, ['--backend-store-uri', cluster.uri('slipway'), '--artifacts-destination', artifacts], 20_000, { SLIPWAY_JOB_LEASE: `${LEASE_MS}ms` }));
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

  it('survives a SIGKILLed replica under load', async () => {
    let stopping = false;
    const acknowledged: string[] = [];
    const failures: Array<{ at: number; what: string }> = [];
    const okAfter = new Map<string, number>();
    const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] });
    const request = async (what: string, path: string, payload: string): Promise<Response | undefined> => {
      const at = Date.now();
      try {
        const res = await fetch(`${front}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload, signal: AbortSignal.timeout(10_000) });
        if (res.ok) {
          okAfter.set(what, Date.now());
          return res;
        }
        failures.push({ at, what: `${what} ${res.status} ${(await res.text()).slice(0, 200)}` });
      } catch (err) {
        failures.push({ at, what: `${what} ${(err as Error).message}` });
      }
      return undefined;
    };
    const writer = async () => {
      while (!stopping) {
        const res = await request('write', '/api/2.0/mlflow/runs/create', JSON.stringify({ experiment_id: '0' }));
        if (res) acknowledged.push(((await res.json()) as { run: { info: { run_id: string } } }).run.info.run_id);
        await sleep(10);
      }
    };
    const inferer = async () => {
      while (!stopping) {
        const res = await request('infer', '/v2/models/cancer/infer', body);
        await res?.arrayBuffer();
        await sleep(10);
      }
    };
    const clients = [...Array.from({ length: WRITERS }, writer), ...Array.from({ length: INFERERS }, inferer)];
    const check = new pg.Client({ connectionString: cluster.uri('slipway') });
    await check.connect();
    const holderOf = async (name: string) => (await check.query<{ holder: string }>('select holder from job_leases where name = $1 and expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint', [name])).rows[0]?.holder;
    try {
      await sleep(1500);
      const holder = await holderOf('monitoring.alerts');
      const victim = replicas.find((r) => holder?.split(':').at(-2) === String(r.child.pid)) as ServerProcess;
      expect(victim).toBeDefined();
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      let movedAfter: number | undefined;
      while (movedAfter === undefined && Date.now() - killedAt < LEASE_MS * 3) {
        const h = await holderOf('monitoring.alerts');
        if (h && h !== holder) movedAfter = Date.now() - killedAt;
        else await sleep(25);
      }
      expect(movedAfter, 'the jobs moved to a survivor').toBeLessThan(LEASE_MS);
      await sleep(1500);
      // Only what the dead replica had in flight may fail: at most one request per client.
      const killFailures = failures.filter((f) => f.at <= killedAt + 1000);
      expect(killFailures.length, JSON.stringify(killFailures)).toBeLessThanOrEqual(WRITERS + INFERERS);
      expect(failures.filter((f) => f.at > killedAt + 1000)).toEqual([]);

      await check.end().catch(() => {});
      // A PostgreSQL restart under load is test/e2e/postgres-restart.test.ts's; here the load stops after the kill.
      stopping = true;
      await Promise.all(clients);
    } finally {
      stopping = true;
      await Promise.all(clients);
    }

    const after = new pg.Client({ connectionString: cluster.uri('slipway') });
    await after.connect();
    try {
      const stored = new Set((await after.query<{ run_uuid: string }>('select run_uuid from runs')).rows.map((r) => r.run_uuid));
      expect(acknowledged.length).toBeGreaterThan(50);
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
      for (const r of replicas.filter(alive)) {
        const res = await fetch(`${r.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default`);
        expect(res.status).toBe(200);
      }
    } finally {
      await after.end();
    }
  }, 90_000);
});
