import { describe, expect, it } from 'vitest';
import { decodeMetricBlock, encodeBlock, encodeMetricBlocks } from './metric-block-codec.js';
import type { Metric } from './tracking-types.js';

function roundTrip(points: Metric[]): Metric[] {
  return decodeMetricBlock(points[0]?.key ?? 'k', encodeBlock(points), []);
}

describe('metric block codec', () => {
  it('packs a typical batch compactly and restores every point exactly, NaN and infinities included', () => {
    const points: Metric[] = Array.from({ length: 100 }, (_, i) => ({ key: 'loss', value: i === 3 ? NaN : i === 4 ? -Infinity : Math.sin(i), timestamp: 1_700_000_000_000, step: 500 + i }));
    const block = encodeBlock(points);
    expect(block[0]).toBe(0x02);
    expect(block.length).toBeLessThan(points.length * 11 + 17);
    const back = roundTrip(points);
    expect(back).toHaveLength(100);
    expect(back[3]?.value).toBeNaN();
    expect(back.filter((_, i) => i !== 3)).toEqual(points.filter((_, i) => i !== 3));
  });

  it('keeps steps and timestamps exact across negative and large deltas', () => {
    const points: Metric[] = [
      { key: 'k', value: 1, timestamp: 0, step: -5 },
      { key: 'k', value: 2, timestamp: 2 ** 31 - 1, step: 2 ** 31 - 6 },
      { key: 'k', value: 3, timestamp: 7, step: -(2 ** 31) + 100 },
    ];
    expect(roundTrip(points)).toEqual(points);
  });

  it('falls back to the raw layout when a delta is too large for exact compact arithmetic', () => {
    const points: Metric[] = [
      { key: 'k', value: 0.5, timestamp: 1, step: 0 },
      { key: 'k', value: 0.25, timestamp: Number.MAX_SAFE_INTEGER, step: -Number.MAX_SAFE_INTEGER },
    ];
    const block = encodeBlock(points);
    expect(block[0]).toBe(0x01);
    expect(roundTrip(points)).toEqual(points);
  });

  it('groups a batch by key in first-seen order with step ranges', () => {
    const blocks = encodeMetricBlocks([
      { key: 'b', value: 1, timestamp: 1, step: 3 },
      { key: 'a', value: 1, timestamp: 1, step: 9 },
      { key: 'b', value: 2, timestamp: 1, step: 1 },
    ]);
    expect(blocks.map((b) => [b.key, b.count, b.minStep, b.maxStep])).toEqual([
      ['b', 2, 1, 3],
      ['a', 1, 9, 9],
    ]);
  });
});
