/**
 * Metric histories for charts: time to answer for one run's 1,000,000-point history downsampled
 * to 2,000 points (GET /api/v1/runs/{id}/metrics/{key}/history/downsampled), against fetching the
 * whole history through MLflow's metrics/get-history on the same server and the same run.
 * Time is measured at the client, from request to parsed JSON, over one keep-alive connection.
 *
 *   npm run build && node bench/metric-history.mjs [--points 1000000] [--repeat 10] [--fullRepeat 3]
 */
import { Pool } from 'undici';
import { createExperiment, createRun, fmt, machineLine, parallel, parseFlags, percentiles, restClient, startSlipway } from './tracking-common.mjs';

const opts = parseFlags({ points: 1_000_000, repeat: 10, fullRepeat: 3 });
const server = await startSlipway();
const api = restClient(server.url, 4);
const pool = new Pool(server.url, { connections: 1, pipelining: 1, keepAliveTimeout: 60_000 });

async function timed(path) {
  const t0 = performance.now();
  const res = await pool.request({ method: 'GET', path });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${path} -> ${res.statusCode}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text);
  return { ms: performance.now() - t0, bytes: text.length, body };
}

async function measure(label, path, repeat) {
  await timed(path); // warm-up: first read of the blocks
  const samples = [];
  let last;
  for (let i = 0; i < repeat; i++) {
    last = await timed(path);
    samples.push(last.ms);
  }
  const p = percentiles(samples);
  const count = last.body.points?.length ?? last.body.metrics?.length;
  console.log(`${label.padEnd(52)} p50 ${fmt(p.p50, 1).padStart(8)} ms   max ${fmt(p.max, 1).padStart(8)} ms   ${fmt(count).padStart(9)} points   ${fmt(last.bytes / 1e6, 2)} MB`);
  return p.p50;
}

try {
  console.log(machineLine());
  const exp = await createExperiment(api, 'history');
  const runId = await createRun(api, exp, 'long-training');
  const t0 = performance.now();
  const batches = Math.ceil(opts.points / 1000);
  const start = Date.now();
  await parallel(batches, 4, async (b) => {
    const metrics = [];
    for (let i = b * 1000; i < Math.min(opts.points, (b + 1) * 1000); i++) {
      metrics.push({ key: 'loss', value: i === 654_321 ? 50 : Math.exp(-i / 300_000) + ((i * 7919) % 101) / 1000, step: i, timestamp: start + i });
    }
    await api.post('runs/log-batch', { run_id: runId, metrics });
  });
  console.log(`logged ${fmt(opts.points)} points in ${fmt((performance.now() - t0) / 1000, 1)} s`);

  const key = 'loss';
  const down = await measure('native downsampled, maxPoints 2000 (step)', `/api/v1/runs/${runId}/metrics/${key}/history/downsampled?maxPoints=2000`, opts.repeat);
  await measure('native downsampled, maxPoints 2000 (time)', `/api/v1/runs/${runId}/metrics/${key}/history/downsampled?maxPoints=2000&x=time`, opts.repeat);
  await measure('native downsampled, zoom 10% window', `/api/v1/runs/${runId}/metrics/${key}/history/downsampled?maxPoints=2000&from=600000&to=700000`, opts.repeat);
  const full = await measure('MLflow get-history, every point', `/api/2.0/mlflow/metrics/get-history?run_id=${runId}&metric_key=${key}`, opts.fullRepeat);
  console.log(`downsampled answers ${fmt(full / down, 1)}x faster than the full history`);
} finally {
  await pool.close();
  await api.close();
  await server.stop();
}
