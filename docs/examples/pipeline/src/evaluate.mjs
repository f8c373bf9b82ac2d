#!/usr/bin/env node
/** evaluate: scores data/test.csv with the trained model; writes metrics.json and the ROC curve as plots/roc.csv. */
import { readFileSync } from 'node:fs';
import { featuresAndLabels, labelIndex, predict, readCsv, readParams, writeCsv, writeJson } from './lib.mjs';

const params = readParams('evaluate');
const model = JSON.parse(readFileSync('model/weights.json', 'utf8'));
const table = readCsv('data/test.csv');
const { X, y } = featuresAndLabels(table.rows, labelIndex(table.header, 'target', 'data/test.csv'));
const scores = X.map((x) => predict(model, x));

let tp = 0, fp = 0, tn = 0, fn = 0, loss = 0;
scores.forEach((p, i) => {
  const predicted = p >= params.threshold ? 1 : 0;
  if (predicted === 1 && y[i] === 1) tp++;
  else if (predicted === 1) fp++;
  else if (y[i] === 0) tn++;
  else fn++;
  loss -= y[i] * Math.log(Math.max(p, 1e-12)) + (1 - y[i]) * Math.log(Math.max(1 - p, 1e-12));
});
const precision = tp / Math.max(1, tp + fp);
const recall = tp / Math.max(1, tp + fn);

// ROC: thresholds from high to low; AUC by the trapezoid rule.
const order = scores.map((s, i) => [s, y[i]]).sort((a, b) => b[0] - a[0]);
const positives = y.filter((v) => v === 1).length;
const negatives = y.length - positives;
const roc = [[0, 0]];
let seenTp = 0, seenFp = 0, auc = 0;
for (const [, label] of order) {
  if (label === 1) seenTp++;
  else {
    seenFp++;
    auc += seenTp / positives / negatives;
  }
  roc.push([Number((seenFp / negatives).toFixed(6)), Number((seenTp / positives).toFixed(6))]);
}

const round = (v) => Number(v.toFixed(6));
writeJson('metrics.json', {
  accuracy: round((tp + tn) / y.length),
  precision: round(precision),
  recall: round(recall),
  f1: round((2 * precision * recall) / Math.max(1e-12, precision + recall)),
  log_loss: round(loss / y.length),
  roc_auc: round(auc),
  test_rows: y.length,
});
writeCsv('plots/roc.csv', ['fpr', 'tpr'], roc);
console.log(`accuracy ${((tp + tn) / y.length).toFixed(4)}, ROC AUC ${auc.toFixed(4)} on ${y.length} held-out rows`);
