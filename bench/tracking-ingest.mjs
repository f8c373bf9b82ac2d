/**
 * Metric ingest through MLflow REST `runs/log-batch`: 1000-point batches posted over N keep-alive
 * connections (one run per connection), for a fixed time. Reports points/s for Slipway and, measured
 * the same way in the same run, the real MLflow tracking server.
 *
 *   npm run build && node bench/tracking-ingest.mjs [--duration 10] [--connections 4,1] [--url URL]
 *
 * --url URL   measure only that MLflow-REST server (Slipway, MLflow or any other) instead of starting both.
 * Besides points/s it reports points per CPU-second of the server's process tree (read from /proc),
 * a figure that other jobs on the machine barely move.
 * The MLflow baseline is started as described in tracking-common.mjs (MLFLOW_SERVER_CMD).
 * Every loop is bounded by --duration seconds and --max-batches per connection.
 */
import { createExperiment, createRun, fmt, parseFlags, removeTemp, restClient, startMlflow, startSlipway, treeCpuSeconds, machineLine, metricBatch } from './tracking-common.mjs';

console.log(machineLine());
const opts = parseFlags({ url: '', duration: 10, warmup: 1, connections: '4,1', batch: 1000, keys: 10, maxBatches: 100_000 });
const connectionCounts = String(opts.connections).split(',').map(Number);
if (opts.batch % opts.keys !== 0) throw new Error('--batch must be a multiple of --keys');

const batchBody = (runId, batchNo) => metricBatch(runId, batchNo, opts);

/** Posts batches on `connections` connections for `seconds`; returns points/s and a loss check. */
async function measure(url, connections, seconds, label, pid) {
  const api = restClient(url, connections);
  try {
    const experimentId = await createExperiment(api, `ingest-${label}`);
    const runs = [];
    for (let c = 0; c < connections; c++) runs.push(await createRun(api, experimentId, `ingest-${c}`));
    const sent = runs.map(() => 0);
    let stopAt = 0;
    let points = 0;
    const worker = async (c) => {
      for (let b = 0; b < opts.maxBatches && performance.now() < stopAt; b++) {
        await api.post('runs/log-batch', JSON.stringify(batchBody(runs[c], b)));
        sent[c]++;
        points += opts.batch;
      }
    };
    // warm-up pass with its own runs so the measured runs stay exact
    const warmRuns = [];
    for (let c = 0; c < connections; c++) warmRuns.push(await createRun(api, experimentId, `warmup-${c}`));
    stopAt = performance.now() + opts.warmup * 1000;
    await Promise.all(warmRuns.map(async (runId) => {
      for (let b = 0; performance.now() < stopAt && b < 1000; b++) await api.post('runs/log-batch', batchBody(runId, b));
    }));
    points = 0;
    const cpu0 = pid ? treeCpuSeconds(pid) : 0;
    const client0 = process.cpuUsage();
    const t0 = performance.now();
    stopAt = t0 + seconds * 1000;
    await Promise.all(runs.map((_, c) => worker(c)));
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = pid ? treeCpuSeconds(pid) - cpu0 : undefined;
    const clientUsage = process.cpuUsage(client0);
    const clientCpu = (clientUsage.user + clientUsage.system) / 1e6;
    // nothing acknowledged may be missing: the history of one key holds every step we sent
    const expected = sent[0] * (opts.batch / opts.keys);
    const history = await api.get(`metrics/get-history?run_id=${runs[0]}&metric_key=m0&max_results=${expected + 10}`);
    const stored = (history.metrics ?? []).length;
    return { pointsPerSec: points / elapsed, pointsPerCpuSec: cpu ? points / cpu : undefined, cpu, clientCpu, batches: sent.reduce((a, b) => a + b, 0), elapsed, stored, expected };
  } finally {
    await api.close();
  }
}

async function runAll(server) {
  const rows = [];
  for (const n of connectionCounts) {
    const r = await measure(server.url, n, opts.duration, `${server.name}-${n}`, server.child?.pid);
    rows.push({ server: server.name, connections: n, ...r });
    console.log(`${server.name.padEnd(8)} ${String(n).padStart(2)} conn  ${fmt(r.pointsPerSec).padStart(11)} points/s  (${r.batches} batches in ${r.elapsed.toFixed(1)} s${r.cpu ? `; server CPU ${r.cpu.toFixed(1)} s = ${fmt(r.pointsPerCpuSec)} points per CPU-second` : ''}; load generator CPU ${r.clientCpu.toFixed(1)} s; m0 history ${r.stored}/${r.expected})`);
  }
  return rows;
}

const servers = [];
const results = [];
try {
  if (opts.url) {
    results.push(...(await runAll({ name: 'target', url: opts.url.replace(/\/$/, '') })));
  } else {
    const slipway = await startSlipway();
    servers.push(slipway);
    console.log(`Slipway ready in ${slipway.readyMs.toFixed(0)} ms (SQLite, temp home)`);
    results.push(...(await runAll(slipway)));
    await slipway.stop();
    const mlflow = await startMlflow();
    if (mlflow) {
      servers.push(mlflow);
      console.log(`MLflow ready in ${mlflow.readyMs.toFixed(0)} ms (SQLite, 4 gunicorn workers)`);
      results.push(...(await runAll(mlflow)));
      await mlflow.stop();
    } else {
      console.log('MLflow baseline skipped: set MLFLOW_SERVER_CMD or make `python3 -m mlflow` importable.');
    }
    console.log('\nconnections  Slipway points/s  MLflow points/s  ratio   Slipway pts/CPU-s  MLflow pts/CPU-s  ratio');
    for (const n of connectionCounts) {
      const s = results.find((r) => r.server === 'Slipway' && r.connections === n);
      const m = results.find((r) => r.server === 'MLflow' && r.connections === n);
      const ratio = (a, b) => (a && b ? (a / b).toFixed(1) + '×' : '-');
      console.log(
        `${String(n).padStart(11)}  ${fmt(s.pointsPerSec).padStart(16)}  ${m ? fmt(m.pointsPerSec).padStart(15) : '-'.padStart(15)}  ${ratio(s.pointsPerSec, m?.pointsPerSec).padStart(6)}` +
          `  ${fmt(s.pointsPerCpuSec ?? 0).padStart(17)}  ${m ? fmt(m.pointsPerCpuSec ?? 0).padStart(16) : '-'.padStart(16)}  ${ratio(s.pointsPerCpuSec, m?.pointsPerCpuSec).padStart(6)}`,
      );
    }
  }
  const lost = results.filter((r) => r.stored < r.expected);
  if (lost.length > 0) {
    console.error(`WARNING: acknowledged points missing from metric history: ${lost.map((r) => `${r.server}/${r.connections}: ${r.stored}/${r.expected}`).join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  for (const s of servers) {
    await s.stop();
    removeTemp(s.home ?? s.dir);
  }
}
console.log(machineLine());
