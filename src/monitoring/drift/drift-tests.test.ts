import { describe, expect, it } from 'vitest';
import { defaultDriftTest, isDrift } from './drift-tests.js';

describe("Evidently's default drift test per column", () => {
  it.each([
    ['numerical', 1000, 6, 'ks'],
    ['numerical', 1000, 5, 'chisquare'],
    ['numerical', 1000, 2, 'z'],
    ['categorical', 200, 3, 'chisquare'],
    ['boolean', 200, 2, 'z'],
    ['numerical', 1001, 6, 'wasserstein'],
    ['numerical', 5000, 5, 'jensenshannon'],
    ['categorical', 5000, 40, 'jensenshannon'],
  ] as const)('%s column, %i reference values, %i distinct → %s', (kind, n, unique, test) => {
    expect(defaultDriftTest(kind, n, unique)).toBe(test);
  });

  it('KS drifts at p <= threshold, chi-square and Z at p < threshold, distances at >= threshold', () => {
    expect(isDrift('ks', 0.05, 0.05)).toBe(true);
    expect(isDrift('chisquare', 0.05, 0.05)).toBe(false);
    expect(isDrift('z', 0.049, 0.05)).toBe(true);
    expect(isDrift('wasserstein', 0.1, 0.1)).toBe(true);
    expect(isDrift('psi', 0.099, 0.1)).toBe(false);
  });
});
