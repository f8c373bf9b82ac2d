/**
 * The observer serving calls after every request. It must cost microseconds and never
 * throw: it samples requests, copies the sampled inputs and outputs into a bounded
 * queue, and drops (and counts) whole requests when the queue is full. Profiling
 * happens later, off the request path, when the live monitor drains the queue.
 */
import type { InferenceObserver, InferenceRecord } from '../../core/inference-record.js';

/** Options of the sampler. */
export interface SamplerOptions {
  /** Share of requests kept, in (0, 1]. @default 1 */
  sampleRate?: number;
  /** Most rows held between drains; beyond it requests are dropped and counted. @default 100000 */
  maxBufferedRows?: number;
  /** Random source in [0, 1) (injected for deterministic tests). @default Math.random */
  random?: () => number;
  /** Dropped rows are counted per model version and time bucket of this length (the window). @default 60000 */
  bucketMs?: number;
  /** Most characters of text (a text model's inputs) held between drains; beyond it requests are dropped and counted. @default 16777216 */
  maxBufferedTextChars?: number;
}

/** A queued, copied record. */
export interface SampledRecord extends InferenceRecord {
  inputs?: Float64Array | Float32Array;
  outputs?: Float64Array | Float32Array;
}

/** Counts since the last drain. */
export interface SamplerCounts {
  /** Dropped rows keyed by `model \0 version \0 bucketStart`. */
  droppedRows: Map<string, number>;
  skippedRows: number;
}

function copy(a: ArrayLike<number> | undefined): Float64Array | Float32Array | undefined {
  if (a === undefined) return undefined;
  if (a instanceof Float32Array || a instanceof Float64Array) return a.slice();
  return Float64Array.from(a);
}

/** A sampling, bounded, non-blocking inference observer. */
export class InferenceSampler implements InferenceObserver {
  private queue: SampledRecord[] = [];
  private bufferedRows = 0;
  private bufferedChars = 0;
  private dropped = new Map<string, number>();
  private skipped = 0;
  /** Totals since start (for metrics). */
  totals = { sampledRows: 0, droppedRows: 0, skippedRows: 0, errors: 0 };
  readonly sampleRate: number;
  readonly maxBufferedRows: number;
  readonly maxBufferedTextChars: number;
  private readonly random: () => number;
  private readonly bucketMs: number;

  constructor(opts: SamplerOptions = {}) {
    this.bucketMs = opts.bucketMs ?? 60_000;
    this.sampleRate = opts.sampleRate ?? 1;
    this.maxBufferedRows = opts.maxBufferedRows ?? 100_000;
    this.maxBufferedTextChars = opts.maxBufferedTextChars ?? 16 * 1024 * 1024;
    this.random = opts.random ?? Math.random;
  }

  /** Called by serving for every request; returns at once. */
  observe(record: InferenceRecord): void {
    try {
      const rows = record.rows;
      if (this.sampleRate < 1 && this.random() >= this.sampleRate) {
        this.skipped += rows;
        this.totals.skippedRows += rows;
        return;
      }
      // Texts are bounded by their characters as well as their rows: a few long texts must not hold gigabytes.
      let chars = 0;
      if (record.texts) for (const v of record.texts.values) if (typeof v === 'string') chars += v.length;
      if (this.bufferedRows + rows > this.maxBufferedRows || this.bufferedChars + chars > this.maxBufferedTextChars) {
        const key = `${record.model}\u0000${record.version}\u0000${Math.floor(record.time / this.bucketMs) * this.bucketMs}`;
        this.dropped.set(key, (this.dropped.get(key) ?? 0) + rows);
        this.totals.droppedRows += rows;
        return;
      }
      const sampled: SampledRecord = { ...record, inputs: copy(record.inputs), outputs: copy(record.outputs) };
      if (record.texts) sampled.texts = { ...record.texts, values: record.texts.values.slice() };
      this.queue.push(sampled);
      this.bufferedRows += rows;
      this.bufferedChars += chars;
      this.totals.sampledRows += rows;
    } catch {
      // An observer must never fail a request.
      this.totals.errors++;
    }
  }

  /** Rows waiting to be profiled. */
  get pendingRows(): number {
    return this.bufferedRows;
  }

  /** Takes every queued record and the drop counts since the last drain. */
  drain(): { records: SampledRecord[]; counts: SamplerCounts } {
    const records = this.queue;
    const counts = { droppedRows: this.dropped, skippedRows: this.skipped };
    this.queue = [];
    this.bufferedRows = 0;
    this.bufferedChars = 0;
    this.dropped = new Map();
    this.skipped = 0;
    return { records, counts };
  }
}
