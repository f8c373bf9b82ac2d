/**
 * Triton-style dynamic batching for one model version. Requests wait in a bounded
 * FIFO queue; whenever a runner slot is free a batch is formed from the queue head
 * and sent at once if it is full (or reaches a preferred size) or the oldest request
 * has waited the maximum queue delay. With a delay of 0 a free slot takes whatever
 * is queued, so batches grow only while every slot is busy: low latency when idle,
 * large batches under load. Hand-written because no maintained Node library batches
 * typed tensors with deadlines and bounded queues.
 */
import { SlipwayError } from '../core/errors.js';
import { elementCount, type TensorData, type TensorValues } from './tensor-types.js';

/** Runs one batch; inputs and outputs in signature order, batch dimension first. */
export type BatchRunner = (inputs: TensorData[]) => Promise<TensorData[]>;

/** How a batcher forms batches and bounds its queue. */
export interface BatcherOptions {
  /** Largest batch in rows. */
  maxBatchSize: number;
  maxQueueDelayMicros: number;
  preferredBatchSizes: number[];
  /** Queued requests beyond which `submit` rejects with OVERLOADED. */
  maxQueueSize: number;
  /**
   * Requests queued for the same model by the other processes of one server (the workers of a
   * cluster), as they last said: they count toward `maxQueueSize`, so the server sheds on its
   * whole queue rather than on each process's.
   */
  queuedElsewhere?: () => number;
  /** Batches in flight at once. */
  concurrency: number;
  /** False for models whose batch dimension is fixed: each request runs alone. */
  batchable: boolean;
  retryAfterSeconds: number;
  /** True when requests may differ in non-batch dimensions (so only equal shapes share a batch). */
  ragged?: boolean;
  /**
   * True when the runner computes off the JavaScript thread (worker sessions): the next batch
   * then starts the moment one ends, before that one's answers are written, so the session
   * never waits for the HTTP thread. Inline runs block the thread anyway, and starting early
   * would only split what arrives next into smaller batches.
   */
  overlap?: boolean;
}

/** One request: its inputs (in signature order), its row count and its deadline. */
export interface BatchRequest {
  inputs: TensorData[];
  rows: number;
  deadlineMs: number;
}

/** What a request gets back. */
export interface BatchResult {
  outputs: TensorData[];
  /** Time spent queued, in ms. */
  queueMs: number;
  /** Rows in the batch the request ran in. */
  batchRows: number;
}

/** Observes formed batches (for metrics). */
export interface BatcherEvents {
  onBatch?(rows: number, requests: number): void;
}

interface Item {
  req: BatchRequest;
  key: string;
  enqueuedAt: number;
  /** performance.now() value past which the request is answered DEADLINE_EXCEEDED. */
  deadlineAt: number;
  state: 'queued' | 'running' | 'done';
  resolve(r: BatchResult): void;
  reject(e: Error): void;
}

/** A dynamic batcher in front of a runner. */
export class DynamicBatcher {
  readonly #run: BatchRunner;
  readonly #opts: BatcherOptions;
  readonly #events: BatcherEvents;
  readonly #minPreferred: number;
  #queue: Item[] = [];
  #head = 0;
  #queuedRows = 0;
  #queuedCount = 0;
  #running = 0;
  #runningRows = 0;
  #delayTimer: NodeJS.Timeout | undefined;
  // One timer per batcher for the earliest deadline, not one per request: a timer costs a
  // Timeout object and two timer-list updates, a noticeable share of a 1-row inference.
  #deadlineTimer: NodeJS.Timeout | undefined;
  #deadlineTimerAt = Infinity;
  readonly #runningBatches = new Set<Item[]>();
  #closed = false;
  #formScheduled = false;
  #batchMs = 0;
  #lastBatchRows = 0;
  #idle: Array<() => void> = [];

  constructor(run: BatchRunner, opts: BatcherOptions, events: BatcherEvents = {}) {
    this.#run = run;
    this.#opts = opts;
    this.#events = events;
    const preferred = opts.preferredBatchSizes.filter((p) => p <= opts.maxBatchSize);
    this.#minPreferred = preferred.length > 0 ? Math.min(...preferred) : Infinity;
  }

  /** Requests waiting to be batched. */
  get queueDepth(): number {
    return this.#queuedCount;
  }

  /** Batches being executed. */
  get inFlight(): number {
    return this.#running;
  }

  /** The error a request would get now (queue full or shutting down), so callers can refuse before decoding a body. */
  refusal(): SlipwayError | undefined {
    if (this.#closed) return new SlipwayError('UNAVAILABLE', 'The model version is shutting down.');
    if (this.#queuedCount >= this.#opts.maxQueueSize || (this.#opts.queuedElsewhere && this.#queuedCount + this.#opts.queuedElsewhere() >= this.#opts.maxQueueSize)) {
      return new SlipwayError('OVERLOADED', `The model's queue is full (${this.#opts.maxQueueSize} requests waiting); retry after ${this.#opts.retryAfterSeconds} s.`, {
        retryAfterSeconds: this.#opts.retryAfterSeconds,
      });
    }
    return undefined;
  }

  /** Queues a request; rejects with OVERLOADED when the queue is full, DEADLINE_EXCEEDED when its deadline passes. */
  submit(req: BatchRequest): Promise<BatchResult> {
    const refusal = this.refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise<BatchResult>((resolve, reject) => {
      const now = performance.now();
      const item: Item = {
        req,
        key: this.#opts.ragged ? req.inputs.map((t) => t.shape.slice(1).join('x')).join('|') : '',
        enqueuedAt: now,
        deadlineAt: now + req.deadlineMs,
        state: 'queued',
        resolve,
        reject,
      };
      this.#queue.push(item);
      this.#queuedCount++;
      this.#queuedRows += req.rows;
      if (item.deadlineAt < this.#deadlineTimerAt) this.#armDeadline(item.deadlineAt);
      this.#pump();
    });
  }

  /** Stops accepting requests and resolves when the queue is empty and no batch runs. */
  drain(): Promise<void> {
    this.#closed = true;
    if (this.#queuedCount === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #armDeadline(at: number): void {
    if (this.#deadlineTimer) clearTimeout(this.#deadlineTimer);
    this.#deadlineTimerAt = at;
    this.#deadlineTimer = setTimeout(() => this.#sweepDeadlines(), Math.max(1, Math.ceil(at - performance.now())));
  }

  /** Answers every queued or running request whose deadline has passed, then waits for the next one. */
  #sweepDeadlines(): void {
    this.#deadlineTimer = undefined;
    this.#deadlineTimerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const check = (item: Item) => {
      if (item.state === 'done') return;
      if (item.deadlineAt <= now) this.#expire(item);
      else if (item.deadlineAt < next) next = item.deadlineAt;
    };
    for (let i = this.#head; i < this.#queue.length; i++) check(this.#queue[i] as Item);
    for (const batch of this.#runningBatches) for (const item of batch) check(item);
    if (next !== Infinity) this.#armDeadline(next);
  }

  #expire(item: Item): void {
    if (item.state === 'done') return;
    const where = item.state === 'queued' ? 'while queued' : 'while running';
    if (item.state === 'queued') {
      this.#queuedCount--;
      this.#queuedRows -= item.req.rows;
    }
    item.state = 'done';
    item.reject(new SlipwayError('DEADLINE_EXCEEDED', `The request exceeded its deadline of ${item.req.deadlineMs} ms (${where}).`, { deadlineMs: item.req.deadlineMs }));
    this.#notifyIdle();
  }

  #pump(): void {
    if (this.#formScheduled || this.#running >= this.#opts.concurrency || this.#queuedCount === 0) return;
    // Batches are formed in the check phase, after the poll phase has read every request
    // that arrived in this turn of the event loop: they all join the same batch.
    this.#formScheduled = true;
    setImmediate(() => {
      this.#formScheduled = false;
      this.#form();
    });
  }

  #form(): void {
    while (this.#running < this.#opts.concurrency && this.#queuedCount > 0) {
      const oldest = this.#peek();
      if (this.#opts.batchable && this.#opts.maxBatchSize > 1) {
        const full = this.#queuedRows >= this.#opts.maxBatchSize || this.#queuedRows >= this.#minPreferred || this.#queuedRows >= this.#fairShare();
        const waitedMicros = (performance.now() - oldest.enqueuedAt) * 1000;
        const delay = Math.max(this.#opts.maxQueueDelayMicros, this.#adaptiveDelayMicros());
        if (!full && waitedMicros < delay) {
          this.#armDelay(delay - waitedMicros);
          return;
        }
      }
      this.#dispatch(this.#take());
    }
  }

  /**
   * Under load on a slow model, the clients of the last batch are about to send their next
   * rows: waiting up to a tenth of a batch's run time for them turns a trickle of small,
   * expensive batches into full ones. Idle (last batch one row) or fast models never wait.
   */
  #adaptiveDelayMicros(): number {
    if (this.#batchMs < 10 || this.#queuedRows * 2 > this.#lastBatchRows) return 0;
    return this.#batchMs * 100;
  }

  /**
   * With several sessions computing in parallel (worker executor), a batch takes at most an
   * even share of the rows in the server, split over one more batch than there are sessions.
   * Otherwise the first free session takes every waiting row and the others idle until those
   * clients come back; with the extra share, while every session computes, the clients of
   * one more batch are already sending their next rows, so a session that finishes finds a
   * batch waiting. A lone request still runs at once. This suits models whose cost per row
   * hardly depends on the batch size (convolutions, whose weights stay in the CPU caches);
   * large dense layers that stream their weights from memory once per batch run best on one
   * session with larger batches (measured in docs/benchmarks.md).
   */
  #fairShare(): number {
    if (!this.#opts.overlap || this.#opts.concurrency < 2) return Infinity;
    return Math.max(1, Math.ceil((this.#queuedRows + this.#runningRows) / (this.#opts.concurrency + 1)));
  }

  #armDelay(micros: number): void {
    if (this.#delayTimer) return;
    this.#delayTimer = setTimeout(() => {
      this.#delayTimer = undefined;
      this.#form();
    }, Math.max(1, Math.ceil(micros / 1000)));
  }

  #peek(): Item {
    while ((this.#queue[this.#head] as Item).state !== 'queued') this.#head++;
    return this.#queue[this.#head] as Item;
  }

  #take(): Item[] {
    const first = this.#peek();
    const batch: Item[] = [];
    let rows = 0;
    const target = this.#target();
    while (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head] as Item;
      if (item.state !== 'queued') {
        this.#head++;
        continue;
      }
      if (batch.length > 0 && (!this.#opts.batchable || rows + item.req.rows > target || item.key !== first.key)) break;
      this.#head++;
      batch.push(item);
      rows += item.req.rows;
      item.state = 'running';
      this.#queuedCount--;
      this.#queuedRows -= item.req.rows;
    }
    // Compact the consumed prefix now and then instead of shifting on every take.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return batch;
  }

  #target(): number {
    const max = Math.min(this.#opts.maxBatchSize, this.#fairShare());
    if (this.#queuedRows >= max) return max;
    let best = max;
    for (const p of this.#opts.preferredBatchSizes) if (p <= this.#queuedRows && p <= max) best = p;
    return best;
  }

  #dispatch(batch: Item[]): void {
    const started = performance.now();
    const rows = batch.reduce((n, it) => n + it.req.rows, 0);
    this.#running++;
    this.#runningRows += rows;
    this.#runningBatches.add(batch);
    this.#events.onBatch?.(rows, batch.length);
    const inputs = batch.length === 1 ? (batch[0] as Item).req.inputs : concatInputs(batch.map((it) => it.req.inputs));
    let released = false;
    // The slot is freed once, as soon as the batch ends; with `overlap` the next batch starts then.
    const release = () => {
      if (released) return;
      released = true;
      this.#running--;
      this.#runningRows -= rows;
      this.#runningBatches.delete(batch);
      if (this.#opts.overlap && this.#queuedCount > 0) this.#form();
    };
    this.#run(inputs).then(
      (outputs) => {
        // An exponentially weighted batch run time, for the adaptive wait.
        this.#batchMs = this.#batchMs === 0 ? performance.now() - started : 0.8 * this.#batchMs + 0.2 * (performance.now() - started);
        this.#lastBatchRows = rows;
        release();
        let offset = 0;
        for (const item of batch) {
          const r = item.req.rows;
          // A result that arrives after the deadline is a 504 whichever callback runs first
          // (the deadline timer cannot fire while a long batch holds the event loop).
          if (item.state === 'running' && performance.now() > item.deadlineAt) this.#expire(item);
          if (item.state === 'running') {
            const mine = batch.length === 1 ? outputs : splitOutputs(outputs, offset, r, rows);
            if (this.#finish(item)) item.resolve({ outputs: mine, queueMs: started - item.enqueuedAt, batchRows: rows });
          }
          offset += r;
        }
      },
      (err: unknown) => {
        release();
        for (const item of batch) if (this.#finish(item)) item.reject(err as Error);
      },
    ).catch((err: unknown) => {
      for (const item of batch) if (this.#finish(item)) item.reject(err as Error);
    }).finally(() => {
      release();
      this.#pump();
      this.#notifyIdle();
    });
  }

  /** Marks a request answered; false when it already was (timed out), so it is settled once. */
  #finish(item: Item): boolean {
    if (item.state === 'done') return false;
    item.state = 'done';
    return true;
  }

  #notifyIdle(): void {
    if (this.#queuedCount !== 0 || this.#running !== 0) return;
    // Nothing left to time out: an idle batcher holds no timer (and keeps no process alive).
    if (this.#deadlineTimer) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = undefined;
      this.#deadlineTimerAt = Infinity;
    }
    if (this.#idle.length === 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const w of waiters) w();
  }
}

function concatInputs(perItem: TensorData[][]): TensorData[] {
  const first = perItem[0] as TensorData[];
  return first.map((proto, i) => {
    let rows = 0;
    let total = 0;
    for (const inputs of perItem) {
      const t = inputs[i] as TensorData;
      rows += t.shape[0] as number;
      total += t.data.length;
    }
    const shape = [rows, ...proto.shape.slice(1)];
    if (Array.isArray(proto.data)) {
      return { datatype: proto.datatype, shape, data: perItem.flatMap((inputs) => (inputs[i] as TensorData).data as string[]) };
    }
    const Ctor = proto.data.constructor as new (n: number) => Exclude<TensorValues, string[]>;
    const out = new Ctor(total);
    let at = 0;
    for (const inputs of perItem) {
      const src = (inputs[i] as TensorData).data as never as ArrayLike<number> & ArrayLike<bigint>;
      (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(src, at);
      at += src.length;
    }
    return { datatype: proto.datatype, shape, data: out };
  });
}

function splitOutputs(outputs: TensorData[], offset: number, rows: number, batchRows: number): TensorData[] {
  return outputs.map((o) => {
    if (o.shape[0] !== batchRows) {
      throw new SlipwayError('INTERNAL', `The model returned ${o.shape[0]} rows for a batch of ${batchRows}; its outputs cannot be split per request.`);
    }
    const per = elementCount(o.shape.slice(1));
    const start = offset * per;
    const end = start + rows * per;
    const data = Array.isArray(o.data) ? o.data.slice(start, end) : o.data.subarray(start, end);
    return { datatype: o.datatype, shape: [rows, ...o.shape.slice(1)], data };
  });
}
