/**
 * The drift tests, their thresholds and the default choice per column, as Evidently
 * chooses them: up to 1000 reference values, KS for numerical columns with more than 5
 * distinct values, else chi-square (more than 2 values) or the two-proportion Z-test;
 * beyond 1000, Wasserstein (normed) or Jensen–Shannon.
 */
import { SlipwayError } from '../../core/errors.js';
import type { ColumnKind } from '../profile/column-kind.js';
import { chiSquareTest, twoProportionZTest } from '../stats/categorical-tests.js';
import { binCategorical, binNumeric, jensenShannon, psi, wassersteinNorm } from '../stats/distances.js';
import { ksStatistic, ksTwoSample } from '../stats/ks-test.js';
import { kolmogorovSf } from '../stats/special-functions.js';
import type { CategoricalSample, NumericSample } from '../stats/samples.js';

/** A drift test's name. */
export type DriftTestName = 'ks' | 'wasserstein' | 'psi' | 'jensenshannon' | 'chisquare' | 'z';

/** Every drift test, for validation. */
export const DRIFT_TESTS: readonly DriftTestName[] = ['ks', 'wasserstein', 'psi', 'jensenshannon', 'chisquare', 'z'];

/** How a test decides drift: a p-value below the threshold, or a distance at or above it. */
export interface DriftTestSpec {
  name: DriftTestName;
  /** 'p-value' tests flag drift when p < threshold (KS: p <= threshold); 'distance' tests when score >= threshold. */
  scoreKind: 'p-value' | 'distance';
  defaultThreshold: number;
  /** Whether the test can run on categorical data. */
  categorical: boolean;
  /** Whether the test can run on numeric data. */
  numerical: boolean;
}

/** Specs of every test. */
export const DRIFT_TEST_SPECS: Record<DriftTestName, DriftTestSpec> = {
  ks: { name: 'ks', scoreKind: 'p-value', defaultThreshold: 0.05, categorical: false, numerical: true },
  wasserstein: { name: 'wasserstein', scoreKind: 'distance', defaultThreshold: 0.1, categorical: false, numerical: true },
  psi: { name: 'psi', scoreKind: 'distance', defaultThreshold: 0.1, categorical: true, numerical: true },
  jensenshannon: { name: 'jensenshannon', scoreKind: 'distance', defaultThreshold: 0.1, categorical: true, numerical: true },
  chisquare: { name: 'chisquare', scoreKind: 'p-value', defaultThreshold: 0.05, categorical: true, numerical: true },
  z: { name: 'z', scoreKind: 'p-value', defaultThreshold: 0.05, categorical: true, numerical: true },
};

/** Evidently's default test for a column. `nUnique` counts distinct values of both datasets together. */
export function defaultDriftTest(kind: ColumnKind, referenceCount: number, nUnique: number): DriftTestName {
  const numeric = kind === 'numerical' && nUnique > 5;
  if (referenceCount <= 1000) return numeric ? 'ks' : nUnique > 2 ? 'chisquare' : 'z';
  return numeric ? 'wasserstein' : 'jensenshannon';
}

/** Whether a score means drift under a test and threshold. */
export function isDrift(test: DriftTestName, score: number, threshold: number): boolean {
  if (test === 'ks') return score <= threshold;
  return DRIFT_TEST_SPECS[test].scoreKind === 'p-value' ? score < threshold : score >= threshold;
}

/** The outcome of running one test. */
export interface TestOutcome {
  /** The figure compared with the threshold: a p-value or a distance. */
  score: number;
  /** The test statistic (KS D, chi-square, z); null when infinite (unseen categories). */
  statistic: number | null;
  note?: string;
}

/** The data a test needs, produced lazily (numeric samples sort, categorical ones count). */
export interface DriftInput {
  numeric(): NumericSample;
  categorical(): CategoricalSample;
}

/** Treats a numeric column with few values as categories (chi-square, Z, and binned tests on values). */
export function runDriftTest(test: DriftTestName, asCategorical: boolean, reference: DriftInput, current: DriftInput): TestOutcome {
  switch (test) {
    case 'ks': {
      const a = reference.numeric();
      const b = current.numeric();
      if (a.exact && b.exact) {
        const r = ksTwoSample(a.values, b.values);
        return { score: r.pValue, statistic: r.statistic };
      }
      // Sketch bins: weighted statistic, asymptotic p-value on the true counts.
      const d = ksStatistic(a.values, b.values, a.weights, b.weights);
      const [m, n] = a.count >= b.count ? [a.count, b.count] : [b.count, a.count];
      return { score: kolmogorovSf(Math.max(1, Math.round((m * n) / (m + n))), d), statistic: d, note: 'approximate: KS on sketch bins' };
    }
    case 'wasserstein':
      return { score: wassersteinNorm(reference.numeric(), current.numeric()), statistic: null };
    case 'psi':
    case 'jensenshannon': {
      const shares = asCategorical ? binCategorical(reference.categorical(), current.categorical(), test === 'psi') : binNumeric(reference.numeric(), current.numeric(), test === 'psi');
      return { score: test === 'psi' ? psi(shares) : jensenShannon(shares.reference, shares.current), statistic: null };
    }
    case 'chisquare': {
      const ref = reference.categorical();
      const cur = current.categorical();
      const r = chiSquareTest(ref, cur);
      if (r.statistic === Infinity) {
        const unseen = [...cur.counts.keys()].filter((k) => !ref.counts.has(k));
        return { score: 0, statistic: null, note: `categories unseen in the reference: ${unseen.slice(0, 5).join(', ')}${unseen.length > 5 ? ', …' : ''}` };
      }
      return { score: r.pValue, statistic: r.statistic };
    }
    case 'z': {
      const r = twoProportionZTest(reference.categorical(), current.categorical());
      return { score: r.pValue, statistic: r.statistic };
    }
    default:
      throw new SlipwayError('INVALID_ARGUMENT', `Unknown drift test '${String(test)}'.`);
  }
}
