/**
 * Mergeable quantile sketch: Datadog's DDSketch (@datadog/sketches-js). Every quantile
 * it returns is within a relative error α of the true value (|q̂ - q| ≤ α·|q|);
 * α = 0.01 by default.
 */
import { DDSketch } from '@datadog/sketches-js';

/** Relative accuracy of quantile sketches. @default 0.01 */
export const DEFAULT_RELATIVE_ACCURACY = 0.01;

/** Creates an empty sketch. */
export function createSketch(relativeAccuracy = DEFAULT_RELATIVE_ACCURACY): DDSketch {
  return new DDSketch({ relativeAccuracy });
}

/** Compact JSON form of a sketch: bins as [key delta, count] pairs per store. */
export interface SketchJson {
  relativeAccuracy: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  zeroCount: number;
  positive: number[];
  negative: number[];
}

function storeBins(store: DDSketch['store']): number[] {
  // The library's protobuf form needs protobufjs, which is not installed; pairs of
  // (key delta, count) are smaller anyway and deflate well.
  const out: number[] = [];
  let last = 0;
  for (let i = 0; i < store.bins.length; i++) {
    const c = store.bins[i] as number;
    if (c === 0) continue;
    const key = i + store.offset;
    out.push(key - last, c);
    last = key;
  }
  return out;
}

function fillStore(store: DDSketch['store'], pairs: number[]): void {
  let key = 0;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    key += pairs[i] as number;
    store.add(key, pairs[i + 1] as number);
  }
}

/** Serialises a sketch. */
export function sketchToJson(s: DDSketch, relativeAccuracy: number): SketchJson {
  return { relativeAccuracy, count: s.count, sum: s.sum, min: s.min, max: s.max, zeroCount: s.zeroCount, positive: storeBins(s.store), negative: storeBins(s.negativeStore) };
}

/** Reads a sketch written by `sketchToJson`. */
export function sketchFromJson(j: SketchJson): DDSketch {
  if (!j || typeof j.relativeAccuracy !== 'number' || !Array.isArray(j.positive) || !Array.isArray(j.negative)) throw new RangeError('sketch is missing its bins or accuracy');
  const s = createSketch(j.relativeAccuracy);
  fillStore(s.store, j.positive);
  fillStore(s.negativeStore, j.negative);
  s.zeroCount = j.zeroCount;
  s.count = j.count;
  s.sum = j.sum;
  s.min = j.min;
  s.max = j.max;
  return s;
}

/** The sketch's bins as ascending representative values with counts (for drift tests and plots). */
export function sketchBins(s: DDSketch): { values: Float64Array; weights: Float64Array } {
  const values: number[] = [];
  const weights: number[] = [];
  const neg = s.negativeStore;
  for (let i = neg.bins.length - 1; i >= 0; i--) {
    const c = neg.bins[i] as number;
    if (c > 0) {
      values.push(-s.mapping.value(i + neg.offset));
      weights.push(c);
    }
  }
  if (s.zeroCount > 0) {
    values.push(0);
    weights.push(s.zeroCount);
  }
  const pos = s.store;
  for (let i = 0; i < pos.bins.length; i++) {
    const c = pos.bins[i] as number;
    if (c > 0) {
      values.push(s.mapping.value(i + pos.offset));
      weights.push(c);
    }
  }
  return { values: Float64Array.from(values), weights: Float64Array.from(weights) };
}
