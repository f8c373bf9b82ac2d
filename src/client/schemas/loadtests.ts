/**
 * Wire types of the load-test routes: the recorded load tests (`GET /api/v1/loadtests`) and
 * the result document (`POST /api/v1/loadtests`, and the `loadtest.json` artifact of a
 * recorded run). The routes build these documents themselves (see docs/loadtest.md), so
 * they are plain types rather than zod schemas.
 */

/** Latency statistics in milliseconds (NaN when nothing was answered). */
export interface LoadTestLatency {
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

/** One second of the measured window, by completion second. */
export interface LoadTestSecond {
  second: number;
  offered: number | null;
  completed: number;
  errors: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** A threshold (SLO) with its measured value and verdict. */
export interface LoadTestThreshold {
  expression: string;
  metric: 'latency' | 'error_rate' | 'throughput';
  statistic?: string;
  op: '<' | '<=' | '>' | '>=';
  limit: number;
  actual: number;
  passed: boolean;
}

/** The comparison with a baseline made while the test ran. */
export interface LoadTestBaselineComparison {
  baseline: { source: string; p99Ms: number; throughput: number; startedAt?: string };
  current: { p99Ms: number; throughput: number };
  tolerance: { p99: number; throughput: number };
  change: { p99: number; throughput: number };
  regressions: string[];
  passed: boolean;
}

/** The result document of one load test (`kind: "slipway.loadtest"`, version 1). */
export interface LoadTestResult {
  kind: 'slipway.loadtest';
  version: 1;
  startedAt: string;
  finishedAt: string;
  target: { url: string; protocol: string; method: string; model?: { name: string; version?: string; alias?: string } };
  settings: {
    mode: 'open' | 'closed';
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
  latencyMs: LoadTestLatency;
  percentileCurve: Array<{ percentile: number; ms: number }>;
  requests: { sent: number; completed: number; ok: number; errors: number; timeouts: number; dropped: number };
  errorRate: number;
  errorsByStatus: Record<string, number>;
  errorsByKind: Record<string, number>;
  throughput: { offered: number | null; achieved: number };
  generator: { behind: boolean; late: number; dropped: number; meanLagMs: number | null; maxLateMs: number; reason: string | null };
  timeSeries: LoadTestSecond[];
  thresholds: LoadTestThreshold[];
  baseline?: LoadTestBaselineComparison;
  passed: boolean;
  failures: string[];
  /** Present when the test was recorded as it ran. */
  recordedRun?: { server: string; experimentId: string; runId: string };
}

/** A recorded load test as `GET /api/v1/loadtests` lists it. */
export interface RecordedLoadTest {
  runId: string;
  experimentId: string;
  startTime: number | null;
  model: { name: string; version?: string; alias?: string } | null;
  passed: boolean | null;
  /** `latency_p50_ms` … `latency_p99.9_ms`, `latency_max_ms`, `throughput_achieved`, `error_rate`, … */
  metrics: Record<string, number>;
}

/** The answer of `GET /api/v1/loadtests`. */
export interface RecordedLoadTestList {
  loadtests: RecordedLoadTest[];
}
