/**
 * runLoadTest(options): validates the options, resolves the target, builds payloads
 * from data, drives the generator workers, and assembles the result document with
 * threshold verdicts, the generator's schedule keeping and an optional baseline.
 */
import { SlipwayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { silentLogger } from '../core/logger.js';
import { arrivalsBefore } from './arrival-schedule.js';
import { baselineFromFile, baselineFromServer, compareWithBaseline, DEFAULT_BASELINE_TOLERANCE } from './baseline-comparison.js';
import { datasetFromRecords, readDataset, type Dataset } from './dataset-reader.js';
import { runGeneratorPool, type PoolOutcome, type PoolProgress } from './generator-pool.js';
import { renderHtmlReport } from './html-report.js';
import { resolveTarget, type LoadTarget } from './load-target.js';
import { planLoad, validateLoadTestOptions, type LoadPlan, type LoadTestOptions } from './load-test-options.js';
import { latencyStats, percentileCurve, type LoadTestResult, type SecondStats } from './load-test-result.js';
import { buildPayloads } from './payload-builder.js';
import { recordLoadTest, type RecordedRun } from './run-recorder.js';
import { evaluateThresholds, formatThresholdValue, parseThresholds } from './threshold-parser.js';
import { parseModelUri } from '../core/model-source.js';
import { specKeyNaming, type OptionNaming } from './option-naming.js';

/** Live figures reported about once a second while a test runs. */
export type LoadTestProgress = PoolProgress & { offeredRate: number | null };

/** Hooks of a run. */
export interface RunHooks {
  onProgress?: (p: LoadTestProgress) => void;
  signal?: AbortSignal;
  logger?: Logger;
  /** Called with the result when it was recorded as a tracking run. */
  onRecorded?: (run: RecordedRun) => void;
  /** How messages name options: spec keys by default; the CLI names its flags too. */
  naming?: OptionNaming;
}

/** A result plus where it was recorded, if it was. */
export type LoadTestOutcome = LoadTestResult & { recordedRun?: RecordedRun };

function timeSeries(outcome: PoolOutcome, plan: LoadPlan): SecondStats[] {
  const last = Math.max(Math.ceil(plan.durationMs / 1000) - 1, ...outcome.seconds.keys());
  const out: SecondStats[] = [];
  for (let second = 0; second <= last; second++) {
    const s = outcome.seconds.get(second);
    const offered = plan.mode === 'open' ? arrivalsBefore(plan.segments, plan.warmupMs + Math.min((second + 1) * 1000, plan.durationMs)) - arrivalsBefore(plan.segments, plan.warmupMs + second * 1000) : null;
    const stats = s ? latencyStats(s.histogram) : undefined;
    out.push({
      second,
      offered: second * 1000 >= plan.durationMs ? (plan.mode === 'open' ? 0 : null) : offered,
      completed: s?.completed ?? 0,
      errors: s?.errors ?? 0,
      p50: stats?.p50 ?? Number.NaN,
      p90: stats?.p90 ?? Number.NaN,
      p99: stats?.p99 ?? Number.NaN,
      max: stats?.max ?? Number.NaN,
      mean: stats?.mean ?? Number.NaN,
    });
  }
  return out;
}

/** Runs one load test and returns its result document; throws only for bad options or an unreachable target. */
export async function runLoadTest(options: LoadTestOptions, hooks: RunHooks = {}): Promise<LoadTestOutcome> {
  const logger = hooks.logger ?? silentLogger;
  const o = validateLoadTestOptions(options);
  const naming = hooks.naming ?? specKeyNaming;
  const plan = planLoad(o, naming);
  const thresholds = parseThresholds(o.thresholds ?? []);
  if (o.baseline !== undefined && parseModelUri(o.baseline) && !o.server) {
    throw new SlipwayError('MISSING_ARGUMENT', `Baseline ${o.baseline} needs the Slipway server URL: give ${naming.full('server')}.`, { field: 'server' });
  }
  if (o.record && !o.server) throw new SlipwayError('MISSING_ARGUMENT', `Recording needs the Slipway server URL: give ${naming.full('server')}.`, { field: 'server' });
  if (o.data !== undefined && o.rows !== undefined) throw new SlipwayError('INVALID_ARGUMENT', `Give ${naming.brief('data')} (a file) or ${naming.brief('rows')} (inline), not both.`);

  const serverAccess = { authorization: o.serverAuthorization, naming };
  const target: LoadTarget = await resolveTarget({ target: o.target, server: o.server, serverAuthorization: o.serverAuthorization, protocol: o.protocol, method: o.method, headers: o.headers, timeoutMs: plan.timeoutMs, naming });
  let dataset: Dataset | undefined;
  if (o.data !== undefined) dataset = await readDataset(o.data, o.dataFormat);
  else if (o.rows !== undefined) {
    if (o.rows.length === 0) throw new SlipwayError('DATA_ERROR', 'rows is empty.');
    dataset = datasetFromRecords(o.rows);
  }
  const sampling = o.sampling ?? 'sequential';
  const seed = sampling === 'random' ? (o.seed ?? 1) : undefined;
  const bodies = buildPayloads(target, dataset, { rowsPerRequest: o.rowsPerRequest, columns: o.columns, seed, bodyTemplate: o.body, naming });
  logger.info({ target: target.url, mode: plan.mode, payloads: bodies.length }, 'loadtest: starting');

  const outcome = await runGeneratorPool(
    {
      origin: target.origin,
      path: target.path,
      method: target.method,
      headers: target.headers,
      bodies,
      seed: seed ?? -1,
      model: plan.mode === 'open' ? { kind: 'open', segments: plan.segments } : { kind: 'closed', clients: plan.clients },
      warmupMs: plan.warmupMs,
      totalMs: plan.warmupMs + plan.durationMs,
      connections: Math.max(1, Math.ceil(plan.connections / plan.workers)),
      timeoutMs: plan.timeoutMs,
      maxInFlight: Math.max(1, Math.ceil(plan.maxInFlight / plan.workers)),
      lateToleranceMs: plan.lateToleranceMs,
      maxRequests: plan.maxRequests,
    },
    plan.workers,
    hooks.onProgress
      ? (p) => {
          const rel = p.elapsedMs - plan.warmupMs;
          const offeredRate = plan.mode === 'open' ? arrivalsBefore(plan.segments, p.elapsedMs) - arrivalsBefore(plan.segments, Math.max(0, p.elapsedMs - 1000)) : null;
          hooks.onProgress?.({ ...p, elapsedMs: rel, offeredRate });
        }
      : undefined,
    hooks.signal,
  );
  const finishedAt = Date.now();
  const startedAt = outcome.startAt;

  const c = outcome.counters;
  const durationS = plan.durationMs / 1000;
  const failedTransport = Object.entries(c.errorsByKind)
    .filter(([k]) => k !== 'http')
    .reduce((n, [, v]) => n + v, 0);
  const httpErrors = c.errorsByKind.http ?? 0;
  const attempted = c.completed + failedTransport;
  const errorCount = httpErrors + failedTransport;
  const errorRate = attempted === 0 ? 1 : errorCount / attempted;
  const latency = latencyStats(outcome.total);
  const offered = plan.mode === 'open' ? (arrivalsBefore(plan.segments, plan.warmupMs + plan.durationMs) - arrivalsBefore(plan.segments, plan.warmupMs)) / durationS : null;
  const achieved = c.okInWindow / durationS;
  const measuredSent = Math.max(1, c.completed + failedTransport - c.dropped);
  const lateFraction = c.late / measuredSent;
  const behindReasons: string[] = [];
  if (c.dropped > 0) behindReasons.push(`${c.dropped} sends dropped because ${plan.maxInFlight} requests were already in flight`);
  if (lateFraction > plan.lateAllowance) behindReasons.push(`${c.late} sends (${(lateFraction * 100).toFixed(2)}%) left more than ${plan.lateToleranceMs} ms after their intended time (allowed ${(plan.lateAllowance * 100).toFixed(2)}%)`);
  const verdicts = evaluateThresholds(thresholds, {
    percentile: (p) => (outcome.total.totalCount === 0 ? Number.NaN : outcome.total.getValueAtPercentile(p) / 1000),
    meanMs: latency.mean,
    maxMs: latency.max,
    minMs: latency.min,
    errorRate,
    throughput: achieved,
  });
  const failures: string[] = [];
  for (const v of verdicts) if (!v.passed) failures.push(`threshold ${v.expression} failed (measured ${formatThresholdValue(v.metric, v.actual)})`);
  if (behindReasons.length) failures.push(`the generator fell behind its schedule: ${behindReasons.join('; ')}`);
  if (c.completed === 0) failures.push('no request was answered');
  if (outcome.stopped) failures.push('the run was stopped before its planned end');

  const result: LoadTestOutcome = {
    kind: 'slipway.loadtest',
    version: 1,
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    target: { url: target.url, protocol: target.protocol, method: target.method, ...(target.model ? { model: target.model } : {}) },
    settings: {
      mode: plan.mode,
      profile: plan.segments,
      clients: plan.mode === 'closed' ? plan.clients : null,
      durationMs: plan.durationMs,
      warmupMs: plan.warmupMs,
      workers: plan.workers,
      connections: Math.max(1, Math.ceil(plan.connections / plan.workers)) * plan.workers,
      timeoutMs: plan.timeoutMs,
      maxInFlight: plan.maxInFlight,
      lateToleranceMs: plan.lateToleranceMs,
      lateAllowance: plan.lateAllowance,
      rowsPerRequest: o.rowsPerRequest ?? 1,
      payloads: bodies.length,
      sampling,
      seed: seed ?? null,
      data: o.data ?? (o.rows ? `${o.rows.length} inline rows` : null),
    },
    latencyMs: latency,
    percentileCurve: percentileCurve(outcome.total),
    requests: { sent: c.sent, completed: c.completed, ok: c.completed - httpErrors, errors: errorCount, timeouts: c.errorsByKind.timeout ?? 0, dropped: c.dropped },
    errorRate,
    errorsByStatus: c.errorsByStatus,
    errorsByKind: c.errorsByKind,
    throughput: { offered, achieved },
    generator: { behind: behindReasons.length > 0, late: c.late, dropped: c.dropped, meanLagMs: c.lagCount > 0 ? Math.round((c.sumLagMs / c.lagCount) * 1000) / 1000 : null, maxLateMs: Math.round(c.maxLateMs * 1000) / 1000, reason: behindReasons.length ? behindReasons.join('; ') : null },
    timeSeries: timeSeries(outcome, plan),
    thresholds: verdicts,
    passed: false,
    failures,
  };

  if (o.baseline !== undefined) {
    const figures = parseModelUri(o.baseline) ? await baselineFromServer(o.baseline, o.server as string, undefined, serverAccess) : await baselineFromFile(o.baseline);
    const tolerance = { ...DEFAULT_BASELINE_TOLERANCE, ...(o.baselineTolerance ?? {}) };
    result.baseline = compareWithBaseline(figures, { p99Ms: latency.p99, throughput: achieved }, tolerance);
    for (const r of result.baseline.regressions) failures.push(`regression against the baseline: ${r}`);
  }
  result.passed = failures.length === 0;

  if (o.record) {
    const experiment = typeof o.record === 'object' ? o.record.experiment : undefined;
    const recorded = await recordLoadTest(o.server as string, result, renderHtmlReport(result), experiment, serverAccess);
    result.recordedRun = recorded;
    hooks.onRecorded?.(recorded);
  }
  logger.info({ passed: result.passed, p99: latency.p99, achieved }, 'loadtest: finished');
  return result;
}
