/**
 * Two-sample Kolmogorov–Smirnov test, two-sided, with the p-value chosen as
 * scipy.stats.ks_2samp(method='auto') does: exact when both samples have at most
 * 10,000 values, otherwise the asymptotic Kolmogorov distribution.
 */
import { kolmogorovSf } from './special-functions.js';

/** Largest sample size for which the exact p-value is computed. */
const MAX_EXACT_N = 10_000;

/** Statistic and p-value of a two-sample KS test. */
export interface KsResult {
  statistic: number;
  pValue: number;
  method: 'exact' | 'asymptotic';
}

/** The KS statistic sup|F1 - F2| of two ascending samples (with optional weights). */
export function ksStatistic(a: Float64Array, b: Float64Array, wa?: Float64Array, wb?: Float64Array): number {
  const na = wa ? sum(wa) : a.length;
  const nb = wb ? sum(wb) : b.length;
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  let d = 0;
  while (i < a.length || j < b.length) {
    const va = i < a.length ? (a[i] as number) : Infinity;
    const vb = j < b.length ? (b[j] as number) : Infinity;
    const v = va < vb ? va : vb;
    while (i < a.length && a[i] === v) ca += wa ? (wa[i++] as number) : (i++, 1);
    while (j < b.length && b[j] === v) cb += wb ? (wb[j++] as number) : (j++, 1);
    const diff = Math.abs(ca / na - cb / nb);
    if (diff > d) d = diff;
  }
  return d;
}

function sum(w: Float64Array): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i] as number;
  return s;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** P(D >= h/n) for two samples of equal size n (alternating binomial series). */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let term = 1;
    for (let j = 0; j < h; j++) term = ((n - k * h - j) * term) / (n + k * h + j + 1);
    p = term * (1 - p);
  }
  return 2 * p;
}

/**
 * P(D >= d) for sizes m, n by walking the lattice of merged orderings: the probability
 * that a uniformly random path from (0,0) to (m,n) ever leaves the band |i/m - j/n| < d.
 * The band test uses integers (|i*n - j*m| >= h*g) so ties with d are decided exactly.
 */
function probOutsideBand(m: number, n: number, g: number, h: number): number {
  const limit = h * g;
  let row = new Float64Array(n + 2);
  let next = new Float64Array(n + 2);
  row[0] = 1;
  let prevLo = 0;
  let prevHi = 0;
  for (let i = 0; i <= m; i++) {
    // Only cells near the band can hold mass; visiting just those keeps the walk O(m · band).
    const lo = Math.max(0, Math.floor((i * n - limit) / m) - 1);
    const hi = Math.min(n, Math.ceil((i * n + limit) / m) + 1);
    const a = Math.min(lo, prevLo);
    const b = Math.max(hi, prevHi);
    for (let j = a; j <= b; j++) {
      const p = row[j] as number;
      if (p === 0) continue;
      if (Math.abs(i * n - j * m) >= limit) {
        row[j] = 0;
        continue;
      }
      const left = m + n - i - j;
      if (left === 0) continue;
      // Step in j (within this row) and in i (to the next row) with hypergeometric odds.
      if (j < n) row[j + 1] = (row[j + 1] as number) + (p * (n - j)) / left;
      if (i < m) next[j] = (next[j] as number) + (p * (m - i)) / left;
    }
    if (i === m) return Math.min(1, Math.max(0, 1 - (row[n] as number)));
    row.fill(0, a, b + 2);
    [row, next] = [next, row];
    prevLo = lo;
    prevHi = hi;
  }
  return 1;
}

/** Two-sided two-sample KS test on ascending samples without NaN, as scipy's `ks_2samp` (method 'auto'). */
export function ksTwoSample(a: Float64Array, b: Float64Array): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { statistic: 0, pValue: 1, method: 'exact' };
  let d = ksStatistic(a, b);
  if (Math.max(n1, n2) <= MAX_EXACT_N) {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = Math.round(d * lcm);
    d = h / lcm;
    if (h === 0) return { statistic: d, pValue: 1, method: 'exact' };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
    if (Number.isFinite(p) && p >= 0 && p <= 1) return { statistic: d, pValue: p, method: 'exact' };
  }
  const [m, n] = n1 >= n2 ? [n1, n2] : [n2, n1];
  const en = (m * n) / (m + n);
  return { statistic: d, pValue: kolmogorovSf(Math.round(en), d), method: 'asymptotic' };
}
