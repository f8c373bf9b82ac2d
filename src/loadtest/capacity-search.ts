/**
 * Capacity search: run the open model at rising constant rates until an SLO breaks,
 * and report the highest rate that held — the figure replicas are planned with.
 */
import { SlipwayError } from '../core/errors.js';
import { parseDuration, parseRate } from './duration-parser.js';
import type { LoadTestOptions } from './load-test-options.js';
import type { LoadTestResult } from './load-test-result.js';
import { runLoadTest, type RunHooks } from './load-test-runner.js';
import { specKeyNaming } from './option-naming.js';
import { formatThresholdValue, parseThresholds } from './threshold-parser.js';

/** Options of a capacity search: a load test's options without the load shape, plus the rate ladder. */
export type CapacitySearchOptions = Omit<LoadTestOptions, 'rate' | 'stages' | 'steps' | 'clients' | 'mode' | 'duration' | 'record' | 'baseline'> & {
  /** First rate tried. */
  startRate: string | number;
  /** Added to the rate after each step that held. */
  stepRate: string | number;
  /** Highest rate tried. */
  maxRate: string | number;
  /** Measured duration of each step. @default "10s" */
  stepDuration?: string | number;
};

/** One rung of the ladder. */
export interface CapacityStep {
  /** Offered rate, req/s. */
  rate: number;
  passed: boolean;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Successful answers per second. */
  achieved: number;
  errorRate: number;
  /** Why the step broke, in one line (failed thresholds with their measured values, a generator that fell behind, errors); null when it held. */
  reason: string | null;
  failures: string[];
}

/** The outcome of a capacity search. */
export interface CapacitySearchResult {
  kind: 'slipway.capacity';
  target: LoadTestResult['target'] | null;
  thresholds: string[];
  /** The highest rate whose step held every threshold; null when even the first failed. */
  maxSustainableRate: number | null;
  /** The first rate that broke, if any. */
  breakingRate: number | null;
  /** Measured duration of each step, ms. */
  stepDurationMs: number;
  steps: CapacityStep[];
  /** Full result of the highest step that held (for its report). */
  lastPassing: LoadTestResult | null;
}

/** Why a step did not pass, in one line: each failed threshold with what was measured, a generator that fell behind, errors. */
export function whyStepBroke(r: LoadTestResult): string {
  const parts = r.thresholds.filter((t) => !t.passed).map((t) => `${t.expression} failed (measured ${formatThresholdValue(t.metric, t.actual)})`);
  if (r.generator.behind) parts.push(`the generator fell behind: ${r.generator.reason}`);
  if (r.requests.completed === 0) parts.push('no request was answered');
  else if (r.requests.errors > 0 && !r.thresholds.some((t) => t.metric === 'error_rate' && !t.passed)) {
    const kinds = [...Object.entries(r.errorsByStatus).map(([k, v]) => `HTTP ${k}: ${v}`), ...Object.entries(r.errorsByKind).filter(([k]) => k !== 'http').map(([k, v]) => `${k}: ${v}`)];
    parts.push(`${(r.errorRate * 100).toFixed(3)}% of requests failed${kinds.length ? ` (${kinds.join(', ')})` : ''}`);
  }
  // Anything else the run reported (a stop, a baseline regression), as the run worded it.
  for (const f of r.failures) if (!/^(threshold |the generator fell behind|no request was answered)/.test(f)) parts.push(f);
  return parts.length ? parts.join('; ') : 'the step did not pass';
}

/** Steps the rate up until a threshold breaks (or maxRate is reached). */
export async function runCapacitySearch(options: CapacitySearchOptions, hooks: RunHooks & { onStep?: (s: CapacityStep) => void } = {}): Promise<CapacitySearchResult> {
  const { startRate, stepRate, maxRate, stepDuration, ...base } = options;
  const start = parseRate(startRate, 'startRate');
  const step = parseRate(stepRate, 'stepRate');
  const max = parseRate(maxRate, 'maxRate');
  const naming = hooks.naming ?? specKeyNaming;
  const each = parseDuration(stepDuration ?? '10s', naming.full('stepDuration'));
  if (!(start > 0)) throw new SlipwayError('INVALID_ARGUMENT', 'startRate must be greater than zero.', { field: 'startRate' });
  if (!(step > 0)) throw new SlipwayError('INVALID_ARGUMENT', 'stepRate must be greater than zero.', { field: 'stepRate' });
  if (max < start) throw new SlipwayError('INVALID_ARGUMENT', `maxRate (${max}) is below startRate (${start}).`, { field: 'maxRate' });
  if (!(each > 0)) throw new SlipwayError('INVALID_ARGUMENT', `${naming.full('stepDuration')} must be longer than zero.`, { field: 'stepDuration' });
  const thresholds = base.thresholds ?? [];
  if (thresholds.length === 0) throw new SlipwayError('MISSING_ARGUMENT', `A capacity search needs at least one threshold (${naming.full('thresholds')}, e.g. p99<50ms) to know when the rate broke.`, { field: 'thresholds' });
  parseThresholds(thresholds);
  if (Math.floor((max - start) / step) + 1 > 1000) throw new SlipwayError('LIMIT_EXCEEDED', 'A capacity search may take at most 1000 steps; raise stepRate.');

  const steps: CapacityStep[] = [];
  let lastPassing: LoadTestResult | null = null;
  let target: LoadTestResult['target'] | null = null;
  let breaking: number | null = null;
  for (let rate = start; rate <= max + 1e-9; rate += step) {
    if (hooks.signal?.aborted) break;
    const r = await runLoadTest({ ...base, mode: 'open', rate, duration: each }, hooks);
    target = r.target;
    const l = r.latencyMs;
    const s: CapacityStep = { rate, passed: r.passed, p50Ms: l.p50, p90Ms: l.p90, p99Ms: l.p99, p999Ms: l['p99.9'], maxMs: l.max, achieved: r.throughput.achieved, errorRate: r.errorRate, reason: r.passed ? null : whyStepBroke(r), failures: r.failures };
    steps.push(s);
    hooks.onStep?.(s);
    if (!r.passed) {
      breaking = rate;
      break;
    }
    lastPassing = r;
  }
  return { kind: 'slipway.capacity', target, thresholds, maxSustainableRate: lastPassing ? steps.filter((s) => s.passed).at(-1)?.rate ?? null : null, breakingRate: breaking, stepDurationMs: each, steps, lastPassing };
}
