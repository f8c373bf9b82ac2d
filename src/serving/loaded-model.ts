/**
 * One model version ready to serve: its runtime, signature and batcher. Retiring
 * it lets queued and running requests finish before the session is released.
 */
import { SlipwayError } from '../core/errors.js';
import { DynamicBatcher, type BatchResult } from './batcher.js';
import type { Runtime } from './model-runtime.js';
import type { ModelSignature } from './model-signature.js';
import type { ServingMetrics } from './serving-metrics.js';
import type { ServingOptions } from './serving-options.js';
import type { TensorData } from './tensor-types.js';
import type { TextTokenizer } from './text-model.js';
import { TextRuntime } from './text-runtime.js';

/** A served model version. */
export class LoadedModel {
  readonly name: string;
  readonly version: string;
  readonly signature: ModelSignature;
  /** Column names of the single 2-D input, when known. */
  readonly columns: string[] | undefined;
  readonly source: string;
  /** The tokenizer step in front of the graph, for a text model (live monitoring profiles its input with it). */
  readonly textTokenizer: TextTokenizer | undefined;
  readonly #runtime: Runtime;
  readonly #batcher: DynamicBatcher;
  /** The text input of a graph that takes one string input (a text pipeline); undefined otherwise. */
  readonly #textInput: string | undefined;
  #retiring: Promise<void> | undefined;

  constructor(init: { name: string; version: string; columns?: string[]; source: string; runtime: Runtime; options: ServingOptions; metrics?: ServingMetrics; queuedElsewhere?: () => number }) {
    this.name = init.name;
    this.version = init.version;
    this.columns = init.columns;
    this.source = init.source;
    this.#runtime = init.runtime;
    this.signature = init.runtime.signature;
    this.textTokenizer = init.runtime instanceof TextRuntime ? init.runtime.tokenizer : undefined;
    const only = this.signature.inputs.length === 1 ? this.signature.inputs[0] : undefined;
    // A tokenizer model refuses an empty text in its tokenizer step; a graph with one string input does here.
    this.#textInput = !this.textTokenizer && only?.datatype === 'BYTES' ? only.name : undefined;
    const o = init.options;
    const batchSize = init.metrics?.batchSize.series({ model: init.name, version: init.version });
    this.#batcher = new DynamicBatcher(
      (inputs) => this.#runtime.run(inputs),
      {
        maxBatchSize: o.maxBatchSize,
        maxQueueDelayMicros: o.maxQueueDelayMicros,
        preferredBatchSizes: o.preferredBatchSizes,
        maxQueueSize: o.maxQueueSize,
        concurrency: o.concurrency,
        batchable: this.signature.batchable && o.maxBatchSize > 1,
        retryAfterSeconds: o.retryAfterSeconds,
        ragged: this.signature.inputs.some((i) => i.shape.slice(1).some((d) => d < 0)),
        overlap: o.executor === 'worker',
        ...(init.queuedElsewhere ? { queuedElsewhere: init.queuedElsewhere } : {}),
      },
      batchSize ? { onBatch: (rows) => batchSize.observe(rows) } : {},
    );
  }

  /** Requests waiting for a batch. */
  get queueDepth(): number {
    return this.#batcher.queueDepth;
  }

  /** Batches running. */
  get inFlight(): number {
    return this.#batcher.inFlight;
  }

  /** Throws OVERLOADED or UNAVAILABLE when a request would be refused right now. */
  assertAccepting(): void {
    const refusal = this.#batcher.refusal();
    if (refusal) throw refusal;
  }

  /** The error a request would be refused with right now (OVERLOADED, UNAVAILABLE), or undefined. */
  refusalNow(): Error | undefined {
    return this.#batcher.refusal();
  }

  /** Runs inputs (signature order) through the batcher. */
  infer(inputs: TensorData[], rows: number, deadlineMs: number): Promise<BatchResult> {
    let queued = inputs;
    if (this.#textInput !== undefined) {
      const texts = (inputs[0] as TensorData).data as string[];
      for (let i = 0; i < texts.length; i++) {
        if (!/\S/u.test(texts[i] as string)) return Promise.reject(new SlipwayError('INVALID_ARGUMENT', `Input '${this.#textInput}' element ${i} is empty (or only spaces); a text model needs some text.`));
      }
    }
    if (this.#runtime.prepare) {
      try {
        queued = this.#runtime.prepare(inputs);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    return this.#batcher.submit({ inputs: queued, rows, deadlineMs });
  }

  /** Stops accepting requests, waits for queued and running ones, then frees the session (never while a batch runs). */
  retire(): Promise<void> {
    this.#retiring ??= this.#batcher.drain().then(() => this.#runtime.release());
    return this.#retiring;
  }
}
