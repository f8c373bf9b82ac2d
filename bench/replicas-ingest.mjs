/**
 * Metric ingest on PostgreSQL from several `slipway server` replicas: 1000-point `runs/log-batch`
 * batches, one run per connection, the connections spread evenly over the replicas (as a load
 * balancer would), for a fixed time. Measured in the same run on one fresh database: 1 replica and
 * N replicas (default 3) with the same number of connections in total, then N replicas with N times
 * the connections. Every replica's store is the same database; acknowledged points are checked
 * afterwards through a different replica than the one that took them.
 *
 *   npm run build && node bench/replicas-ingest.mjs [--replicas 3] [--connections 6] [--duration 10]
 *        [--pg postgresql://postgres@127.0.0.1:5432]
 *
 * Besides points/s it prints the CPU seconds used by the replicas and by PostgreSQL's backends (from
 * /proc), and the machine's core count, since on a machine with few cores the replicas and the
 * database share them and the core count, not the replicas, bounds the total.
 */
import { availableParallelism } from 'node:os';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { createExperiment, createRun, fmt, machineLine, parseFlags, restClient, startSlipway, treeCpuSeconds, removeTemp, tempDir, metricBatch } from './tracking-common.mjs';

console.log(machineLine());
const opts = parseFlags({ replicas: 3, connections: 6, duration: 10, warmup: 1, batch: 1000, keys: 10, pg: 'postgresql://postgres@127.0.0.1:5432' });
const database = `slipway_bench_replicas_${process.pid}`;
const base = opts.pg.replace(/\/$/, '');
const uri = `${base}/${database}`;

async function admin(sql) {
  const client = new pg.Client({ connectionString: `${base}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** CPU seconds of every PostgreSQL server process (backends included), read from /proc. */
function postgresCpuSeconds() {
  try {
    const pids = execFileSync('pgrep', ['-f', '^postgres'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    return pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  } catch {
    return 0;
  }
}

const batchBody = (runId, batchNo) => JSON.stringify(metricBatch(runId, batchNo, opts));

/** Posts batches from `connections` connections spread over `servers` for the duration. */
async function measure(servers, connections, label) {
  const apis = servers.map((s) => restClient(s.url, Math.ceil(connections / servers.length)));
  try {
    const experimentId = await createExperiment(apis[0], `replicas-${label}`);
    const lanes = [];
    for (let c = 0; c < connections; c++) {
      const api = apis[c % apis.length];
      lanes.push({ api, runId: await createRun(api, experimentId, `lane-${c}`), sent: 0 });
    }
    let stopAt = performance.now() + opts.warmup * 1000;
    await Promise.all(lanes.map(async (lane) => {
      for (let b = 0; performance.now() < stopAt; b++) await lane.api.post('runs/log-batch', batchBody(lane.runId, 1_000_000 + b));
    }));
    const cpu0 = servers.reduce((sum, s) => sum + treeCpuSeconds(s.child.pid), 0);
    const pg0 = postgresCpuSeconds();
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    stopAt = t0 + opts.duration * 1000;
    await Promise.all(lanes.map(async (lane) => {
      for (let b = 0; performance.now() < stopAt; b++) {
        await lane.api.post('runs/log-batch', batchBody(lane.runId, b));
        lane.sent++;
      }
    }));
    const elapsed = (performance.now() - t0) / 1000;
    const points = lanes.reduce((sum, l) => sum + l.sent, 0) * opts.batch;
    const replicaCpu = servers.reduce((sum, s) => sum + treeCpuSeconds(s.child.pid), 0) - cpu0;
    const pgCpu = postgresCpuSeconds() - pg0;
    const clientUsage = process.cpuUsage(client0);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
    // Every acknowledged point is there, read through another replica than the one that took it.
    const lane = lanes[0];
    const reader = apis[apis.length - 1];
    const expected = (lane.sent * opts.batch) / opts.keys;
    const history = await reader.get(`metrics/get-history?run_id=${lane.runId}&metric_key=m0&max_results=100000`);
    const stored = (history.metrics ?? []).filter((m) => m.step < 1_000_000).length;
    if (stored !== expected) throw new Error(`${label}: ${stored} of ${expected} acknowledged points of m0 found through another replica`);
    return { label, replicas: servers.length, connections, pointsPerSec: points / elapsed, replicaCpu, pgCpu, clientCpu, elapsed };
  } finally {
    await Promise.all(apis.map((a) => a.close()));
  }
}

await admin(`create database ${database}`);
const homes = [];
const servers = [];
const rows = [];
try {
  process.env.SLIPWAY_BACKEND_STORE_URI = uri;
  for (let r = 0; r < opts.replicas; r++) {
    const home = tempDir('slipway-replica-');
    homes.push(home);
    servers.push(await startSlipway({ home, workers: 1 }));
  }
  rows.push(await measure(servers.slice(0, 1), opts.connections, '1 replica'));
  rows.push(await measure(servers, opts.connections, `${opts.replicas} replicas, same connections`));
  rows.push(await measure(servers, opts.connections * opts.replicas, `${opts.replicas} replicas, ${opts.replicas}× connections`));
} finally {
  for (const s of servers) await s.stop();
  for (const h of homes) removeTemp(h);
  await admin(`drop database if exists ${database} with (force)`);
}

const one = rows[0].pointsPerSec;
console.log(`\n| log-batch on PostgreSQL, ${availableParallelism()} cores, ${opts.duration} s | connections | points/s | vs 1 replica | replicas' CPU s | PostgreSQL CPU s | load generator CPU s |`);
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.label} | ${r.connections} | ${fmt(r.pointsPerSec)} | ${(r.pointsPerSec / one).toFixed(2)}× | ${r.replicaCpu.toFixed(1)} | ${r.pgCpu.toFixed(1)} | ${r.clientCpu.toFixed(1)} |`);
const best = Math.max(...rows.slice(1).map((r) => r.pointsPerSec));
console.log(`\n${opts.replicas} replicas reach ${(best / one).toFixed(2)}× one replica (target ≥ 2×: ${best / one >= 2 ? 'met' : 'not met'}) on ${availableParallelism()} cores, ${opts.duration} s each.`);
