/**
 * SLO thresholds: `p99<50ms`, `p95<=20ms`, `mean<5ms`, `error_rate<0.1%`,
 * `throughput>2000/s`, and k6's own spelling of the same (`p(99)<50`, `avg<5`,
 * `med<10`, `rate<0.01`; latencies default to ms). Parsed once, evaluated against a result.
 */
import { SlipwayError } from '../core/errors.js';

/** The quantity a threshold constrains. Latencies are in ms, error_rate a fraction, throughput req/s. */
export type ThresholdMetric = 'latency' | 'error_rate' | 'throughput';

/** A parsed threshold. */
export interface Threshold {
  /** The expression as written. */
  expression: string;
  metric: ThresholdMetric;
  /** For latency: `p99`, `p99.9`, `mean`, `max`, `min`. */
  statistic?: string;
  op: '<' | '<=' | '>' | '>=';
  /** Limit in ms (latency), fraction (error_rate) or req/s (throughput). */
  limit: number;
}

/** A threshold with the measured value and its verdict. */
export interface ThresholdVerdict extends Threshold {
  actual: number;
  passed: boolean;
}

/** The measured values thresholds are evaluated against. */
export interface ThresholdInputs {
  /** Latency percentile in ms, e.g. `percentile(99.9)`. */
  percentile(p: number): number;
  meanMs: number;
  maxMs: number;
  minMs: number;
  errorRate: number;
  throughput: number;
}

const LATENCY_UNITS: Record<string, number> = { '': 1, us: 0.001, µs: 0.001, ms: 1, s: 1000 };
const THROUGHPUT_UNITS: Record<string, number> = { '': 1, '/s': 1, rps: 1, '/m': 1 / 60, '/min': 1 / 60 };

function bad(expression: string, why: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', `Invalid threshold '${expression}': ${why}`, { threshold: expression });
}

/** Parses one threshold expression; throws INVALID_ARGUMENT naming the expression. */
export function parseThreshold(expression: string): Threshold {
  if (typeof expression !== 'string') throw bad(String(expression), 'a threshold must be a string like p99<50ms.');
  const m = /^\s*([a-z_][a-z0-9_.]*(?:\(\s*\d+(?:\.\d+)?\s*\))?)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)\s*(\S*)\s*$/i.exec(expression);
  if (!m) throw bad(expression, 'expected <metric><op><value>, e.g. p99<50ms, p(99)<50, error_rate<0.1%, throughput>2000/s.');
  const [, rawName, op, rawValue, rawUnit] = m as unknown as [string, string, Threshold['op'], string, string];
  // k6 writes percentiles as p(99) and the median as med; both mean what p99 and p50 mean here.
  const name = rawName.toLowerCase().replace(/^p\(\s*(\d+(?:\.\d+)?)\s*\)$/, 'p$1').replace(/^med$/, 'median');
  const value = Number(rawValue);
  const unit = rawUnit.toLowerCase();
  if (value < 0) throw bad(expression, 'the limit must not be negative.');
  const pct = /^p(\d+(?:\.\d+)?)$/.exec(name);
  if (pct || name === 'mean' || name === 'avg' || name === 'max' || name === 'min' || name === 'median') {
    if (pct && Number(pct[1]) > 100) throw bad(expression, 'a percentile must be between p0 and p100.');
    const scale = LATENCY_UNITS[unit];
    if (scale === undefined) throw bad(expression, `unknown latency unit '${rawUnit}'; use us, ms or s.`);
    const statistic = name === 'avg' ? 'mean' : name === 'median' ? 'p50' : name;
    return { expression, metric: 'latency', statistic, op, limit: value * scale };
  }
  // k6's `rate` is the failed fraction of its http_req_failed metric: our error rate.
  if (name === 'error_rate' || name === 'errors' || name === 'rate') {
    if (unit !== '' && unit !== '%') throw bad(expression, `unknown error_rate unit '${rawUnit}'; use % or a fraction such as 0.001.`);
    const limit = unit === '%' ? value / 100 : value;
    if (limit > 1) throw bad(expression, 'an error rate cannot exceed 100%.');
    return { expression, metric: 'error_rate', op, limit };
  }
  if (name === 'throughput' || name === 'rps') {
    const scale = THROUGHPUT_UNITS[unit];
    if (scale === undefined) throw bad(expression, `unknown throughput unit '${rawUnit}'; use /s or /m.`);
    return { expression, metric: 'throughput', op, limit: value * scale };
  }
  throw bad(expression, `unknown metric '${rawName}'; use pNN or p(NN) (e.g. p99, p(99.9)), mean/avg, med, max, min, error_rate/rate or throughput.`);
}

/** Parses a list of threshold expressions. */
export function parseThresholds(expressions: readonly string[]): Threshold[] {
  return expressions.map(parseThreshold);
}

function compare(actual: number, op: Threshold['op'], limit: number): boolean {
  if (Number.isNaN(actual)) return false;
  switch (op) {
    case '<':
      return actual < limit;
    case '<=':
      return actual <= limit;
    case '>':
      return actual > limit;
    case '>=':
      return actual >= limit;
  }
}

/** The measured value a threshold refers to. */
export function thresholdActual(t: Threshold, inputs: ThresholdInputs): number {
  if (t.metric === 'error_rate') return inputs.errorRate;
  if (t.metric === 'throughput') return inputs.throughput;
  switch (t.statistic) {
    case 'mean':
      return inputs.meanMs;
    case 'max':
      return inputs.maxMs;
    case 'min':
      return inputs.minMs;
    default:
      return inputs.percentile(Number((t.statistic ?? 'p100').slice(1)));
  }
}

/** A measured value in the threshold's unit: `73.21 ms`, `0.500%`, `1200.0/s`; `nothing` when nothing was measured. */
export function formatThresholdValue(metric: ThresholdMetric, value: number): string {
  if (Number.isNaN(value)) return 'nothing';
  if (metric === 'error_rate') return `${(value * 100).toFixed(3)}%`;
  if (metric === 'throughput') return `${value.toFixed(1)}/s`;
  return `${value.toFixed(2)} ms`;
}

/** Evaluates thresholds against measured values. */
export function evaluateThresholds(thresholds: readonly Threshold[], inputs: ThresholdInputs): ThresholdVerdict[] {
  return thresholds.map((t) => {
    const actual = thresholdActual(t, inputs);
    return { ...t, actual, passed: compare(actual, t.op, t.limit) };
  });
}
