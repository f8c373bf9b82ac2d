// Release evaluation throughput: evaluateOnHoldout (batch assembly, onnxruntime, output
// copies, every metric) against raw onnxruntime session.run on the same model, the same
// rows and the same batch size, in the same run, for the breast-cancer MLP (tiny: onnxruntime
// runs it at millions of rows/s, so any overhead shows) and the diabetes forest. Three baselines:
//  - reading excluded, tensors built from the table in both: evaluateTable on a table already
//    read, against a loop that copies each batch out of the same table and calls session.run;
//  - reading excluded, strict: the same, but the raw loop's tensors are built before its clock starts;
//  - reading included: evaluateOnHoldout(path) against readTable(path) + batch building + session.run.
// Each holdout is its fixture holdout's rows repeated with ±1 % seeded jitter on the features.
// Usage: npm run build && node bench/release-evaluation.mjs [rows=1000000]
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import ort from 'onnxruntime-node';
import { evaluateOnHoldout, evaluateTable, DEFAULT_EVALUATION_BATCH_SIZE } from '../dist/release/evaluation/index.js';
import { readTable } from '../dist/monitoring/readers/table-reader.js';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const CASES = [
  { name: 'breast-cancer MLP', model: 'test/fixtures/breast_cancer_mlp.onnx', holdout: 'test/fixtures/breast_cancer_holdout.csv' },
  { name: 'diabetes forest', model: 'test/fixtures/diabetes_forest.onnx', holdout: 'test/fixtures/diabetes_holdout.csv' },
];
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

async function writeHoldout(source, path) {
  const [header, ...lines] = readFileSync(source, 'utf8').trim().split('\n');
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

async function runServed(session, table) {
  const columns = table.columns.filter((c) => c.name !== 'target').map((c) => c.values);
  const width = columns.length;
  const input = session.inputNames[0];
  const data = new Float32Array(BATCH * width);
  let sink = 0;
  for (let start = 0; start < table.rows; start += BATCH) {
    const rows = Math.min(BATCH, table.rows - start);
    for (let j = 0; j < width; j++) for (let i = 0; i < rows; i++) data[i * width + j] = columns[j][start + i];
    const out = await session.run({ [input]: new ort.Tensor('float32', data.subarray(0, rows * width), [rows, width]) });
    sink += out[session.outputNames[0]].data[0];
  }
  return sink;
}

async function time(fn) {
  const t = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - t) / 1000, value };
}

const line = (label, s, extra = '') => console.log(`  ${label.padEnd(52)}: ${s.toFixed(3)} s  ${rate(s).padStart(18)}${extra}`);
const pct = (raw, ours) => `${((raw / ours) * 100).toFixed(1)} %`;

const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-release-'));
try {
  console.log(`${ROWS.toLocaleString('en-US')} rows per holdout; batch ${BATCH}; intra-op threads ${sessionOptions.intraOpNumThreads}; ${availableParallelism()} cores; load average ${loadavg()[0].toFixed(1)}`);
  for (const c of CASES) {
    const path = join(dir, `${c.name.replace(/\W+/g, '-')}.csv`);
    const written = await time(() => writeHoldout(c.holdout, path));
    const read = await time(() => readTable(path));
    const table = read.value;
    const session = await ort.InferenceSession.create(c.model, sessionOptions);
    const { input, batches } = batchesOf(table, session);
    const opts = { holdoutPath: path, label: 'target', candidate: { onnxPath: c.model, version: 'bench' } };
    // Both sides warm up (JIT, onnxruntime's first calls) on the first 50,000 rows before any clock starts.
    const head = { rows: Math.min(50_000, table.rows), columns: table.columns.map((col) => ({ ...col, values: col.values.subarray(0, 50_000) })) };
    await runRaw(session, input, batches.slice(0, 4));
    await runServed(session, head);
    await evaluateTable(head, opts);
    console.log(`\n${c.name} (${c.model}): ${table.columns.length - 1} features; CSV written in ${written.seconds.toFixed(1)} s, read in ${read.seconds.toFixed(2)} s`);
    const served = [];
    const strict = [];
    const ours = [];
    let last;
    // Alternating runs, medians: the figures share whatever else the machine is doing.
    for (let i = 0; i < REPEATS; i++) {
      served.push((await time(() => runServed(session, table))).seconds);
      strict.push((await time(() => runRaw(session, input, batches))).seconds);
      const e = await time(() => evaluateTable(table, opts));
      ours.push(e.seconds);
      last = e.value;
    }
    const [servedS, strictS, oursS] = [median(served), median(strict), median(ours)];
    console.log('  reading excluded (median of 3):');
    line('raw session.run, batches copied from the table', servedS);
    line('raw session.run, batches built before the clock', strictS);
    line('evaluateTable (batches, run, outputs, all metrics)', oursS, `  (onnxruntime calls ${last.candidate.seconds.toFixed(3)} s)`);
    console.log(`  evaluation / raw rows/s: ${pct(servedS, oursS)} of the copying loop, ${pct(strictS, oursS)} of the strict one (target >= 80 %)`);
    const m = last.candidate.metrics;
    console.log(`  ${last.task}: ${Object.entries(m).filter(([, v]) => v !== null).slice(0, 4).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
    const rawRead = [];
    const oursRead = [];
    for (let i = 0; i < 2; i++) {
      rawRead.push((await time(async () => runServed(session, await readTable(path)))).seconds);
      oursRead.push((await time(() => evaluateOnHoldout(opts))).seconds);
    }
    const [rawReadS, oursReadS] = [Math.min(...rawRead), Math.min(...oursRead)];
    console.log('  reading included (best of 2):');
    line('readTable + batches + raw session.run', rawReadS);
    line('evaluateOnHoldout(path)', oursReadS);
    console.log(`  evaluation / raw rows/s: ${pct(rawReadS, oursReadS)}`);
    await session.release();
    rmSync(path, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
