/**
 * One inference from decoded request to outputs, for both protocols: picks the
 * model version (the side of a traffic split, when one is active), decodes against
 * its signature, runs it through the batcher with the request's deadline, then
 * records metrics, tells live monitoring and, for a shadow split, mirrors it.
 */
import type { Clock } from '../core/clock.js';
import { isSlipwayError } from '../core/errors.js';
import type { TrafficRole } from '../core/traffic-split.js';
import type { InferenceObserver, InferenceRecord } from '../core/inference-record.js';
import type { Logger } from '../core/logger.js';
import type { BatchResult } from './batcher.js';
import type { LoadedModel } from './loaded-model.js';
import type { ModelManager } from './model-manager.js';
import type { ServingMetrics } from './serving-metrics.js';
import { isServerFault, type ActiveSplit, type TrafficSplitter } from './traffic-split.js';
import { elementCount, type TensorData } from './tensor-types.js';

/** What a protocol hands to the service. */
export interface InferenceCall<D extends { inputs: TensorData[]; rows: number; id?: string | undefined }> {
  model: string;
  version?: string;
  protocol: 'v2' | 'mlflow';
  requestId: string;
  /** Deadline override in ms (from a header); the configured deadline otherwise. */
  deadlineMs?: number;
  /** The value of the active split's sticky header (see `InferenceService.routingHeader`): pins the caller to one side. */
  routingKey?: string;
  decode(model: LoadedModel): D;
}

/** The result of an inference. */
export interface InferenceOutcome<D> {
  model: LoadedModel;
  decoded: D;
  outputs: TensorData[];
}

/** Runs inferences and reports them. */
export class InferenceService {
  readonly #manager: ModelManager;
  readonly #metrics: ServingMetrics | undefined;
  readonly #observers: InferenceObserver[];
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #traffic: TrafficSplitter | undefined;

  constructor(init: { manager: ModelManager; metrics?: ServingMetrics; observers: InferenceObserver[]; clock: Clock; logger: Logger; traffic?: TrafficSplitter }) {
    this.#manager = init.manager;
    this.#traffic = init.traffic;
    this.#metrics = init.metrics;
    this.#observers = init.observers;
    this.#clock = init.clock;
    this.#log = init.logger;
  }

  /** The request header whose value the routes pass as `routingKey` for `model`, while a sticky split is active on it. */
  routingHeader(model: string): string | undefined {
    return this.#traffic?.stickyHeader(model);
  }

  /**
   * Refuses at once when the model's queue is full (before the body is decoded), then
   * decodes, runs and reports one request; throws catalogued errors (counted by status).
   * A decoded `id` (the V2 request id) takes precedence over `call.requestId`.
   */
  infer<D extends { inputs: TensorData[]; rows: number; id?: string | undefined }>(call: InferenceCall<D>): Promise<InferenceOutcome<D>> {
    const arrived = this.#clock.now();
    const started = performance.now();
    // A loaded model is taken synchronously: one promise and one microtask less per request.
    if (this.#manager.isFirstLoading(call.model)) {
      return this.#manager.acquire(call.model, call.version).then(
        (model) => this.#run(call, model, arrived, started, undefined, undefined),
        (err: unknown) => this.#failed(call, '', err),
      );
    }
    const traffic = this.#traffic;
    const split = traffic?.splitOf(call.model);
    if (traffic && split) {
      let routed;
      try {
        routed = traffic.route(call.model, call.version, call.routingKey);
      } catch (err) {
        return this.#failed(call, '', err);
      }
      return this.#run(call, routed.model, arrived, started, split, routed.role);
    }
    let model: LoadedModel;
    try {
      model = this.#manager.get(call.model, call.version);
    } catch (err) {
      return this.#failed(call, '', err);
    }
    return this.#run(call, model, arrived, started, undefined, undefined);
  }

  // Promise callbacks rather than async/await: one promise and one microtask less per request.
  #run<D extends { inputs: TensorData[]; rows: number; id?: string | undefined }>(
    call: InferenceCall<D>,
    model: LoadedModel,
    arrived: number,
    started: number,
    split: ActiveSplit | undefined,
    role: TrafficRole | undefined,
  ): Promise<InferenceOutcome<D>> {
    const m = this.#metrics?.forVersion(call.model, model.version);
    m?.inFlight.inc();
    let decoded: D;
    let pending: Promise<BatchResult>;
    try {
      model.assertAccepting();
      decoded = call.decode(model);
      pending = model.infer(decoded.inputs, decoded.rows, call.deadlineMs ?? this.#manager.options.deadlineMs);
    } catch (err) {
      m?.inFlight.dec();
      if (split) this.#splitFailed(split, role, model.version, err);
      return this.#failed(call, model.version, err);
    }
    return pending.then(
      (result) => {
        try {
          const latencyMs = performance.now() - started;
          if (m) {
            m.ok[call.protocol].inc();
            m.latency.observe(latencyMs / 1000);
            m.queueTime.observe(result.queueMs / 1000);
          }
          const requestId = decoded.id ?? call.requestId;
          if (this.#observers.length > 0) this.#report(model, requestId, arrived, latencyMs, decoded, result.outputs, role);
          if (split) {
            const challenger = role === 'challenger';
            (challenger ? split.challengerSide : split.champion).ok(latencyMs, requestId, result.outputs[0], decoded.rows);
            (challenger ? split.challengerMetrics : split.championMetrics(model.version))?.ok(latencyMs / 1000);
            // Mirrored after the answer exists; the challenger's answer is compared, never returned.
            if (!challenger && split.mirrorThis()) this.#traffic?.mirror(split, requestId, decoded.inputs, decoded.rows, result.outputs);
          }
          return { model, decoded, outputs: result.outputs };
        } catch (err) {
          return this.#failed(call, model.version, err);
        } finally {
          m?.inFlight.dec();
        }
      },
      (err: unknown) => {
        m?.inFlight.dec();
        if (split) this.#splitFailed(split, role, model.version, err);
        return this.#failed(call, model.version, err);
      },
    );
  }

  /** Counts a failed request against its side of the split; only the server's and the model's faults are errors. */
  #splitFailed(split: ActiveSplit, role: TrafficRole | undefined, version: string, err: unknown): void {
    if (!isServerFault(err)) return;
    const challenger = role === 'challenger';
    const side = challenger ? split.challengerSide : split.champion;
    side.requests++;
    side.errors++;
    (challenger ? split.challengerMetrics : split.championMetrics(version))?.failed();
  }

  /** Counts a failed request by its status and rethrows (as a rejection). */
  #failed(call: { model: string; protocol: 'v2' | 'mlflow' }, version: string, err: unknown): Promise<never> {
    const status = isSlipwayError(err) ? err.status : 500;
    this.#metrics?.requests.inc({ model: call.model, version, protocol: call.protocol, status: String(status) });
    return Promise.reject(err as Error);
  }

  #report(model: LoadedModel, requestId: string, time: number, latencyMs: number, decoded: { inputs: TensorData[]; rows: number }, outputs: TensorData[], role: TrafficRole | undefined): void {
    const record: InferenceRecord = { model: model.name, version: model.version, requestId, time, latencyMs, rows: decoded.rows };
    if (role !== undefined) record.role = role;
    const input = decoded.inputs[0];
    if (decoded.inputs.length === 1 && input && input.shape.length === 2 && !Array.isArray(input.data) && !(input.data instanceof BigInt64Array) && !(input.data instanceof BigUint64Array)) {
      record.inputs = input.data as ArrayLike<number>;
      if (model.columns) record.columns = model.columns;
    }
    const tokenizer = model.textTokenizer;
    if (tokenizer && input && Array.isArray(input.data)) record.texts = { input: tokenizer.config.input, values: input.data, tokenizer };
    const out = outputs[0];
    if (out && !Array.isArray(out.data) && !(out.data instanceof BigInt64Array) && !(out.data instanceof BigUint64Array)) {
      record.outputs = out.data as ArrayLike<number>;
      record.outputWidth = elementCount(out.shape.slice(1));
    }
    for (const o of this.#observers) {
      try {
        o.observe(record);
      } catch (err) {
        this.#log.warn({ err }, 'serving: an inference observer threw');
      }
    }
  }
}
