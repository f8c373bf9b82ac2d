/**
 * The rules a shadow comparison applies (which rows agree, how far the outputs are apart)
 * and the sticky routing hash's spread, on plain tensors.
 */
import { describe, expect, it } from 'vitest';
import { routingHash, ShadowWindow } from './traffic-split.js';
import type { TensorData } from './tensor-types.js';

const fp32 = (rows: number[][]): TensorData => ({ datatype: 'FP32', shape: [rows.length, rows[0]?.length ?? 0], data: Float32Array.from(rows.flat()) });
const int64 = (values: number[]): TensorData => ({ datatype: 'INT64', shape: [values.length], data: BigInt64Array.from(values.map(BigInt)) });

describe('shadow comparison', () => {
  it('agrees on rows whose largest class is the same, for outputs of several columns', () => {
    const w = new ShadowWindow();
    w.compare(fp32([[0.1, 0.9], [0.6, 0.4], [0.2, 0.8]]), fp32([[0.3, 0.7], [0.4, 0.6], [0.1, 0.9]]), 3);
    const s = w.take();
    expect(s.compared).toBe(1);
    expect(s.agreement).toBeCloseTo(2 / 3, 9);
    // |0.2|+|0.2| + |0.2|+|0.2| + |0.1|+|0.1| over 6 values.
    expect(s.meanAbsDiff).toBeCloseTo(1 / 6, 6);
    expect(s.maxAbsDiff).toBeCloseTo(0.2, 6);
  });

  it('agrees on a probability column when both sides are on the same side of 0.5', () => {
    const w = new ShadowWindow();
    w.compare(fp32([[0.51], [0.2], [0.49]]), fp32([[0.99], [0.45], [0.5]]), 3);
    expect(w.take().agreement).toBeCloseTo(2 / 3, 9);
  });

  it('agrees on a regression value only within 1e-6 relative, and on labels only when equal', () => {
    const w = new ShadowWindow();
    w.compare(fp32([[150], [2], [-3]]), fp32([[150.00001], [2.5], [-3]]), 3);
    expect(w.take().agreement).toBeCloseTo(2 / 3, 9);
    w.compare(int64([1, 0, 2]), int64([1, 1, 2]), 3);
    const s = w.take();
    expect(s.agreement).toBeCloseTo(2 / 3, 9);
    expect(s.meanAbsDiff).toBeCloseTo(1 / 3, 9);
  });

  it('counts every row as a disagreement when the output shapes differ, and starts each window empty', () => {
    const w = new ShadowWindow();
    w.compare(fp32([[0.1, 0.9]]), fp32([[0.1, 0.8, 0.1]]), 1);
    expect(w.take()).toMatchObject({ compared: 1, agreement: 0, meanAbsDiff: null });
    expect(w.take()).toEqual({ compared: 0, agreement: null, meanAbsDiff: null, maxAbsDiff: null, dropped: 0 });
  });
});

describe('sticky routing hash', () => {
  it('spreads similar keys evenly, so a weight sends its share of callers', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const below = (w: number) => keys.filter((k) => routingHash(k) < w * 2 ** 32).length / keys.length;
    expect(below(0.1)).toBeGreaterThan(0.085);
    expect(below(0.1)).toBeLessThan(0.115);
    expect(below(0.5)).toBeGreaterThan(0.48);
    expect(below(0.5)).toBeLessThan(0.52);
    expect(routingHash('user-7')).toBe(routingHash('user-7'));
  });
});
