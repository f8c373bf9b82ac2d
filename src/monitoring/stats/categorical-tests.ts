/** Chi-square goodness of fit and the two-proportion Z-test, as Evidently applies them on top of scipy. */
import { chiSquareSf, normalSf } from './special-functions.js';
import type { CategoricalSample } from './samples.js';

/** A test statistic and its p-value. `statistic` is Infinity when a category is unseen in the reference. */
export interface PValueResult {
  statistic: number;
  pValue: number;
}

/**
 * scipy.stats.chisquare(observed current counts, expected = reference counts scaled to the
 * current size). A category the reference never saw has expected 0: statistic Infinity,
 * p-value 0 (drift), where scipy would return inf / NaN.
 */
export function chiSquareTest(reference: CategoricalSample, current: CategoricalSample): PValueResult {
  const keys = [...new Set([...reference.counts.keys(), ...current.counts.keys()])];
  if (keys.length < 2) return { statistic: 0, pValue: 1 };
  const k = current.count / reference.count;
  let stat = 0;
  for (const key of keys) {
    const obs = current.counts.get(key) ?? 0;
    const exp = (reference.counts.get(key) ?? 0) * k;
    if (exp === 0) {
      if (obs > 0) return { statistic: Infinity, pValue: 0 };
      continue;
    }
    stat += ((obs - exp) * (obs - exp)) / exp;
  }
  return { statistic: stat, pValue: chiSquareSf(stat, keys.length - 1) };
}

/**
 * Two-proportion Z-test on the share of one category (Evidently's `z` test): the first
 * category of the union is the "success". Both samples constant on the same value give p = 1.
 */
export function twoProportionZTest(reference: CategoricalSample, current: CategoricalSample): PValueResult {
  const keys = [...new Set([...reference.counts.keys(), ...current.counts.keys()])].sort();
  const first = keys[0];
  if (first === undefined || keys.length === 1) return { statistic: 0, pValue: 1 };
  const p1 = (reference.counts.get(first) ?? 0) / reference.count;
  const p2 = (current.counts.get(first) ?? 0) / current.count;
  const pooled = (p1 * reference.count + p2 * current.count) / (reference.count + current.count);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / reference.count + 1 / current.count));
  if (se === 0) return { statistic: 0, pValue: 1 };
  const z = (p1 - p2) / se;
  return { statistic: z, pValue: 2 * normalSf(Math.abs(z)) };
}
