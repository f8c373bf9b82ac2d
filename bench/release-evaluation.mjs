// Release evaluation throughput: evaluateOnHoldout (batch assembly, onnxruntime, output
// copies, every metric) against raw onnxruntime session.run on the same model, the same
// rows and the same batch size, in the same run. Two comparisons:
//  - reading excluded: evaluateTable on a table already read, against session.run over
//    Float32Array batches built before the clock starts (the strictest baseline);
//  - reading included: evaluateOnHoldout(path) against readTable(path) + batch building + session.run.
// The holdout is the breast-cancer holdout's rows repeated with ±1 % seeded jitter.
// Usage: npm run build && node bench/release-evaluation.mjs [rows=1000000] [model=test/fixtures/breast_cancer_mlp.onnx]
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import ort from 'onnxruntime-node';
import { evaluateOnHoldout, evaluateTable, DEFAULT_EVALUATION_BATCH_SIZE } from '../dist/release/evaluation/index.js';
import { readTable } from '../dist/monitoring/readers/table-reader.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const MODEL = process.argv[3] ?? 'test/fixtures/breast_cancer_mlp.onnx';
const BATCH = DEFAULT_EVALUATION_BATCH_SIZE;
const REPEATS = 3;

function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

async function writeHoldout(path) {
  const [header, ...lines] = readFileSync('test/fixtures/breast_cancer_holdout.csv', 'utf8').trim().split('\n');
  const rows = lines.map((l) => l.split(',').map(Number));
  const r = rng(42);
  const out = createWriteStream(path);
  out.write(`${header}\n`);
  let chunk = '';
  for (let i = 0; i < ROWS; i++) {
    const row = rows[i % rows.length];
    const features = row.slice(0, -1).map((v) => +(v * (0.99 + r() * 0.02)).toPrecision(6));
    chunk += `${features.join(',')},${row[row.length - 1]}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

const sessionOptions = { intraOpNumThreads: Math.max(1, Math.min(4, availableParallelism())), interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };

function batchesOf(table, session) {
  const columns = table.columns.filter((c) => c.name !== 'target').map((c) => c.values);
  const width = columns.length;
  const batches = [];
  for (let start = 0; start < table.rows; start += BATCH) {
    const rows = Math.min(BATCH, table.rows - start);
    const data = new Float32Array(rows * width);
    for (let j = 0; j < width; j++) for (let i = 0; i < rows; i++) data[i * width + j] = columns[j][start + i];
    batches.push(new ort.Tensor('float32', data, [rows, width]));
  }
  return { input: session.inputNames[0], batches };
}

async function runRaw(session, input, batches) {
  let sink = 0;
  for (const t of batches) {
    const out = await session.run({ [input]: t });
    sink += out[session.outputNames[0]].data[0];
  }
  return sink;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (s) => `${Math.round(ROWS / s).toLocaleString('en-US')} rows/s`;

const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-release-'));
try {
  const path = join(dir, 'holdout.csv');
  let t = performance.now();
  await writeHoldout(path);
  console.log(`holdout: ${ROWS.toLocaleString('en-US')} rows x 30 features (CSV written in ${((performance.now() - t) / 1000).toFixed(1)} s); model ${MODEL}; batch ${BATCH}; intra-op threads ${sessionOptions.intraOpNumThreads}; ${availableParallelism()} cores`);
  t = performance.now();
  const table = await readTable(path);
  const readSeconds = (performance.now() - t) / 1000;
  const session = await ort.InferenceSession.create(MODEL, sessionOptions);
  const { input, batches } = batchesOf(table, session);
  const opts = { holdoutPath: path, label: 'target', candidate: { onnxPath: MODEL, version: 'bench' } };
  await runRaw(session, input, batches.slice(0, 4));

  const raw = [];
  const evaluation = [];
  let last;
  for (let i = 0; i < REPEATS; i++) {
    t = performance.now();
    await runRaw(session, input, batches);
    raw.push((performance.now() - t) / 1000);
    t = performance.now();
    last = await evaluateTable(table, opts);
    evaluation.push((performance.now() - t) / 1000);
  }
  const rawS = median(raw);
  const evalS = median(evaluation);
  console.log('\nreading excluded (median of 3, alternating):');
  console.log(`  raw onnxruntime session.run, prebuilt batches : ${rawS.toFixed(3)} s  ${rate(rawS)}`);
  console.log(`  evaluateTable (batches + run + all metrics)   : ${evalS.toFixed(3)} s  ${rate(evalS)}  (of which onnxruntime calls ${last.candidate.seconds.toFixed(3)} s)`);
  console.log(`  ratio evaluation / raw rows/s                  : ${((rawS / evalS) * 100).toFixed(1)} %  (target >= 80 %)`);
  console.log(`  accuracy ${last.candidate.metrics.accuracy?.toFixed(4)}, roc_auc ${last.candidate.metrics.roc_auc?.toFixed(4)}, log_loss ${last.candidate.metrics.log_loss?.toFixed(4)}`);

  const rawRead = [];
  const evalRead = [];
  for (let i = 0; i < 2; i++) {
    t = performance.now();
    const tbl = await readTable(path);
    const b = batchesOf(tbl, session);
    await runRaw(session, b.input, b.batches);
    rawRead.push((performance.now() - t) / 1000);
    t = performance.now();
    await evaluateOnHoldout(opts);
    evalRead.push((performance.now() - t) / 1000);
  }
  const rawReadS = Math.min(...rawRead);
  const evalReadS = Math.min(...evalRead);
  console.log(`\nreading included (best of 2; the first read took ${readSeconds.toFixed(2)} s):`);
  console.log(`  readTable + batches + raw session.run          : ${rawReadS.toFixed(3)} s  ${rate(rawReadS)}`);
  console.log(`  evaluateOnHoldout(path)                        : ${evalReadS.toFixed(3)} s  ${rate(evalReadS)}`);
  console.log(`  ratio evaluation / raw rows/s                  : ${((rawReadS / evalReadS) * 100).toFixed(1)} %`);
  await session.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
