/** Parsers for the human-friendly durations and rates used by load-test options. */
import { SlipwayError } from '../core/errors.js';

const DURATION_UNITS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `30s`, `2m`, `1h`, `1m30s` or a number of milliseconds into milliseconds. */
export function parseDuration(value: string | number, field = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new SlipwayError('INVALID_ARGUMENT', `${field} must be a non-negative number of milliseconds, got '${value}'.`);
    return value;
  }
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseDuration(Number(text), field);
  const re = /(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
    matched += m[0].length;
  }
  if (text === '' || matched !== text.length) {
    throw new SlipwayError('INVALID_ARGUMENT', `${field} '${value}' is not a duration; use forms like 500ms, 30s, 2m or 1m30s.`);
  }
  return total;
}

/** Parses a rate such as `500`, `500/s`, `30000/m` into requests per second. */
export function parseRate(value: string | number, field = 'rate'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new SlipwayError('INVALID_ARGUMENT', `${field} must be a non-negative number of requests per second, got '${value}'.`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|m|h)|rps)?\s*$/.exec(value);
  if (!m) throw new SlipwayError('INVALID_ARGUMENT', `${field} '${value}' is not a rate; use forms like 500, 500/s or 30000/m.`);
  const per = m[2] === 'm' ? 60 : m[2] === 'h' ? 3600 : 1;
  return Number(m[1]) / per;
}
