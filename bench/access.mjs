/**
 * What access control costs, against same-run baselines.
 *
 *   npm run build && node bench/access.mjs [seconds] [rounds]
 *
 * (a) Authentication + authorization per request with cached credentials, in-process: the
 *     calls the server's hooks and its infer fast route make (`authenticate` of the header,
 *     then `authorize` READ on a registered model), for a Basic header (username:password)
 *     and a Bearer token of a non-admin user; p50 of 1,000-call batches, in µs. Target ≤ 5 µs.
 * (b) 1-row V2 requests/s to a registered model served by `slipway server` (wrk, 64
 *     connections): one server with --auth and a non-admin user's token, one without,
 *     same store contents, alternating rounds, medians compared. Target: on ≥ 95 % of off.
 * (c) MLflow `runs/log-batch` ingest (1,000-point batches, 4 keep-alive connections, one run
 *     each) to the same two servers, alternating rounds, medians compared; the non-admin user
 *     created the experiment (so holds MANAGE on it, as MLflow grants creators). Target ≥ 95 %.
 * Needs wrk (Debian: apt-get install -y wrk). Every process started here is stopped by its PID.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { root } from './serving-common.mjs';
import { SLIPWAY_CLI, freePort, stopTree, treeCpuSeconds } from './tracking-common.mjs';

const seconds = Number(process.argv[2] ?? 8);
const ROUNDS = Number(process.argv[3] ?? 5);
const dist = (p) => join(root, 'dist', p);
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ADMIN_PASSWORD = 'bench-admin-password';
const USER = 'bench';
const USER_PASSWORD = 'bench-user-password';
const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const MODEL_FILE = join(root, 'test', 'fixtures', 'breast_cancer_mlp.onnx');
const ROW = [10.48, 19.86, 66.72, 337.7, 0.107, 0.05971, 0.04831, 0.0307, 0.1737, 0.0644, 0.3719, 2.612, 2.517, 23.22, 0.01604, 0.01386, 0.01865, 0.01133, 0.03476, 0.00356, 11.48, 29.46, 73.68, 402.8, 0.1515, 0.1026, 0.1181, 0.06736, 0.2883, 0.07748];
const INFER_BODY = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: ROW }] });

console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);
const homes = [];
const children = [];

/** A store in a fresh SLIPWAY_HOME with the model registered, the admin, and a non-admin user with a token. */
async function prepareHome() {
  const home = mkdtempSync(join(tmpdir(), 'slipway-bench-access-'));
  homes.push(home);
  const reg = spawnSync(process.execPath, [SLIPWAY_CLI, 'models', 'register', MODEL_FILE, '--name', 'cancer', '--alias', 'champion'], { env: { ...process.env, SLIPWAY_HOME: home, SLIPWAY_SERVER: '', MLFLOW_TRACKING_URI: '' }, encoding: 'utf8' });
  if (reg.status !== 0) throw new Error(`models register failed: ${reg.stderr}`);
  const [{ openStore }, { AccessService }] = await Promise.all([import(dist('store/store.js')), import(dist('access/access-service.js'))]);
  const store = await openStore(`sqlite://${join(home, 'slipway.db')}`);
  const access = new AccessService({ store });
  await access.ensureAdmin(ADMIN_PASSWORD);
  await access.createUser({ username: USER, password: USER_PASSWORD });
  const token = await access.createToken(USER, { name: 'bench' });
  return { home, store, access, token: token.secret };
}

// ---------------------------------------------------------------- (a) in-process
async function inProcess() {
  const { store, access, token } = await prepareHome();
  const requirement = { kind: 'registered_model', name: 'cancer', level: 'READ' };
  const headers = { basic: basic(USER, USER_PASSWORD), bearer: `Bearer ${token}` };
  // The first call of each verifies (scrypt, a token lookup) and loads the permissions; later calls hit the caches.
  for (const h of Object.values(headers)) {
    const p = await access.authenticate(h, '127.0.0.1');
    if (!p.username) throw new Error(`authentication failed: ${JSON.stringify(p)}`);
    if ((await access.authorize(p, requirement)) !== true) throw new Error('authorization failed');
  }
  const N = 500_000;
  const BATCH = 1000;
  const perCall = (header) => {
    const batches = new Float64Array(N / BATCH);
    let sink = 0;
    for (let b = 0; b < batches.length; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) {
        const who = access.authenticate(header, '127.0.0.1');
        if (access.authorize(who, requirement) === true) sink++;
      }
      batches[b] = Number(process.hrtime.bigint() - t0) / BATCH / 1000;
    }
    if (sink !== N) throw new Error('a cached call did not answer synchronously with true');
    batches.sort();
    return { p50: batches[batches.length >> 1], p99: batches[Math.floor(batches.length * 0.99)] };
  };
  perCall(headers.basic);
  perCall(headers.bearer);
  console.log('(a) authenticate + authorize per request, cached credentials, in-process (p50 / p99 of 1,000-call batches)');
  for (const [name, h] of Object.entries(headers)) {
    const r = perCall(h);
    console.log(`  ${name.padEnd(6)}: ${fmt(r.p50, 2)} µs p50, ${fmt(r.p99, 2)} µs p99 (target p50 <= 5 µs)`);
  }
  await store.close();
}

// ---------------------------------------------------------------- servers
async function startServer(home, auth) {
  const port = await freePort();
  const args = [SLIPWAY_CLI, 'server', '--host', '127.0.0.1', '--port', String(port), ...(auth ? ['--auth'] : [])];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_ADMIN_PASSWORD: ADMIN_PASSWORD, SLIPWAY_AUTH: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  children.push(child);
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  // Ready once the registered model answers.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${err}`);
    if (Date.now() > deadline) throw new Error(`server not ready: ${err}`);
    try {
      const res = await fetch(`${url}/v2/models/cancer/ready`, auth ? { headers: { authorization: basic('admin', ADMIN_PASSWORD) } } : {});
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child };
}

function wrk(url, body, authorization, { connections = 64, threads = 2, seconds: s = seconds } = {}) {
  const script = join(homes[0], `post-${Math.random().toString(36).slice(2)}.lua`);
  const auth = authorization ? `wrk.headers["Authorization"] = "${authorization}"\n` : '';
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = [[${body}]]\nwrk.headers["Content-Type"] = "application/json"\n${auth}`);
  const r = spawnSync('wrk', [`-t${threads}`, `-c${connections}`, `-d${s}s`, '--timeout', '10s', '--latency', '-s', script, url], { encoding: 'utf8', timeout: (s + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`${non2xx} non-2xx answers from ${url}`);
  return rps;
}

/** Log-batch ingest for `s` seconds over `connections` connections: points/s and server CPU-s per million points. */
async function ingest(url, authorization, pid, label, connections = 4) {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) };
  const post = async (path, body) => {
    const res = await pool.request({ method: 'POST', path: `/api/2.0/mlflow/${path}`, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${path}: ${res.statusCode} ${text}`);
    return JSON.parse(text);
  };
  try {
    const { experiment_id: experimentId } = await post('experiments/create', { name: `ingest-${label}-${Date.now()}` });
    const runs = [];
    for (let c = 0; c < connections; c++) runs.push((await post('runs/create', { experiment_id: experimentId, start_time: Date.now() })).run.info.run_id);
    const batch = (runId, b) => {
      const metrics = [];
      for (let s = 0; s < 100; s++) for (let k = 0; k < 10; k++) metrics.push({ key: `m${k}`, value: Math.sin(s + k), timestamp: Date.now(), step: b * 100 + s });
      return JSON.stringify({ run_id: runId, metrics });
    };
    let points = 0;
    const cpu0 = treeCpuSeconds(pid);
    const t0 = performance.now();
    const stopAt = t0 + seconds * 1000;
    await Promise.all(runs.map(async (runId) => {
      for (let b = 0; b < 100_000 && performance.now() < stopAt; b++) {
        await post('runs/log-batch', batch(runId, b));
        points += 1000;
      }
    }));
    const elapsed = (performance.now() - t0) / 1000;
    return { pps: points / elapsed, cpuPerMillion: ((treeCpuSeconds(pid) - cpu0) / points) * 1e6 };
  } finally {
    await pool.close();
  }
}

async function overHttp() {
  const off = await prepareHome();
  const on = await prepareHome();
  await off.store.close();
  await on.store.close();
  const offServer = await startServer(off.home, false);
  const onServer = await startServer(on.home, true);
  const bearer = `Bearer ${on.token}`;
  const inferOff = `${offServer.url}/v2/models/cancer/infer`;
  const inferOn = `${onServer.url}/v2/models/cancer/infer`;
  // The refusal without credentials shows the server really checks.
  const refused = await fetch(inferOn, { method: 'POST', headers: { 'content-type': 'application/json' }, body: INFER_BODY });
  await refused.arrayBuffer();
  if (refused.status !== 401) throw new Error(`auth-on server answered ${refused.status} without credentials`);
  wrk(inferOff, INFER_BODY, undefined, { seconds: 2 });
  wrk(inferOn, INFER_BODY, bearer, { seconds: 2 });
  const serving = { off: [], on: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which side goes first so a drift in machine load hits both alike.
    const order = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const side of order) serving[side].push(side === 'on' ? wrk(inferOn, INFER_BODY, bearer) : wrk(inferOff, INFER_BODY, undefined));
  }
  const sOff = median(serving.off);
  const sOn = median(serving.on);
  console.log(`(b) 1-row V2 infer on slipway server, wrk -t2 -c64, median of ${ROUNDS} alternating ${seconds} s rounds`);
  console.log(`  auth off             : ${fmt(sOff)} req/s (rounds ${serving.off.map((x) => fmt(x)).join(' / ')})`);
  console.log(`  auth on, user token  : ${fmt(sOn)} req/s (rounds ${serving.on.map((x) => fmt(x)).join(' / ')})`);
  console.log(`  ratio                : ${fmt((sOn / sOff) * 100, 1)}% (target >= 95%)`);

  const ingestRounds = { off: [], on: [] };
  await ingest(offServer.url, undefined, offServer.child.pid, 'warm-off');
  await ingest(onServer.url, bearer, onServer.child.pid, 'warm-on');
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const side of order) {
      ingestRounds[side].push(side === 'on' ? await ingest(onServer.url, bearer, onServer.child.pid, `on-${r}`) : await ingest(offServer.url, undefined, offServer.child.pid, `off-${r}`));
    }
  }
  const iOff = median(ingestRounds.off.map((x) => x.pps));
  const iOn = median(ingestRounds.on.map((x) => x.pps));
  const cOff = median(ingestRounds.off.map((x) => x.cpuPerMillion));
  const cOn = median(ingestRounds.on.map((x) => x.cpuPerMillion));
  console.log(`(c) MLflow runs/log-batch ingest, 1,000-point batches, 4 connections, median of ${ROUNDS} alternating ${seconds} s rounds`);
  console.log(`  auth off             : ${fmt(iOff)} points/s, ${fmt(cOff, 2)} server CPU-s per million points (rounds ${ingestRounds.off.map((x) => fmt(x.pps)).join(' / ')})`);
  console.log(`  auth on, user token  : ${fmt(iOn)} points/s, ${fmt(cOn, 2)} server CPU-s per million points (rounds ${ingestRounds.on.map((x) => fmt(x.pps)).join(' / ')})`);
  console.log(`  ratio                : ${fmt((iOn / iOff) * 100, 1)}% points/s, ${fmt((cOff / cOn) * 100, 1)}% points per CPU-s (target >= 95%)`);
}

try {
  if (!process.env.BENCH_SKIP_INPROCESS) await inProcess();
  if (!process.env.BENCH_INPROCESS_ONLY) await overHttp();
} finally {
  for (const child of children) await stopTree(child);
  for (const home of homes) rmSync(home, { recursive: true, force: true });
}
console.log(`machine load average at end: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
