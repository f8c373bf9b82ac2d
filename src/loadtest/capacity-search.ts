/**
 * Capacity search: run the open model at rising constant rates until an SLO breaks,
 * and report the highest rate that held — the figure replicas are planned with.
 */
import { SlipwayError } from '../core/errors.js';
import { parseDuration, parseRate } from './duration-parser.js';
import type { LoadTestOptions } from './load-test-options.js';
import type { LoadTestResult } from './load-test-result.js';
import { runLoadTest, type RunHooks } from './load-test-runner.js';
import { parseThresholds } from './threshold-parser.js';

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
  rate: number;
  passed: boolean;
  p99Ms: number;
  achieved: number;
  errorRate: number;
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
  steps: CapacityStep[];
  /** Full result of the highest step that held (for its report). */
  lastPassing: LoadTestResult | null;
}

/** Steps the rate up until a threshold breaks (or maxRate is reached). */
export async function runCapacitySearch(options: CapacitySearchOptions, hooks: RunHooks & { onStep?: (s: CapacityStep) => void } = {}): Promise<CapacitySearchResult> {
  const { startRate, stepRate, maxRate, stepDuration, ...base } = options;
  const start = parseRate(startRate, 'startRate');
  const step = parseRate(stepRate, 'stepRate');
  const max = parseRate(maxRate, 'maxRate');
  const each = parseDuration(stepDuration ?? '10s', 'stepDuration');
  if (!(start > 0)) throw new SlipwayError('INVALID_ARGUMENT', 'startRate must be greater than zero.', { field: 'startRate' });
  if (!(step > 0)) throw new SlipwayError('INVALID_ARGUMENT', 'stepRate must be greater than zero.', { field: 'stepRate' });
  if (max < start) throw new SlipwayError('INVALID_ARGUMENT', `maxRate (${max}) is below startRate (${start}).`, { field: 'maxRate' });
  if (!(each > 0)) throw new SlipwayError('INVALID_ARGUMENT', 'stepDuration must be longer than zero.', { field: 'stepDuration' });
  const thresholds = base.thresholds ?? [];
  if (thresholds.length === 0) throw new SlipwayError('MISSING_ARGUMENT', 'A capacity search needs at least one threshold (e.g. p99<50ms) to know when the rate broke.', { field: 'thresholds' });
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
    const s: CapacityStep = { rate, passed: r.passed, p99Ms: r.latencyMs.p99, achieved: r.throughput.achieved, errorRate: r.errorRate, failures: r.failures };
    steps.push(s);
    hooks.onStep?.(s);
    if (!r.passed) {
      breaking = rate;
      break;
    }
    lastPassing = r;
  }
  return { kind: 'slipway.capacity', target, thresholds, maxSustainableRate: lastPassing ? steps.filter((s) => s.passed).at(-1)?.rate ?? null : null, breakingRate: breaking, steps, lastPassing };
}
