/**
 * Coalitions of features and the Shapley values computed from their values. A coalition is
 * the set of features taken from the explained row; the others come from background rows.
 *
 * Written by hand rather than taken from a library: no maintained JavaScript package computes
 * Shapley values, and the arithmetic (a weighted sum over subsets, a small least-squares solve)
 * is a few dozen lines that the tests check against closed forms and brute force.
 */

/** How attributions were computed. */
export type AttributionMethod = 'exact' | 'kernel';

/** The coalitions whose values a method needs, one byte per feature (1 = from the explained row). */
export interface CoalitionPlan {
  method: AttributionMethod;
  features: number;
  /** `count` masks of `features` bytes each, never the empty or the full coalition. */
  masks: Uint8Array;
  count: number;
}

/** Every coalition but the empty and the full one, coalition k being the bits of k + 1. */
export function exactPlan(features: number): CoalitionPlan {
  const count = 2 ** features - 2;
  const masks = new Uint8Array(count * features);
  for (let k = 0; k < count; k++) {
    const bits = k + 1;
    for (let j = 0; j < features; j++) masks[k * features + j] = (bits >> j) & 1;
  }
  return { method: 'exact', features, masks, count };
}

/**
 * `budget` coalitions for KernelSHAP, drawn deterministically from `seed`: the size s with
 * probability proportional to the Shapley kernel's total weight of that size, (M - 1) / (s (M - s)),
 * then the members uniformly; each draw comes with its complement (paired sampling), which
 * halves the variance for the same budget. Drawn in proportion to the kernel, every coalition
 * then weighs the same in the regression.
 */
export function kernelPlan(features: number, budget: number, seed = 1): CoalitionPlan {
  const pairs = Math.max(1, Math.floor(budget / 2));
  const count = pairs * 2;
  const masks = new Uint8Array(count * features);
  const random = mulberry32(seed);
  const sizeWeights: number[] = [];
  let total = 0;
  for (let s = 1; s < features; s++) {
    total += (features - 1) / (s * (features - s));
    sizeWeights.push(total);
  }
  const order = Array.from({ length: features }, (_, j) => j);
  for (let p = 0; p < pairs; p++) {
    const u = random() * total;
    let size = 1;
    while (size < features - 1 && (sizeWeights[size - 1] as number) < u) size++;
    // A partial Fisher-Yates shuffle picks `size` distinct members.
    for (let j = 0; j < size; j++) {
      const pick = j + Math.floor(random() * (features - j));
      const t = order[j] as number;
      order[j] = order[pick] as number;
      order[pick] = t;
    }
    const a = 2 * p * features;
    const b = a + features;
    for (let j = 0; j < features; j++) masks[b + j] = 1;
    for (let j = 0; j < size; j++) {
      masks[a + (order[j] as number)] = 1;
      masks[b + (order[j] as number)] = 0;
    }
  }
  return { method: 'kernel', features, masks, count };
}

/**
 * Exact Shapley values from the values of every coalition of an exact plan: φ_i is the sum over
 * coalitions S without i of |S|! (M - |S| - 1)! / M! · (v(S ∪ {i}) - v(S)). `values[k]` is the
 * value of coalition k of `exactPlan`; `empty` and `full` are v(∅) (the baseline) and v(N)
 * (the prediction). The values sum to full - empty up to floating-point rounding.
 */
export function exactAttributions(features: number, values: Float64Array, empty: number, full: number): Float64Array {
  const all = 2 ** features - 1;
  const v = (bits: number) => (bits === 0 ? empty : bits === all ? full : (values[bits - 1] as number));
  // weight[s] = s! (M - s - 1)! / M! = 1 / (M · C(M - 1, s)).
  const weight = new Float64Array(features);
  let binomial = 1;
  for (let s = 0; s < features; s++) {
    weight[s] = 1 / (features * binomial);
    binomial = (binomial * (features - 1 - s)) / (s + 1);
  }
  const phi = new Float64Array(features);
  const size = new Uint8Array(all + 1);
  for (let bits = 1; bits <= all; bits++) size[bits] = (size[bits >> 1] as number) + (bits & 1);
  for (let bits = 0; bits < all; bits++) {
    const without = v(bits);
    const w = weight[size[bits] as number] as number;
    for (let i = 0; i < features; i++) {
      const bit = 1 << i;
      if (bits & bit) continue;
      phi[i] = (phi[i] as number) + w * (v(bits | bit) - without);
    }
  }
  return phi;
}

/**
 * KernelSHAP: the attributions φ that best explain the sampled coalition values in the least-squares
 * sense, v(S) - v(∅) ≈ Σ_{i ∈ S} φ_i, under the efficiency constraint Σ φ_i = v(N) - v(∅), which is
 * enforced exactly by solving for the last feature's value from the others.
 */
export function kernelAttributions(plan: CoalitionPlan, values: Float64Array, empty: number, full: number): Float64Array {
  const m = plan.features;
  const delta = full - empty;
  const n = m - 1;
  const ata = new Float64Array(n * n);
  const atb = new Float64Array(n);
  const row = new Float64Array(n);
  for (let k = 0; k < plan.count; k++) {
    const base = k * m;
    const last = plan.masks[base + n] as number;
    const y = (values[k] as number) - empty - last * delta;
    for (let j = 0; j < n; j++) row[j] = (plan.masks[base + j] as number) - last;
    for (let a = 0; a < n; a++) {
      const ra = row[a] as number;
      if (ra === 0) continue;
      atb[a] = (atb[a] as number) + ra * y;
      for (let b = 0; b < n; b++) ata[a * n + b] = (ata[a * n + b] as number) + ra * (row[b] as number);
    }
  }
  const solved = solveSymmetric(ata, atb, n);
  const phi = new Float64Array(m);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    phi[j] = solved[j] as number;
    sum += solved[j] as number;
  }
  phi[n] = delta - sum;
  return phi;
}

/**
 * Solves A x = b for a symmetric positive semi-definite A (n × n, row-major) by Gaussian
 * elimination with partial pivoting; a feature the samples never separate (a zero pivot) gets 0.
 */
function solveSymmetric(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(m[i * n + i] as number));
  const tiny = scale * 1e-12;
  const pivots = new Uint8Array(n);
  for (let col = 0; col < n; col++) {
    let best = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r * n + col] as number) > Math.abs(m[best * n + col] as number)) best = r;
    if (Math.abs(m[best * n + col] as number) <= tiny) continue;
    pivots[col] = 1;
    if (best !== col) {
      for (let c = 0; c < n; c++) {
        const t = m[col * n + c] as number;
        m[col * n + c] = m[best * n + c] as number;
        m[best * n + c] = t;
      }
      const t = x[col] as number;
      x[col] = x[best] as number;
      x[best] = t;
    }
    const p = m[col * n + col] as number;
    for (let r = col + 1; r < n; r++) {
      const f = (m[r * n + col] as number) / p;
      if (f === 0) continue;
      for (let c = col; c < n; c++) m[r * n + c] = (m[r * n + c] as number) - f * (m[col * n + c] as number);
      x[r] = (x[r] as number) - f * (x[col] as number);
    }
  }
  const out = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    if (!pivots[r]) continue;
    let s = x[r] as number;
    for (let c = r + 1; c < n; c++) s -= (m[r * n + c] as number) * (out[c] as number);
    out[r] = s / (m[r * n + r] as number);
  }
  return out;
}

/** Deterministic uniform numbers in [0, 1) (mulberry32), so the same request gets the same coalitions. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
