/**
 * What dynamic batching buys on a compute-heavy model, against same-run baselines.
 *
 *   npm run build && node bench/serving-batching.mjs [seconds]
 *
 * Builds MLPs with random weights (bench/onnx-builder.mjs, no network), then for each:
 * - raw: in-process onnxruntime-node, rows/s at its best batch size (1..512) and
 *   intra-op thread count (1 or 2);
 * - served: `slipway serve` driven by wrk with 64 connections each sending 1-row V2
 *   requests, with batching (defaults: inline executor; then --executor worker
 *   --concurrency 2, one session per worker thread) and without (--max-batch-size 1).
 * Target: served with batching >= 80% of raw at its best batch size.
 * Needs wrk (Debian: apt-get install -y wrk).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { buildMlp } from './onnx-builder.mjs';
import { fmt, scratch, startServe, wrk } from './serving-common.mjs';

const seconds = Number(process.argv[2] ?? 10);
console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);
const models = [
  { layers: [64, 4096, 4096, 10], note: 'compute-bound: 17 M multiply-adds per row' },
  { layers: [64, 512, 512, 10], note: '0.3 M multiply-adds per row: raw rows/s exceed what HTTP can carry at one row per request' },
];

async function rawBest(path, width) {
  let best = { batch: 0, threads: 0, rowsPerSec: 0 };
  for (const threads of [1, 2]) {
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
    for (const batch of [1, 8, 32, 64, 128, 256, 512]) {
      const x = new ort.Tensor('float32', new Float32Array(batch * width).fill(0.25), [batch, width]);
      for (let i = 0; i < 3; i++) await session.run({ x });
      let rows = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < 1500) {
        await session.run({ x });
        rows += batch;
      }
      const rowsPerSec = rows / ((performance.now() - t0) / 1000);
      if (rowsPerSec > best.rowsPerSec) best = { batch, threads, rowsPerSec };
    }
    await session.release();
  }
  return best;
}

for (const m of models) {
  const path = join(scratch, `mlp-${m.layers.join('x')}.onnx`);
  writeFileSync(path, buildMlp(m.layers));
  const width = m.layers[0];
  const raw = await rawBest(path, width);
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, width], data: new Array(width).fill(0.25) }] });
  const runServed = async (flags) => {
    const serve = await startServe(path, ['--name', 'mlp', ...flags]);
    try {
      const url = `${serve.url}/v2/models/mlp/infer`;
      wrk(url, body, { seconds: 2 });
      const r = wrk(url, body, { seconds });
      if (r.non2xx > 0 || r.errors) throw new Error(`served run had failures: ${r.non2xx} non-2xx, ${r.errors}`);
      return r;
    } finally {
      await serve.stop();
    }
  };
  const batched = await runServed([]);
  const workers = await runServed(['--executor', 'worker', '--concurrency', '2']);
  const unbatched = await runServed(['--max-batch-size', '1']);
  console.log(`MLP ${m.layers.join('→')} (${m.note})`);
  console.log(`  raw in-process onnxruntime, best (batch ${raw.batch}, ${raw.threads} thread${raw.threads > 1 ? 's' : ''}): ${fmt(raw.rowsPerSec)} rows/s`);
  console.log(`  served, 64 x 1-row clients, batching on          : ${fmt(batched.rps)} rows/s (p50 ${fmt(batched.p50, 2)} ms, p99 ${fmt(batched.p99, 2)} ms) = ${fmt((batched.rps / raw.rowsPerSec) * 100, 1)}% of raw (target >= 80%)`);
  console.log(`  served, batching on, 2 worker-thread sessions    : ${fmt(workers.rps)} rows/s (p50 ${fmt(workers.p50, 2)} ms, p99 ${fmt(workers.p99, 2)} ms) = ${fmt((workers.rps / raw.rowsPerSec) * 100, 1)}% of raw`);
  console.log(`  served, 64 x 1-row clients, batching off         : ${fmt(unbatched.rps)} rows/s (p50 ${fmt(unbatched.p50, 2)} ms, p99 ${fmt(unbatched.p99, 2)} ms)`);
}
