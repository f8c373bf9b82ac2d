/**
 * `slipway server --workers N`: N processes answer on one port and stay one server from the
 * outside — /metrics and the serving figures summed over the workers, a revoked token refused by
 * every worker at once, failed sign-ins counted toward one limit, one load test at a time, a moved
 * alias swapped in every worker together, a worker killed with SIGKILL under tracking writes
 * replaced without losing an acknowledged write, and SIGTERM draining them all.
 */
import { spawn, spawnSync } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { fixture, holdout } from '../support/serving.js';
import { cpuBudget } from '../../src/core/cpu-budget.js';
import { staleAnswers, waitFor, watchVersions, workersOf } from '../support/cluster.js';
import { CLI, freshHome, removeHome, startServerProcess, type ServerProcess } from './server-process.js';

const cancer = holdout('breast_cancer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const homes: string[] = [];
const servers: ServerProcess[] = [];
const PASSWORD = 'workers-admin-password';
const admin = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;

afterAll(async () => {
  for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  await sleep(200);
  for (const h of homes) removeHome(h);
});

/** One request on a new connection, so consecutive calls land on different workers (the primary hands connections out in turn). */
async function call(url: string, init: { method?: string; authorization?: string; body?: unknown } = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { connection: 'close', ...(init.authorization ? { authorization: init.authorization } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const inferBody = (i: number) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[i % cancer.rows.length] }] });

describe('slipway server --workers', () => {
  it('is one server from the outside: summed figures, shared access decisions, one load test, an atomic swap, SIGKILL and SIGTERM', async () => {
    const home = freshHome();
    homes.push(home);
    const env = { SLIPWAY_HOME: `${home}/home`, SLIPWAY_ADMIN_PASSWORD: PASSWORD };
    for (const [file, extra] of [
      ['breast_cancer_mlp.onnx', ['--alias', 'champion']],
      ['release/cancer_good.onnx', []],
    ] as const) {
      const reg = await runCli(['models', 'register', fixture(file), '--name', 'cancer', ...extra], env);
      expect(reg.code, reg.stderr).toBe(0);
    }
    const server = await startServerProcess(home, ['--workers', '2', '--auth'], 60_000, { SLIPWAY_ADMIN_PASSWORD: PASSWORD });
    servers.push(server);
    const { url } = server;
    expect(server.stdout()).toContain('2 workers');
    const primary = server.child.pid as number;
    const first = workersOf(primary);
    expect(first).toHaveLength(2);
    await waitFor('every worker ready', async () => ((await call(`${url}/v2/health/ready`)).status === 200 ? true : undefined), 30_000);

    // /metrics on any worker counts the requests of all of them.
    for (let i = 0; i < 20; i++) expect((await call(`${url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { authorization: admin })).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: admin } })).text();
    const gets = metrics.split('\n').filter((l) => l.startsWith('slipway_http_requests_total{') && l.includes('route="/api/2.0/mlflow/experiments/get"') && l.includes('code="200"'));
    expect(gets.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)).toBe(20);

    // The serving figures are the whole server's too.
    for (let i = 0; i < 12; i++) expect((await call(`${url}/v2/models/cancer/infer`, { method: 'POST', authorization: admin, body: inferBody(i) })).status).toBe(200);
    const stats = (await call(`${url}/api/v1/serving/stats?model=cancer`, { authorization: admin })).json as { models: Array<{ versions: Array<{ version: string; requests: { ok: number } }> }> };
    expect(stats.models[0]?.versions.find((v) => v.version === '1')?.requests.ok).toBe(12);

    // Predictions served by every worker are known when their labels arrive (each worker writes what it holds first).
    const reference = cancer.rows.slice(0, 60).map((r) => Object.fromEntries(cancer.columns.map((c, j) => [c, r[j]])));
    // The version may be named by its alias, as the monitoring docs say.
    const ref = await call(`${url}/api/v1/monitoring/models/cancer/versions/champion/reference`, { method: 'PUT', authorization: admin, body: { rows: reference, source: 'holdout' } });
    expect(ref.status, JSON.stringify(ref.json)).toBe(201);
    expect(ref.json.version).toBe('1');
    for (let r = 0; r < 6; r++) {
      const res = await fetch(`${url}/v2/models/cancer/infer`, { method: 'POST', headers: { connection: 'close', authorization: admin, 'content-type': 'application/json', 'x-request-id': `gt-${r}` }, body: JSON.stringify(inferBody(r)) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const gt = await call(`${url}/api/v1/monitoring/models/cancer/ground-truth`, { method: 'POST', authorization: admin, body: { labels: Array.from({ length: 6 }, (_, r) => ({ requestId: `gt-${r}`, labels: [r % 2] })) } });
    expect(gt.status, JSON.stringify(gt.json)).toBe(200);
    expect(gt.json.accepted).toBe(6);

    // Each worker closes its part of a window: /metrics shows when the window closed, not the sum of the workers' clocks.
    expect((await call(`${url}/api/v1/monitoring/windows/flush`, { method: 'POST', authorization: admin })).status).toBe(200);
    const closedLines = (await (await fetch(`${url}/metrics`, { headers: { authorization: admin } })).text()).split('\n').filter((l) => l.startsWith('slipway_monitoring_window_closed_timestamp_seconds{'));
    expect(closedLines.length).toBeGreaterThan(0);
    for (const l of closedLines) expect(Number(l.split(' ').at(-1))).toBeLessThanOrEqual(Date.now() / 1000 + 1);

    // A token verified (and cached) by both workers stops working in both the moment it is revoked.
    const created = await call(`${url}/api/v1/tokens`, { method: 'POST', authorization: admin, body: { name: 'workers' } });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const token = `Bearer ${String(created.json.secret)}`;
    const tokenId = String(created.json.id);
    for (let i = 0; i < 6; i++) expect((await call(`${url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { authorization: token })).status).toBe(200);
    expect((await call(`${url}/api/v1/tokens/${tokenId}`, { method: 'DELETE', authorization: admin })).status).toBe(200);
    const afterRevoke = [];
    for (let i = 0; i < 6; i++) afterRevoke.push((await call(`${url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { authorization: token })).status);
    expect(afterRevoke).toEqual([401, 401, 401, 401, 401, 401]);

    // One load test at a time for the whole server, whichever worker takes the second request.
    const load = { target: `${url}/health`, protocol: 'raw', method: 'GET', rate: 20, duration: '3s', workers: 1, connections: 2 };
    const running = call(`${url}/api/v1/loadtests`, { method: 'POST', authorization: admin, body: load });
    await sleep(800);
    const refused = [];
    for (let i = 0; i < 4; i++) {
      const r = await call(`${url}/api/v1/loadtests`, { method: 'POST', authorization: admin, body: load });
      refused.push(r.status);
    }
    expect(refused).toEqual([400, 400, 400, 400]);
    const ran = await running.catch((err: Error) => ({ status: 0, json: { error: err.message, stderr: server.stderr() } }));
    expect(ran.status, JSON.stringify(ran.json)).toBe(200);

    // Moving the alias swaps version 2 in both workers together: no answer from version 1 after the first from version 2.
    const watch = watchVersions(async (i) => {
      const res = await call(`${url}/v2/models/cancer/infer`, { method: 'POST', authorization: admin, body: inferBody(i) });
      if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.json)}`);
      return String(res.json.model_version);
    });
    try {
      await sleep(500);
      const moved = await call(`${url}/api/2.0/mlflow/registered-models/alias`, { method: 'POST', authorization: admin, body: { name: 'cancer', alias: 'champion', version: '2' } });
      expect(moved.status, JSON.stringify(moved.json)).toBe(200);
      await waitFor('version 2 to answer', () => (watch.answers.some((a) => a.version === '2') ? true : undefined), 20_000);
      await sleep(1500);
    } finally {
      await watch.stop();
    }
    expect(watch.failures).toEqual([]);
    // 300 ms of slack for the primary's word to reach a busy worker on a loaded machine.
    expect(staleAnswers(watch.answers, '1', '2', 300)).toEqual([]);

    // Tracking writes from 6 keep-alive clients while one worker is killed: only requests that worker held may fail,
    // and every acknowledged write is stored.
    const experiment = await call(`${url}/api/2.0/mlflow/experiments/create`, { method: 'POST', authorization: admin, body: { name: 'workers-kill' } });
    const experimentId = String(experiment.json.experiment_id);
    const agent = new Agent({ connections: 6, pipelining: 1 });
    const acknowledged: string[] = [];
    const writeFailures: string[] = [];
    let stopped = false;
    const writers = Array.from({ length: 6 }, async (_, c) => {
      for (let i = 0; !stopped; i++) {
        try {
          const res = await request(`${url}/api/2.0/mlflow/runs/create`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: admin }, body: JSON.stringify({ experiment_id: experimentId, run_name: `w${c}-${i}` }), dispatcher: agent });
          const text = await res.body.text();
          if (res.statusCode === 200) acknowledged.push((JSON.parse(text) as { run: { info: { run_id: string } } }).run.info.run_id);
          else writeFailures.push(`${res.statusCode} ${text}`);
        } catch (err) {
          writeFailures.push((err as Error).message);
        }
      }
    });
    await waitFor('writes to run', () => (acknowledged.length > 100 ? true : undefined), 20_000);
    const now = workersOf(primary);
    const victim = now[0] as number;
    process.kill(victim, 'SIGKILL');
    await waitFor('a replacement worker', () => (workersOf(primary).length === 2 && !workersOf(primary).includes(victim) ? true : undefined), 20_000);
    await waitFor('every worker ready again', async () => ((await call(`${url}/v2/health/ready`)).status === 200 ? true : undefined), 30_000);
    const before = acknowledged.length;
    await waitFor('writes to go on', () => (acknowledged.length > before + 100 ? true : undefined), 20_000);
    stopped = true;
    await Promise.all(writers);
    await agent.close();
    expect(writeFailures.length, writeFailures.join('\n')).toBeLessThanOrEqual(6);
    const search = await call(`${url}/api/2.0/mlflow/runs/search`, { method: 'POST', authorization: admin, body: { experiment_ids: [experimentId], max_results: 50000 } });
    const stored = new Set((search.json.runs as Array<{ info: { run_id: string } }>).map((r) => r.info.run_id));
    expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);

    // Failed sign-ins count toward one limit, whichever worker takes them (10 per client per minute; from 127.0.0.2, a
    // client of its own): alternating between two workers, each would have seen 6 of 12 and let every one through.
    const wrong = `Basic ${Buffer.from('nobody:wrong-password').toString('base64')}`;
    const attempts: string[] = [];
    for (let i = 0; i < 12; i++) {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpGet(`${url}/api/2.0/mlflow/experiments/get?experiment_id=0`, { localAddress: '127.0.0.2', agent: false, headers: { authorization: wrong } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        });
        req.on('error', reject);
      });
      attempts.push(`${answer.status} ${(JSON.parse(answer.text) as { message: string }).message.slice(0, 28)}`);
    }
    expect(attempts).toEqual([...Array<string>(10).fill('401 Invalid credentials: the use'), '401 Too many failed sign-in atte', '401 Too many failed sign-in atte']);

    // SIGTERM drains every worker and the command exits 0.
    const workers = workersOf(primary);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(workers.filter((w) => spawnSync('kill', ['-0', String(w)]).status === 0)).toEqual([]);
  }, 180_000);

  it('moves an alias in every worker when only one of them had loaded the model', async () => {
    const home = freshHome();
    homes.push(home);
    const server = await startServerProcess(home, ['--workers', '2'], 60_000);
    servers.push(server);
    const { url } = server;
    for (const [file, extra] of [
      ['breast_cancer_mlp.onnx', ['--alias', 'champion']],
      ['release/cancer_good.onnx', []],
    ] as const) {
      const reg = await runCli(['models', 'register', fixture(file), '--name', 'cancer', '--server', url, ...extra], {});
      expect(reg.code, reg.stderr).toBe(0);
    }
    // Registered after the start and asked for on one keep-alive connection: one worker loads it, the other never does.
    const one = new Agent({ connections: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await request(`${url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(inferBody(i)), dispatcher: one });
      expect(res.statusCode).toBe(200);
      await res.body.text();
    }
    await one.close();
    const moved = await call(`${url}/api/2.0/mlflow/registered-models/alias`, { method: 'POST', body: { name: 'cancer', alias: 'champion', version: '2' } });
    expect(moved.status).toBe(200);
    // Every worker answers from version 2 soon (the one without the model loads version 2 when first asked).
    await waitFor('every worker to answer from version 2', async () => {
      const versions = new Set<string>();
      for (let i = 0; i < 6; i++) versions.add(String((await call(`${url}/v2/models/cancer/infer`, { method: 'POST', body: inferBody(i) })).json.model_version));
      return versions.size === 1 && versions.has('2') ? true : undefined;
    }, 15_000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 90_000);

  it('runs a canary in every worker on SQLite, driven by one, and promotes it', async () => {
    const home = freshHome();
    homes.push(home);
    const env = { SLIPWAY_HOME: `${home}/home` };
    for (const [file, extra] of [
      ['breast_cancer_mlp.onnx', ['--alias', 'champion']],
      ['release/cancer_good.onnx', []],
    ] as const) {
      const reg = await runCli(['models', 'register', fixture(file), '--name', 'cancer', ...extra], env);
      expect(reg.code, reg.stderr).toBe(0);
    }
    const server = await startServerProcess(home, ['--workers', '2'], 60_000);
    servers.push(server);
    const { url } = server;
    const infer = async (i: number) => (await call(`${url}/v2/models/cancer/infer`, { method: 'POST', body: inferBody(i) })).json.model_version as string | undefined;
    // Both workers load the champion and report on the board.
    for (let i = 0; i < 4; i++) expect(await infer(i)).toBe('1');
    type Traffic = { split: { id: string; weight: number } | null; agents: { splitId: string | null }[] };
    const traffic = async () => (await call(`${url}/api/v1/traffic/cancer`)).json as Traffic;
    await waitFor('both workers to follow the traffic of cancer', async () => ((await traffic()).agents.length === 2 ? true : undefined), 15_000);
    const created = await call(`${url}/api/v1/releases`, { method: 'POST', body: { model: 'cancer', version: '2', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '3s', checks: { maxP99Ratio: 20, minRequests: 5 } } } } });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = String(created.json.id);
    let stopped = false;
    const failures: string[] = [];
    const load = (async () => {
      for (let i = 0; !stopped; i++) {
        const v = await infer(i).catch(() => undefined);
        if (v !== '1' && v !== '2') failures.push(String(v));
        await sleep(5);
      }
    })();
    try {
      await waitFor('both workers to apply the 50 % split', async () => {
        const t = await traffic();
        return t.split?.weight === 0.5 && t.agents.filter((a) => a.splitId === t.split?.id).length === 2 ? true : undefined;
      }, 20_000);
      // Fresh connections reach both workers: each of them splits, so both versions answer.
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(String(await infer(i)));
      expect([...seen].sort()).toEqual(['1', '2']);
      const done = await waitFor('the release to finish', async () => {
        const r = (await call(`${url}/api/v1/releases/${id}`)).json as { state: string; reason?: string };
        return ['promoted', 'rolled_back', 'rejected', 'aborted'].includes(r.state) ? r : undefined;
      }, 40_000);
      expect(done.state, done.reason).toBe('promoted');
    } finally {
      stopped = true;
      await load;
    }
    expect(failures).toEqual([]);
    await waitFor('both workers to serve version 2', async () => {
      const versions = new Set<string>();
      for (let i = 0; i < 6; i++) versions.add(String(await infer(i)));
      return versions.size === 1 && versions.has('2') ? true : undefined;
    }, 10_000);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 120_000);

  it('uses one worker per CPU it may use when nothing says how many, and its workers stop when the primary is killed', async () => {
    const home = freshHome();
    homes.push(home);
    const cpus = cpuBudget();
    const child = spawn(process.execPath, [CLI, 'server', '--port', '0'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_HOME: `${home}/home`, SLIPWAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
    let workers: number[] = [];
    try {
      await waitFor('the ready line', () => (out.includes('ready at') ? true : undefined), 60_000);
      if (cpus > 1) expect(out).toContain(`${cpus} workers`);
      workers = workersOf(child.pid as number);
      expect(workers).toHaveLength(cpus > 1 ? cpus : 0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    // Left without their primary, the workers drain and exit rather than serve on alone.
    await waitFor('the workers to stop', () => (workers.every((w) => spawnSync('kill', ['-0', String(w)]).status !== 0) ? true : undefined), 20_000);
  }, 90_000);

  it('drains and exits 0 when Ctrl-C reaches the whole process group (each worker hears it and then the primary)', async () => {
    const home = freshHome();
    homes.push(home);
    const child = spawn(process.execPath, [CLI, 'server', '--port', '0', '--workers', '2'], { detached: true, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_HOME: `${home}/home`, SLIPWAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await waitFor('the ready line', () => (out.includes('ready at') ? true : undefined), 60_000);
      const url = /ready at (http:\/\/[^ ]+)/.exec(out)?.[1] as string;
      expect((await call(`${url}/api/2.0/mlflow/experiments/get?experiment_id=0`)).status).toBe(200);
      process.kill(-(child.pid as number), 'SIGINT');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
    }
  }, 90_000);

  it('stops quietly, exit 0, when told to stop while its workers start', async () => {
    const home = freshHome();
    homes.push(home);
    const child = spawn(process.execPath, [CLI, 'server', '--port', '0', '--workers', '2'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_HOME: `${home}/home`, SLIPWAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await waitFor('the workers to be forked', () => (workersOf(child.pid as number).length === 2 ? true : undefined), 60_000);
    const workers = workersOf(child.pid as number);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).not.toMatch(/error:/);
    await waitFor('the workers to stop', () => (workers.every((w) => spawnSync('kill', ['-0', String(w)]).status !== 0) ? true : undefined), 20_000);
  }, 90_000);

  it('refuses --model-control explicit with more than one worker, naming both', async () => {
    const home = freshHome();
    homes.push(home);
    const r = await runCli(['server', '--port', '0', '--workers', '2', '--model-control', 'explicit'], { SLIPWAY_HOME: `${home}/home` });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--model-control explicit');
    expect(r.stderr).toContain('--workers 1');
  }, 30_000);
});
