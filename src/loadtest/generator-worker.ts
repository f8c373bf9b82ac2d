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
  helpers?: never;
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
  const { Pool } = load(job.modules.undici) as typeof import('undici');
  const hdr = load(job.modules.hdr) as typeof import('hdr-histogram-js');
  const { parentPort } = load(job.modules.workerThreads) as typeof import('node:worker_threads');
  const port = parentPort;
  if (!port) return;
  // Load and build everything first, then wait for the common start time so thread start-up never counts as lag.
  port.once('message', (m: { type: 'start'; startAt: number }) => run(m.startAt));
  port.postMessage({ type: 'ready' });

  function run(startAt: number): void {
  const port = parentPort as NonNullable<typeof parentPort>;

  const pool = new Pool(job.origin, {
    connections: job.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: job.timeoutMs,
    bodyTimeout: job.timeoutMs,
    connectTimeout: job.timeoutMs,
  });
  const bodies = job.bodies.map((b) => Buffer.from(b));
  const headers = job.headers;
  // performance.now() is per-thread; convert the shared epoch start into this thread's clock.
  const startPerf = startAt - performance.timeOrigin;
  const now = (): number => performance.now() - startPerf;

  const buckets = new Map<number, { h: import('hdr-histogram-js').Histogram; completed: number; errors: number }>();
  const bucket = (second: number) => {
    let b = buckets.get(second);
    if (!b) {
      b = { h: hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 'packed' }), completed: 0, errors: 0 };
      buckets.set(second, b);
    }
    return b;
  };
  const done: Omit<WorkerDone, 'type'> = { sent: 0, completed: 0, completedInWindow: 0, okInWindow: 0, errorsByStatus: {}, errorsByKind: {}, late: 0, dropped: 0, maxLateMs: 0 };
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
    }
  };
  const flushTimer = setInterval(() => flush(false), 250);

  const count = (map: Record<string, number>, key: string): void => {
    map[key] = (map[key] ?? 0) + 1;
  };

  // Sends request k; `measureFrom` is the time latency counts from (intended time in the open model).
  const send = (k: number, measureFrom: number, next?: () => void): void => {
    const measured = measureFrom >= job.warmupMs;
    inFlight += 1;
    done.sent += 1;
    let status = 0;
    let controller: { abort(reason: Error): void } | undefined;
    let timedOut = false;
    let settled = false;
    // Our own deadline, counted from when the request was due: undici's timers are coarse and start only once a socket is free.
    const timer = setTimeout(() => {
      timedOut = true;
      controller?.abort(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
    }, Math.max(0, measureFrom + job.timeoutMs - now()));
    const complete = (err: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== undefined && timedOut) err = Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' });
      inFlight -= 1;
      const end = now();
      if (measured) {
        const second = Math.floor((end - job.warmupMs) / 1000);
        const inWindow = end <= job.totalMs;
        if (err === undefined) {
          const b = bucket(second);
          b.h.recordValue(Math.max(1, Math.round((end - measureFrom) * 1000)));
          b.completed += 1;
          done.completed += 1;
          if (inWindow) done.completedInWindow += 1;
          if (status >= 400) {
            b.errors += 1;
            count(done.errorsByStatus, String(status));
            count(done.errorsByKind, 'http');
          } else if (inWindow) done.okInWindow += 1;
        } else {
          bucket(second).errors += 1;
          count(done.errorsByKind, helpers.errorKind(err));
        }
      }
      if (next) next();
      else if (inFlight === 0 && onIdle) onIdle();
    };
    const body = bodies.length > 0 ? bodies[helpers.pickPayload(k, bodies.length, job.seed)] : undefined;
    try {
      pool.dispatch(
        { origin: job.origin, path: job.path, method: job.method as 'POST', headers, body: body ?? null },
        {
          onRequestStart(c) {
            controller = c;
            if (timedOut) c.abort(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' }));
          },
          onResponseStart(_c, statusCode) {
            status = statusCode;
          },
          onResponseData() {},
          onResponseEnd() {
            complete(undefined);
          },
          onResponseError(_c, err) {
            complete(err);
          },
        },
      );
    } catch (err) {
      complete(err);
    }
  };

  const finish = (): void => {
    if (finished) return;
    finished = true;
    clearInterval(flushTimer);
    flush(true);
    const msg: WorkerDone = { type: 'done', ...done };
    port.postMessage(msg);
    void pool.destroy().catch(() => undefined);
  };
  const drain = (): void => {
    if (inFlight === 0) return finish();
    onIdle = finish;
    // In-flight requests get one timeout to answer; whatever is still open then is cut off.
    setTimeout(() => {
      if (!finished) {
        void pool.destroy().catch(() => undefined);
        setTimeout(finish, 50);
      }
    }, job.timeoutMs + 100).unref();
  };

  if (job.model.kind === 'open') {
    const arrivalAt = helpers.createArrivalClock(job.model.segments);
    let k = job.index;
    let due = arrivalAt(k);
    const tick = (): void => {
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
      // Timers fire up to ~1 ms late; sleep on a timer while far away, then yield-spin to the exact time.
      if (wait > 2) setTimeout(tick, wait - 1.5);
      else setImmediate(tick);
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
    const clientLoop = (client: number, iteration: number): void => {
      const t = now();
      if (t >= job.totalMs || done.sent >= job.maxRequests) {
        active -= 1;
        if (active === 0) drain();
        return;
      }
      send(iteration * clients + client, t, () => clientLoop(client, iteration + 1));
    };
    setTimeout(() => {
      for (const c of mine) clientLoop(c, 0);
    }, Math.max(0, -now()));
  }
  }
}
