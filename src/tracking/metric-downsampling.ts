/**
 * Min-max (M4) downsampling of a metric history for charts. The x axis is cut into buckets of
 * equal width; each bucket keeps its first, last, smallest and largest point (and its first NaN,
 * so a gap in the line stays a gap). A line drawn through those points covers the same pixels as
 * one drawn through every point, so a chart of a million points looks the same from a few
 * thousand, and the series' global minimum and maximum are always among them.
 */
import { errors } from '../core/errors.js';
import type { MetricColumns } from './metric-block-codec.js';
import type { Metric } from './tracking-types.js';

/** Which field of a point is the chart's x axis. */
export type HistoryAxis = 'step' | 'time';

/** Every x axis a downsampled history accepts. */
export const HISTORY_AXES: readonly HistoryAxis[] = ['step', 'time'];

/** Points a downsampled history returns when none is asked: enough for a wide chart. */
export const DEFAULT_MAX_POINTS = 1000;

/** The most points a downsampled history returns. */
export const MAX_MAX_POINTS = 10_000;

/** The fewest points a downsampled history may ask for: one bucket keeps up to five. */
export const MIN_MAX_POINTS = 5;

/** A downsampled history: the points kept, in x order, and how many the window held. */
export interface DownsampledPoints {
  points: Metric[];
  /** Points of the series inside the window. */
  total: number;
  /** `points.length`. */
  returned: number;
  /** False when every point of the window is returned unchanged. */
  downsampled: boolean;
}

/** The value of a point on the given x axis. */
export function xOf(m: Metric, axis: HistoryAxis): number {
  return axis === 'step' ? m.step : m.timestamp;
}

/** Checks maxPoints, the axis and the window; answers a one-line INVALID_ARGUMENT naming the problem. */
export function checkDownsampleOptions(opts: { maxPoints?: number; x?: string; from?: number; to?: number }): { maxPoints: number; axis: HistoryAxis } {
  const maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
  if (!Number.isSafeInteger(maxPoints) || maxPoints < MIN_MAX_POINTS || maxPoints > MAX_MAX_POINTS) {
    throw errors.invalid(`maxPoints must be an integer between ${MIN_MAX_POINTS} and ${MAX_MAX_POINTS}; got ${String(opts.maxPoints)}.`, { field: 'maxPoints' });
  }
  const axis = opts.x ?? 'step';
  if (!(HISTORY_AXES as readonly string[]).includes(axis)) throw errors.invalid(`x must be 'step' or 'time'; got '${axis}'.`, { field: 'x' });
  for (const [name, v] of [['from', opts.from], ['to', opts.to]] as const) {
    if (v !== undefined && !Number.isFinite(v)) throw errors.invalid(`${name} must be a finite number; got ${String(v)}.`, { field: name });
  }
  if (opts.from !== undefined && opts.to !== undefined && opts.from > opts.to) {
    throw errors.invalid(`from must not be greater than to; got from=${opts.from} and to=${opts.to}.`, { field: 'from' });
  }
  return { maxPoints, axis: axis as HistoryAxis };
}

/**
 * The positions (0..n-1, ascending) min-max downsampling keeps of n points in x order, read through
 * `xAt` and `valueAt`: per x bucket the first, last, minimum and maximum, and the first NaN.
 */
function minMaxPositions(n: number, maxPoints: number, xAt: (k: number) => number, valueAt: (k: number) => number): number[] {
  let hasNaN = false;
  for (let k = 0; k < n && !hasNaN; k++) hasNaN = Number.isNaN(valueAt(k));
  // Each bucket keeps at most this many points, so buckets * perBucket never exceeds maxPoints.
  const perBucket = hasNaN ? 5 : 4;
  const buckets = Math.max(1, Math.floor(maxPoints / perBucket));
  const x0 = xAt(0);
  const span = xAt(n - 1) - x0;
  const out: number[] = [];
  const keep: number[] = [];
  let bucket = -1;
  let first = 0;
  let last = 0;
  let min = -1;
  let max = -1;
  let minV = 0;
  let maxV = 0;
  let nan = -1;
  const flush = (): void => {
    keep.length = 0;
    keep.push(first, last);
    if (min >= 0) keep.push(min, max);
    if (nan >= 0) keep.push(nan);
    keep.sort((a, b) => a - b);
    let prev = -1;
    for (const k of keep) {
      if (k !== prev) out.push(k);
      prev = k;
    }
  };
  for (let k = 0; k < n; k++) {
    const b = span > 0 ? Math.min(buckets - 1, Math.floor(((xAt(k) - x0) / span) * buckets)) : 0;
    if (b !== bucket) {
      if (bucket >= 0) flush();
      bucket = b;
      first = k;
      min = -1;
      max = -1;
      nan = -1;
    }
    last = k;
    const v = valueAt(k);
    if (Number.isNaN(v)) {
      if (nan < 0) nan = k;
    } else {
      if (min < 0 || v < minV) {
        min = k;
        minV = v;
      }
      if (max < 0 || v > maxV) {
        max = k;
        maxV = v;
      }
    }
  }
  flush();
  return out;
}

/**
 * Keeps at most `maxPoints` of `sorted` (already in x order) so that a chart of them looks like a
 * chart of all: per x bucket the first, last, minimum and maximum point, and the first NaN.
 * At or below `maxPoints` every point is returned unchanged.
 */
export function downsampleMinMax(sorted: Metric[], maxPoints: number, axis: HistoryAxis): DownsampledPoints {
  const n = sorted.length;
  if (n <= maxPoints) return { points: sorted, total: n, returned: n, downsampled: false };
  const kept = minMaxPositions(n, maxPoints, (k) => xOf(sorted[k] as Metric, axis), (k) => (sorted[k] as Metric).value);
  return { points: kept.map((k) => sorted[k] as Metric), total: n, returned: kept.length, downsampled: true };
}

/**
 * Downsamples a history held as columns (blocks in storage order, each in logged order): keeps the
 * points with x in [from, to], puts them in the history order of the axis (step, time, value for
 * steps; time, step, value for time), then does what `downsampleMinMax` does. Only kept points become
 * objects, and blocks that follow one another need no sort, which is what keeps a million points fast.
 */
export function downsampleColumns(key: string, cols: MetricColumns, maxPoints: number, axis: HistoryAxis, from?: number, to?: number): DownsampledPoints {
  const { value, step, timestamp, blockStarts } = cols;
  const xs = axis === 'step' ? step : timestamp;
  const ys = axis === 'step' ? timestamp : step;
  // History order within the axis; NaN sorts as 0 by step (as MLflow's get-history) and last by time.
  const nanKey = axis === 'step' ? (v: number) => (Number.isNaN(v) ? 0 : v) : (v: number) => (Number.isNaN(v) ? Infinity : v);
  const cmp = (i: number, j: number): number => (xs[i] as number) - (xs[j] as number) || (ys[i] as number) - (ys[j] as number) || nanKey(value[i] as number) - nanKey(value[j] as number) || 0;
  // Each block's points inside the window, in logged order.
  const segments: Array<{ start: number; end: number }> = [];
  const inWindow = new Uint32Array(blockStarts[blockStarts.length - 1] ?? 0);
  let n = 0;
  for (let b = 0; b + 1 < blockStarts.length; b++) {
    const start = n;
    let sorted = true;
    for (let i = blockStarts[b] as number; i < (blockStarts[b + 1] as number); i++) {
      const x = xs[i] as number;
      if ((from !== undefined && x < from) || (to !== undefined && x > to)) continue;
      if (n > start && cmp(inWindow[n - 1] as number, i) > 0) sorted = false;
      inWindow[n++] = i;
    }
    if (n === start) continue;
    if (!sorted) inWindow.subarray(start, n).sort((i, j) => cmp(i, j) || i - j);
    segments.push({ start, end: n });
  }
  // Blocks ordered by their first point (stable); when they then follow one another no point needs sorting.
  segments.sort((a, b) => cmp(inWindow[a.start] as number, inWindow[b.start] as number));
  let order = new Uint32Array(n);
  let at = 0;
  for (const seg of segments) {
    order.set(inWindow.subarray(seg.start, seg.end), at);
    at += seg.end - seg.start;
  }
  for (let k = 1; k < n; k++) {
    if (cmp(order[k - 1] as number, order[k] as number) > 0) {
      order = order.sort((i, j) => cmp(i, j) || i - j);
      break;
    }
  }
  const point = (i: number): Metric => ({ key, value: value[i] as number, timestamp: timestamp[i] as number, step: step[i] as number });
  if (n <= maxPoints) {
    const points = Array.from(order, point);
    return { points, total: n, returned: n, downsampled: false };
  }
  const kept = minMaxPositions(n, maxPoints, (k) => xs[order[k] as number] as number, (k) => value[order[k] as number] as number);
  return { points: kept.map((k) => point(order[k] as number)), total: n, returned: kept.length, downsampled: true };
}

/** Input of `getMetricHistoryDownsampled`. */
export interface DownsampledHistoryInput {
  runId: string;
  metricKey: string;
  /** At most this many points. @default 1000, at most 10000 */
  maxPoints?: number;
  /** The x axis: step or timestamp (milliseconds). @default 'step' */
  x?: string;
  /** Only points with x >= from. */
  from?: number;
  /** Only points with x <= to. */
  to?: number;
}

/** Input of `getMetricHistoriesDownsampled`: one metric of up to 100 runs. */
export interface DownsampledHistoriesInput extends Omit<DownsampledHistoryInput, 'runId'> {
  runIds: string[];
}
