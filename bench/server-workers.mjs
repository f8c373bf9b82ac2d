/**
 * `slipway server --workers N`: how tracking grows with worker processes on one machine, on the
 * embedded SQLite file and on PostgreSQL, with 1 worker measured in the same run as the baseline.
 *
 * - ingest: 1000-point `runs/log-batch` batches from `--connections` keep-alive connections, one run
 *   per connection, for `--duration` seconds; every acknowledged point is checked afterwards;
 * - reads: `runs/get` (GET) and `runs/search` with a filter (POST) under wrk with 64 connections.
 *
 *   npm run build && node bench/server-workers.mjs [--workers 1,2,4] [--backends sqlite,postgres]
 *        [--connections 8] [--duration 10] [--pg postgresql://postgres@127.0.0.1:5432]
 *
 * It prints the machine's core count: the load generator (this process and wrk), the workers and
 * PostgreSQL share the cores, so on a small machine the cores, not the workers, bound the totals.
 */
import { availableParallelism } from 'node:os';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { createExperiment, createRun, fmt, machineLine, metricBatch, parseFlags, removeTemp, restClient, startSlipway, tempDir, treeCpuSeconds } from './tracking-common.mjs';
import { wrk } from './serving-common.mjs';

console.log(machineLine());
const opts = parseFlags({ workers: '1,2', backends: 'sqlite,postgres', connections: 8, duration: 10, warmup: 1, batch: 1000, keys: 10, readSeconds: 8, pg: 'postgresql://postgres@127.0.0.1:5432' });
const workerCounts = String(opts.workers).split(',').map(Number);
const backends = String(opts.backends).split(',');
const pgBase = opts.pg.replace(/\/$/, '');

async function pgAdmin(sql) {
  const client = new pg.Client({ connectionString: `${pgBase}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Log-batch ingest from `opts.connections` connections; returns points/s after checking the acknowledged points. */
async function ingest(server) {
  const api = restClient(server.url, opts.connections);
  try {
    const experimentId = await createExperiment(api, 'workers-ingest');
    const lanes = [];
    for (let c = 0; c < opts.connections; c++) lanes.push({ runId: await createRun(api, experimentId, `lane-${c}`), sent: 0 });
    let stopAt = performance.now() + opts.warmup * 1000;
    await Promise.all(lanes.map(async (lane) => {
      for (let b = 0; performance.now() < stopAt; b++) await api.post('runs/log-batch', JSON.stringify(metricBatch(lane.runId, 1_000_000 + b, opts)));
    }));
    const cpu0 = treeCpuSeconds(server.child.pid);
    const t0 = performance.now();
    stopAt = t0 + opts.duration * 1000;
    await Promise.all(lanes.map(async (lane) => {
      for (let b = 0; performance.now() < stopAt; b++) {
        await api.post('runs/log-batch', JSON.stringify(metricBatch(lane.runId, b, opts)));
        lane.sent++;
      }
    }));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = treeCpuSeconds(server.child.pid) - cpu0;
    for (const lane of lanes.slice(0, 2)) {
      const history = await api.get(`metrics/get-history?run_id=${lane.runId}&metric_key=m0&max_results=100000`);
      const stored = (history.metrics ?? []).filter((m) => m.step < 1_000_000).length;
      const expected = (lane.sent * opts.batch) / opts.keys;
      if (stored !== expected) throw new Error(`${stored} of ${expected} acknowledged points of m0 found`);
    }
    return { pointsPerSec: (lanes.reduce((s, l) => s + l.sent, 0) * opts.batch) / elapsed, cpu, runId: lanes[0].runId, experimentId };
  } finally {
    await api.close();
  }
}

function wrkGet(url) {
  const r = spawnSync('wrk', ['-t2', '-c64', `-d${opts.readSeconds}s`, '--timeout', '10s', url], { encoding: 'utf8', timeout: (opts.readSeconds + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`${non2xx} failed reads`);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
}

async function measure(backend, workers) {
  const home = tempDir('slipway-workers-');
  let database;
  if (backend === 'postgres') {
    database = `slipway_bench_workers_${process.pid}_${workers}`;
    await pgAdmin(`create database ${database}`);
    process.env.SLIPWAY_BACKEND_STORE_URI = `${pgBase}/${database}`;
  } else {
    delete process.env.SLIPWAY_BACKEND_STORE_URI;
  }
  const server = await startSlipway({ home, workers });
  try {
    const w = await ingest(server);
    const get = wrkGet(`${server.url}/api/2.0/mlflow/runs/get?run_id=${w.runId}`);
    const search = wrk(`${server.url}/api/2.0/mlflow/runs/search`, JSON.stringify({ experiment_ids: [w.experimentId], filter: "attributes.run_name LIKE 'lane-%'", max_results: 100 }), { connections: 64, seconds: opts.readSeconds });
    if (search.non2xx > 0) throw new Error(`${search.non2xx} failed searches`);
    return { backend, workers, ingest: w.pointsPerSec, ingestCpu: w.cpu, get, search: search.rps };
  } finally {
    await server.stop();
    removeTemp(home);
    if (database) await pgAdmin(`drop database if exists ${database} with (force)`);
  }
}

const rows = [];
for (const backend of backends) for (const workers of workerCounts) rows.push(await measure(backend, workers));

console.log(`\n| ${availableParallelism()} cores | workers | log-batch points/s (${opts.connections} conns) | vs 1 | runs/get req/s | vs 1 | runs/search req/s | vs 1 |`);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const one = rows.find((x) => x.backend === r.backend && x.workers === 1) ?? r;
  const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
  console.log(`| ${r.backend} | ${r.workers} | ${fmt(r.ingest)} | ${ratio(r.ingest, one.ingest)} | ${fmt(r.get)} | ${ratio(r.get, one.get)} | ${fmt(r.search)} | ${ratio(r.search, one.search)} |`);
}
