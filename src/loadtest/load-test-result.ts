/** The result document of a load test: what `--json` prints and reports render. */
import type * as hdr from 'hdr-histogram-js';
import type { ThresholdVerdict } from './threshold-parser.js';
import type { BaselineComparison } from './baseline-comparison.js';

/** Latency statistics in milliseconds. */
export interface LatencyStats {
  count: number;
  min: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  'p99.9': number;
  max: number;
}

/** One second of the measured window. */
export interface SecondStats {
  /** Seconds since the end of warm-up. */
  second: number;
  /** Arrivals scheduled in that second (open model). */
  offered: number | null;
  /** Responses completed in that second. */
  completed: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** The full result of one load test. */
export interface LoadTestResult {
  kind: 'slipway.loadtest';
  version: 1;
  startedAt: string;
  finishedAt: string;
  target: { url: string; protocol: string; method: string; model?: { name: string; version?: string; alias?: string } };
  settings: {
    mode: 'open' | 'closed';
    /** Open model: the arrival-rate profile (warm-up included) in req/s. */
    profile: Array<{ durationMs: number; from: number; to: number }>;
    clients: number | null;
    durationMs: number;
    warmupMs: number;
    workers: number;
    connections: number;
    timeoutMs: number;
    maxInFlight: number;
    lateToleranceMs: number;
    lateAllowance: number;
    rowsPerRequest: number;
    payloads: number;
    sampling: 'sequential' | 'random';
    seed: number | null;
    data: string | null;
  };
  /** Latency from the intended send time (open model) or the actual send (closed model), in ms. */
  latencyMs: LatencyStats;
  /** Latency at percentiles 0…100 for the distribution curve. */
  percentileCurve: Array<{ percentile: number; ms: number }>;
  requests: { sent: number; completed: number; ok: number; errors: number; timeouts: number; dropped: number };
  /** Failed fraction of measured requests (HTTP ≥ 400, transport errors, timeouts, drops). */
  errorRate: number;
  errorsByStatus: Record<string, number>;
  errorsByKind: Record<string, number>;
  /** Requests per second: offered by the schedule (open model) and answered successfully within the window. */
  throughput: { offered: number | null; achieved: number };
  /** Whether the generator kept its schedule; `meanLagMs`/`maxLateMs`: how long after their intended time sends left (open model; part of the measured latency). */
  generator: { behind: boolean; late: number; dropped: number; meanLagMs: number | null; maxLateMs: number; reason: string | null };
  timeSeries: SecondStats[];
  thresholds: ThresholdVerdict[];
  baseline?: BaselineComparison;
  /** True when every threshold held, the generator kept up and no baseline regression was found. */
  passed: boolean;
  /** Why the run did not pass. */
  failures: string[];
}

const round = (v: number): number => Math.round(v * 1000) / 1000;

/** Latency statistics (ms) from a µs histogram. */
export function latencyStats(h: hdr.Histogram): LatencyStats {
  if (h.totalCount === 0) {
    return { count: 0, min: Number.NaN, mean: Number.NaN, stddev: Number.NaN, p50: Number.NaN, p90: Number.NaN, p95: Number.NaN, p99: Number.NaN, 'p99.9': Number.NaN, max: Number.NaN };
  }
  const at = (p: number): number => round(h.getValueAtPercentile(p) / 1000);
  return {
    count: h.totalCount,
    min: round(h.minNonZeroValue / 1000),
    mean: round(h.mean / 1000),
    stddev: round(h.stdDeviation / 1000),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    'p99.9': at(99.9),
    max: round(h.maxValue / 1000),
  };
}

/** The percentile curve on a log-spaced grid up to 99.999, for plotting. */
export function percentileCurve(h: hdr.Histogram): Array<{ percentile: number; ms: number }> {
  if (h.totalCount === 0) return [];
  const grid = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96, 97, 98, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100];
  return grid.map((p) => ({ percentile: p, ms: round(h.getValueAtPercentile(p) / 1000) }));
}
