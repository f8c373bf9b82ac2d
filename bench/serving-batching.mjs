/**
 * What dynamic batching buys on compute-heavy models, against same-run baselines.
 *
 *   npm run build && node bench/serving-batching.mjs [seconds] [--quick]   (--quick: the first model only)
 *
 * Builds models with random weights (bench/onnx-builder.mjs, no network): two image-classifier
 * CNNs on 28x28 inputs, whose weights fit the CPU caches, and three MLPs, whose weights (for the
 * two heavy ones, 64-80 MB) stream from memory once per batch. For each:
 * - raw: in-process onnxruntime-node, rows/s at its best batch size, over every threading
 *   onnxruntime offers a single process here: one session with 1 or 2 intra-op threads
 *   (spinning or not), and two 1-thread sessions running in parallel on two worker threads.
 *   The best of all of them is the baseline; the best at batches of at most 64 rows (what 64
 *   one-row clients can form) is printed beside it;
 * - served: `slipway serve` driven by wrk with 64 connections each sending 1-row V2 requests:
 *   with the defaults, with spinning threads, with two 1-thread worker sessions, with one
 *   2-thread worker session, and without batching (--max-batch-size 1).
 * Target: served with batching >= 80% of raw at its best batch size.
 * Needs wrk (Debian: apt-get install -y wrk).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { buildCnn, buildMlp } from './onnx-builder.mjs';
import { fmt, scratch, startServe, wrk } from './serving-common.mjs';

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 10);
const quick = process.argv.includes('--quick');
const RAW_MS = 1500;
console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);

const cnn = (channels) => ({
  name: `CNN 1x28x28, 3x3 convolutions ${channels.slice(1).join('→')}`,
  bytes: buildCnn({ size: 28, channels }),
  rowShape: [1, 28, 28],
  batches: [1, 4, 8, 16, 32, 64, 128],
});
const mlp = (layers) => ({
  name: `MLP ${layers.join('→')}`,
  bytes: buildMlp(layers),
  rowShape: [layers[0]],
  batches: [1, 8, 32, 64, 128, 256, 512],
});
const models = [
  { ...cnn([1, 64, 128, 256, 512]), note: '174 M multiply-adds per row, 6 MB of weights' },
  { ...cnn([1, 32, 64, 128, 256]), note: '44 M multiply-adds per row, 1.6 MB of weights' },
  { ...mlp([64, 2048, 2048, 2048, 2048, 2048, 10]), note: '17 M multiply-adds per row, 67 MB of weights in five 2048-wide layers' },
  { ...mlp([64, 4096, 4096, 10]), note: '17 M multiply-adds per row, 68 MB of weights, most in one 4096 x 4096 layer' },
  { ...mlp([64, 512, 512, 10]), note: '0.3 M multiply-adds per row: raw rows/s exceed what HTTP carries at one row per request' },
].slice(0, quick ? 1 : undefined);

const rowSize = (m) => m.rowShape.reduce((a, b) => a * b, 1);
const inputOf = (m, batch) => new ort.Tensor('float32', new Float32Array(batch * rowSize(m)).fill(0.25), [batch, ...m.rowShape]);

/** Rows/s of one in-process session at each batch size. */
async function rawSession(m, path, threads, spin) {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
  });
  const out = [];
  for (const batch of m.batches) {
    const x = inputOf(m, batch);
    for (let i = 0; i < 3; i++) await session.run({ x });
    let rows = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < RAW_MS) {
      await session.run({ x });
      rows += batch;
    }
    out.push({ batch, rowsPerSec: rows / ((performance.now() - t0) / 1000) });
  }
  await session.release();
  return out;
}

// Each worker loads its own 1-thread session and runs back-to-back batches until told time.
const PARALLEL_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
ort.InferenceSession.create(workerData.path, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' }).then((s) => {
  parentPort.on('message', async ({ batch, ms }) => {
    const x = new ort.Tensor('float32', new Float32Array(batch * workerData.rowSize).fill(0.25), [batch, ...workerData.rowShape]);
    for (let i = 0; i < 3; i++) await s.run({ x });
    let rows = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) { await s.run({ x }); rows += batch; }
    parentPort.postMessage(rows / ((performance.now() - t0) / 1000));
  });
  parentPort.postMessage('ready');
});
`;

/** Rows/s of two 1-thread sessions running batches in parallel, at each batch size. */
async function rawParallel(m, path) {
  const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
  const workers = [0, 1].map(() => new Worker(PARALLEL_WORKER, { eval: true, workerData: { path, ortPath, rowSize: rowSize(m), rowShape: m.rowShape } }));
  try {
    await Promise.all(workers.map((w) => new Promise((res) => w.once('message', res))));
    const out = [];
    for (const batch of m.batches) {
      const each = await Promise.all(workers.map((w) => new Promise((res) => { w.once('message', res); w.postMessage({ batch, ms: RAW_MS }); })));
      out.push({ batch, rowsPerSec: each[0] + each[1] });
    }
    return out;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

async function rawBest(m, path) {
  const runs = [
    ['1 thread', await rawSession(m, path, 1, false)],
    ['2 threads, spinning', await rawSession(m, path, 2, true)],
    ['2 threads, no spinning', await rawSession(m, path, 2, false)],
    ['two 1-thread sessions in parallel', await rawParallel(m, path)],
  ];
  let best = { rowsPerSec: 0 };
  let upTo64 = { rowsPerSec: 0 };
  for (const [how, results] of runs) {
    for (const r of results) {
      if (r.rowsPerSec > best.rowsPerSec) best = { ...r, how };
      if (r.batch <= 64 && r.rowsPerSec > upTo64.rowsPerSec) upTo64 = { ...r, how };
    }
  }
  return { best, upTo64 };
}

for (const m of models) {
  const path = join(scratch, `model-${models.indexOf(m)}.onnx`);
  writeFileSync(path, m.bytes);
  const raw = await rawBest(m, path);
  const row = Array.from({ length: rowSize(m) }, (_, i) => ((i * 7919) % 1000) / 1000);
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, ...m.rowShape], data: row }] });
  const runServed = async (flags) => {
    const serve = await startServe(path, ['--name', 'm', ...flags]);
    try {
      const url = `${serve.url}/v2/models/m/infer`;
      wrk(url, body, { seconds: 2 });
      const r = wrk(url, body, { seconds });
      if (r.non2xx > 0 || r.errors) throw new Error(`served run had failures: ${r.non2xx} non-2xx, ${r.errors}`);
      return r;
    } finally {
      await serve.stop();
    }
  };
  const configs = [
    [`defaults (inline, ${Math.min(4, cpus().length)} intra-op threads)`, []],
    ['inline, threads spinning (--spin-wait)', ['--spin-wait']],
    ['worker executor, two 1-thread sessions', ['--executor', 'worker', '--concurrency', '2', '--threads', '1']],
    ['worker executor, one session', ['--executor', 'worker', '--concurrency', '1']],
  ];
  const served = [];
  for (const [label, flags] of configs) served.push([label, await runServed(flags)]);
  const unbatched = await runServed(['--max-batch-size', '1']);
  const describe = (r) => `${r.how}, batch ${r.batch}`;
  console.log(`${m.name} (${m.note})`);
  console.log(`  raw in-process onnxruntime, best (${describe(raw.best)}): ${fmt(raw.best.rowsPerSec)} rows/s`);
  console.log(`  raw at batches of at most 64 rows (${describe(raw.upTo64)}): ${fmt(raw.upTo64.rowsPerSec)} rows/s`);
  for (const [label, r] of served) {
    console.log(`  served, 64 x 1-row clients, ${label.padEnd(40)}: ${fmt(r.rps)} rows/s (p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms) = ${fmt((r.rps / raw.best.rowsPerSec) * 100, 1)}% of raw (target >= 80%)`);
  }
  console.log(`  served, 64 x 1-row clients, batching off${' '.repeat(26)}: ${fmt(unbatched.rps)} rows/s (p50 ${fmt(unbatched.p50, 2)} ms, p99 ${fmt(unbatched.p99, 2)} ms)`);
}
