/**
 * Model performance metrics, defined as scikit-learn defines them: binary
 * classification with positive label 1 (predicted label = score >= 0.5), ROC AUC by
 * the rank statistic with ties averaged, log loss with scores clipped to
 * [eps, 1 - eps] (float64 eps); regression MAE, RMSE and R² (1 for a perfect fit on
 * constant targets, 0 for an imperfect one, as sklearn's `force_finite`).
 */

/** Binary-classification metrics; null when undefined for the data (e.g. ROC AUC with one class). */
export interface ClassificationMetrics {
  count: number;
  accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  rocAuc: number | null;
  logLoss: number | null;
}

/** Regression metrics. */
export interface RegressionMetrics {
  count: number;
  mae: number | null;
  rmse: number | null;
  r2: number | null;
}

const EPS = 2.220446049250313e-16;

/** Metrics of probability scores `p` (P(label = 1)) against 0/1 labels `y`. */
export function classificationMetrics(y: ArrayLike<number>, p: ArrayLike<number>): ClassificationMetrics {
  const n = y.length;
  if (n === 0) return { count: 0, accuracy: null, precision: null, recall: null, f1: null, rocAuc: null, logLoss: null };
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const label = (y[i] as number) === 1 ? 1 : 0;
    const score = p[i] as number;
    const pred = score >= 0.5 ? 1 : 0;
    if (pred === 1 && label === 1) tp++;
    else if (pred === 1) fp++;
    else if (label === 1) fn++;
    else tn++;
    const q = Math.min(1 - EPS, Math.max(EPS, score));
    loss -= label === 1 ? Math.log(q) : Math.log(1 - q);
  }
  // sklearn's zero_division default reports 0 when a ratio has no denominator.
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = 2 * tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  return { count: n, accuracy: (tp + tn) / n, precision, recall, f1, rocAuc: rocAuc(y, p), logLoss: loss / n };
}

/** ROC AUC = Mann–Whitney U / (n+ · n-), with tied scores sharing their average rank; null with a single class. */
export function rocAuc(y: ArrayLike<number>, p: ArrayLike<number>): number | null {
  const n = y.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (p[a] as number) - (p[b] as number));
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && p[idx[j + 1] as number] === p[idx[i] as number]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if ((y[idx[k] as number] as number) === 1) {
        pos++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return null;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Regression metrics of predictions `p` against targets `y`. */
export function regressionMetrics(y: ArrayLike<number>, p: ArrayLike<number>): RegressionMetrics {
  const n = y.length;
  if (n === 0) return { count: 0, mae: null, rmse: null, r2: null };
  let abs = 0;
  let sq = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i] as number;
  mean /= n;
  let tot = 0;
  for (let i = 0; i < n; i++) {
    const e = (y[i] as number) - (p[i] as number);
    abs += Math.abs(e);
    sq += e * e;
    const d = (y[i] as number) - mean;
    tot += d * d;
  }
  const r2 = tot === 0 ? (sq === 0 ? 1 : 0) : 1 - sq / tot;
  return { count: n, mae: abs / n, rmse: Math.sqrt(sq / n), r2 };
}
