/** The background drawn from a reference profile: deterministic, following each column, columns drawn apart. */
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/support/serving.js';
import { profileTable, readTable, tableFromRows } from '../monitoring/index.js';
import { backgroundFromProfile } from './background.js';

describe('backgroundFromProfile', () => {
  it('gives the same rows every time, each column at the quantiles of its reference values', async () => {
    const profile = profileTable(await readTable(fixture('diabetes_train.csv')));
    const features = ['age', 'bmi', 's5'];
    const a = backgroundFromProfile(profile, features, 50);
    const b = backgroundFromProfile(profileTable(await readTable(fixture('diabetes_train.csv'))), features, 50);
    expect(a).toEqual(b);
    expect(a).toHaveLength(50);
    features.forEach((name, j) => {
      const column = profile.columns.get(name);
      const sorted = a.map((r) => r[j] as number).sort((x, y) => x - y);
      sorted.forEach((v, k) => expect(v).toBeCloseTo(column?.quantile((k + 0.5) / 50) as number, 9));
    });
    // Levels are shuffled per column: the rows are not the columns' quantiles side by side.
    const rank = (j: number) => a.map((r) => r[j] as number);
    expect(rank(0)).not.toEqual([...rank(0)].sort((x, y) => x - y));
    const ages = rank(0);
    const bmis = rank(1);
    const sameOrder = ages.every((v, i) => i === 0 || Math.sign(v - (ages[i - 1] as number)) === Math.sign((bmis[i] as number) - (bmis[i - 1] as number)));
    expect(sameOrder).toBe(false);
  });

  it('names a column the reference lacks or holds as text, and refuses an out-of-range size', () => {
    const profile = profileTable(tableFromRows([{ a: 1, colour: 'red' }, { a: 2, colour: 'blue' }]));
    expect(() => backgroundFromProfile(profile, ['a', 'b'], 10)).toThrow(/no column 'b'.*'a', 'colour'/);
    expect(() => backgroundFromProfile(profile, ['colour'], 10)).toThrow(/'colour' has no numeric values/);
    expect(() => backgroundFromProfile(profile, ['a'], 0)).toThrow(/1 to 1000/);
    expect(() => backgroundFromProfile(profile, ['a'], 1001)).toThrow(/1 to 1000/);
  });
});
