import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

const named = { name: '--deadline' };

describe('parseDuration', () => {
  it('reads a number with a unit into milliseconds', () => {
    expect(parseDuration('250ms', named)).toBe(250);
    expect(parseDuration('10s', named)).toBe(10_000);
    expect(parseDuration('5m', named)).toBe(300_000);
    expect(parseDuration('2h', named)).toBe(7_200_000);
    expect(parseDuration('1.5s', named)).toBe(1500);
    expect(parseDuration('.5s', named)).toBe(500);
    expect(parseDuration(' 30s ', named)).toBe(30_000);
  });

  it('reads microseconds in every spelling, as fractions of a millisecond', () => {
    expect(parseDuration('500us', named)).toBe(0.5);
    expect(parseDuration('500µs', named)).toBe(0.5);
    expect(parseDuration('500μs', named)).toBe(0.5);
    expect(parseDuration('1500us', named)).toBe(1.5);
  });

  it('adds up several parts', () => {
    expect(parseDuration('1m30s', named)).toBe(90_000);
    expect(parseDuration('1h2m3s4ms', named)).toBe(3_723_004);
  });

  it('refuses a bare number, saying which unit to add', () => {
    expect(() => parseDuration('30', named)).toThrow("--deadline must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s.");
    expect(() => parseDuration(1500, { name: 'server.requestTimeout' })).toThrow("server.requestTimeout must be a duration such as 250ms, 10s or 5m; got '1500': add a unit, e.g. 1500ms or 1500s.");
    expect(() => parseDuration('500', { name: '--max-queue-delay', suggest: ['us', 'ms'] })).toThrow("add a unit, e.g. 500us or 500ms.");
  });

  it('refuses what is not a duration, naming the setting and the accepted form', () => {
    for (const bad of ['soon', '', '10 s', '10S', '10sec', '-5s', '1e3ms', 's', '5m-', 'Infinity', '10d']) {
      expect(() => parseDuration(bad, { name: 'SLIPWAY_SERVING_DEADLINE' }), bad).toThrow(`SLIPWAY_SERVING_DEADLINE must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got '${bad}'.`);
    }
  });

  it('takes zero only where the setting allows it', () => {
    expect(parseDuration('0', { name: '--request-timeout', allowZero: true })).toBe(0);
    expect(parseDuration(0, { name: '--request-timeout', allowZero: true })).toBe(0);
    expect(parseDuration('0s', { name: '--request-timeout', allowZero: true })).toBe(0);
    expect(() => parseDuration('0', named)).toThrow("--deadline must be longer than 0, a duration such as 250ms, 10s or 5m; got '0'.");
    expect(() => parseDuration('0ms', named)).toThrow("--deadline must be longer than 0");
  });

  it('enforces the bounds, written as durations', () => {
    expect(() => parseDuration('500us', { name: '--deadline', min: 1 })).toThrow("--deadline must be at least 1ms; got '500us'.");
    expect(() => parseDuration('500ms', { name: 'server.monitoringWindow', min: 1000, allowZero: true })).toThrow('server.monitoringWindow must be at least 1s (or 0 to turn it off)');
    expect(() => parseDuration('25h', { name: '--shutdown-timeout', max: 86_400_000 })).toThrow("--shutdown-timeout must be at most 24h; got '25h'.");
    expect(parseDuration('24h', { name: '--shutdown-timeout', max: 86_400_000 })).toBe(86_400_000);
  });

  it('carries the setting name as the error field', () => {
    try {
      parseDuration('x', named);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', details: { field: '--deadline' } });
    }
  });
});

describe('formatDuration', () => {
  it('writes the largest unit that holds the value whole', () => {
    expect([0, 0.5, 1, 250, 1500, 10_000, 90_000, 300_000, 7_200_000].map(formatDuration)).toEqual(['0', '500us', '1ms', '250ms', '1500ms', '10s', '90s', '5m', '2h']);
    expect(formatDuration(0.0005)).toBe('0.5us');
  });

  it('writes what parseDuration reads back', () => {
    for (const ms of [0.001, 0.5, 2.25, 250, 1500, 59_999, 60_000, 86_400_000]) expect(parseDuration(formatDuration(ms), named)).toBeCloseTo(ms, 9);
  });
});
