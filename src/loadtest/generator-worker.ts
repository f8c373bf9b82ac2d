/**
 * The load generator that runs inside each worker thread. Its source is embedded
 * into `new Worker(code, { eval: true })` (see generator-pool.ts) so the same code
 * runs from the TypeScript sources and from the built package; that is why every
 * function here is self-contained and loads its modules with `require` from
 * resolved paths instead of importing them.
 */
import type { RateSegment } from './arrival-schedule.js';

/** The share of a run one worker executes. */
export interface WorkerJob {
  index: number;
  workers: number;
  modules: { undici: string; hdr: string; workerThreads: string };
  origin: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  bodies: string[];
  /** Negative: payloads in order; otherwise the seed of a reproducible random pick. */
  seed: number;
  model: { kind: 'open'; segments: RateSegment[] } | { kind: 'closed'; clients: number };
  warmupMs: number;
  /** Warm-up plus measured duration. */
  totalMs: number;
  connections: number;
  timeoutMs: number;
  maxInFlight: number;
  lateToleranceMs: number;
  /** This worker's cap on requests sent (measured and warm-up). */
  maxRequests: number;
}

/** One closed second of measurements (by completion time, from the end of warm-up). */
export interface WorkerSecond {
  type: 'second';
  second: number;
  histogram: string;
  completed: number;
  errors: number;
}

/** A worker's final counters. */
export interface WorkerDone {
  type: 'done';
  sent: number;
  completed: number;
  completedInWindow: number;
  okInWindow: number;
  errorsByStatus: Record<string, number>;
  errorsByKind: Record<string, number>;
  late: number;
  dropped: number;
  maxLateMs: number;
  /** Sum of send lags (ms) over `lagCount` measured open-model sends. */
  sumLagMs: number;
  lagCount: number;
}

/** Picks the payload of request `k`: in order, or a reproducible pseudo-random pick from `seed`. */
export function pickPayload(k: number, count: number, seed: number): number {
  if (seed < 0) return k % count;
  // SplitMix32-style hash of (seed, k): the same request gets the same payload whatever the worker count.
  let x = (Math.imul(k, 0x9e3779b1) ^ Math.imul(seed + 1, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x % count;
}

/** Classifies a transport failure into a stable error kind. */
export function errorKind(err: unknown): string {
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return 'connection_reset';
  if (code === 'UND_ERR_ABORTED' || code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') return 'aborted';
  return 'transport';
}

/** Entry point of a generator worker: runs its share of the schedule and reports to the parent. */
export function generatorWorkerMain(job: WorkerJob, helpers: { createArrivalClock: typeof import('./arrival-schedule.js').createArrivalClock; pickPayload: typeof pickPayload; errorKind: typeof errorKind }): void {
  const load = require as NodeRequire;
  const { Client } = load(job.modules.undici) as typeof import('undici');
  const hdr = load(job.modules.hdr) as typeof import('hdr-histogram-js');
  const { parentPort } = load(job.modules.workerThreads) as typeof import('node:worker_threads');
  const port = parentPort;
  if (!port) return;
  // Load and build everything first, then wait for the common start time so thread start-up never counts as lag.
  let stopRequested = false;
  let stopNow: (() => void) | undefined;
  port.on('message', (m: { type: 'start'; startAt: number } | { type: 'stop' }) => {
    if (m.type === 'start') run(m.startAt);
    else {
      stopRequested = true;
      stopNow?.();
    }
  });
  warmUp(() => port.postMessage({ type: 'ready' }));

  // This thread's V8 isolate is new, so undici's request path (dispatch, the HTTP/1.1 writer,
  // the llhttp parser and its callbacks) starts out cold; at a low rate it would stay
  // interpreted for the whole run and add ~0.1 ms to every latency it measures (against a
  // bare loop whose code is warm). Before reporting ready, the same kind of request is
  // therefore sent to a throw-away node:http server on this thread's loopback, never to the
  // target, for at most WARM_MS. Any problem just ends the warm-up.
  function warmUp(then: () => void): void {
    const WARM_REQUESTS = 1000;
    const WARM_MS = 300;
    const http = load('node:http') as typeof import('node:http');
    let ended = false;
    let client: import('undici').Client | undefined;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    const end = (): void => {
      if (ended) return;
      ended = true;
      void client?.destroy().catch(() => undefined);
      server.close();
      then();
    };
    server.on('error', end);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address !== 'object') return end();
      client = new Client(`http://127.0.0.1:${address.port}`, { pipelining: 1 });
      const body = job.bodies.length > 0 ? Buffer.from(job.bodies[0] as string) : null;
      const opts: import('undici').Dispatcher.DispatchOptions = { path: job.path, method: job.method as 'POST', body };
      if (Object.keys(job.headers).length > 0) opts.headers = job.headers;
      const until = performance.now() + WARM_MS;
      let left = WARM_REQUESTS;
      const next = (): void => {
        if (ended) return;
        if (left <= 0 || performance.now() > until) return end();
        left -= 1;
        try {
          client?.dispatch(opts, handler);
        } catch {
          end();
        }
      };
      const handler = { onConnect: (): void => undefined, onHeaders: (): boolean => true, onData: (): boolean => true, onComplete: next, onError: end };
      next();
    });
  }

  function run(startAt: number): void {
  const port = parentPort as NonNullable<typeof parentPort>;

  // Our own set of keep-alive connections: an idle list and a FIFO of requests waiting for one.
  // undici's Pool scans its clients on every dispatch, which costs O(connections) per request.
  type HttpClient = import('undici').Client;
  const clientOptions = { pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: job.timeoutMs + 1000, bodyTimeout: job.timeoutMs + 1000, connectTimeout: job.timeoutMs };
  // A connection and the one request it carries (pipelining 1).
  type Slot = { client: HttpClient; req: InFlight | undefined };
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  let waiting: InFlight[] = [];
  let waitingHead = 0;
  const destroyClients = (): void => {
    for (const s of slots) void s.client.destroy().catch(() => undefined);
  };
  const bodies = job.bodies.map((b) => Buffer.from(b));
  const headers = job.headers;
  // performance.now() is per-thread; convert the shared epoch start into this thread's clock.
  const startPerf = startAt - performance.timeOrigin;
  const now = (): number => performance.now() - startPerf;
  // A stop request (Ctrl-C, an aborted API call) ends the schedule here; what was measured is kept.
  stopNow = () => {
    job.totalMs = Math.min(job.totalMs, Math.max(0, now()));
  };
  if (stopRequested) stopNow();

  type Bucket = { h: import('hdr-histogram-js').Histogram; completed: number; errors: number };
  const buckets = new Map<number, Bucket>();
  let lastSecond = Number.NaN;
  let lastBucket: Bucket | undefined;
  const bucket = (second: number): Bucket => {
    if (second === lastSecond && lastBucket) return lastBucket;
    let b = buckets.get(second);
    if (!b) {
      // 32-bit counters record fastest; the parent merges into compact histograms.
      b = { h: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 32, autoResize: true }), completed: 0, errors: 0 };
      buckets.set(second, b);
    }
    lastSecond = second;
    lastBucket = b;
    return b;
  };
  const done: Omit<WorkerDone, 'type'> = { sent: 0, completed: 0, completedInWindow: 0, okInWindow: 0, errorsByStatus: {}, errorsByKind: {}, late: 0, dropped: 0, maxLateMs: 0, sumLagMs: 0, lagCount: 0 };
  let inFlight = 0;
  let finished = false;
  let onIdle: (() => void) | undefined;

  const flush = (all: boolean): void => {
    const current = Math.floor((now() - job.warmupMs) / 1000);
    for (const [second, b] of [...buckets.entries()].sort((x, y) => x[0] - y[0])) {
      if (!all && second >= current) continue;
      const msg: WorkerSecond = { type: 'second', second, histogram: hdr.encodeIntoCompressedBase64(b.h), completed: b.completed, errors: b.errors };
      port.postMessage(msg);
      buckets.delete(second);
      if (second === lastSecond) lastBucket = undefined;
    }
  };
  const flushTimer = setInterval(() => flush(false), 250);

  const count = (map: Record<string, number>, key: string): void => {
    map[key] = (map[key] ?? 0) + 1;
  };
  const timeoutError = (): Error => Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' });

  // One in-flight request; also its undici dispatch handler (a class instance is cheaper than closures per request).
  class InFlight {
    status = 0;
    abort: ((reason: Error) => void) | undefined = undefined;
    timedOut = false;
    settled = false;
    slot: Slot | undefined = undefined;
    body: Buffer | null = null;
    readonly deadline: number;
    constructor(
      readonly measureFrom: number,
      // Closed model: the client this request belongs to and its iteration (-1 in the open model).
      readonly clientId: number,
      readonly iteration: number,
    ) {
      this.deadline = measureFrom + job.timeoutMs;
    }
    // undici's core handler interface: the newer controller-style one is adapted onto it
    // per request (an extra wrapper, controller and header parse each time).
    onConnect(abort: (reason: Error) => void): void {
      this.abort = abort;
      if (this.timedOut) abort(timeoutError());
    }
    onHeaders(statusCode: number): boolean {
      this.status = statusCode;
      return true;
    }
    onData(): boolean {
      return true;
    }
    onComplete(): void {
      complete(this, undefined);
    }
    onError(err: Error): void {
      complete(this, err);
    }
  }

  // Deadlines count from when a request was due. One sweep on a timer replaces a timer per
  // request: it checks the request on each connection and the head of the waiting FIFO (whose
  // deadlines grow in send order). undici's own timers are coarse and start only once a
  // socket is free, so they cannot measure this.
  const sweep = (): void => {
    const t = now();
    for (const slot of slots) {
      const r = slot.req;
      if (r && !r.timedOut && r.deadline <= t) {
        r.timedOut = true;
        r.abort?.(timeoutError());
      }
    }
    while (waitingHead < waiting.length) {
      const r = waiting[waitingHead] as InFlight;
      if (!r.settled) {
        if (r.deadline > t) break;
        r.timedOut = true;
        complete(r, timeoutError());
      }
      waitingHead += 1;
    }
  };
  const sweepTimer = setInterval(sweep, Math.min(100, Math.max(5, job.timeoutMs / 20)));

  let clientLoop: (client: number, iteration: number) => void = () => undefined;
  const complete = (r: InFlight, err: unknown): void => {
    if (r.settled) return;
    // The answer is in: read the clock before anything else runs (handing the connection to a
    // waiting request writes that request to the socket, which is not this request's latency).
    const end = now();
    r.settled = true;
    if (err !== undefined && r.timedOut) err = timeoutError();
    inFlight -= 1;
    if (r.slot) {
      const slot = r.slot;
      slot.req = undefined;
      release(slot);
    }
    if (r.measureFrom >= job.warmupMs) {
      const b = bucket(Math.floor((end - job.warmupMs) / 1000));
      const inWindow = end <= job.totalMs;
      if (err === undefined) {
        b.h.recordValue(Math.max(1, Math.round((end - r.measureFrom) * 1000)));
        b.completed += 1;
        done.completed += 1;
        if (inWindow) done.completedInWindow += 1;
        if (r.status >= 400) {
          b.errors += 1;
          count(done.errorsByStatus, String(r.status));
          count(done.errorsByKind, 'http');
        } else if (inWindow) done.okInWindow += 1;
      } else {
        b.errors += 1;
        count(done.errorsByKind, helpers.errorKind(err));
      }
    }
    if (r.clientId >= 0) clientLoop(r.clientId, r.iteration + 1);
    else if (inFlight === 0 && onIdle) onIdle();
  };

  const baseOptions: import('undici').Dispatcher.DispatchOptions = { path: job.path, method: job.method as 'POST', body: null };
  if (Object.keys(headers).length > 0) baseOptions.headers = headers;
  const dispatchOn = (slot: Slot, r: InFlight): void => {
    r.slot = slot;
    slot.req = r;
    const opts = r.body === null ? baseOptions : { ...baseOptions, body: r.body };
    try {
      slot.client.dispatch(opts, r as unknown as import('undici').Dispatcher.DispatchHandler);
    } catch (err) {
      complete(r, err);
    }
  };
  function release(slot: Slot): void {
    while (waitingHead < waiting.length) {
      const next = waiting[waitingHead] as InFlight;
      waiting[waitingHead] = undefined as unknown as InFlight;
      waitingHead += 1;
      if (!next.settled) return dispatchOn(slot, next);
    }
    if (waitingHead > 0) {
      waiting = [];
      waitingHead = 0;
    }
    idle.push(slot);
  }

  // Sends request k; `measureFrom` is the time latency counts from (the intended time in the open model).
  const send = (k: number, measureFrom: number, clientId = -1, iteration = 0): void => {
    inFlight += 1;
    done.sent += 1;
    const r = new InFlight(measureFrom, clientId, iteration);
    if (bodies.length > 0) r.body = bodies[helpers.pickPayload(k, bodies.length, job.seed)] as Buffer;
    let slot = idle.pop();
    if (!slot && slots.length < job.connections) {
      slot = { client: new Client(job.origin, clientOptions), req: undefined };
      slots.push(slot);
    }
    if (slot) dispatchOn(slot, r);
    else waiting.push(r);
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearInterval(flushTimer);
    clearInterval(sweepTimer);
    flush(true);
    const msg: WorkerDone = { type: 'done', ...done };
    port.postMessage(msg);
    destroyClients();
  };
  const drain = (): void => {
    if (inFlight === 0) return finish();
    onIdle = finish;
    // In-flight requests get one timeout to answer; whatever is still open then is cut off.
    setTimeout(() => {
      if (!finished) {
        destroyClients();
        setTimeout(finish, 50);
      }
    }, job.timeoutMs + 100).unref();
  };

  if (job.model.kind === 'open') {
    const arrivalAt = helpers.createArrivalClock(job.model.segments);
    let k = job.index;
    let due = arrivalAt(k);
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const SLEEP_MARGIN_MS = 0.3;
    const tick = (): void => {
      if (due >= job.totalMs) due = -1;
      const t = now();
      while (due >= 0 && due <= t) {
        if (done.sent >= job.maxRequests) {
          due = -1;
          break;
        }
        const lateMs = t - due;
        if (due >= job.warmupMs) {
          if (lateMs > job.lateToleranceMs) done.late += 1;
          if (lateMs > done.maxLateMs) done.maxLateMs = lateMs;
          done.sumLagMs += lateMs;
          done.lagCount += 1;
        }
        if (inFlight >= job.maxInFlight) {
          if (due >= job.warmupMs) {
            done.dropped += 1;
            count(done.errorsByKind, 'dropped');
          }
        } else send(k, due);
        k += job.workers;
        due = arrivalAt(k);
        if (due >= job.totalMs) due = -1;
      }
      if (due < 0) return drain();
      const wait = due - now();
      // Timers fire up to ~1 ms off, so a timer only brings the thread to ~1.5 ms before the
      // send. With nothing in flight (nothing to receive meanwhile) the thread then sleeps in
      // the kernel (Atomics.wait wakes ~0.1-0.2 ms late, hence the margin); the last stretch
      // is a yield-spin (setImmediate) so answers are still timed as they arrive. Spinning
      // the whole 1.5 ms slowed the round trip that followed: the generator measured a
      // median 93 µs more with it in paired runs on a 2-core machine (docs/benchmarks.md).
      // The price: on a busy machine the kernel sleep sometimes wakes late, which the send
      // lag reports.
      if (wait > 2) setTimeout(tick, wait - 1.5);
      else {
        if (inFlight === 0 && wait > SLEEP_MARGIN_MS) Atomics.wait(sleeper, 0, 0, wait - SLEEP_MARGIN_MS);
        setImmediate(tick);
      }
    };
    const first = (): void => {
      if (due < 0 || due >= job.totalMs) return drain();
      tick();
    };
    setTimeout(first, Math.max(0, due - now() - 1.5));
  } else {
    const mine: number[] = [];
    for (let c = job.index; c < job.model.clients; c += job.workers) mine.push(c);
    const clients = job.model.clients;
    let active = mine.length;
    if (active === 0) {
      setTimeout(finish, Math.max(0, job.totalMs - now()));
      return;
    }
    clientLoop = (client: number, iteration: number): void => {
      const t = now();
      if (t >= job.totalMs || done.sent >= job.maxRequests) {
        active -= 1;
        if (active === 0) drain();
        return;
      }
      send(iteration * clients + client, t, client, iteration);
    };
    setTimeout(() => {
      for (const c of mine) clientLoop(c, 0);
    }, Math.max(0, -now()));
  }
  }
}
