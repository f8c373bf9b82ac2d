/**
 * Shared plumbing for the tracking benchmarks: start/stop a Slipway server (the built CLI in ../dist)
 * and, as the same-run baseline, a real MLflow tracking server; talk MLflow REST over keep-alive
 * connections with undici; summarise latencies.
 *
 * The MLflow baseline is started from MLFLOW_SERVER_CMD when set — a shell command in which {port} and
 * {dir} are replaced by a free loopback port and a fresh data folder, for example
 *   MLFLOW_SERVER_CMD='python3 -m mlflow server --backend-store-uri sqlite:///{dir}/mlflow.db \
 *     --artifacts-destination {dir}/artifacts --serve-artifacts --host 127.0.0.1 --port {port}'
 * — or else with `python3 -m mlflow server …` exactly like that when `python3 -c "import mlflow"` works.
 * With neither, the MLflow columns are skipped with a note.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const here = dirname(fileURLToPath(import.meta.url));
/** The built CLI entry point. */
export const SLIPWAY_CLI = join(here, '..', 'dist', 'cli', 'main.js');

/** A loopback port that was free a moment ago. */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh temporary folder. */
export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls a cheap MLflow-REST read until it answers 200; returns ms from `since` (a performance.now()). */
export async function waitReady(url, since, { timeoutMs = 60_000, child } = {}) {
  const deadline = since + timeoutMs;
  while (performance.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/api/2.0/mlflow/experiments/get?experiment_id=0`);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`${url} was not ready within ${timeoutMs} ms`);
}

/** Waits for a server we just spawned; stops it again if it never gets ready, so nothing is left behind. */
async function readyOrStop(url, since, child, timeoutMs) {
  try {
    return await waitReady(url, since, { child, timeoutMs });
  } catch (err) {
    await stopTree(child);
    throw err;
  }
}

/** Starts `slipway server` (one process unless `workers` says more) on a temp (or given) SLIPWAY_HOME; resolves once it answers. `stop()` removes a temp home. */
export async function startSlipway({ home, port, workers = 1 } = {}) {
  const ownHome = home === undefined;
  home ??= tempDir('slipway-bench-');
  port ??= await freePort();
  mkdirSync(home, { recursive: true });
  const t0 = performance.now();
  const child = spawn(process.execPath, [SLIPWAY_CLI, 'server', '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers)], {
    env: { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: process.env.SLIPWAY_LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await readyOrStop(url, t0, child, 60_000).catch((err) => {
    if (ownHome) removeTemp(home);
    throw err;
  });
  const stop = async () => {
    await stopTree(child);
    if (ownHome) removeTemp(home);
  };
  return { name: 'Slipway', url, home, child, readyMs, stop };
}

/** How to start the real MLflow server, or undefined when it is not available here. */
export function mlflowCommand() {
  if (process.env.MLFLOW_SERVER_CMD) return process.env.MLFLOW_SERVER_CMD;
  const probe = spawnSync('python3', ['-c', 'import mlflow'], { stdio: 'ignore' });
  if (probe.status !== 0) return undefined;
  return 'exec python3 -m mlflow server --backend-store-uri sqlite:///{dir}/mlflow.db --artifacts-destination {dir}/artifacts --serve-artifacts --host 127.0.0.1 --port {port}';
}

/** Starts the real MLflow server (gunicorn, its default 4 workers) on a fresh or given data folder. `stop()` removes a fresh one. */
export async function startMlflow({ dir, port } = {}) {
  const template = mlflowCommand();
  if (!template) return undefined;
  const ownDir = dir === undefined;
  dir ??= tempDir('mlflow-bench-');
  port ??= await freePort();
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  const cmd = template.replaceAll('{port}', String(port)).replaceAll('{dir}', dir);
  const t0 = performance.now();
  const child = spawn('bash', ['-c', cmd], { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}`;
  const readyMs = await readyOrStop(url, t0, child, 120_000).catch((err) => {
    if (ownDir) removeTemp(dir);
    throw err;
  });
  const stop = async () => {
    await stopTree(child);
    if (ownDir) removeTemp(dir);
  };
  return { name: 'MLflow', url, dir, child, readyMs, stop };
}

/** Stops a server we started: SIGTERM to its own process group (the gunicorn workers too), then SIGKILL. */
export async function stopTree(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 10_000);
  await exited;
  clearTimeout(timer);
}

/** The pids of a process and all its descendants, from /proc. */
function treePids(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // process ended while we looked
    }
  }
  const out = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Resident memory (MB) of a process and all its descendants, from /proc. */
export function treeRssMb(pid) {
  let kb = 0;
  for (const p of treePids(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/**
 * CPU seconds (user + system) used so far by a process and its live descendants, from /proc.
 * Unlike wall-clock figures it barely moves when other jobs share the machine.
 */
export function treeCpuSeconds(pid) {
  let ticks = 0;
  for (const p of treePids(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / CLOCK_TICKS;
}

// Linux reports CPU time in clock ticks of 1/100 s on every architecture Node supports.
const CLOCK_TICKS = 100;

/** An MLflow-REST client over `connections` keep-alive connections. */
export function restClient(url, connections = 4) {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  async function call(method, path, body) {
    const res = await pool.request({
      method,
      path: `/api/2.0/mlflow/${path}`,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      // a pre-serialised string body is sent as is, so load generators can build it outside the timing
      body: body === undefined || typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${method} ${path} -> ${res.statusCode}: ${text.slice(0, 300)}`);
    return text.length > 0 ? JSON.parse(text) : {};
  }
  return {
    post: (path, body) => call('POST', path, body),
    get: (path) => call('GET', path),
    close: () => pool.close(),
  };
}

/** Creates an experiment with a unique name; returns its id. */
export async function createExperiment(api, prefix) {
  const name = `${prefix}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const { experiment_id } = await api.post('experiments/create', { name });
  return experiment_id;
}

/** Creates a run; returns its id. */
export async function createRun(api, experimentId, runName) {
  const { run } = await api.post('runs/create', { experiment_id: experimentId, run_name: runName, start_time: Date.now() });
  return run.info.run_id;
}

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
export async function parallel(count, limit, task) {
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** p50/p90/p99/max of a list of millisecond samples. */
export function percentiles(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Parses `--name value` / `--flag` arguments against defaults (numbers stay numbers). */
export function parseFlags(defaults) {
  const out = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument '${arg}'`);
    const key = arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option '${arg}'; known: ${Object.keys(defaults).map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(' ')}`);
    if (typeof defaults[key] === 'boolean') {
      out[key] = true;
      continue;
    }
    const value = argv[++i];
    if (value === undefined) throw new Error(`option '${arg}' needs a value`);
    out[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof defaults[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`option '${arg}' needs a number`);
  }
  return out;
}

/** Removes a temp folder we made (never a user-given one). */
export function removeTemp(dir) {
  rmSync(dir, { recursive: true, force: true });
}

/** Formats a number with thousands separators. */
export const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** One line about the machine, so figures can be read against how busy it was. */
export function machineLine() {
  const [one, five] = loadavg();
  return `machine: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${one.toFixed(1)} (1 min) ${five.toFixed(1)} (5 min)`;
}

/** One log-batch body: `keys` metric keys × (batch/keys) consecutive steps from batch `batchNo`, so every point is distinct. */
export function metricBatch(runId, batchNo, { batch, keys }) {
  const steps = batch / keys;
  const timestamp = Date.now();
  const metrics = new Array(batch);
  let k = 0;
  for (let s = 0; s < steps; s++) {
    const step = batchNo * steps + s;
    for (let key = 0; key < keys; key++) metrics[k++] = { key: `m${key}`, value: Math.sin(step + key), timestamp, step };
  }
  return { run_id: runId, metrics };
}

/** Throws unless every run matches `metrics.m3 > 0.5 and params.p1 = 'a'` and they come in descending m5 order. */
export function checkFilteredByM5(runs, label) {
  let prev = Infinity;
  for (const run of runs) {
    const metrics = Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));
    const params = Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
    if (!(metrics.m3 > 0.5) || params.p1 !== 'a') throw new Error(`${label}: run ${run.info.run_id} does not match the filter`);
    if (metrics.m5 > prev) throw new Error(`${label}: runs are not in descending m5 order`);
    prev = metrics.m5;
  }
}
