/**
 * Serving throughput and low-load latency over HTTP, against same-run baselines.
 *
 *   npm run build && node bench/serving-http.mjs [seconds]
 *
 * 1. Throughput: wrk, 64 connections, 1-row V2 requests to breast_cancer_mlp via
 *    `slipway serve`, vs a bare node:http server that reads the body and answers a
 *    constant JSON document, alternating five rounds each (BENCH_ROUNDS; medians compared).
 *    Target: serving >= 60% of bare. A second way of measuring, with one wrk thread and
 *    the best of two rounds, is `BENCH_WRK_THREADS=1 BENCH_ROUNDS=2 BENCH_PICK=best node bench/serving-http.mjs 8`.
 * 2. Added latency at low load: p50 of one connection (wrk -c1) to `slipway serve`
 *    minus p50 of raw in-process onnxruntime-node inference on the same row, and the
 *    bare server's p50 at -c1 as the HTTP floor. Target: added p50 <= 0.5 ms.
 * Needs wrk (Debian: apt-get install -y wrk).
 */
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { fmt, percentile, root, startBare, startServe, wrk } from './serving-common.mjs';

const seconds = Number(process.argv[2] ?? 10);
// Two wrk threads and the server share two cores: where the scheduler puts them moves single rounds by ±30 %.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const THREADS = Number(process.env.BENCH_WRK_THREADS ?? 2);
// 'median' (default) or 'best': which round of each side is compared.
const PICK = process.env.BENCH_PICK === 'best' ? 'best' : 'median';
console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);
const model = join(root, 'test', 'fixtures', 'breast_cancer_mlp.onnx');
const row = [10.48, 19.86, 66.72, 337.7, 0.107, 0.05971, 0.04831, 0.0307, 0.1737, 0.0644, 0.3719, 2.612, 2.517, 23.22, 0.01604, 0.01386, 0.01865, 0.01133, 0.03476, 0.00356, 11.48, 29.46, 73.68, 402.8, 0.1515, 0.1026, 0.1181, 0.06736, 0.2883, 0.07748];
const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] });
const constant = JSON.stringify({ model_name: 'cancer', model_version: '1', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 1], data: [0.9999] }] });

const bare = await startBare(constant);
const serve = await startServe(model, ['--name', 'cancer']);
const inferUrl = `${serve.url}/v2/models/cancer/infer`;
try {
  // Warm both before measuring.
  wrk(bare.url, body, { seconds: 2 });
  wrk(inferUrl, body, { seconds: 2 });
  // Alternate the two servers and keep each one's median round, so a busy machine's
  // swings hit both sides alike.
  const rounds = { bare: [], serve: [] };
  for (let round = 0; round < ROUNDS; round++) {
    rounds.bare.push(wrk(bare.url, body, { seconds, threads: THREADS }));
    const r = wrk(inferUrl, body, { seconds, threads: THREADS });
    if (r.non2xx > 0 || r.errors) throw new Error(`serving had failures: ${r.non2xx} non-2xx, ${r.errors}`);
    rounds.serve.push(r);
  }
  const pick = (list) => {
    const sorted = [...list].sort((a, b) => a.rps - b.rps);
    return PICK === 'best' ? sorted[sorted.length - 1] : sorted[Math.floor(list.length / 2)];
  };
  const bareRun = pick(rounds.bare);
  const serveRun = pick(rounds.serve);
  console.log(`throughput, 64 connections, 1-row V2 requests, ${PICK} of ${ROUNDS} alternating ${seconds} s rounds (wrk -t${THREADS} -c64)`);
  console.log(`  bare node:http constant JSON : ${fmt(bareRun.rps)} req/s (p50 ${fmt(bareRun.p50, 2)} ms, p99 ${fmt(bareRun.p99, 2)} ms; rounds ${rounds.bare.map((r) => fmt(r.rps)).join(' / ')})`);
  console.log(`  slipway serve V2 infer       : ${fmt(serveRun.rps)} req/s (p50 ${fmt(serveRun.p50, 2)} ms, p99 ${fmt(serveRun.p99, 2)} ms; rounds ${rounds.serve.map((r) => fmt(r.rps)).join(' / ')})`);
  console.log(`  ratio                        : ${fmt((serveRun.rps / bareRun.rps) * 100, 1)}% (target >= 60%)`);

  // Raw in-process inference on the same row with the serving session options.
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const tensor = new ort.Tensor('float32', Float32Array.from(row), [1, 30]);
  for (let i = 0; i < 2000; i++) await session.run({ features: tensor });
  const raw = [];
  for (let i = 0; i < 20_000; i++) {
    const t0 = performance.now();
    await session.run({ features: tensor });
    raw.push(performance.now() - t0);
  }
  raw.sort((a, b) => a - b);
  await session.release();
  const rawP50 = percentile(raw, 50);
  const lowBare = wrk(bare.url, body, { connections: 1, threads: 1, seconds: Math.max(3, seconds / 2) });
  const lowServe = wrk(inferUrl, body, { connections: 1, threads: 1, seconds: Math.max(3, seconds / 2) });
  console.log('latency at low load (one connection, wrk -t1 -c1)');
  console.log(`  raw in-process onnxruntime p50 : ${fmt(rawP50, 3)} ms`);
  console.log(`  bare node:http p50 (HTTP floor): ${fmt(lowBare.p50, 3)} ms`);
  console.log(`  slipway serve p50              : ${fmt(lowServe.p50, 3)} ms (p99 ${fmt(lowServe.p99, 3)} ms)`);
  console.log(`  added over raw inference       : ${fmt(lowServe.p50 - rawP50, 3)} ms (target <= 0.5 ms)`);
} finally {
  await serve.stop();
  await bare.stop();
}
