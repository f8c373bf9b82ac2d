#!/usr/bin/env node
/**
 * A stand-in for your training step: fits a logistic regression on a CSV (every
 * column but the label is a feature), writes it as an ONNX model with the same
 * interface the release compares against (input `features` float32 [batch, n],
 * output `probabilities` float32 [batch, 1] = P(label = 1)), and logs the run to
 * Slipway's tracking server through its MLflow-compatible API when
 * MLFLOW_TRACKING_URI is set.
 *
 *   node train.mjs --data data/train.csv --label target --out model.onnx [--epochs 300] [--l2 0.01]
 *
 * In a real pipeline this is `python train.py` with scikit-learn and skl2onnx, or
 * PyTorch's exporter; it is plain Node here so the example runs anywhere Slipway does.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    label: { type: 'string', default: 'target' },
    out: { type: 'string', default: 'model.onnx' },
    epochs: { type: 'string', default: '300' },
    l2: { type: 'string', default: '0.01' },
    'learning-rate': { type: 'string', default: '0.5' },
  },
});
if (!args.data) {
  console.error('train.mjs: --data FILE is required (a CSV with a header and a label column)');
  process.exit(2);
}

// --- data ---
const [header, ...lines] = readFileSync(args.data, 'utf8').trim().split(/\r?\n/);
const names = header.split(',');
const labelIndex = names.indexOf(args.label);
if (labelIndex < 0) {
  console.error(`train.mjs: ${args.data} has no column '${args.label}'`);
  process.exit(2);
}
const rows = lines.map((l) => l.split(',').map(Number));
const features = names.filter((_, i) => i !== labelIndex);
const n = rows.length;
const d = features.length;
const X = rows.map((r) => r.filter((_, i) => i !== labelIndex));
const y = rows.map((r) => r[labelIndex]);

// Standardise inside the model, so callers send raw features.
const mean = new Array(d).fill(0);
const std = new Array(d).fill(0);
for (const x of X) for (let j = 0; j < d; j++) mean[j] += x[j] / n;
for (const x of X) for (let j = 0; j < d; j++) std[j] += (x[j] - mean[j]) ** 2 / n;
for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;
const Z = X.map((x) => x.map((v, j) => (v - mean[j]) / std[j]));

// --- full-batch gradient descent on the L2-regularised log loss ---
const w = new Array(d).fill(0);
let b = 0;
const epochs = Number(args.epochs);
const lr = Number(args['learning-rate']);
const l2 = Number(args.l2);
const sigmoid = (t) => 1 / (1 + Math.exp(-t));
for (let epoch = 0; epoch < epochs; epoch++) {
  const gw = new Array(d).fill(0);
  let gb = 0;
  for (let i = 0; i < n; i++) {
    let t = b;
    for (let j = 0; j < d; j++) t += w[j] * Z[i][j];
    const err = sigmoid(t) - y[i];
    for (let j = 0; j < d; j++) gw[j] += err * Z[i][j];
    gb += err;
  }
  for (let j = 0; j < d; j++) w[j] -= lr * (gw[j] / n + l2 * w[j]);
  b -= lr * (gb / n);
}
let correct = 0;
for (let i = 0; i < n; i++) {
  let t = b;
  for (let j = 0; j < d; j++) t += w[j] * Z[i][j];
  if ((sigmoid(t) >= 0.5 ? 1 : 0) === y[i]) correct++;
}
const trainAccuracy = correct / n;

// --- ONNX: Sub(mean) → Div(std) → MatMul(w) → Add(b) → Sigmoid, protobuf written field by field ---
const varint = (v) => {
  const out = [];
  let x = BigInt(v);
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) byte |= 0x80;
    out.push(byte);
  } while (x > 0n);
  return Buffer.from(out);
};
const key = (field, wire) => varint((field << 3) | wire);
const int = (field, v) => Buffer.concat([key(field, 0), varint(v)]);
const bytes = (field, v) => {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  return Buffer.concat([key(field, 2), varint(b.length), b]);
};
const msg = (field, parts) => bytes(field, Buffer.concat(parts));
const floats = (values) => Buffer.from(new Float32Array(values).buffer);
const tensor = (name, dims, values) => msg(5, [...dims.map((v) => int(1, v)), int(2, 1), bytes(8, name), bytes(9, floats(values))]);
const node = (op, inputs, output) => msg(1, [...inputs.map((i) => bytes(1, i)), bytes(2, output), bytes(3, output), bytes(4, op)]);
const dim = (v) => msg(1, [typeof v === 'number' ? int(1, v) : bytes(2, v)]);
const value = (field, name, shape) => msg(field, [bytes(1, name), msg(2, [msg(1, [int(1, 1), msg(2, shape.map(dim))])])]);
const graph = msg(7, [
  node('Sub', ['features', 'mean'], 'centred'),
  node('Div', ['centred', 'std'], 'scaled'),
  node('MatMul', ['scaled', 'weights'], 'logit_w'),
  node('Add', ['logit_w', 'bias'], 'logit'),
  node('Sigmoid', ['logit'], 'probabilities'),
  bytes(2, 'logistic_regression'),
  tensor('mean', [d], mean),
  tensor('std', [d], std),
  tensor('weights', [d, 1], w),
  tensor('bias', [1], [b]),
  value(11, 'features', ['batch', d]),
  value(12, 'probabilities', ['batch', 1]),
]);
const model = Buffer.concat([int(1, 8), bytes(2, 'slipway-example'), graph, msg(8, [bytes(1, ''), int(2, 17)])]);
writeFileSync(args.out, model);
console.log(`trained on ${n} rows, ${d} features: train accuracy ${trainAccuracy.toFixed(4)}; wrote ${args.out}`);

// --- track the run (MLflow REST, as any MLflow client would) ---
const tracking = process.env.MLFLOW_TRACKING_URI;
if (tracking?.startsWith('http')) {
  const api = async (path, body) => {
    const res = await fetch(`${tracking.replace(/\/$/, '')}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
  const now = Date.now();
  const { run } = await api('runs/create', { experiment_id: '0', start_time: now, run_name: 'train-logistic-regression' });
  const runId = run.info.run_id;
  await api('runs/log-batch', {
    run_id: runId,
    params: [
      { key: 'epochs', value: String(epochs) },
      { key: 'l2', value: String(l2) },
      { key: 'learning_rate', value: String(lr) },
    ],
    metrics: [{ key: 'train_accuracy', value: trainAccuracy, timestamp: now, step: 0 }],
  });
  await api('runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });
  console.log(`logged run ${runId}`);
}
