/**
 * Round-trip latency of a single MLflow REST `runs/log-metric` call (what `mlflow.log_metric` sends),
 * one request at a time over one keep-alive connection. Reports p50/p90/p99 for Slipway and, measured
 * the same way in the same run, the real MLflow tracking server.
 *
 *   npm run build && node bench/tracking-latency.mjs [--requests 3000] [--duration 15] [--url URL]
 *
 * --url URL   measure only that MLflow-REST server instead of starting both.
 * The MLflow baseline is started as described in tracking-common.mjs (MLFLOW_SERVER_CMD).
 * Each loop stops at --requests calls or --duration seconds, whichever comes first. "CPU" is the server
 * process tree's CPU time per call (from /proc), which other jobs on the machine barely move.
 */
import { createExperiment, createRun, fmt, parseFlags, percentiles, removeTemp, restClient, startMlflow, startSlipway, treeCpuSeconds, machineLine } from './tracking-common.mjs';

console.log(machineLine());
const opts = parseFlags({ url: '', requests: 3000, warmup: 200, duration: 15 });

async function measure(server) {
  const api = restClient(server.url, 1);
  try {
    const experimentId = await createExperiment(api, `latency-${server.name}`);
    const runId = await createRun(api, experimentId, 'latency');
    const send = (step) =>
      api.post('runs/log-metric', JSON.stringify({ run_id: runId, key: 'loss', value: 1 / (step + 1), timestamp: Date.now(), step }));
    for (let i = 0; i < opts.warmup; i++) await send(i);
    const samples = [];
    const cpu0 = server.child ? treeCpuSeconds(server.child.pid) : 0;
    const stopAt = performance.now() + opts.duration * 1000;
    for (let i = 0; i < opts.requests && performance.now() < stopAt; i++) {
      const t0 = performance.now();
      await send(opts.warmup + i);
      samples.push(performance.now() - t0);
    }
    const cpuMs = server.child ? ((treeCpuSeconds(server.child.pid) - cpu0) * 1000) / samples.length : undefined;
    const p = percentiles(samples);
    console.log(
      `${server.name.padEnd(8)} log-metric round trip over ${p.n} calls: p50 ${p.p50.toFixed(3)} ms  p90 ${p.p90.toFixed(3)} ms  p99 ${p.p99.toFixed(3)} ms  max ${p.max.toFixed(1)} ms` +
        (cpuMs === undefined ? '' : `  server CPU ${cpuMs.toFixed(3)} ms per call`),
    );
    return { server: server.name, ...p, cpuMs };
  } finally {
    await api.close();
  }
}

const servers = [];
try {
  if (opts.url) {
    await measure({ name: 'target', url: opts.url.replace(/\/$/, '') });
  } else {
    const slipway = await startSlipway();
    servers.push(slipway);
    const s = await measure(slipway);
    await slipway.stop();
    const mlflow = await startMlflow();
    let m;
    if (mlflow) {
      servers.push(mlflow);
      m = await measure(mlflow);
      await mlflow.stop();
    } else {
      console.log('MLflow baseline skipped: set MLFLOW_SERVER_CMD or make `python3 -m mlflow` importable.');
    }
    console.log('\n          Slipway      MLflow');
    for (const q of ['p50', 'p90', 'p99', 'cpuMs']) {
      console.log(`${(q === 'cpuMs' ? 'CPU' : q).padEnd(6)} ${fmt(s[q], 3).padStart(9)} ms ${m ? fmt(m[q], 3).padStart(9) + ' ms' : '-'}`);
    }
  }
} finally {
  for (const s of servers) {
    await s.stop();
    removeTemp(s.home ?? s.dir);
  }
}
console.log(machineLine());
