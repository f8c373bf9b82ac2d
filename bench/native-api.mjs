/**
 * Cost of the native API layer (zod validation, camelCase wire mapping) and of the SDK,
 * measured against baselines in the same run on the same server process:
 *   - native POST /api/v1/runs/{id}/log and GET /api/v1/runs/{id}, against the MLflow-compatible
 *     endpoints of the same server (runs/log-metric, runs/log-batch, runs/get), which call the same
 *     tracking code without the native layer;
 *   - SlipwayClient (slipway/client) against a plain fetch of the same URL.
 *
 *   npm run build && node bench/native-api.mjs [--duration 3] [--requests 3000]
 *
 * Every loop stops after --requests calls or --duration seconds, whichever comes first.
 * Latency loops send one request at a time over one keep-alive connection; the batch
 * ingest loops use 4 keep-alive connections posting 1000-point batches.
 */
import { Pool } from 'undici';
import { SlipwayClient } from '../dist/client/index.js';
import { fmt, parseFlags, percentiles, removeTemp, startSlipway } from './tracking-common.mjs';

const opts = parseFlags({ duration: 3, requests: 3000, warmup: 200 });

function pool(url, connections) {
  const p = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const call = async (method, path, body) => {
    const res = await p.request({ method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new Error(`${method} ${path} -> ${res.statusCode}: ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : undefined;
  };
  return { call, close: () => p.close() };
}

/** p50/p90/p99 of `send` called one at a time. */
async function latency(send) {
  for (let i = 0; i < opts.warmup; i++) await send(i);
  const samples = [];
  const stopAt = performance.now() + opts.duration * 1000;
  for (let i = 0; i < opts.requests && performance.now() < stopAt; i++) {
    const t0 = performance.now();
    await send(opts.warmup + i);
    samples.push(performance.now() - t0);
  }
  return percentiles(samples);
}

/** Points per second with `connections` concurrent senders. */
async function throughput(connections, send) {
  let points = 0;
  let batches = 0;
  const stopAt = performance.now() + opts.duration * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, w) => {
      for (let i = 0; performance.now() < stopAt && batches < opts.requests; i++) {
        points += await send(w, i);
        batches++;
      }
    }),
  );
  return points / ((performance.now() - t0) / 1000);
}

const line = (label, native, baseline, unit = 'ms') =>
  console.log(`${label.padEnd(44)} ${fmt(native, 3).padStart(10)} ${unit}  ${fmt(baseline, 3).padStart(10)} ${unit}  ${(native / baseline).toFixed(2)}×`);

const server = await startSlipway();
const api = pool(server.url, 1);
const wide = pool(server.url, 4);
try {
  const exp = await api.call('POST', '/api/v1/experiments', JSON.stringify({ name: `native-bench-${Date.now()}` }));
  const newRun = async () => (await api.call('POST', '/api/v1/runs', JSON.stringify({ experimentId: exp.experimentId }))).info.runId;
  const runA = await newRun();
  const runB = await newRun();

  const batch = (w, i) => Array.from({ length: 1000 }, (_, k) => ({ key: `m${k % 10}`, value: k, step: i * 100 + Math.floor(k / 10), timestamp: 1_700_000_000_000 + k }));
  const runsN = await Promise.all([0, 1, 2, 3].map(() => newRun()));
  const runsM = await Promise.all([0, 1, 2, 3].map(() => newRun()));
  const client = new SlipwayClient({ url: server.url });
  let step = 0;
  let round = 0;
  // Each pair runs twice in alternating order and keeps its better figure: the machine is shared,
  // and a burst of someone else's load should not land on one side only.
  const pairs = {
    logNative: () => latency(() => api.call('POST', `/api/v1/runs/${runA}/log`, JSON.stringify({ metrics: [{ key: 'loss', value: 1 / ++step, step, timestamp: Date.now() }] }))),
    logMlflow: () => latency(() => api.call('POST', '/api/2.0/mlflow/runs/log-metric', JSON.stringify({ run_id: runB, key: 'loss', value: 1 / ++step, step, timestamp: Date.now() }))),
    getNative: () => latency(() => api.call('GET', `/api/v1/runs/${runA}`)),
    getMlflow: () => latency(() => api.call('GET', `/api/2.0/mlflow/runs/get?run_id=${runB}`)),
    sdkGet: () => latency(() => client.runs.get(runA)),
    fetchGet: () => latency(async () => (await fetch(`${server.url}/api/v1/runs/${runA}`)).json()),
    ingestNative: () => throughput(4, async (w, i) => {
      await wide.call('POST', `/api/v1/runs/${runsN[w]}/log`, JSON.stringify({ metrics: batch(w, round * 100_000 + i) }));
      return 1000;
    }),
    ingestMlflow: () => throughput(4, async (w, i) => {
      await wide.call('POST', '/api/2.0/mlflow/runs/log-batch', JSON.stringify({ run_id: runsM[w], metrics: batch(w, round * 100_000 + i) }));
      return 1000;
    }),
  };
  const best = {};
  const keep = (name, value) => {
    const better = typeof value === 'number' ? Math.max(best[name] ?? 0, value) : !best[name] || value.p50 < best[name].p50 ? value : best[name];
    best[name] = better;
  };
  for (round = 0; round < 2; round++) {
    for (const [a, b] of [['logNative', 'logMlflow'], ['getNative', 'getMlflow'], ['sdkGet', 'fetchGet'], ['ingestNative', 'ingestMlflow']]) {
      const order = round === 0 ? [a, b] : [b, a];
      for (const name of order) keep(name, await pairs[name]());
    }
  }
  const { logNative, logMlflow, getNative, getMlflow, sdkGet, fetchGet, ingestNative, ingestMlflow } = best;

  console.log(`\nSlipway native API vs same-server baseline (${opts.duration} s or ${opts.requests} calls per loop)\n`);
  console.log(`${''.padEnd(44)} ${'native'.padStart(13)}  ${'baseline'.padStart(13)}  ratio`);
  line('log one metric, p50 (baseline: log-metric)', logNative.p50, logMlflow.p50);
  line('log one metric, p99', logNative.p99, logMlflow.p99);
  line('get run, p50 (baseline: runs/get)', getNative.p50, getMlflow.p50);
  line('SDK runs.get, p50 (baseline: plain fetch)', sdkGet.p50, fetchGet.p50);
  line('1000-point batches, 4 conns (baseline: log-batch)', ingestNative, ingestMlflow, 'pt/s');
} finally {
  await api.close();
  await wide.close();
  await server.stop();
  removeTemp(server.home);
}
