/**
 * What dynamic batching buys on a compute-heavy model, against same-run baselines.
 *
 *   npm run build && node bench/serving-batching.mjs [seconds] [--quick]   (--quick: the first model only)
 *
 * Builds MLPs with random weights (bench/onnx-builder.mjs, no network), then for each:
 * - raw: in-process onnxruntime-node, rows/s at its best batch size (1..512), intra-op
 *   thread count (1 or 2) and spin setting (onnxruntime's default spinning, or none): the
 *   best any of them reaches is the baseline;
 * - served: `slipway serve` driven by wrk with 64 connections each sending 1-row V2
 *   requests, in several configurations: the defaults (inline executor, as many intra-op
 *   threads as CPUs), with spinning threads, with one thread, the worker executor with one
 *   session, and two 1-thread worker sessions; and without batching (--max-batch-size 1).
 * Target: served with batching >= 80% of raw at its best batch size.
 * Needs wrk (Debian: apt-get install -y wrk).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import * as ort from 'onnxruntime-node';
import { buildMlp } from './onnx-builder.mjs';
import { fmt, scratch, startServe, wrk } from './serving-common.mjs';

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const quick = process.argv.includes('--quick');
console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);
const models = [
  { layers: [64, 2048, 2048, 2048, 2048, 2048, 10], note: '17 M multiply-adds per row in five 2048-wide layers: compute-bound already at 64-row batches' },
  { layers: [64, 4096, 4096, 10], note: '17 M multiply-adds per row, most in one 4096 x 4096 layer: runs best at batches larger than 64 clients can form' },
  { layers: [64, 512, 512, 10], note: '0.3 M multiply-adds per row: raw rows/s exceed what HTTP can carry at one row per request' },
].slice(0, quick ? 1 : undefined);

async function rawBest(path, width) {
  let best = { batch: 0, threads: 0, spin: true, rowsPerSec: 0 };
  const upTo64 = { ...best };
  for (const threads of [1, 2]) {
    for (const spin of threads > 1 ? [true, false] : [true]) {
      const session = await ort.InferenceSession.create(path, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
      });
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
        if (rowsPerSec > best.rowsPerSec) best = { batch, threads, spin, rowsPerSec };
        if (batch <= 64 && rowsPerSec > upTo64.rowsPerSec) Object.assign(upTo64, { batch, threads, spin, rowsPerSec });
      }
      await session.release();
    }
  }
  return { best, upTo64 };
}

const describeRaw = (r) => `batch ${r.batch}, ${r.threads} thread${r.threads > 1 ? 's' : ''}${r.threads > 1 ? (r.spin ? ', spinning' : ', no spinning') : ''}`;

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
  const configs = [
    [`defaults (inline, ${cpus().length > 4 ? 4 : cpus().length} intra-op threads)`, []],
    ['inline, threads spinning (--spin-wait)', ['--spin-wait']],
    ['inline, 1 intra-op thread', ['--threads', '1']],
    ['worker executor, one session', ['--executor', 'worker', '--concurrency', '1']],
    ['worker executor, two 1-thread sessions', ['--executor', 'worker', '--concurrency', '2', '--threads', '1']],
  ];
  const served = [];
  for (const [label, flags] of configs) served.push([label, await runServed(flags)]);
  const unbatched = await runServed(['--max-batch-size', '1']);
  console.log(`MLP ${m.layers.join('→')} (${m.note})`);
  console.log(`  raw in-process onnxruntime, best (${describeRaw(raw.best)}): ${fmt(raw.best.rowsPerSec)} rows/s`);
  console.log(`  raw at batches of at most 64 rows (${describeRaw(raw.upTo64)}): ${fmt(raw.upTo64.rowsPerSec)} rows/s`);
  for (const [label, r] of served) {
    console.log(`  served, 64 x 1-row clients, ${label.padEnd(40)}: ${fmt(r.rps)} rows/s (p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms) = ${fmt((r.rps / raw.best.rowsPerSec) * 100, 1)}% of raw (target >= 80%)`);
  }
  console.log(`  served, 64 x 1-row clients, batching off${' '.repeat(26)}: ${fmt(unbatched.rps)} rows/s (p50 ${fmt(unbatched.p50, 2)} ms, p99 ${fmt(unbatched.p99, 2)} ms)`);
}
