/** Durations and rates as load-test options give them (flags, YAML specs, the HTTP API, library callers). */
import { parseDuration as parseDurationText } from '../core/duration.js';
import { SlipwayError } from '../core/errors.js';

/**
 * Parses a load-test duration into milliseconds: text with a unit as every Slipway
 * duration (`500ms`, `30s`, `2m`, `1m30s`; `0` alone), or — as JSON, YAML and
 * library callers may give it — a number, read as milliseconds.
 */
export function parseDuration(value: string | number, field = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new SlipwayError('INVALID_ARGUMENT', `${field} must be a non-negative number of milliseconds, got '${value}'.`);
    return value;
  }
  return parseDurationText(value, { name: field, allowZero: true });
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
