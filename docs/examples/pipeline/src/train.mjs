#!/usr/bin/env node
/**
 * train: fits a logistic regression by full-batch gradient descent on data/train.csv and writes it
 * as model/model.onnx (what is served) and model/weights.json (what evaluate reads), with the
 * training figures in metrics/train.json.
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { logisticRegressionOnnx } from './onnx.mjs';
import { featuresAndLabels, labelIndex, predict, readCsv, readParams, writeJson } from './lib.mjs';

const params = readParams('train');
const table = readCsv('data/train.csv');
const { X, y } = featuresAndLabels(table.rows, labelIndex(table.header, 'target', 'data/train.csv'));
const n = X.length;
const d = X[0].length;

// Standardise inside the model, so callers send raw features.
const mean = new Array(d).fill(0);
const std = new Array(d).fill(0);
for (const x of X) for (let j = 0; j < d; j++) mean[j] += x[j] / n;
for (const x of X) for (let j = 0; j < d; j++) std[j] += (x[j] - mean[j]) ** 2 / n;
for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j]) || 1;

const model = { mean, std, weights: new Array(d).fill(0), bias: 0 };
let loss = 0;
for (let epoch = 0; epoch < params.epochs; epoch++) {
  const gw = new Array(d).fill(0);
  let gb = 0;
  loss = 0;
  for (let i = 0; i < n; i++) {
    const p = predict(model, X[i]);
    const err = p - y[i];
    for (let j = 0; j < d; j++) gw[j] += (err * (X[i][j] - mean[j])) / std[j];
    gb += err;
    loss -= y[i] * Math.log(Math.max(p, 1e-12)) + (1 - y[i]) * Math.log(Math.max(1 - p, 1e-12));
  }
  for (let j = 0; j < d; j++) model.weights[j] -= params.lr * (gw[j] / n + params.l2 * model.weights[j]);
  model.bias -= params.lr * (gb / n);
}
const accuracy = X.filter((x, i) => (predict(model, x) >= 0.5 ? 1 : 0) === y[i]).length / n;

mkdirSync('model', { recursive: true });
writeFileSync('model/model.onnx', logisticRegressionOnnx(model));
writeJson('model/weights.json', model);
writeJson('metrics/train.json', { train: { accuracy: Number(accuracy.toFixed(6)), log_loss: Number((loss / n).toFixed(6)) }, rows: n });
// SLIPWAY_RUN_ID names the tracking run of this stage: a script could log more to it through the API.
console.log(`trained on ${n} rows, ${d} features: train accuracy ${accuracy.toFixed(4)}${process.env.SLIPWAY_RUN_ID ? ` (run ${process.env.SLIPWAY_RUN_ID})` : ''}`);
