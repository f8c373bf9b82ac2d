/**
 * Serving options with their defaults, checked once. The defaults suit a small
 * machine: one batch at a time on the JavaScript thread, using every core (up to 4)
 * inside each operator, with threads that sleep rather than spin between operators.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { SlipwayError } from '../core/errors.js';

/** How serving runs models, batches requests and protects itself. */
export interface ServingOptions {
  /**
   * Threads onnxruntime uses inside one operator, per session. onnxruntime splits an operator
   * only when it is big enough, so small models run as on one thread, while a compute-heavy
   * model's batches use every core. @default the number of CPUs, at most 4
   */
  intraOpThreads: number;
  /**
   * Let onnxruntime's intra-op threads spin between operators instead of sleeping. Spinning
   * shaves microseconds off each run on dedicated cores, but a spinning thread takes CPU from
   * the HTTP thread, the load and other models when cores are shared. Matters only with
   * `intraOpThreads` > 1. @default false
   */
  spinWait: boolean;
  /** onnxruntime graph optimisation level. @default "all" */
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Batches in flight per model version. onnxruntime-node runs inference on the JavaScript
   * thread, so with the inline executor more than 1 only splits batches; with the worker
   * executor each slot is a worker thread with its own session, running in parallel.
   * @default 1
   */
  concurrency: number;
  /**
   * Where inference runs: `inline` on the JavaScript thread (lowest latency, one session), or
   * `worker`: `concurrency` worker threads, each with its own session, running batches in
   * parallel without blocking HTTP (for compute-heavy models). @default "inline"
   */
  executor: 'inline' | 'worker';
  /** Largest batch in rows; 1 disables batching. @default 64 */
  maxBatchSize: number;
  /** How long a batch may wait for more rows while a session is free, in microseconds. @default 0 */
  maxQueueDelayMicros: number;
  /** Batch sizes sent at once when reached (Triton's preferred sizes). @default [] */
  preferredBatchSizes: number[];
  /** Requests waiting per model beyond which new ones get 503 with Retry-After. @default 512 */
  maxQueueSize: number;
  /** Per-request deadline in ms (header `x-slipway-deadline-ms` or `timeout` overrides). @default 30000 */
  deadlineMs: number;
  /** Seconds sent in Retry-After when the queue is full. @default 1 */
  retryAfterSeconds: number;
  /** What to do with NaN or ±Infinity in inputs: reject with 400, or pass to the model. @default "reject" */
  nonFinite: 'reject' | 'allow';
  /** Largest request body in bytes. @default 16 MiB */
  bodyLimit: number;
  /** How long shutdown waits for in-flight requests, in ms. @default 10000 */
  drainTimeoutMs: number;
  /** Run one inference per session right after loading, so the first request is not slow. @default true */
  warmup: boolean;
}

/** The defaults. */
export const DEFAULT_SERVING_OPTIONS: ServingOptions = {
  intraOpThreads: Math.max(1, Math.min(4, availableParallelism())),
  spinWait: false,
  graphOptimizationLevel: 'all',
  concurrency: 1,
  executor: 'inline',
  maxBatchSize: 64,
  maxQueueDelayMicros: 0,
  preferredBatchSizes: [],
  maxQueueSize: 512,
  deadlineMs: 30_000,
  retryAfterSeconds: 1,
  nonFinite: 'reject',
  bodyLimit: 16 * 1024 * 1024,
  drainTimeoutMs: 10_000,
  warmup: true,
};

const positiveInt = z.coerce.number().int().positive();
const schema = z
  .object({
    intraOpThreads: positiveInt,
    spinWait: z.boolean(),
    graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']),
    concurrency: positiveInt,
    executor: z.enum(['inline', 'worker']),
    maxBatchSize: positiveInt,
    maxQueueDelayMicros: z.coerce.number().int().nonnegative(),
    preferredBatchSizes: z.array(positiveInt),
    maxQueueSize: positiveInt,
    deadlineMs: positiveInt,
    retryAfterSeconds: positiveInt,
    nonFinite: z.enum(['reject', 'allow']),
    bodyLimit: positiveInt,
    drainTimeoutMs: z.coerce.number().int().nonnegative(),
    warmup: z.boolean(),
  })
  .strict()
  .partial();

/** Merges user options over the defaults; throws INVALID_ARGUMENT naming the bad option. */
export function resolveServingOptions(input: Partial<Record<keyof ServingOptions, unknown>> = {}): ServingOptions {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
  const parsed = schema.safeParse(defined);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || (issue?.code === 'unrecognized_keys' ? issue.keys.join(', ') : 'serving');
    throw new SlipwayError('INVALID_ARGUMENT', `Serving option '${where}' is invalid: ${issue?.message ?? 'bad value'}.`);
  }
  return { ...DEFAULT_SERVING_OPTIONS, ...parsed.data } as ServingOptions;
}
