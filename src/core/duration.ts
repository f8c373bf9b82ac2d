/**
 * Durations, written the same way in every flag, environment variable,
 * `slipway.yaml` key and load-test option: a number with a unit — `500us`,
 * `250ms`, `1.5s`, `10s`, `5m`, `1h`, or several together (`1m30s`). A bare
 * number is refused (is `30` seconds or milliseconds?), except `0` where a
 * setting allows zero (usually "off").
 *
 * Hand-written rather than taken from npm: the common parsers (`ms`,
 * `@lukeed/ms`, `parse-duration`, `timestring`) all read a bare number as
 * milliseconds or seconds and accept loose spellings (`1 hour`, `2 hrs`, `1e3`),
 * which is exactly the ambiguity this convention removes; what is left is one
 * regular expression.
 */
import { SlipwayError } from './errors.js';

/** A unit a duration may be written in. `µs` (micro sign) and `μs` (Greek mu) are read as `us`. */
export type DurationUnit = 'us' | 'ms' | 's' | 'm' | 'h';

/** Milliseconds in one of each unit. */
const UNIT_MS: Readonly<Record<DurationUnit, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const MICRO = /[µμ]s/g;
/** One `<number><unit>` part; a duration is one or more of them with nothing between. */
const PART = /(\d+(?:\.\d+)?|\.\d+)(us|ms|s|m|h)/y;
const BARE_NUMBER = /^(\d+(?:\.\d+)?|\.\d+)$/;

/** The form every duration message shows. */
export const DURATION_EXAMPLES = '250ms, 10s or 5m';

/** What a setting accepts, and its name for messages. */
export interface DurationRules {
  /** The setting as the user wrote it, for messages: `--deadline`, `SLIPWAY_SERVING_DEADLINE`, `server.servingDeadline`. */
  name: string;
  /** Whether zero (`0` alone, or `0s`…) is accepted; settings use it for "off". @default false */
  allowZero?: boolean;
  /** Shortest accepted value other than zero, in ms. */
  min?: number;
  /** Longest accepted value, in ms. */
  max?: number;
  /** The units a bare number is suggested with, most likely first. @default ['ms', 's'] */
  suggest?: readonly [DurationUnit, DurationUnit];
}

function invalid(message: string, rules: DurationRules): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, { field: rules.name });
}

/** Reads `text` as a sum of `<number><unit>` parts; undefined when it is not one. */
function sumOfParts(text: string): number | undefined {
  if (text === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    const m = PART.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
    at = PART.lastIndex;
  }
  return total;
}

/**
 * Parses a duration such as `250ms`, `1.5s`, `5m` or `500us` into milliseconds
 * (fractional below 1 ms). A number is read as the same text: `0` passes where
 * `allowZero` is set, any other number is refused with a message saying which
 * unit to add. Throws INVALID_ARGUMENT naming `rules.name` and showing the form.
 */
export function parseDuration(value: string | number, rules: DurationRules): number {
  const raw = String(value);
  const text = raw.trim().replace(MICRO, 'us');
  const zeroMessage = `${rules.name} must be longer than 0, a duration such as ${DURATION_EXAMPLES}; got '${raw}'.`;
  if (BARE_NUMBER.test(text)) {
    if (Number(text) === 0) {
      if (rules.allowZero) return 0;
      throw invalid(zeroMessage, rules);
    }
    const [first, second] = rules.suggest ?? ['ms', 's'];
    throw invalid(`${rules.name} must be a duration such as ${DURATION_EXAMPLES}; got '${raw}': add a unit, e.g. ${text}${first} or ${text}${second}.`, rules);
  }
  const ms = sumOfParts(text);
  if (ms === undefined || !Number.isFinite(ms)) {
    throw invalid(`${rules.name} must be a duration such as ${DURATION_EXAMPLES} (units: us, ms, s, m, h); got '${raw}'.`, rules);
  }
  if (ms === 0) {
    if (rules.allowZero) return 0;
    throw invalid(zeroMessage, rules);
  }
  if (rules.min !== undefined && ms < rules.min) throw invalid(`${rules.name} must be at least ${formatDuration(rules.min)}${rules.allowZero ? ' (or 0 to turn it off)' : ''}; got '${raw}'.`, rules);
  if (rules.max !== undefined && ms > rules.max) throw invalid(`${rules.name} must be at most ${formatDuration(rules.max)}; got '${raw}'.`, rules);
  return ms;
}

/**
 * Writes milliseconds in the largest unit that holds them whole — `250ms`,
 * `30s`, `5m`, `500us` — so that `parseDuration` reads back the same value.
 * `0` is written `0`.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const unit of ['h', 'm', 's', 'ms', 'us'] as const) {
    const n = ms / UNIT_MS[unit];
    const whole = Math.round(n);
    if (whole !== 0 && Math.abs(n - whole) <= 1e-9 * Math.abs(n)) return `${whole}${unit}`;
  }
  // Below a microsecond, or not whole in any unit: microseconds with the decimals needed.
  return `${Number((ms * 1000).toPrecision(12))}us`;
}
