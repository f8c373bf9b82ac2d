/**
 * Holdout metrics defined exactly as scikit-learn (1.2) defines them, so a figure a
 * release reports is the figure a data scientist gets in a notebook: labels are the
 * sorted union of true and predicted labels, a ratio with no denominator is 0 (sklearn's
 * default `zero_division` with its warning), log loss clips probabilities to
 * [eps, 1 - eps] (float64 eps) and renormalises each row, ROC AUC averages tied ranks
 * and is one-vs-rest macro for more than two classes, R² is sklearn's `force_finite`.
 */

const EPS = 2.220446049250313e-16;

/** Class-probability scores of a classifier: `columns` = 1 means P(class 1) only; otherwise row-major [n, columns], column = class index. */
export interface ClassScores {
  columns: number;
  values: ArrayLike<number>;
}

/** Classification metrics by wire name (null where the data leave a metric undefined), with the confusion matrix. */
export interface ClassificationEvaluation {
  metrics: Record<string, number | null>;
  /** Rows = true class, columns = predicted class, both in the order of `classes`. */
  confusionMatrix: number[][];
  /** The sorted union of true and predicted labels. */
  classes: number[];
}

/** Sums with Neumaier's compensation, so long holdouts agree with numpy's pairwise sums to the last digits. */
class CompensatedSum {
  private sum = 0;
  private c = 0;

  add(x: number): void {
    const t = this.sum + x;
    this.c += Math.abs(this.sum) >= Math.abs(x) ? this.sum - t + x : x - t + this.sum;
    this.sum = t;
  }

  get value(): number {
    return this.sum + this.c;
  }
}

/** Predicted labels from scores: P(1) >= 0.5 for one column, else the first column holding the row's maximum (numpy's argmax). */
export function predictedLabels(scores: ClassScores, n: number): Float64Array {
  const out = new Float64Array(n);
  const k = scores.columns;
  const v = scores.values;
  if (k === 1) {
    for (let i = 0; i < n; i++) out[i] = (v[i] as number) >= 0.5 ? 1 : 0;
    return out;
  }
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestValue = v[i * k] as number;
    for (let j = 1; j < k; j++) {
      const x = v[i * k + j] as number;
      if (x > bestValue) {
        best = j;
        bestValue = x;
      }
    }
    out[i] = best;
  }
  return out;
}

/** Confusion matrix over the sorted union of labels (sklearn's `confusion_matrix` with default labels). */
export function confusionMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): { classes: number[]; matrix: number[][] } {
  return smallLabelMatrix(yTrue, yPred) ?? anyLabelMatrix(yTrue, yPred);
}

// Above this label value the counts go through a map rather than a dense table.
const DENSE_LABELS = 1024;

// Class labels are nearly always 0..k-1: counting into a dense table keeps a million rows in milliseconds.
function smallLabelMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): { classes: number[]; matrix: number[][] } | undefined {
  const n = yTrue.length;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const a = yTrue[i] as number;
    const b = yPred[i] as number;
    if (!(a >= 0 && a < DENSE_LABELS && b >= 0 && b < DENSE_LABELS && Number.isInteger(a) && Number.isInteger(b))) return undefined;
    if (a > max) max = a;
    if (b > max) max = b;
  }
  const w = max + 1;
  const counts = new Float64Array(w * w);
  for (let i = 0; i < n; i++) {
    const at = (yTrue[i] as number) * w + (yPred[i] as number);
    counts[at] = (counts[at] as number) + 1;
  }
  const used: number[] = [];
  for (let c = 0; c < w; c++) {
    let any = false;
    for (let d = 0; d < w && !any; d++) any = (counts[c * w + d] as number) > 0 || (counts[d * w + c] as number) > 0;
    if (any) used.push(c);
  }
  return { classes: used, matrix: used.map((a) => used.map((b) => counts[a * w + b] as number)) };
}

function anyLabelMatrix(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): { classes: number[]; matrix: number[][] } {
  const set = new Set<number>();
  for (let i = 0; i < yTrue.length; i++) set.add(yTrue[i] as number);
  for (let i = 0; i < yPred.length; i++) set.add(yPred[i] as number);
  const classes = [...set].sort((a, b) => a - b);
  const index = new Map(classes.map((c, i) => [c, i]));
  const matrix = classes.map(() => new Array<number>(classes.length).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const row = matrix[index.get(yTrue[i] as number) as number] as number[];
    const j = index.get(yPred[i] as number) as number;
    row[j] = (row[j] as number) + 1;
  }
  return { classes, matrix };
}

const ratio = (num: number, den: number): number => (den === 0 ? 0 : num / den);

// sklearn computes F from precision and recall, not from counts; the same formula keeps the last digits equal.
const fScore = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

/**
 * Classification metrics of true labels against predicted labels, plus ROC AUC and log
 * loss when `scores` are given. Binary `precision`, `recall` and `f1` (positive label 1)
 * are reported only when every label is 0 or 1; otherwise they are null.
 */
export function classificationEvaluation(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, scores?: ClassScores): ClassificationEvaluation {
  const { classes, matrix } = confusionMatrix(yTrue, yPred);
  const evaluation = fromConfusion(classes, matrix, yTrue.length);
  evaluation.metrics.roc_auc = scores ? rocAucOf(yTrue, scores) : null;
  evaluation.metrics.log_loss = scores ? logLoss(yTrue, scores) : null;
  return evaluation;
}

/**
 * Classification metrics of a model's class scores alone, its predicted labels taken from them
 * as `predictedLabels` does. Binary labels with float32 scores (any onnxruntime output) take one
 * pass over the rows; the figures are the same either way.
 */
export function classificationFromScores(yTrue: ArrayLike<number>, scores: ClassScores): ClassificationEvaluation {
  const n = yTrue.length;
  return binaryInOnePass(yTrue, scores) ?? classificationEvaluation(yTrue, predictedLabels(scores, n), scores);
}

// Counts, log loss and the ROC keys in the same loop `classificationEvaluation` would run in five;
// undefined (take the general path) unless labels are 0/1 and every score is a finite float32.
function binaryInOnePass(yTrue: ArrayLike<number>, scores: ClassScores): ClassificationEvaluation | undefined {
  const n = yTrue.length;
  const k = scores.columns;
  const v = scores.values;
  if (n === 0 || k > 2) return undefined;
  let nPos = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i];
    if (y === 1) nPos++;
    else if (y !== 0) return undefined;
  }
  const pos = new Uint32Array(nPos);
  const neg = new Uint32Array(n - nPos);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  const clip = (x: number): number => Math.min(1 - EPS, Math.max(EPS, x));
  const loss = new CompensatedSum();
  const counts = [0, 0, 0, 0]; // [true][predicted], row-major
  let a = 0;
  let b = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i] as number;
    const s = (k === 1 ? v[i] : v[2 * i + 1]) as number;
    if (Math.fround(s) !== s || !Number.isFinite(s)) return undefined;
    let p: number;
    let rowSum: number;
    let predicted: number;
    if (k === 1) {
      predicted = s >= 0.5 ? 1 : 0;
      const q = clip(s);
      p = y === 1 ? q : 1 - q;
      rowSum = 1 - q + q;
    } else {
      const s0 = v[2 * i] as number;
      predicted = s > s0 ? 1 : 0;
      rowSum = clip(s0) + clip(s);
      p = clip(y === 1 ? s : s0);
    }
    const cell = y * 2 + predicted;
    counts[cell] = (counts[cell] as number) + 1;
    loss.add(-Math.log(p / rowSum));
    f[0] = s + 0; // -0 and +0 must share a key
    const key = bits[0] as number;
    const ordered = key & 0x80000000 ? ~key >>> 0 : (key | 0x80000000) >>> 0;
    if (y === 1) pos[a++] = ordered;
    else neg[b++] = ordered;
  }
  const used = [0, 1].filter((c) => (counts[c * 2] as number) + (counts[c * 2 + 1] as number) + (counts[c] as number) + (counts[2 + c] as number) > 0);
  const matrix = used.map((t) => used.map((p) => counts[t * 2 + p] as number));
  const evaluation = fromConfusion(used, matrix, n);
  const logLossValue = loss.value / n;
  evaluation.metrics.roc_auc = a === 0 || b === 0 ? null : mannWhitney(radixSort(pos), radixSort(neg));
  evaluation.metrics.log_loss = Number.isFinite(logLossValue) ? logLossValue : null;
  return evaluation;
}

// Every count-based metric from the confusion matrix over `classes`; ROC AUC and log loss left null.
function fromConfusion(classes: number[], matrix: number[][], n: number): ClassificationEvaluation {
  const k = classes.length;
  const tp = classes.map((_, i) => (matrix[i] as number[])[i] as number);
  const support = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const predicted = classes.map((_, j) => matrix.reduce((a, row) => a + (row[j] as number), 0));
  const precision = classes.map((_, i) => ratio(tp[i] as number, predicted[i] as number));
  const recall = classes.map((_, i) => ratio(tp[i] as number, support[i] as number));
  const f1 = classes.map((_, i) => fScore(precision[i] as number, recall[i] as number));
  const correct = tp.reduce((a, b) => a + b, 0);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const weighted = (xs: number[]): number => {
    let s = 0;
    for (let i = 0; i < k; i++) s += (xs[i] as number) * (support[i] as number);
    return ratio(s, n);
  };
  // Balanced accuracy averages recall over the classes that occur in y_true only.
  const present = recall.filter((_, i) => (support[i] as number) > 0);
  const binaryLabels = classes.every((c) => c === 0 || c === 1);
  const pos = classes.indexOf(1);
  const metrics: Record<string, number | null> = {
    accuracy: n === 0 ? null : correct / n,
    balanced_accuracy: present.length === 0 ? null : mean(present),
    precision: !binaryLabels ? null : pos < 0 ? 0 : (precision[pos] as number),
    recall: !binaryLabels ? null : pos < 0 ? 0 : (recall[pos] as number),
    f1: !binaryLabels ? null : pos < 0 ? 0 : (f1[pos] as number),
    precision_macro: k === 0 ? null : mean(precision),
    recall_macro: k === 0 ? null : mean(recall),
    f1_macro: k === 0 ? null : mean(f1),
    precision_weighted: k === 0 ? null : weighted(precision),
    recall_weighted: k === 0 ? null : weighted(recall),
    f1_weighted: k === 0 ? null : weighted(f1),
    roc_auc: null,
    log_loss: null,
  };
  return { metrics, confusionMatrix: matrix, classes };
}

/**
 * ROC AUC of class `positive` against the rest, from column `column` of row-major scores with
 * `stride` columns, by the Mann–Whitney statistic with tied scores counting one half; null
 * with a single class or a non-finite score. Sorting each side once keeps a million rows fast.
 */
export function binaryRocAuc(yTrue: ArrayLike<number>, positive: number, values: ArrayLike<number>, stride = 1, column = 0): number | null {
  const n = yTrue.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) if (yTrue[i] === positive) nPos++;
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  const posScores = new Float64Array(nPos);
  const negScores = new Float64Array(nNeg);
  let a = 0;
  let b = 0;
  let float32 = true;
  for (let i = 0; i < n; i++) {
    const s = values[i * stride + column] as number;
    if (!Number.isFinite(s)) return null;
    if (float32 && Math.fround(s) !== s) float32 = false;
    if (yTrue[i] === positive) posScores[a++] = s;
    else negScores[b++] = s;
  }
  if (float32) return mannWhitney(sortedFloat32Keys(posScores), sortedFloat32Keys(negScores));
  posScores.sort();
  negScores.sort();
  return mannWhitney(posScores, negScores);
}

// Model outputs are float32: their order-preserving 32-bit keys sort by radix in linear time.
function sortedFloat32Keys(values: Float64Array): Uint32Array {
  const f = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) f[i] = (values[i] as number) + 0; // -0 becomes +0, equal keys for equal scores
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < bits.length; i++) {
    const v = bits[i] as number;
    bits[i] = v & 0x80000000 ? ~v >>> 0 : (v | 0x80000000) >>> 0;
  }
  return radixSort(bits);
}

function radixSort(keys: Uint32Array): Uint32Array {
  let from: Uint32Array = keys;
  let to: Uint32Array = new Uint32Array(keys.length);
  const counts = new Uint32Array(65536);
  for (const shift of [0, 16]) {
    counts.fill(0);
    for (let i = 0; i < from.length; i++) {
      const d = ((from[i] as number) >>> shift) & 0xffff;
      counts[d] = (counts[d] as number) + 1;
    }
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d] as number;
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < from.length; i++) {
      const v = from[i] as number;
      const d = (v >>> shift) & 0xffff;
      const at = counts[d] as number;
      to[at] = v;
      counts[d] = at + 1;
    }
    [from, to] = [to, from];
  }
  return from;
}

function mannWhitney(posScores: ArrayLike<number>, negScores: ArrayLike<number>): number {
  const nPos = posScores.length;
  const nNeg = negScores.length;
  // For each positive: negatives strictly below count 1, equal ones count 1/2 (kept as twice the sum to stay in integers).
  let twiceU = 0;
  let below = 0;
  let upTo = 0;
  for (let i = 0; i < nPos; i++) {
    const s = posScores[i] as number;
    while (below < nNeg && (negScores[below] as number) < s) below++;
    if (upTo < below) upTo = below;
    while (upTo < nNeg && (negScores[upTo] as number) <= s) upTo++;
    twiceU += 2 * below + (upTo - below);
  }
  return twiceU / (2 * nPos * nNeg);
}

/** ROC AUC: binary from P(1) (one column, or column 1 of two), one-vs-rest macro for k > 2 columns; null where sklearn raises. */
export function rocAucOf(yTrue: ArrayLike<number>, scores: ClassScores): number | null {
  const n = yTrue.length;
  const k = scores.columns;
  const v = scores.values;
  if (k <= 2) {
    if (!allIn(yTrue, 2)) return null;
    return k === 1 ? binaryRocAuc(yTrue, 1, v) : binaryRocAuc(yTrue, 1, v, 2, 1);
  }
  // sklearn's one-vs-rest needs every class column present in y_true.
  const seen = new Set<number>();
  for (let i = 0; i < n; i++) seen.add(yTrue[i] as number);
  if (seen.size !== k || !allIn(yTrue, k)) return null;
  let sum = 0;
  for (let c = 0; c < k; c++) {
    const auc = binaryRocAuc(yTrue, c, v, k, c);
    if (auc === null) return null;
    sum += auc;
  }
  return sum / k;
}

/** Log loss (cross-entropy) of class scores against labels 0..k-1; null when a label has no column or a score is not finite. */
export function logLoss(yTrue: ArrayLike<number>, scores: ClassScores): number | null {
  const n = yTrue.length;
  if (n === 0) return null;
  const k = scores.columns;
  const v = scores.values;
  const width = k === 1 ? 2 : k;
  if (!allIn(yTrue, width)) return null;
  const total = new CompensatedSum();
  const clip = (x: number): number => Math.min(1 - EPS, Math.max(EPS, x));
  for (let i = 0; i < n; i++) {
    const y = yTrue[i] as number;
    let p: number;
    let rowSum: number;
    if (k === 1) {
      const q = clip(v[i] as number);
      p = y === 1 ? q : 1 - q;
      rowSum = 1 - q + q;
    } else {
      rowSum = 0;
      for (let j = 0; j < k; j++) rowSum += clip(v[i * k + j] as number);
      p = clip(v[i * k + y] as number);
    }
    if (!Number.isFinite(p) || !Number.isFinite(rowSum)) return null;
    total.add(-Math.log(p / rowSum));
  }
  return total.value / n;
}

function allIn(y: ArrayLike<number>, k: number): boolean {
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v) || v < 0 || v >= k) return false;
  }
  return true;
}

/** Regression metrics by wire name: mae, mse, rmse, r2, mape, max_error; all null on an empty holdout. */
export function regressionEvaluation(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): Record<string, number | null> {
  const n = yTrue.length;
  if (n === 0) return { mae: null, mse: null, rmse: null, r2: null, mape: null, max_error: null };
  const abs = new CompensatedSum();
  const sq = new CompensatedSum();
  const pct = new CompensatedSum();
  const sumY = new CompensatedSum();
  let maxError = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i] as number;
    const e = y - (yPred[i] as number);
    const ae = Math.abs(e);
    abs.add(ae);
    sq.add(e * e);
    pct.add(ae / Math.max(Math.abs(y), EPS));
    sumY.add(y);
    // A NaN prediction makes every metric NaN, as numpy would; max keeps it too.
    if (!(ae <= maxError)) maxError = ae;
  }
  const mean = sumY.value / n;
  const tot = new CompensatedSum();
  for (let i = 0; i < n; i++) {
    const d = (yTrue[i] as number) - mean;
    tot.add(d * d);
  }
  const sse = sq.value;
  const sst = tot.value;
  const r2 = sst === 0 ? (sse === 0 ? 1 : 0) : 1 - sse / sst;
  const mse = sse / n;
  const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return { mae: finite(abs.value / n), mse: finite(mse), rmse: finite(Math.sqrt(mse)), r2: finite(r2), mape: finite(pct.value / n), max_error: finite(maxError) };
}
