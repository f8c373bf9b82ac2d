/**
 * Options of a load test, as a library caller, the HTTP API or a YAML spec gives
 * them, validated once and turned into a concrete plan (rate segments, durations).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { SlipwayError } from '../core/errors.js';
import type { RateSegment } from './arrival-schedule.js';
import { parseDuration, parseRate } from './duration-parser.js';
import { specKeyNaming, type OptionNaming } from './option-naming.js';

const durationField = z.union([z.string(), z.number()]);
const rateField = z.union([z.string(), z.number()]);

/** The validated shape of load-test options (JSON / YAML friendly). */
export const loadTestOptionsSchema = z
  .object({
    /** `models:/NAME@ALIAS`, `models:/NAME/VERSION`, or an http(s) URL. */
    target: z.string().min(1),
    /** Slipway server URL: resolves `models:/` targets and receives recordings. */
    server: z.string().optional(),
    /**
     * The `Authorization` header value for `server` (`Bearer …` or `Basic …`): sent on resolution,
     * baseline and recording calls, and on load requests to the server's own origin unless
     * `headers` has an `authorization` of its own; never to another origin. A secret: no result,
     * report, recorded param or message holds it.
     */
    serverAuthorization: z
      .string()
      .min(1, 'must not be empty')
      // Visible ASCII, spaces and tabs only: a line break would end the header and start another.
      .regex(/^[\t\x20-\x7e]+$/, 'must be one line of printable ASCII (an HTTP header value such as "Bearer <token>")')
      .optional(),
    /** @default "v2" for models:/ targets; for URLs guessed from the path (…/infer → v2, …/invocations → mlflow, else raw) */
    protocol: z.enum(['raw', 'v2', 'mlflow']).optional(),
    /** HTTP method. @default "POST" (v2, mlflow), "GET" (raw) */
    method: z.string().optional(),
    headers: z.record(z.string(), z.string()).optional(),
    /** Raw protocol body template (`{{rows}}`, `{{row}}` are replaced by data rows). */
    body: z.string().optional(),
    /** Data file (CSV, JSON lines, Parquet) whose rows become requests. */
    data: z.string().optional(),
    dataFormat: z.enum(['csv', 'jsonl', 'parquet']).optional(),
    /** Inline rows (objects), instead of a data file. */
    rows: z.array(z.record(z.string(), z.unknown())).max(100_000).optional(),
    /** @default 1 */
    rowsPerRequest: z.number().int().min(1).max(100_000).optional(),
    columns: z.array(z.string()).optional(),
    /** @default "sequential" */
    sampling: z.enum(['sequential', 'random']).optional(),
    /** Seed of random sampling. @default 1 */
    seed: z.number().int().min(0).max(2 ** 31).optional(),
    /** @default "open" unless only `clients` is given */
    mode: z.enum(['open', 'closed']).optional(),
    /** Open model: constant arrival rate (req/s, or "500/s", "30000/m"). */
    rate: rateField.optional(),
    /** Open model: ramping arrival rate, each stage moving linearly to its target rate. */
    stages: z.array(z.object({ duration: durationField, target: rateField })).min(1).max(1000).optional(),
    /** Rate the first stage ramps from. @default 0 */
    startRate: rateField.optional(),
    /** Open model: `count` steps of `duration` each, from `start` adding `step` req/s every step. */
    steps: z.object({ start: rateField, step: rateField, count: z.number().int().min(1).max(1000), duration: durationField }).optional(),
    /** Closed model: concurrent clients, each sending its next request when the previous one answers. */
    clients: z.number().int().min(1).max(10_000).optional(),
    /** Measured duration (constant rate and closed model). */
    duration: durationField.optional(),
    /** Leading time whose requests are sent but not measured. @default 0 */
    warmup: durationField.optional(),
    /** Generator threads. @default one per CPU core */
    workers: z.number().int().min(1).max(64).optional(),
    /** Keep-alive connections in total. @default closed: clients; open: 64 */
    connections: z.number().int().min(1).max(10_000).optional(),
    /** Per-request timeout. @default "10s" */
    timeout: durationField.optional(),
    /** Requests in flight before further sends are dropped (and counted). @default 10000 */
    maxInFlight: z.number().int().min(1).max(1_000_000).optional(),
    /** A send later than this behind its intended time counts as late. @default "10ms" */
    lateTolerance: durationField.optional(),
    /** Largest fraction of late sends a passing run may have. @default 0.01 */
    lateAllowance: z.number().min(0).max(1).optional(),
    /** Hard cap on requests sent. @default 50000000 */
    maxRequests: z.number().int().min(1).optional(),
    /** SLO thresholds, e.g. ["p99<50ms", "error_rate<0.1%"]. */
    thresholds: z.array(z.string()).optional(),
    /** Compare with a previous result: a result JSON file or `models:/NAME@ALIAS` (latest recorded run of that version). */
    baseline: z.string().optional(),
    /** Regression tolerance against the baseline, as fractions. @default { p99: 0.1, throughput: 0.1 } */
    baselineTolerance: z.object({ p99: z.number().min(0).optional(), throughput: z.number().min(0).max(1).optional() }).optional(),
    /** Record the result as a tracking run on `server`. */
    record: z.union([z.boolean(), z.object({ experiment: z.string().min(1).optional() })]).optional(),
  })
  .strict();

/** Load-test options (see loadTestOptionsSchema for each field's meaning and default). */
export type LoadTestOptions = z.input<typeof loadTestOptionsSchema>;

/** The concrete schedule a run follows. */
export interface LoadPlan {
  mode: 'open' | 'closed';
  /** Open model: rate segments including the warm-up. */
  segments: RateSegment[];
  clients: number;
  warmupMs: number;
  durationMs: number;
  workers: number;
  connections: number;
  timeoutMs: number;
  maxInFlight: number;
  lateToleranceMs: number;
  lateAllowance: number;
  maxRequests: number;
}

const MAX_DURATION_MS = 24 * 3_600_000;

/** Validates options; throws INVALID_ARGUMENT naming the offending field. */
export function validateLoadTestOptions(input: unknown): z.output<typeof loadTestOptionsSchema> {
  const parsed = loadTestOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'options';
    throw new SlipwayError('INVALID_ARGUMENT', `Invalid load-test option '${field}': ${issue?.message ?? 'invalid'}.`, { field });
  }
  return parsed.data;
}

function positiveDuration(v: string | number | undefined, field: string, naming: OptionNaming, why = ''): number {
  if (v === undefined) throw new SlipwayError('MISSING_ARGUMENT', `${naming.full(field)} is required${why}.`, { field });
  const ms = parseDuration(v, naming.full(field));
  if (ms <= 0) throw new SlipwayError('INVALID_ARGUMENT', `${naming.full(field)} must be longer than zero.`, { field });
  return ms;
}

/** Turns validated options into the plan the generator runs; messages name options the way `naming` says (spec keys by default). */
export function planLoad(o: z.output<typeof loadTestOptionsSchema>, naming: OptionNaming = specKeyNaming): LoadPlan {
  const { full, brief } = naming;
  const loadShapes = [o.rate !== undefined, o.stages !== undefined, o.steps !== undefined].filter(Boolean).length;
  if (loadShapes > 1) throw new SlipwayError('INVALID_ARGUMENT', `Give only one of ${brief('rate')}, ${brief('stages')} or ${brief('steps')}.`);
  const mode = o.mode ?? (o.clients !== undefined && loadShapes === 0 ? 'closed' : 'open');
  const warmupMs = o.warmup === undefined ? 0 : parseDuration(o.warmup, full('warmup'));
  const segments: RateSegment[] = [];
  let durationMs: number;
  if (mode === 'closed') {
    if (loadShapes > 0) throw new SlipwayError('INVALID_ARGUMENT', `The closed model takes ${brief('clients')}, not ${brief('rate')}, ${brief('stages')} or ${brief('steps')}.`);
    if (o.clients === undefined) throw new SlipwayError('MISSING_ARGUMENT', `${full('clients')} is required for the closed model.`, { field: 'clients' });
    durationMs = positiveDuration(o.duration, 'duration', naming, ' for the closed model');
  } else if (o.stages) {
    if (o.duration !== undefined) throw new SlipwayError('INVALID_ARGUMENT', `With ${brief('stages')} the duration is the sum of the stages; do not give ${full('duration')}.`, { field: 'duration' });
    let from = o.startRate === undefined ? 0 : parseRate(o.startRate, full('startRate'));
    durationMs = 0;
    o.stages.forEach((s, i) => {
      const to = parseRate(s.target, full(`stages[${i}].target`));
      const d = positiveDuration(s.duration, `stages[${i}].duration`, naming);
      segments.push({ durationMs: d, from, to });
      durationMs += d;
      from = to;
    });
    if (warmupMs > 0) segments.unshift({ durationMs: warmupMs, from: segments[0]?.from ?? 0, to: segments[0]?.from ?? 0 });
  } else if (o.steps) {
    const start = parseRate(o.steps.start, full('steps.start'));
    const step = parseRate(o.steps.step, full('steps.step'));
    const each = positiveDuration(o.steps.duration, 'steps.duration', naming);
    for (let i = 0; i < o.steps.count; i++) segments.push({ durationMs: each, from: start + i * step, to: start + i * step });
    durationMs = each * o.steps.count;
    if (warmupMs > 0) segments.unshift({ durationMs: warmupMs, from: start, to: start });
  } else {
    if (o.rate === undefined) {
      throw new SlipwayError('MISSING_ARGUMENT', `${full('rate')} is required for the open model (or ramp with ${brief('stages')} or ${brief('steps')}; or give ${brief('clients')} for the closed model).`, { field: 'rate' });
    }
    const rate = parseRate(o.rate, full('rate'));
    if (rate <= 0) throw new SlipwayError('INVALID_ARGUMENT', `${full('rate')} must be greater than zero.`, { field: 'rate' });
    durationMs = positiveDuration(o.duration, 'duration', naming, ' with a constant rate');
    segments.push({ durationMs: warmupMs + durationMs, from: rate, to: rate });
  }
  if (mode === 'open' && segments.every((s) => s.from === 0 && s.to === 0)) throw new SlipwayError('INVALID_ARGUMENT', 'The arrival rate is zero throughout; nothing would be sent.');
  if (durationMs + warmupMs > MAX_DURATION_MS) throw new SlipwayError('LIMIT_EXCEEDED', 'A load test may last at most 24 hours including warm-up.');
  for (const s of segments) if (s.from > 1_000_000 || s.to > 1_000_000) throw new SlipwayError('LIMIT_EXCEEDED', 'Arrival rates above 1,000,000 req/s are not supported.');
  const clients = o.clients ?? 0;
  const workers = Math.max(1, Math.min(o.workers ?? availableParallelism(), mode === 'closed' ? clients : 64));
  const connections = o.connections ?? (mode === 'closed' ? clients : 64);
  return {
    mode,
    segments,
    clients,
    warmupMs,
    durationMs,
    workers,
    // Each worker needs at least one connection of its own.
    connections: Math.max(connections, workers),
    timeoutMs: o.timeout === undefined ? 10_000 : positiveDuration(o.timeout, 'timeout', naming),
    maxInFlight: o.maxInFlight ?? 10_000,
    lateToleranceMs: o.lateTolerance === undefined ? 10 : parseDuration(o.lateTolerance, full('lateTolerance')),
    lateAllowance: o.lateAllowance ?? 0.01,
    maxRequests: o.maxRequests ?? 50_000_000,
  };
}
