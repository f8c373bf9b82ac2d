#!/usr/bin/env node
/**
 * register's command: lets the model through only when the evaluation met the bar in params.yaml,
 * by copying it to release/cancer.onnx, the file the stage registers. A failing gate fails the stage,
 * so nothing is registered.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { readParams } from './lib.mjs';

const params = readParams('register');
const metrics = JSON.parse(readFileSync('metrics.json', 'utf8'));
if (metrics.accuracy < params.min_accuracy || metrics.roc_auc < params.min_roc_auc) {
  console.error(`not registering: accuracy ${metrics.accuracy} (needs ${params.min_accuracy}), ROC AUC ${metrics.roc_auc} (needs ${params.min_roc_auc})`);
  process.exit(1);
}
mkdirSync('release', { recursive: true });
copyFileSync('model/model.onnx', 'release/cancer.onnx');
console.log(`accuracy ${metrics.accuracy} and ROC AUC ${metrics.roc_auc} pass: release/cancer.onnx is registered as a new version of cancer`);
