/**
 * The `loadtest` gate: the candidate and the champion served on a private loopback server,
 * each load-tested in the same run at the same rate; absolute SLOs (`p99<20ms`) are checked
 * on the candidate, relative ones (`p99 <= champion * 1.25`) against the champion's figures.
 */
import type { GateSpec } from '../../client/schemas/releases.js';
import { SlipwayError } from '../../core/errors.js';
import type { ResolvedModel } from '../../core/model-source.js';
import type { LoadTestResult } from '../../loadtest/load-test-result.js';
import { runLoadTest } from '../../loadtest/load-test-runner.js';
import { formatThresholdValue, parseThreshold, type Threshold } from '../../loadtest/threshold-parser.js';
import { readTable } from '../../monitoring/readers/table-reader.js';
import { readOnnxSignature } from '../../registry/onnx-signature.js';
import type { GateContext, GateOutcome, PrivateServer } from './gate.js';
import { gateError, throwIfAborted } from './gate-support.js';
import { recordGateLoadTest } from './load-test-recording.js';

/** The loadtest gate's spec; the release fills `holdout` and `label` from the policy (the payload rows come from the holdout then). */
export type LoadTestGateSpec = Extract<GateSpec, { kind: 'loadtest' }> & { holdout?: string; label?: string };

/** A bound relative to the champion's figure: `p99 <= champion * 1.25`, `p50 <= champion + 2ms`. */
export interface RelativeSlo {
  expression: string;
  /** `p50`…`p99.9`, `mean`, `max`, `min`, `error_rate` or `throughput`. */
  statistic: string;
  op: '<' | '<=' | '>' | '>=';
  /** champion × factor, or champion + offset (ms for latencies). */
  factor: number;
  offset: number;
}

/** The most payload rows taken from the holdout. */
const MAX_PAYLOAD_ROWS = 1000;
const RELATIVE = /^\s*([a-z_][a-z0-9_.]*)\s*(<=|>=|<|>)\s*champion\s*(?:([*+-])\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s|%)?)?\s*$/i;
const UNIT_MS: Record<string, number> = { '': 1, us: 0.001, µs: 0.001, ms: 1, s: 1000 };

/** Parses a relative SLO; undefined when `expression` does not mention the champion. */
export function parseRelativeSlo(expression: string): RelativeSlo | undefined {
  if (!/champion/i.test(expression)) return undefined;
  const m = RELATIVE.exec(expression);
  const bad = (why: string) => new SlipwayError('INVALID_ARGUMENT', `Invalid SLO '${expression}': ${why}`, { slo: expression });
  if (!m) throw bad("expected <figure> <op> champion [* factor | + offset], e.g. 'p99 <= champion * 1.25' or 'p50 <= champion + 2ms'.");
  const [, rawName, op, sign, rawNumber, rawUnit] = m as unknown as [string, string, RelativeSlo['op'], string | undefined, string | undefined, string | undefined];
  const statistic = rawName.toLowerCase().replace(/^avg$/, 'mean').replace(/^median$|^med$/, 'p50');
  const latency = /^p\d+(\.\d+)?$/.test(statistic) || ['mean', 'max', 'min'].includes(statistic);
  if (!latency && statistic !== 'error_rate' && statistic !== 'throughput') throw bad(`unknown figure '${rawName}' (use p50, p90, p95, p99, p99.9, mean, max, min, error_rate or throughput).`);
  if (latency && !(statistic in { p50: 1, p90: 1, p95: 1, p99: 1, 'p99.9': 1, mean: 1, max: 1, min: 1 })) throw bad(`relative bounds take p50, p90, p95, p99 or p99.9 among the percentiles.`);
  const n = rawNumber === undefined ? undefined : Number(rawNumber);
  const unit = (rawUnit ?? '').toLowerCase();
  if (n === undefined) return { expression, statistic, op, factor: 1, offset: 0 };
  if (sign === '*') {
    if (unit !== '' && unit !== '%') throw bad('a factor takes no unit.');
    return { expression, statistic, op, factor: unit === '%' ? n / 100 : n, offset: 0 };
  }
  if (unit === '%') return { expression, statistic, op, factor: sign === '+' ? 1 + n / 100 : 1 - n / 100, offset: 0 };
  if (!latency && unit !== '') throw bad(`${statistic} takes no unit.`);
  const offset = latency ? n * (UNIT_MS[unit] as number) : n;
  return { expression, statistic, op, factor: 1, offset: sign === '-' ? -offset : offset };
}

/** A run's value of a figure a relative bound names. */
function figureOf(r: LoadTestResult, statistic: string): number {
  if (statistic === 'error_rate') return r.errorRate;
  if (statistic === 'throughput') return r.throughput.achieved;
  return (r.latencyMs as unknown as Record<string, number>)[statistic] ?? Number.NaN;
}

function compare(value: number, op: RelativeSlo['op'], bound: number): boolean {
  if (op === '<') return value < bound;
  if (op === '<=') return value <= bound;
  if (op === '>') return value > bound;
  return value >= bound;
}

function metricOf(statistic: string): 'latency' | 'error_rate' | 'throughput' {
  return statistic === 'error_rate' || statistic === 'throughput' ? statistic : 'latency';
}

/** Payload rows: the first holdout rows without the label, else one row of zeros per the candidate's input. */
async function payloadRows(spec: LoadTestGateSpec, ctx: GateContext): Promise<{ rows: Array<Record<string, unknown>>; source: string }> {
  if (spec.holdout !== undefined) {
    const table = await readTable(await ctx.holdoutPath(spec.holdout));
    const columns = table.columns.filter((c) => c.name !== spec.label);
    const n = Math.min(table.rows, MAX_PAYLOAD_ROWS);
    if (n === 0) throw new SlipwayError('DATA_ERROR', `The holdout ${spec.holdout} has no rows to send.`);
    const rows = Array.from({ length: n }, (_, i) => Object.fromEntries(columns.map((c) => [c.name, c.type === 'number' ? c.values[i] : c.values[i]])));
    return { rows, source: `the first ${n} rows of ${spec.holdout}` };
  }
  const signature = await readOnnxSignature(ctx.candidate.onnxPath, ctx.candidate.onnxPath);
  if (signature.inputs.length === 1) {
    const shape = signature.inputs[0]?.shape ?? [];
    const last = shape[shape.length - 1];
    const width = shape.length >= 2 && typeof last === 'number' && last > 0 ? last : (ctx.candidate.columns?.length ?? 1);
    const names = ctx.candidate.columns?.length === width ? ctx.candidate.columns : Array.from({ length: width }, (_, i) => `x${i}`);
    return { rows: [Object.fromEntries(names.map((c) => [c, 0]))], source: 'a row of zeros' };
  }
  return { rows: [Object.fromEntries(signature.inputs.map((i) => [i.name, 0]))], source: 'a row of zeros' };
}

async function measure(server: PrivateServer, model: string, spec: LoadTestGateSpec, rows: Array<Record<string, unknown>>, thresholds: string[], ctx: GateContext): Promise<LoadTestResult> {
  const target = `${server.url.replace(/\/+$/, '')}/v2/models/${encodeURIComponent(model)}/infer`;
  return runLoadTest(
    {
      target,
      protocol: 'v2',
      rate: spec.rate ?? 100,
      duration: spec.duration ?? '10s',
      rowsPerRequest: spec.rows ?? 1,
      rows,
      thresholds,
      // A rate a loopback test offers needs no more threads; the rest of the machine serves the models.
      workers: (spec.rate ?? 100) <= 2000 ? 1 : 2,
    },
    { signal: ctx.signal, logger: ctx.logger },
  );
}

function summary(r: LoadTestResult): Record<string, unknown> {
  return { latencyMs: r.latencyMs, errorRate: r.errorRate, throughput: r.throughput, requests: r.requests, generator: r.generator, thresholds: r.thresholds, failures: r.failures, startedAt: r.startedAt, finishedAt: r.finishedAt };
}

/** Load-tests the candidate and the champion on a private server and checks the SLOs. */
export async function runLoadTestGate(spec: LoadTestGateSpec, ctx: GateContext): Promise<GateOutcome> {
  if (!ctx.startPrivateServer) return gateError('A load test needs the server to serve the candidate on a private port; run the release through slipway server.');
  const absolute: Threshold[] = [];
  const relative: RelativeSlo[] = [];
  for (const slo of spec.slo) {
    const rel = parseRelativeSlo(slo);
    if (rel) relative.push(rel);
    else absolute.push(parseThreshold(slo));
  }
  const payload = await payloadRows(spec, ctx);
  const champion: ResolvedModel | undefined = relative.length > 0 ? ctx.champion : undefined;
  ctx.progress(`loadtest: starting a private server for version ${ctx.candidate.version}${champion ? ` and champion version ${champion.version}` : ''}`);
  const server = await ctx.startPrivateServer({ candidate: ctx.candidate, ...(champion ? { champion } : {}) });
  let candidateRun: LoadTestResult;
  let championRun: LoadTestResult | undefined;
  try {
    ctx.progress(`loadtest: candidate version ${ctx.candidate.version} at ${spec.rate ?? 100} req/s for ${spec.duration ?? '10s'}`);
    candidateRun = await measure(server, server.models.candidate, spec, payload.rows, absolute.map((t) => t.expression), ctx);
    throwIfAborted(ctx.signal);
    if (champion && server.models.champion !== undefined) {
      ctx.progress(`loadtest: champion version ${champion.version} at the same rate`);
      championRun = await measure(server, server.models.champion, spec, payload.rows, [], ctx);
      throwIfAborted(ctx.signal);
    }
  } finally {
    await server.close();
  }
  const recorded: Record<string, unknown> = {};
  for (const [role, run, model] of [['candidate', candidateRun, ctx.candidate], ['champion', championRun, champion]] as const) {
    if (!run || !model) continue;
    try {
      recorded[role] = await recordGateLoadTest(ctx, run, model, role);
    } catch (err) {
      ctx.logger.warn({ err: (err as Error).message, release: ctx.release.id, role }, 'release: recording a load test failed');
    }
  }
  const checks: Array<{ expression: string; passed: boolean; candidate: number; bound: number | null; champion?: number; note?: string }> = candidateRun.thresholds.map((v) => ({
    expression: v.expression,
    passed: v.passed,
    candidate: v.actual,
    bound: v.limit,
  }));
  for (const rel of relative) {
    if (!championRun) {
      checks.push({ expression: rel.expression, passed: true, candidate: figureOf(candidateRun, rel.statistic), bound: null, note: 'no champion to compare with' });
      continue;
    }
    const theirs = figureOf(championRun, rel.statistic);
    const bound = theirs * rel.factor + rel.offset;
    const mine = figureOf(candidateRun, rel.statistic);
    checks.push({ expression: rel.expression, passed: Number.isFinite(mine) && Number.isFinite(bound) && compare(mine, rel.op, bound), candidate: mine, champion: theirs, bound });
  }
  const figures = {
    rate: spec.rate ?? 100,
    duration: spec.duration ?? '10s',
    rowsPerRequest: spec.rows ?? 1,
    payload: payload.source,
    checks,
    candidate: { version: ctx.candidate.version, ...summary(candidateRun) },
    ...(championRun && champion ? { champion: { version: champion.version, ...summary(championRun) } } : {}),
    recordedRuns: recorded,
  };
  if (candidateRun.requests.completed === 0) return { verdict: 'fail', reason: `No request to candidate version ${ctx.candidate.version} was answered (bound: at least 1).`, figures };
  const failed = checks.filter((c) => !c.passed);
  const show = (c: (typeof checks)[number]) => {
    const metric = metricOf(relative.find((r) => r.expression === c.expression)?.statistic ?? absolute.find((a) => a.expression === c.expression)?.metric ?? 'latency');
    const value = (x: number) => formatThresholdValue(metric, x);
    return `${c.expression}: measured ${value(c.candidate)}${c.bound !== null ? ` against bound ${value(c.bound)}` : ''}${c.champion !== undefined ? ` (champion ${value(c.champion)})` : ''}`;
  };
  if (failed.length === 0) return { verdict: 'pass', reason: `All ${checks.length} SLOs held for version ${ctx.candidate.version}: ${checks.map(show).join('; ')}.`, figures };
  return { verdict: 'fail', reason: `${failed.length} of ${checks.length} SLOs failed for version ${ctx.candidate.version}: ${failed.map(show).join('; ')}.`, figures };
}
