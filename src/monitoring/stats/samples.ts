/** The two shapes of data a drift test compares: sorted numbers (possibly weighted) or category counts. */

/** Ascending non-missing numbers; `weights` when the sample comes from a sketch (bin centres with counts). */
export interface NumericSample {
  values: Float64Array;
  weights?: Float64Array;
  /** Total weight (the number of values). */
  count: number;
  /** False when the values are sketch bins, so statistics are approximate. */
  exact: boolean;
}

/** Counts per category (non-missing values only). */
export interface CategoricalSample {
  counts: Map<string, number>;
  count: number;
  /** False when rare categories were merged away by a frequent-items summary. */
  exact: boolean;
}

/** Wraps an ascending array of exact values. */
export function exactSample(sorted: Float64Array): NumericSample {
  return { values: sorted, count: sorted.length, exact: true };
}

/** Distinct values and their counts of a numeric sample, ascending. */
export function valueCounts(s: NumericSample): { values: number[]; counts: number[] } {
  const values: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i] as number;
    const w = s.weights ? (s.weights[i] as number) : 1;
    if (values.length > 0 && values[values.length - 1] === v) counts[counts.length - 1] = (counts[counts.length - 1] as number) + w;
    else {
      values.push(v);
      counts.push(w);
    }
  }
  return { values, counts };
}

/** Number of distinct values of a numeric sample, stopping early once above `cap`. */
export function distinctUpTo(s: NumericSample, cap: number): number {
  let n = 0;
  for (let i = 0; i < s.values.length; i++) {
    if (i === 0 || s.values[i] !== s.values[i - 1]) n++;
    if (n > cap) return n;
  }
  return n;
}

/** Distinct values across two numeric samples, stopping early once above `cap`. */
export function distinctUnionUpTo(a: NumericSample, b: NumericSample, cap: number): number {
  let i = 0;
  let j = 0;
  let n = 0;
  let last = NaN;
  while (i < a.values.length || j < b.values.length) {
    const va = i < a.values.length ? (a.values[i] as number) : Infinity;
    const vb = j < b.values.length ? (b.values[j] as number) : Infinity;
    let v: number;
    if (va <= vb) {
      v = va;
      i++;
    } else {
      v = vb;
      j++;
    }
    if (v !== last) {
      n++;
      last = v;
      if (n > cap) return n;
    }
  }
  return n;
}
