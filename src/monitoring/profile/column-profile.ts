/**
 * A mergeable profile of one column: counts, missing, kind, Welford/Chan moments,
 * min/max, quantiles (exact up to `exactLimit` values, then a DDSketch), histogram,
 * frequent items and a HyperLogLog distinct count. merge(profile(A), profile(B)) equals
 * profile(A ∪ B) exactly for counts, min/max and moments (up to float rounding), and
 * within the sketch's relative accuracy for quantiles.
 */
import type { DDSketch } from '@datadog/sketches-js';
import { SlipwayError } from '../../core/errors.js';
import { FrequentItems, DEFAULT_FREQUENT_ITEMS } from '../sketch/frequent-items.js';
import { HyperLogLog, hashBits, hashNumber } from '../sketch/hyperloglog.js';
import { createSketch, DEFAULT_RELATIVE_ACCURACY, sketchBins, sketchFromJson, sketchToJson, type SketchJson } from '../sketch/quantile-sketch.js';
import { sortedWithoutNaN, sortFloat64InPlace, sortWithoutNaNInPlace } from '../stats/radix-sort.js';
import type { CategoricalSample, NumericSample } from '../stats/samples.js';
import type { ColumnKind } from './column-kind.js';

/** How profiles summarise values. */
export interface ProfileOptions {
  /** Keep exact values (exact quantiles and drift) up to this many per column, then switch to the sketch. @default 10000 */
  exactLimit?: number;
  /** DDSketch relative accuracy. @default 0.01 */
  relativeAccuracy?: number;
  /** Frequent-items counters per column. @default 1024 */
  frequentItems?: number;
}

/** Defaults of `ProfileOptions`. */
export const DEFAULT_PROFILE_OPTIONS: Required<ProfileOptions> = {
  exactLimit: 10_000,
  relativeAccuracy: DEFAULT_RELATIVE_ACCURACY,
  frequentItems: DEFAULT_FREQUENT_ITEMS,
};

/** Serialised numeric summary. */
export interface NumericSummaryJson {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Sum of squared deviations from the mean (Welford's M2). */
  m2: number;
  std: number | null;
  /** Derived (left out of compact profiles). */
  quantiles?: Record<string, number | null>;
  /** Derived (left out of compact profiles). */
  histogram?: { edges: number[]; counts: number[] };
  /** Exact values, present while the column has at most `exactLimit` values. */
  exact?: number[];
  /** DDSketch bins, present beyond `exactLimit`. */
  sketch?: SketchJson;
  relativeAccuracy: number;
  exactLimit: number;
}

/** Serialised column profile. */
export interface ColumnProfileJson {
  name: string;
  kind: ColumnKind;
  rows: number;
  missing: number;
  distinct: number;
  hll: string;
  numeric?: NumericSummaryJson;
  items?: { capacity: number; approximate: boolean; counts: Array<[string, number]> };
}

const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];
const HISTOGRAM_BINS = 20;
const CHUNK = 4096;

/** Profile of one column. */
export class ColumnProfile {
  rows = 0;
  missing = 0;
  /** Non-missing numeric values. */
  count = 0;
  min = Infinity;
  max = -Infinity;
  mean = 0;
  m2 = 0;
  exact: Float64Array | null;
  exactLength = 0;
  /** True while `exact` is known to be in ascending order. */
  exactSorted = false;
  sketch: DDSketch | null = null;
  items: FrequentItems | null;
  private readonly sketchHll: HyperLogLog;
  /** True while the HLL has not yet seen the exact values (filled on first use). */
  hllPending = false;
  private distinctCache: number | undefined;
  readonly opts: Required<ProfileOptions>;

  constructor(
    readonly name: string,
    readonly kind: ColumnKind,
    opts: ProfileOptions = {},
    hll?: HyperLogLog,
  ) {
    this.opts = { ...DEFAULT_PROFILE_OPTIONS, ...opts };
    this.sketchHll = hll ?? new HyperLogLog();
    this.exact = kind === 'numerical' ? new Float64Array(Math.min(this.opts.exactLimit, 1024)) : null;
    this.items = kind === 'numerical' ? null : new FrequentItems(this.opts.frequentItems);
  }

  /** The distinct-count sketch (filled from exact values on first use). */
  get hll(): HyperLogLog {
    if (this.hllPending && this.exact) {
      for (let i = 0; i < this.exactLength; i++) this.sketchHll.addNumber(this.exact[i] as number);
      this.hllPending = false;
    }
    return this.sketchHll;
  }

  /** True while quantiles and drift come from exact values. */
  get isExact(): boolean {
    return this.kind !== 'numerical' || this.sketch === null;
  }

  /**
   * Adds many numbers (NaN = missing); the fast path for columnar data. With `adopt`, a
   * Float64Array that fits the exact limit is sorted in place and kept (no copy): the
   * caller gives up the array and its row order.
   */
  addNumbers(values: ArrayLike<number>, adopt = false): void {
    if (this.kind !== 'numerical') {
      for (let i = 0; i < values.length; i++) {
        const v = values[i] as number;
        this.addString(v === v ? String(v) : null);
      }
      return;
    }
    // A whole column that fits the exact limit: one sorted copy instead of growing buffers.
    const whole = this.rows === 0 && this.exact !== null && values.length > CHUNK && values.length <= this.opts.exactLimit;
    this.distinctCache = undefined;
    for (let start = 0; start < values.length; start += CHUNK) this.addChunk(values, start, Math.min(values.length, start + CHUNK), !whole);
    if (whole) {
      this.exact = adopt && values instanceof Float64Array ? sortWithoutNaNInPlace(values) : sortedWithoutNaN(values);
      this.exactLength = this.exact.length;
      this.exactSorted = true;
      // The distinct sketch is only needed when the profile is saved or merged; fill it then.
      this.hllPending = true;
    }
  }

  private addChunk(values: ArrayLike<number>, start: number, end: number, exactLater = true): void {
    // Two passes over a cache-resident chunk (sum, then squared deviations), combined with
    // the running moments by Chan's formula: faster than per-value Welford and as stable.
    let n = 0;
    let sum = 0;
    let min = this.min;
    let max = this.max;
    const hll = this.sketchHll;
    // Hash the bits in place when the column is a Float64Array (no scratch round trip).
    const bits = exactLater && values instanceof Float64Array ? new Uint32Array(values.buffer, values.byteOffset, values.length * 2) : undefined;
    for (let i = start; i < end; i++) {
      const v = values[i] as number;
      if (v !== v) continue;
      n++;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      if (exactLater) hll.addHash(bits && v !== 0 ? hashBits(bits[2 * i] as number, bits[2 * i + 1] as number) : hashNumber(v));
    }
    this.rows += end - start;
    this.missing += end - start - n;
    if (n === 0) return;
    const mean = sum / n;
    let m2 = 0;
    for (let i = start; i < end; i++) {
      const v = values[i] as number;
      if (v !== v) continue;
      const d = v - mean;
      m2 += d * d;
    }
    this.min = min;
    this.max = max;
    this.combineMoments(n, mean, m2);
    if (exactLater) this.addToQuantiles(values, start, end, n);
  }

  private combineMoments(nb: number, meanB: number, m2B: number): void {
    const na = this.count;
    const n = na + nb;
    const delta = meanB - this.mean;
    this.mean = na === 0 ? meanB : this.mean + (delta * nb) / n;
    this.m2 = this.m2 + m2B + (delta * delta * na * nb) / n;
    this.count = n;
  }

  private addToQuantiles(values: ArrayLike<number>, start: number, end: number, n: number): void {
    if (this.exact && this.exactLength + n <= this.opts.exactLimit) {
      this.ensureExactCapacity(this.exactLength + n);
      this.exactSorted = false;
      const ex = this.exact;
      let k = this.exactLength;
      for (let i = start; i < end; i++) {
        const v = values[i] as number;
        if (v === v) ex[k++] = v;
      }
      this.exactLength = k;
      return;
    }
    const sk = this.toSketch();
    for (let i = start; i < end; i++) {
      const v = values[i] as number;
      if (v === v) sk.accept(v);
    }
  }

  private ensureExactCapacity(n: number): void {
    const ex = this.exact as Float64Array;
    if (ex.length >= n) return;
    const grown = new Float64Array(Math.min(this.opts.exactLimit, Math.max(n, ex.length * 2)));
    grown.set(ex.subarray(0, this.exactLength));
    this.exact = grown;
  }

  private toSketch(): DDSketch {
    if (this.sketch) return this.sketch;
    void this.hll;
    const sk = createSketch(this.opts.relativeAccuracy);
    if (this.exact) for (let i = 0; i < this.exactLength; i++) sk.accept(this.exact[i] as number);
    this.exact = null;
    this.exactLength = 0;
    this.sketch = sk;
    return sk;
  }

  /** Adds one number (NaN = missing). */
  addNumber(v: number): void {
    if (this.kind !== 'numerical') {
      this.addString(v === v ? String(v) : null);
      return;
    }
    this.rows++;
    this.distinctCache = undefined;
    if (v !== v) {
      this.missing++;
      return;
    }
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
    this.hll.addHash(hashNumber(v));
    this.count++;
    const d = v - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (v - this.mean);
    if (this.exact && this.exactLength < this.opts.exactLimit) {
      this.ensureExactCapacity(this.exactLength + 1);
      this.exactSorted = false;
      (this.exact as Float64Array)[this.exactLength++] = v;
    } else this.toSketch().accept(v);
  }

  /** Adds one value of a non-numeric column (null = missing). */
  addString(v: string | null): void {
    if (this.kind === 'numerical') {
      this.addNumber(v === null || v.trim() === '' ? NaN : Number(v));
      return;
    }
    this.rows++;
    this.distinctCache = undefined;
    if (v === null) {
      this.missing++;
      return;
    }
    this.count++;
    this.hll.addString(v);
    (this.items as FrequentItems).add(v);
  }

  /** Folds `other` (same column and kind) into this profile. */
  merge(other: ColumnProfile): void {
    if (other.kind !== this.kind) throw new SlipwayError('DATA_ERROR', `Cannot merge profiles of column '${this.name}': kind ${this.kind} vs ${other.kind}.`);
    this.rows += other.rows;
    this.missing += other.missing;
    this.distinctCache = undefined;
    this.hll.merge(other.hll);
    if (this.kind !== 'numerical') {
      this.count += other.count;
      (this.items as FrequentItems).merge(other.items as FrequentItems);
      return;
    }
    if (other.count === 0) return;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    this.combineMoments(other.count, other.mean, other.m2);
    if (this.exact && other.exact && this.exactLength + other.exactLength <= this.opts.exactLimit) {
      this.ensureExactCapacity(this.exactLength + other.exactLength);
      this.exactSorted = false;
      (this.exact as Float64Array).set(other.exact.subarray(0, other.exactLength), this.exactLength);
      this.exactLength += other.exactLength;
      return;
    }
    const sk = this.toSketch();
    if (other.sketch) sk.merge(other.sketch);
    else if (other.exact) for (let i = 0; i < other.exactLength; i++) sk.accept(other.exact[i] as number);
  }

  /** Population variance (ddof = 0). */
  get variance(): number {
    return this.count > 0 ? this.m2 / this.count : 0;
  }

  /** Sample standard deviation (ddof = 1, as pandas' `std`). */
  get std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 0;
  }

  /** Sorted exact values, or undefined once the sketch took over. */
  sortedExact(): Float64Array | undefined {
    if (!this.exact) return undefined;
    if (!this.exactSorted) {
      // Sort in place once; later calls reuse the order.
      this.exact = sortFloat64InPlace(this.exact.subarray(0, this.exactLength).slice());
      this.exactSorted = true;
    }
    return this.exact.subarray(0, this.exactLength);
  }

  /** The values as a sample for drift tests: exact values, or sketch bins with counts. */
  numericSample(): NumericSample {
    const exact = this.sortedExact();
    if (exact) return { values: exact, count: exact.length, exact: true };
    if (!this.sketch) return { values: new Float64Array(0), count: 0, exact: true };
    const { values, weights } = sketchBins(this.sketch);
    // Bin representatives can fall just outside [min, max]; clamp so ranges stay honest.
    for (let i = 0; i < values.length; i++) values[i] = Math.min(this.max, Math.max(this.min, values[i] as number));
    return { values, weights, count: this.count, exact: false };
  }

  /** Category counts for drift tests (numbers formatted as strings for numerical columns). */
  categoricalSample(): CategoricalSample {
    if (this.items) return { counts: new Map(this.items.counts), count: this.count, exact: !this.items.approximate };
    const s = this.numericSample();
    const counts = new Map<string, number>();
    for (let i = 0; i < s.values.length; i++) {
      const k = String(s.values[i]);
      counts.set(k, (counts.get(k) ?? 0) + (s.weights ? (s.weights[i] as number) : 1));
    }
    return { counts, count: s.count, exact: s.exact };
  }

  /** Quantile q ∈ [0, 1]: exact (numpy's linear interpolation) or from the sketch (relative error ≤ α). */
  quantile(q: number): number | null {
    if (this.count === 0 || this.kind !== 'numerical') return null;
    const ex = this.sortedExact();
    if (ex) return quantileSorted(ex, q);
    const v = (this.sketch as DDSketch).getValueAtQuantile(q);
    return Math.min(this.max, Math.max(this.min, v));
  }

  /** Equal-width histogram over [min, max]. */
  histogram(bins = HISTOGRAM_BINS): { edges: number[]; counts: number[] } {
    if (this.kind !== 'numerical' || this.count === 0) return { edges: [], counts: [] };
    const lo = this.min;
    const hi = this.max === this.min ? this.min + 1 : this.max;
    const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
    const counts = new Array<number>(bins).fill(0);
    const s = this.numericSample();
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i] as number;
      const idx = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)));
      counts[idx] = (counts[idx] as number) + (s.weights ? (s.weights[i] as number) : 1);
    }
    return { edges, counts };
  }

  /** Estimated distinct non-missing values (exact for exact numeric columns and un-shrunk items). */
  distinct(): number {
    if (this.items && !this.items.approximate) return this.items.counts.size;
    if (this.distinctCache !== undefined) return this.distinctCache;
    const ex = this.sortedExact();
    if (ex) {
      let d = 0;
      for (let i = 0; i < ex.length; i++) if (i === 0 || ex[i] !== ex[i - 1]) d++;
      this.distinctCache = d;
      return d;
    }
    return this.hll.estimate();
  }

  /** True when every non-missing value is the same. */
  isConstant(): boolean {
    if (this.count === 0) return false;
    if (this.kind === 'numerical') return this.min === this.max;
    return this.distinct() === 1;
  }

  /** Serialisable form; `compact` leaves out the derived quantiles and histogram (live windows). */
  toJSON(compact = false): ColumnProfileJson {
    const base: ColumnProfileJson = { name: this.name, kind: this.kind, rows: this.rows, missing: this.missing, distinct: this.distinct(), hll: this.hll.toBase64() };
    if (this.kind !== 'numerical') {
      const items = this.items as FrequentItems;
      return { ...base, items: { capacity: items.capacity, approximate: items.approximate, counts: items.top(items.capacity).map((e) => [e.value, e.count]) } };
    }
    const has = this.count > 0;
    const numeric: NumericSummaryJson = {
      count: this.count,
      min: has ? this.min : null,
      max: has ? this.max : null,
      mean: has ? this.mean : null,
      m2: this.m2,
      std: has ? this.std : null,
      relativeAccuracy: this.opts.relativeAccuracy,
      exactLimit: this.opts.exactLimit,
    };
    if (!compact) {
      const quantiles: Record<string, number | null> = {};
      for (const q of QUANTILES) quantiles[`p${Math.round(q * 100)}`] = this.quantile(q);
      numeric.quantiles = quantiles;
      numeric.histogram = this.histogram();
    }
    if (this.exact) numeric.exact = Array.from(this.exact.subarray(0, this.exactLength));
    if (this.sketch) numeric.sketch = sketchToJson(this.sketch, this.opts.relativeAccuracy);
    return { ...base, numeric };
  }

  /** The full state, for moving the profile to another thread. */
  transferState(): ColumnProfileTransfer {
    const items = this.items;
    return {
      name: this.name,
      kind: this.kind,
      opts: this.opts,
      rows: this.rows,
      missing: this.missing,
      count: this.count,
      min: this.min,
      max: this.max,
      mean: this.mean,
      m2: this.m2,
      exact: this.exact ? this.exact.subarray(0, this.exactLength) : null,
      exactSorted: this.exactSorted,
      hllPending: this.hllPending,
      hll: this.sketchHll.registers,
      sketch: this.sketch ? sketchToJson(this.sketch, this.opts.relativeAccuracy) : null,
      items: items ? { capacity: items.capacity, approximate: items.approximate, counts: [...items.counts] } : null,
    };
  }

  /** Rebuilds a profile sent with `profileToTransfer`. */
  static fromTransfer(t: ColumnProfileTransfer): ColumnProfile {
    const p = new ColumnProfile(t.name, t.kind, t.opts, new HyperLogLog(t.hll));
    p.rows = t.rows;
    p.missing = t.missing;
    p.count = t.count;
    p.min = t.min;
    p.max = t.max;
    p.mean = t.mean;
    p.m2 = t.m2;
    p.exact = t.exact;
    p.exactLength = t.exact?.length ?? 0;
    p.exactSorted = t.exactSorted;
    p.hllPending = t.hllPending;
    p.sketch = t.sketch ? sketchFromJson(t.sketch) : null;
    if (t.items) p.items = new FrequentItems(t.items.capacity, new Map(t.items.counts), t.items.approximate);
    return p;
  }

  /** Reads a profile written by `toJSON`. */
  static fromJSON(j: ColumnProfileJson): ColumnProfile {
    const n = j.numeric;
    const p = new ColumnProfile(j.name, j.kind, n ? { exactLimit: n.exactLimit, relativeAccuracy: n.relativeAccuracy } : { frequentItems: j.items?.capacity }, HyperLogLog.fromBase64(j.hll));
    p.rows = j.rows;
    p.missing = j.missing;
    if (n) {
      p.count = n.count;
      p.min = n.min ?? Infinity;
      p.max = n.max ?? -Infinity;
      p.mean = n.mean ?? 0;
      p.m2 = n.m2;
      if (n.sketch) {
        p.sketch = sketchFromJson(n.sketch);
        p.exact = null;
      } else {
        p.exact = Float64Array.from(n.exact ?? []);
        p.exactLength = p.exact.length;
      }
    } else if (j.items) {
      p.items = new FrequentItems(j.items.capacity, new Map(j.items.counts), j.items.approximate);
      p.count = j.rows - j.missing;
    }
    return p;
  }
}

/** A profile in a form `postMessage` can move between threads (exact values transferred, not copied). */
export interface ColumnProfileTransfer {
  name: string;
  kind: ColumnKind;
  opts: Required<ProfileOptions>;
  rows: number;
  missing: number;
  count: number;
  min: number;
  max: number;
  mean: number;
  m2: number;
  exact: Float64Array | null;
  exactSorted: boolean;
  hllPending: boolean;
  hll: Uint8Array;
  sketch: SketchJson | null;
  items: { capacity: number; approximate: boolean; counts: Array<[string, number]> } | null;
}

/** Converts a profile for `postMessage`; list `transfer` buffers in the transfer list. */
export function profileToTransfer(p: ColumnProfile): { message: ColumnProfileTransfer; transfer: ArrayBuffer[] } {
  const t = p.transferState();
  const transfer: ArrayBuffer[] = [];
  if (t.exact && t.exact.byteOffset === 0 && t.exact.buffer instanceof ArrayBuffer) transfer.push(t.exact.buffer);
  return { message: t, transfer };
}

/** numpy's default ('linear') quantile of an ascending array. */
export function quantileSorted(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const frac = pos - lo;
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return frac === 0 ? a : a + (b - a) * frac;
}
