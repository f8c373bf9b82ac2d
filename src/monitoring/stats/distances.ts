/**
 * Distance-style drift statistics, defined as Evidently defines them on top of
 * scipy: Wasserstein distance normed by the reference std, PSI and Jensen–Shannon
 * distance over Sturges bins (numerical, > 20 reference values) or per-value frequencies.
 */
import { distinctUpTo, valueCounts, type CategoricalSample, type NumericSample } from './samples.js';

/** scipy.stats.wasserstein_distance (p = 1) of two ascending, optionally weighted samples. */
export function wassersteinDistance(a: NumericSample, b: NumericSample): number {
  if (a.count === 0 || b.count === 0) return 0;
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  let dist = 0;
  let prev = NaN;
  const av = a.values;
  const bv = b.values;
  while (i < av.length || j < bv.length) {
    const va = i < av.length ? (av[i] as number) : Infinity;
    const vb = j < bv.length ? (bv[j] as number) : Infinity;
    const v = va < vb ? va : vb;
    if (prev === prev) dist += Math.abs(ca / a.count - cb / b.count) * (v - prev);
    while (i < av.length && av[i] === v) ca += a.weights ? (a.weights[i++] as number) : (i++, 1);
    while (j < bv.length && bv[j] === v) cb += b.weights ? (b.weights[j++] as number) : (j++, 1);
    prev = v;
  }
  return dist;
}

/** Population standard deviation (numpy's `np.std`, ddof = 0) of a sample. */
export function populationStd(s: NumericSample): number {
  if (s.count === 0) return 0;
  let mean = 0;
  for (let i = 0; i < s.values.length; i++) mean += (s.values[i] as number) * (s.weights ? (s.weights[i] as number) : 1);
  mean /= s.count;
  let ss = 0;
  for (let i = 0; i < s.values.length; i++) {
    const d = (s.values[i] as number) - mean;
    ss += d * d * (s.weights ? (s.weights[i] as number) : 1);
  }
  return Math.sqrt(ss / s.count);
}

/** Evidently's `wasserstein_distance_norm`: W1(reference, current) / max(std(reference), 0.001). */
export function wassersteinNorm(reference: NumericSample, current: NumericSample): number {
  return wassersteinDistance(reference, current) / Math.max(populationStd(reference), 0.001);
}

/** Bin shares of two samples, as Evidently's `get_binned_data`. */
export interface BinnedShares {
  reference: Float64Array;
  current: Float64Array;
  /** Bin edges (numerical binning) or category labels. */
  labels: string[];
}

/** numpy's `histogram_bin_edges(..., bins='sturges')` over both samples combined. */
export function sturgesEdges(a: NumericSample, b: NumericSample): Float64Array {
  const n = a.count + b.count;
  let lo = Math.min(a.values[0] as number, b.values[0] as number);
  let hi = Math.max(a.values[a.values.length - 1] as number, b.values[b.values.length - 1] as number);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  const bins = Math.ceil(Math.log2(n) + 1);
  const edges = new Float64Array(bins + 1);
  const step = (hi - lo) / bins;
  for (let i = 0; i <= bins; i++) edges[i] = i * step + lo;
  edges[bins] = hi;
  return edges;
}

/** numpy's `np.histogram(values, edges)` for equal-width edges (last bin closed), weighted. */
export function histogramCounts(s: NumericSample, edges: Float64Array): Float64Array {
  const bins = edges.length - 1;
  const lo = edges[0] as number;
  const hi = edges[bins] as number;
  const norm = bins / (hi - lo);
  const counts = new Float64Array(bins);
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i] as number;
    if (v < lo || v > hi) continue;
    let idx = Math.floor((v - lo) * norm);
    if (idx === bins) idx--;
    if (v < (edges[idx] as number)) idx--;
    if (v >= (edges[idx + 1] as number) && idx !== bins - 1) idx++;
    counts[idx] = (counts[idx] as number) + (s.weights ? (s.weights[i] as number) : 1);
  }
  return counts;
}

function fillZeroes(p: Float64Array): void {
  let min = Infinity;
  for (const v of p) if (v !== 0 && v < min) min = v;
  if (min === Infinity) return;
  const fill = min <= 0.0001 ? min / 1e6 : 0.0001;
  for (let i = 0; i < p.length; i++) if (p[i] === 0) p[i] = fill;
}

/** Binned shares of two numeric samples (Sturges bins when the reference has > 20 values, else per value). */
export function binNumeric(reference: NumericSample, current: NumericSample, fillEmpty: boolean): BinnedShares {
  let ref: Float64Array;
  let cur: Float64Array;
  let labels: string[];
  if (distinctUpTo(reference, 20) > 20) {
    const edges = sturgesEdges(reference, current);
    ref = histogramCounts(reference, edges);
    cur = histogramCounts(current, edges);
    labels = Array.from(edges.subarray(0, edges.length - 1), (e) => String(e));
  } else {
    const rc = valueCounts(reference);
    const cc = valueCounts(current);
    const keys = [...new Set([...rc.values, ...cc.values])].sort((x, y) => x - y);
    const rmap = new Map(rc.values.map((v, i) => [v, rc.counts[i] as number]));
    const cmap = new Map(cc.values.map((v, i) => [v, cc.counts[i] as number]));
    ref = Float64Array.from(keys, (k) => rmap.get(k) ?? 0);
    cur = Float64Array.from(keys, (k) => cmap.get(k) ?? 0);
    labels = keys.map(String);
  }
  for (let i = 0; i < ref.length; i++) ref[i] = (ref[i] as number) / reference.count;
  for (let i = 0; i < cur.length; i++) cur[i] = (cur[i] as number) / current.count;
  if (fillEmpty) {
    fillZeroes(ref);
    fillZeroes(cur);
  }
  return { reference: ref, current: cur, labels };
}

/** Per-category shares of two categorical samples over the union of their categories. */
export function binCategorical(reference: CategoricalSample, current: CategoricalSample, fillEmpty: boolean): BinnedShares {
  const labels = [...new Set([...reference.counts.keys(), ...current.counts.keys()])];
  const ref = Float64Array.from(labels, (k) => (reference.counts.get(k) ?? 0) / reference.count);
  const cur = Float64Array.from(labels, (k) => (current.counts.get(k) ?? 0) / current.count);
  if (fillEmpty) {
    fillZeroes(ref);
    fillZeroes(cur);
  }
  return { reference: ref, current: cur, labels };
}

/** Population stability index Σ (r - c) ln(r / c) over shares with empty bins filled. */
export function psi(shares: BinnedShares): number {
  let s = 0;
  for (let i = 0; i < shares.reference.length; i++) {
    const r = shares.reference[i] as number;
    const c = shares.current[i] as number;
    s += (r - c) * Math.log(r / c);
  }
  return s;
}

function relEntr(x: number, y: number): number {
  if (x === 0) return 0;
  return x * Math.log(x / y);
}

/** scipy.spatial.distance.jensenshannon (natural log) of two share vectors. */
export function jensenShannon(p: Float64Array, q: Float64Array): number {
  let sp = 0;
  let sq = 0;
  for (let i = 0; i < p.length; i++) {
    sp += p[i] as number;
    sq += q[i] as number;
  }
  if (sp === 0 || sq === 0) return 0;
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const a = (p[i] as number) / sp;
    const b = (q[i] as number) / sq;
    const m = (a + b) / 2;
    js += relEntr(a, m) + relEntr(b, m);
  }
  return Math.sqrt(Math.max(0, js / 2));
}
