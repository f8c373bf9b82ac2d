/**
 * Min-max (M4) downsampling of a metric history for charts. The x axis is cut into buckets of
 * equal width; each bucket keeps its first, last, smallest and largest point (and its first NaN,
 * so a gap in the line stays a gap). A line drawn through those points covers the same pixels as
 * one drawn through every point, so a chart of a million points looks the same from a few
 * thousand, and the series' global minimum and maximum are always among them.
 */
import { errors } from '../core/errors.js';
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
 * Keeps at most `maxPoints` of `sorted` (already in x order) so that a chart of them looks like a
 * chart of all: per x bucket the first, last, minimum and maximum point, and the first NaN.
 * At or below `maxPoints` every point is returned unchanged.
 */
export function downsampleMinMax(sorted: Metric[], maxPoints: number, axis: HistoryAxis): DownsampledPoints {
  const n = sorted.length;
  if (n <= maxPoints) return { points: sorted, total: n, returned: n, downsampled: false };
  let hasNaN = false;
  for (const m of sorted) {
    if (Number.isNaN(m.value)) {
      hasNaN = true;
      break;
    }
  }
  // Each bucket keeps at most this many points, so buckets * perBucket never exceeds maxPoints.
  const perBucket = hasNaN ? 5 : 4;
  const buckets = Math.max(1, Math.floor(maxPoints / perBucket));
  const x0 = xOf(sorted[0] as Metric, axis);
  const span = xOf(sorted[n - 1] as Metric, axis) - x0;
  const out: Metric[] = [];
  const keep: number[] = [];
  let bucket = -1;
  let first = 0;
  let last = 0;
  let min = -1;
  let max = -1;
  let nan = -1;
  const flush = (): void => {
    keep.length = 0;
    keep.push(first, last);
    if (min >= 0) keep.push(min, max);
    if (nan >= 0) keep.push(nan);
    keep.sort((a, b) => a - b);
    let prev = -1;
    for (const i of keep) {
      if (i !== prev) out.push(sorted[i] as Metric);
      prev = i;
    }
  };
  for (let i = 0; i < n; i++) {
    const m = sorted[i] as Metric;
    const b = span > 0 ? Math.min(buckets - 1, Math.floor(((xOf(m, axis) - x0) / span) * buckets)) : 0;
    if (b !== bucket) {
      if (bucket >= 0) flush();
      bucket = b;
      first = i;
      min = -1;
      max = -1;
      nan = -1;
    }
    last = i;
    const v = m.value;
    if (Number.isNaN(v)) {
      if (nan < 0) nan = i;
    } else {
      if (min < 0 || v < (sorted[min] as Metric).value) min = i;
      if (max < 0 || v > (sorted[max] as Metric).value) max = i;
    }
  }
  flush();
  return { points: out, total: n, returned: out.length, downsampled: true };
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
