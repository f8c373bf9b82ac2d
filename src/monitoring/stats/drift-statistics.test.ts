/**
 * Drift statistics against scipy 1.10.1 (Debian python3-scipy) on exact data.
 * The expected values were produced outside the tests by this script:
 *
 *   import numpy as np
 *   from scipy import stats
 *   from scipy.spatial import distance
 *   x = np.array([(i*37 % 101)/10 for i in range(60)]); y = np.array([(i*53 % 97)/10 + 2.0 for i in range(45)])
 *   a = np.array([(i*37 % 101)/10 for i in range(50)]); b = np.array([(i*41 % 89)/10 + 1.9 for i in range(50)])
 *   big_a = np.array([((i*7919) % 10007)/1000 for i in range(12000)]); big_b = np.array([((i*104729) % 10009)/1000 + 0.15 for i in range(11000)])
 *   stats.ks_2samp(x, y); stats.ks_2samp(a, b); stats.ks_2samp(big_a, big_b)          # method='auto'
 *   stats.wasserstein_distance(x, y) / max(np.std(x), 0.001)                            # Evidently's wasserstein_distance_norm
 *   def binned(ref, cur, fill):                                                          # Evidently's get_binned_data
 *       bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins='sturges')
 *       rp = np.histogram(ref, bins)[0]/len(ref); cp = np.histogram(cur, bins)[0]/len(cur)
 *       if fill:
 *           for p in (rp, cp):
 *               m = min(p[p != 0]); np.place(p, p == 0, m/10**6 if m <= 0.0001 else 0.0001)
 *       return rp, cp
 *   rp, cp = binned(x, y, True); np.sum((rp - cp) * np.log(rp / cp))                     # PSI
 *   rp, cp = binned(x, y, False); distance.jensenshannon(rp, cp)                         # Jensen–Shannon
 *   stats.chisquare([40, 35, 25], [50, 30, 20])
 *   p1, p2 = 0.70, 0.55; P = (p1*100 + p2*100)/200; z = (p1-p2)/np.sqrt(P*(1-P)*(1/100+1/100)); 2*(1-stats.norm.cdf(abs(z)))
 *   stats.kstwo.sf(0.05, 200); stats.kstwo.sf(0.02, 5000); stats.kstwo.sf(0.004, 150000)
 */
import { describe, expect, it } from 'vitest';
import { chiSquareTest, twoProportionZTest } from './categorical-tests.js';
import { binNumeric, jensenShannon, psi, wassersteinNorm } from './distances.js';
import { ksTwoSample } from './ks-test.js';
import { sortedWithoutNaN } from './radix-sort.js';
import { exactSample, type CategoricalSample } from './samples.js';
import { kolmogorovSf } from './special-functions.js';

const TOL = 1e-6;
const seq = (n: number, f: (i: number) => number) => sortedWithoutNaN(Array.from({ length: n }, (_, i) => f(i)));
const x = seq(60, (i) => ((i * 37) % 101) / 10);
const y = seq(45, (i) => ((i * 53) % 97) / 10 + 2.0);
const a = seq(50, (i) => ((i * 37) % 101) / 10);
const b = seq(50, (i) => ((i * 41) % 89) / 10 + 1.9);
const bigA = seq(12000, (i) => ((i * 7919) % 10007) / 1000);
const bigB = seq(11000, (i) => ((i * 104729) % 10009) / 1000 + 0.15);
const cats = (counts: Record<string, number>): CategoricalSample => ({ counts: new Map(Object.entries(counts)), count: Object.values(counts).reduce((s, v) => s + v, 0), exact: true });

describe('drift statistics equal scipy', () => {
  it('KS two-sample, exact p-value for unequal sizes', () => {
    const r = ksTwoSample(x, y);
    expect(r.method).toBe('exact');
    expect(r.statistic).toBeCloseTo(0.2, 12);
    expect(Math.abs(r.pValue - 0.22813327387030358)).toBeLessThan(TOL);
  });

  it('KS two-sample, exact p-value for equal sizes', () => {
    const r = ksTwoSample(a, b);
    expect(r.statistic).toBeCloseTo(0.22, 12);
    expect(Math.abs(r.pValue - 0.17858668181221732)).toBeLessThan(TOL);
  });

  it('KS two-sample, asymptotic p-value beyond 10,000 values', () => {
    const r = ksTwoSample(bigA, bigB);
    expect(r.method).toBe('asymptotic');
    expect(Math.abs(r.statistic - 0.01561363636363633)).toBeLessThan(1e-12);
    expect(Math.abs(r.pValue - 0.12054934483352764)).toBeLessThan(TOL);
  });

  it("the two-sided Kolmogorov distribution (scipy's kstwo.sf) in each regime", () => {
    expect(Math.abs(kolmogorovSf(200, 0.05) - 0.6802625495871704)).toBeLessThan(TOL);
    expect(Math.abs(kolmogorovSf(5000, 0.02) - 0.03613941395325637)).toBeLessThan(TOL);
    expect(Math.abs(kolmogorovSf(150000, 0.004) - 0.01641549696764547)).toBeLessThan(TOL);
  });

  it('Wasserstein distance normed by the reference std', () => {
    expect(Math.abs(wassersteinNorm(exactSample(x), exactSample(y)) - 0.5349952765239211)).toBeLessThan(TOL);
  });

  it('PSI and Jensen–Shannon over Sturges bins', () => {
    expect(Math.abs(psi(binNumeric(exactSample(x), exactSample(y), true)) - 1.5191622514271608)).toBeLessThan(TOL);
    const shares = binNumeric(exactSample(x), exactSample(y), false);
    expect(Math.abs(jensenShannon(shares.reference, shares.current) - 0.31001170239738546)).toBeLessThan(TOL);
  });

  it('chi-square goodness of fit against reference proportions', () => {
    const r = chiSquareTest(cats({ a: 50, b: 30, c: 20 }), cats({ a: 40, b: 35, c: 25 }));
    expect(Math.abs(r.statistic - 4.083333333333334)).toBeLessThan(TOL);
    expect(Math.abs(r.pValue - 0.12981217685543797)).toBeLessThan(TOL);
  });

  it('two-proportion Z-test', () => {
    const r = twoProportionZTest(cats({ x: 70, y: 30 }), cats({ x: 55, y: 45 }));
    expect(Math.abs(r.statistic - 2.1908902300206634)).toBeLessThan(TOL);
    expect(Math.abs(r.pValue - 0.02845973691631065)).toBeLessThan(TOL);
  });

  it('a category unseen in the reference is drift (p = 0), never NaN', () => {
    const r = chiSquareTest(cats({ a: 50, b: 50 }), cats({ a: 40, b: 40, new: 20 }));
    expect(r.pValue).toBe(0);
    expect(r.statistic).toBe(Infinity);
  });

  it('the radix sort orders negatives, zeros and infinities like the built-in sort', () => {
    const values = Float64Array.from({ length: 20_000 }, (_, i) => (((i * 7919) % 10007) - 5000) * (i % 3 === 0 ? 1e-3 : 1e3));
    values[5] = -0;
    values[6] = Infinity;
    values[7] = -Infinity;
    const expected = Float64Array.from(values).sort();
    expect(Array.from(sortedWithoutNaN(values))).toEqual(Array.from(expected));
  });
});
