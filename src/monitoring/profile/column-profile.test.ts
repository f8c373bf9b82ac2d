import { describe, expect, it } from 'vitest';
import { tableFromRows } from '../table.js';
import { ColumnProfile } from './column-profile.js';
import { DatasetProfile, profileTable } from './dataset-profile.js';

/** Deterministic pseudo-random values (xorshift32) so the tests never flake. */
function values(n: number, seed: number, scale = 100, offset = 0): Float64Array {
  let s = seed * 2654435761 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) / 4294967296) * scale + offset;
  });
}

function concat(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function profileOf(v: Float64Array, exactLimit?: number): ColumnProfile {
  const p = new ColumnProfile('x', 'numerical', exactLimit === undefined ? {} : { exactLimit });
  p.addNumbers(v);
  return p;
}

describe('column profiles', () => {
  it('counts, missing and moments match a direct computation', () => {
    const v = Float64Array.from([1, 2, NaN, 4, 4, NaN, 10]);
    const p = profileOf(v);
    expect([p.rows, p.missing, p.count, p.min, p.max]).toEqual([7, 2, 5, 1, 10]);
    expect(p.mean).toBeCloseTo(4.2, 12);
    // pandas' std (ddof=1) of [1, 2, 4, 4, 10]
    expect(p.std).toBeCloseTo(3.4928498393145961, 12);
    expect(p.quantile(0.5)).toBe(4);
    expect(p.distinct()).toBe(4);
  });

  it('merge(profile(A), profile(B)) equals profile(A ∪ B): counts and moments exactly, sketch quantiles within 1%', () => {
    const A = values(60_000, 1, 1000, 5);
    const B = values(45_000, 2, 50, 700);
    const merged = profileOf(A, 1000);
    merged.merge(profileOf(B, 1000));
    const whole = profileOf(concat(A, B), 1000);
    expect(merged.rows).toBe(whole.rows);
    expect(merged.count).toBe(whole.count);
    expect(merged.min).toBe(whole.min);
    expect(merged.max).toBe(whole.max);
    expect(merged.mean).toBeCloseTo(whole.mean, 9);
    expect(merged.m2 / whole.m2).toBeCloseTo(1, 12);
    const exact = profileOf(concat(A, B), 200_000);
    for (const q of [0.01, 0.25, 0.5, 0.75, 0.99]) {
      const truth = exact.quantile(q) as number;
      // DDSketch guarantees |q̂ - q| <= α|q| with α = 0.01 (rank-based quantile vs interpolated: allow one value's gap).
      expect(Math.abs((merged.quantile(q) as number) - truth)).toBeLessThanOrEqual(0.01 * Math.abs(truth) + 0.05);
    }
    expect(Math.abs(merged.distinct() - 105_000) / 105_000).toBeLessThan(0.05);
  });

  it('exact profiles merge into exact profiles with the same quantiles as the union', () => {
    const A = values(300, 3);
    const B = values(200, 4);
    const merged = profileOf(A);
    merged.merge(profileOf(B));
    const whole = profileOf(concat(A, B));
    expect(merged.isExact).toBe(true);
    for (const q of [0, 0.1, 0.5, 0.9, 1]) expect(merged.quantile(q)).toBe(whole.quantile(q));
  });

  it('serialises and reads back the same profile, sketch included', () => {
    const t = tableFromRows(Array.from({ length: 3000 }, (_, i) => ({ num: i % 7 === 0 ? null : i * 1.5, city: ['Paris', 'Oslo', 'Rome'][i % 3] ?? null, flag: i % 2 === 0 ? 'true' : 'false' })));
    const p = profileTable(t, { exactLimit: 500 });
    const back = DatasetProfile.fromJSON(JSON.parse(JSON.stringify(p.toJSON())));
    expect(back.toJSON()).toEqual(p.toJSON());
    expect(back.columns.get('city')?.kind).toBe('categorical');
    expect(back.columns.get('flag')?.kind).toBe('boolean');
    expect(back.columns.get('num')?.isExact).toBe(false);
    expect(back.columns.get('city')?.categoricalSample().counts.get('Oslo')).toBe(1000);
  });

  it('kind overrides win over inference', () => {
    const t = tableFromRows([{ code: 1 }, { code: 2 }, { code: 1 }]);
    const p = profileTable(t, { kinds: { code: 'categorical' } });
    expect(p.columns.get('code')?.kind).toBe('categorical');
    expect(p.columns.get('code')?.categoricalSample().counts.get('1')).toBe(2);
  });

  it('merging profiles whose columns differ counts the absent rows as missing', () => {
    const a = profileTable(tableFromRows([{ x: 1 }, { x: 2 }]));
    const b = profileTable(tableFromRows([{ y: 5 }]));
    a.merge(b);
    expect(a.rows).toBe(3);
    expect([a.columns.get('x')?.rows, a.columns.get('x')?.missing]).toEqual([3, 1]);
    expect([a.columns.get('y')?.rows, a.columns.get('y')?.missing]).toEqual([3, 2]);
  });

  it('rejects a document that is not a profile, naming the format', () => {
    expect(() => DatasetProfile.fromJSON({ rows: 1 })).toThrow(/slipway-profile\/1/);
  });
});

describe('adopting a column', () => {
  it('sorts the caller array in place and gives the same profile as a copy', () => {
    const v = values(20_000, 9);
    v[17] = NaN;
    const copy = profileOf(Float64Array.from(v), 50_000);
    const adopted = new ColumnProfile('x', 'numerical', { exactLimit: 50_000 });
    adopted.addNumbers(v, true);
    expect(adopted.count).toBe(19_999);
    expect(adopted.toJSON()).toEqual(copy.toJSON());
    expect(v[0]).toBe(adopted.min);
  });
});
