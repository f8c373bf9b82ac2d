import { describe, expect, it } from 'vitest';
import { arrivalsBefore, createArrivalClock } from './arrival-schedule.js';
import { parseDuration, parseRate } from './duration-parser.js';

describe('arrival schedules', () => {
  it('spaces a constant rate evenly', () => {
    const at = createArrivalClock([{ durationMs: 1000, from: 100, to: 100 }]);
    expect([0, 1, 2, 99].map(at)).toEqual([0, 10, 20, 990]);
    expect(at(100)).toBe(-1);
    expect(arrivalsBefore([{ durationMs: 1000, from: 100, to: 100 }], 1000)).toBe(100);
  });

  it('ramps linearly: a 0→200/s ramp over 2 s schedules 200 arrivals, denser at the end', () => {
    const segs = [{ durationMs: 2000, from: 0, to: 200 }];
    expect(arrivalsBefore(segs, 2000)).toBe(200);
    expect(arrivalsBefore(segs, 1000)).toBe(50);
    const at = createArrivalClock(segs);
    const times = Array.from({ length: 200 }, (_, k) => at(k));
    expect(times[50]).toBeCloseTo(1000, 6);
    const firstGap = (times[1] as number) - (times[0] as number);
    const lastGap = (times[199] as number) - (times[198] as number);
    expect(firstGap).toBeGreaterThan(lastGap * 5);
    expect(times.every((t, i) => i === 0 || t > (times[i - 1] as number))).toBe(true);
  });

  it('moves across steps and skips pauses', () => {
    const segs = [
      { durationMs: 1000, from: 10, to: 10 },
      { durationMs: 500, from: 0, to: 0 },
      { durationMs: 1000, from: 20, to: 20 },
    ];
    const at = createArrivalClock(segs);
    expect(at(9)).toBe(900);
    expect(at(10)).toBe(1500);
    expect(at(11)).toBe(1550);
    expect(arrivalsBefore(segs, 2500)).toBe(30);
  });
});

describe('durations and rates', () => {
  it('parses human durations and rates', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('500us')).toBe(0.5);
    expect(parseDuration('0')).toBe(0);
    // JSON, YAML and library callers may give a number: milliseconds.
    expect(parseDuration(1500)).toBe(1500);
    expect(parseRate('500/s')).toBe(500);
    expect(parseRate('600/m')).toBe(10);
    expect(parseRate(42)).toBe(42);
  });

  it('names the bad value', () => {
    expect(() => parseDuration('soon', 'duration')).toThrow("duration must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'soon'.");
    expect(() => parseDuration('10 parsecs', 'warmup')).toThrow("warmup must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got '10 parsecs'.");
    // Text without a unit is ambiguous: as everywhere else, it needs one.
    expect(() => parseDuration('1500', 'timeout')).toThrow("timeout must be a duration such as 250ms, 10s or 5m; got '1500': add a unit, e.g. 1500ms or 1500s.");
    expect(() => parseRate('fast', 'rate')).toThrow("rate 'fast' is not a rate");
  });
});
