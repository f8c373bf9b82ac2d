/**
 * Model performance of a labelled data set (a target and a prediction column, row by
 * row), with scikit-learn's definitions: `accuracy_score`, `precision_score`,
 * `recall_score`, `f1_score` (binary for 0/1 or true/false targets, else macro over the
 * sorted union of true and predicted labels; 0 where a ratio has no denominator),
 * `confusion_matrix`, `roc_auc_score` and `log_loss` when the prediction is P(label = 1),
 * and `mean_absolute_error`, root mean squared error and `r2_score` for regression.
 */
import { SlipwayError } from '../../core/errors.js';
import type { Column } from '../table.js';
import { classificationMetrics, regressionMetrics, type ClassificationMetrics } from './model-metrics.js';

/** What the model does. */
export type ModelTask = 'classification' | 'regression';

/** A probability above or at this is predicted as the positive label. */
export const PROBABILITY_THRESHOLD = 0.5;

/** Counts of true (rows) against predicted (columns) labels, labels sorted as scikit-learn sorts them. */
export interface ConfusionMatrix {
  labels: string[];
  counts: number[][];
}

/** Classification figures of one side: the model metrics (ROC AUC and log loss only for probability predictions) and more. */
export interface ClassificationPerformance extends Omit<ClassificationMetrics, 'count'> {
  task: 'classification';
  /** Rows with both a target and a prediction. */
  rows: number;
  /** Rows left out because the target or the prediction was missing. */
  missing: number;
  /** `binary` (positive label `positiveLabel`) or `macro` (unweighted mean over labels). */
  average: 'binary' | 'macro';
  positiveLabel: string | null;
  /** Set when the prediction is a probability of the positive label: predicted label = probability >= threshold. */
  threshold: number | null;
  confusionMatrix: ConfusionMatrix;
}

/** Regression figures of one side. */
export interface RegressionPerformance {
  task: 'regression';
  rows: number;
  missing: number;
  mae: number | null;
  rmse: number | null;
  r2: number | null;
}

/** Performance of one side. */
export type SidePerformance = ClassificationPerformance | RegressionPerformance;

/** Most distinct integer values a numeric target may have to be taken for class labels. */
const MAX_NUMERIC_CLASSES = 10;

function isMissing(c: Column, i: number): boolean {
  return c.type === 'number' ? Number.isNaN(c.values[i] as number) : c.values[i] === null;
}

/** Label text of a value: numbers as JavaScript prints them (1, 0.5), booleans in lower case. */
function labelOf(c: Column, i: number): string {
  if (c.type === 'number') return String(c.values[i]);
  const v = (c.values[i] as string).trim();
  const lower = v.toLowerCase();
  return lower === 'true' || lower === 'false' ? lower : v;
}

/** Classification for text, boolean or few-integer targets; regression otherwise. */
export function inferTask(target: Column): ModelTask {
  if (target.type === 'string') return 'classification';
  const distinct = new Set<number>();
  for (const v of target.values) {
    if (Number.isNaN(v)) continue;
    if (!Number.isInteger(v)) return 'regression';
    distinct.add(v);
    if (distinct.size > MAX_NUMERIC_CLASSES) return 'regression';
  }
  return 'classification';
}

/** scikit-learn's label order: numbers numerically when every label is a number, else by code unit. */
function sortLabels(labels: Iterable<string>): string[] {
  const all = [...labels];
  const numeric = all.every((l) => l.trim() !== '' && Number.isFinite(Number(l)));
  return numeric ? all.sort((a, b) => Number(a) - Number(b)) : all.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function pairedRows(target: Column, prediction: Column): { rows: number[]; missing: number } {
  const rows: number[] = [];
  const n = Math.min(target.values.length, prediction.values.length);
  for (let i = 0; i < n; i++) if (!isMissing(target, i) && !isMissing(prediction, i)) rows.push(i);
  return { rows, missing: n - rows.length };
}

function confusion(yTrue: string[], yPred: string[]): ConfusionMatrix {
  const labels = sortLabels(new Set([...yTrue, ...yPred]));
  const at = new Map(labels.map((l, i) => [l, i]));
  const counts = labels.map(() => new Array<number>(labels.length).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const row = counts[at.get(yTrue[i] as string) as number] as number[];
    const col = at.get(yPred[i] as string) as number;
    row[col] = (row[col] as number) + 1;
  }
  return { labels, counts };
}

function classification(target: Column, prediction: Column): ClassificationPerformance {
  const { rows, missing } = pairedRows(target, prediction);
  const yTrue = rows.map((i) => labelOf(target, i));
  const classes = new Set(yTrue);
  const binary01 = [...classes].every((l) => l === '0' || l === '1');
  const binaryBool = [...classes].every((l) => l === 'true' || l === 'false');
  const positive = binary01 ? '1' : binaryBool ? 'true' : null;
  const negative = binary01 ? '0' : 'false';
  // A numeric prediction in [0, 1] that is not only 0 and 1 is P(positive label).
  const probability =
    positive !== null && prediction.type === 'number' && rows.length > 0 && rows.every((i) => (prediction.values[i] as number) >= 0 && (prediction.values[i] as number) <= 1) && rows.some((i) => (prediction.values[i] as number) !== 0 && (prediction.values[i] as number) !== 1);
  const yPred = rows.map((i) => (probability ? ((prediction.values[i] as number) >= PROBABILITY_THRESHOLD ? (positive as string) : negative) : labelOf(prediction, i)));
  const matrix = confusion(yTrue, yPred);
  const base = { task: 'classification' as const, rows: rows.length, missing, threshold: probability ? PROBABILITY_THRESHOLD : null, confusionMatrix: matrix };
  if (rows.length === 0) return { ...base, average: positive ? 'binary' : 'macro', positiveLabel: positive, accuracy: null, precision: null, recall: null, f1: null, rocAuc: null, logLoss: null };
  if (positive !== null && yPred.every((l) => l === positive || l === negative)) {
    const y = Float64Array.from(yTrue, (l) => (l === positive ? 1 : 0));
    const p = probability ? Float64Array.from(rows, (i) => prediction.values[i] as number) : Float64Array.from(yPred, (l) => (l === positive ? 1 : 0));
    const m = classificationMetrics(y, p);
    return { ...base, average: 'binary', positiveLabel: positive, accuracy: m.accuracy, precision: m.precision, recall: m.recall, f1: m.f1, rocAuc: probability ? m.rocAuc : null, logLoss: probability ? m.logLoss : null };
  }
  // Macro average over every label seen in the targets or the predictions, as scikit-learn.
  let correct = 0;
  let precision = 0;
  let recall = 0;
  let f1 = 0;
  const k = matrix.labels.length;
  for (let c = 0; c < k; c++) {
    const tp = (matrix.counts[c] as number[])[c] as number;
    correct += tp;
    const predicted = matrix.counts.reduce((s, row) => s + (row[c] as number), 0);
    const actual = (matrix.counts[c] as number[]).reduce((s, x) => s + x, 0);
    const p = predicted === 0 ? 0 : tp / predicted;
    const r = actual === 0 ? 0 : tp / actual;
    precision += p;
    recall += r;
    f1 += p + r === 0 ? 0 : (2 * p * r) / (p + r);
  }
  return { ...base, average: 'macro', positiveLabel: null, accuracy: correct / rows.length, precision: precision / k, recall: recall / k, f1: f1 / k, rocAuc: null, logLoss: null };
}

function regression(target: Column, prediction: Column): RegressionPerformance {
  for (const c of [target, prediction]) {
    if (c.type !== 'number') throw new SlipwayError('DATA_ERROR', `Regression needs numbers, but column '${c.name}' holds text; declare task: classification if it holds labels.`);
  }
  const { rows, missing } = pairedRows(target, prediction);
  const m = regressionMetrics(
    Float64Array.from(rows, (i) => target.values[i] as number),
    Float64Array.from(rows, (i) => prediction.values[i] as number),
  );
  return { task: 'regression', rows: rows.length, missing, mae: m.mae, rmse: m.rmse, r2: m.r2 };
}

/** Performance of `prediction` against `target`, paired row by row; rows missing either are left out. */
export function labelledPerformance(target: Column, prediction: Column, task: ModelTask): SidePerformance {
  return task === 'regression' ? regression(target, prediction) : classification(target, prediction);
}
