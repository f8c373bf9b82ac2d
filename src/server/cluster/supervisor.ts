/**
 * Several worker processes answering on one port (node:cluster; the primary accepts connections
 * and hands them to the workers in turn), so HTTP parsing, validation, inference and answers use
 * every core, while the cluster stays one server from the outside:
 *
 * - the primary starts the workers and reports ready once every one of them is; a worker that
 *   fails to start fails the whole start with its error, and the others are stopped;
 * - `/metrics` on any worker answers the sum over all workers (prom-client's cluster aggregation);
 * - readiness on any worker means every worker is ready;
 * - SIGTERM or SIGINT drains every worker; a worker that dies otherwise is replaced (only the
 *   requests it held fail), with a growing pause when replacements keep dying.
 *
 * Processes rather than worker threads: Node 20 cannot share a listening socket between threads,
 * and a process per worker keeps one worker's crash from taking the others down.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { SlipwayError, type ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ClusterMessage } from './worker-link.js';

export interface ClusterOptions {
  workers: number;
  logger: Logger;
  /** Longest time a worker may take to say it is ready before the start fails. */
  startTimeoutMs: number;
  /** Longest graceful shutdown of the workers before they are killed. */
  shutdownTimeoutMs: number;
  /** Aborted while the workers start: the start stops (the workers are stopped) and rejects with a `StartStopped`. */
  signal?: AbortSignal;
}

/** The start was stopped on purpose (a signal) before every worker was ready. */
export class StartStopped extends Error {}

export interface RunningCluster {
  /** What the first ready worker reported (its address, the model and version it serves). */
  info: Record<string, unknown>;
  /** Process ids of the workers now. */
  pids(): number[];
  /** Drains every worker and resolves with the exit code once all have exited. */
  stop(): Promise<number>;
  /** Resolves with the exit code once the cluster has stopped (after `stop` or a signal). */
  stopped: Promise<number>;
}

/** How long the workers that loaded a new version wait for the others before the swap is called off. */
export const SWAP_TIMEOUT_MS = 120_000;

/**
 * Swaps a new version of a model in every worker at once, or in none: each worker loads and warms
 * it, says so (`prepared`) and waits; once every ready worker has it (or already serves it), all of
 * them are told to swap; if one could not load it, or not all have it within the timeout, all of
 * them drop it and the current version keeps serving everywhere.
 */
export interface SwapCoordinatorInit {
  /** The ids of the workers that are ready now. */
  ready: () => readonly number[];
  /** Tells a worker whether to swap `version` of `name` in. */
  send: (workerId: number, name: string, version: string, go: boolean) => void;
  logger: Logger;
  /** @default SWAP_TIMEOUT_MS */
  timeoutMs?: number;
}

export class SwapCoordinator {
  readonly #o: SwapCoordinatorInit;
  readonly #pending = new Map<string, { name: string; version: string; prepared: Set<number>; failed: string | undefined; timer: NodeJS.Timeout }>();
  /** What each worker said it serves when it became ready (a replacement may come up serving the new version already). */
  readonly #serving = new Map<number, Map<string, string>>();

  constructor(o: SwapCoordinatorInit) {
    this.#o = o;
  }

  /** A worker serves `version` of `name` now (it became ready, loaded or swapped it), or no longer serves `name` (undefined). */
  serving(workerId: number, name: string, version: string | undefined): void {
    const m = this.#serving.get(workerId) ?? new Map<string, string>();
    if (version === undefined) m.delete(name);
    else m.set(name, version);
    this.#serving.set(workerId, m);
    this.#settleAll();
  }

  prepared(workerId: number, name: string, version: string): void {
    // The alias moved on while another version was being gathered: that round is over (its workers load this one next).
    for (const other of [...this.#pending.values()]) {
      if (other.name !== name || other.version === version) continue;
      for (const w of other.prepared) this.#o.send(w, name, other.version, false);
      clearTimeout(other.timer);
      this.#pending.delete(`${name}\u0000${other.version}`);
    }
    const p = this.#entry(name, version);
    if (p.failed !== undefined) {
      this.#o.send(workerId, name, version, false);
      return;
    }
    p.prepared.add(workerId);
    this.#settle(p);
  }

  failed(workerId: number, name: string, version: string, reason: string): void {
    const p = this.#entry(name, version);
    if (p.failed !== undefined) return;
    p.failed = reason;
    this.#o.logger.warn({ model: name, version, pid: workerId, reason }, 'cluster: a worker could not load the new version; no worker swaps it in');
    for (const w of p.prepared) this.#o.send(w, name, version, false);
    p.prepared.clear();
  }

  /** A worker died or stopped: the others no longer wait for it. */
  gone(workerId: number): void {
    this.#serving.delete(workerId);
    this.#settleAll();
  }

  close(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }

  #entry(name: string, version: string) {
    const key = `${name}\u0000${version}`;
    let p = this.#pending.get(key);
    if (!p) {
      const timer = setTimeout(() => {
        const entry = this.#pending.get(key);
        if (!entry || entry.failed !== undefined) {
          this.#pending.delete(key);
          return;
        }
        this.#o.logger.warn({ model: name, version, prepared: entry.prepared.size }, 'cluster: not every worker loaded the new version in time; no worker swaps it in');
        for (const w of entry.prepared) this.#o.send(w, name, version, false);
        this.#pending.delete(key);
      }, this.#o.timeoutMs ?? SWAP_TIMEOUT_MS);
      timer.unref();
      p = { name, version, prepared: new Set<number>(), failed: undefined, timer };
      this.#pending.set(key, p);
    }
    return p;
  }

  #settleAll(): void {
    for (const p of [...this.#pending.values()]) this.#settle(p);
  }

  #settle(p: { name: string; version: string; prepared: Set<number>; failed: string | undefined; timer: NodeJS.Timeout }): void {
    if (p.failed !== undefined || p.prepared.size === 0) return;
    // A worker that does not serve the model (it never had a request for it) has nothing to swap: it loads whatever the alias names when asked.
    const has = (w: number) => p.prepared.has(w) || !this.#serving.get(w)?.has(p.name) || this.#serving.get(w)?.get(p.name) === p.version;
    if (!this.#o.ready().every(has)) return;
    for (const w of p.prepared) {
      this.#o.send(w, p.name, p.version, true);
      const m = this.#serving.get(w) ?? new Map<string, string>();
      m.set(p.name, p.version);
      this.#serving.set(w, m);
    }
    clearTimeout(p.timer);
    // Kept (failed-free) only until cleared: a late `prepared` for the same version starts a new round.
    this.#pending.delete(`${p.name}\u0000${p.version}`);
  }
}

/** Longest wait for the workers' answers to a gather; slower ones are left out of it. */
const GATHER_TIMEOUT_MS = 2000;

/** Replacements that die within this long of their start count as a crash loop. */
const CRASH_WINDOW_MS = 10_000;
/** Longest pause before starting a replacement in a crash loop. */
const MAX_RESTART_DELAY_MS = 5000;

/** Starts `workers` copies of this command as workers; resolves once every one is ready. */
export async function startCluster(opts: ClusterOptions): Promise<RunningCluster> {
  const { logger } = opts;
  const aggregator = new AggregatorRegistry();
  const ready = new Set<number>();
  const started = new Map<number, number>();
  let stopping: Promise<number> | undefined;
  let starting = true;
  let quickDeaths = 0;
  let firstInfo: Record<string, unknown> | undefined;
  let failStart: ((err: Error) => void) | undefined;
  let oneReady: (() => void) | undefined;
  let exitCode = 0;
  let resolveStopped: (code: number) => void = () => {};
  const stopped = new Promise<number>((r) => (resolveStopped = r));

  const tag = (w: Worker, index: number) => Object.assign(w, { slipwayIndex: index });
  const fork = (index: number): Worker => {
    const worker = cluster.fork({ SLIPWAY_CLUSTER_WORKER: String(index) });
    started.set(worker.id, Date.now());
    // A message to a worker whose channel closes as it exits must not end the primary.
    worker.on('error', (err) => logger.warn({ err, pid: worker.process.pid }, 'cluster: a message to a worker failed'));
    return worker;
  };
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());

  const swaps = new SwapCoordinator({
    ready: () => alive().filter((w) => ready.has(w.id)).map((w) => w.id),
    send: (id, name, version, go) => {
      const w = cluster.workers?.[id];
      if (w?.isConnected()) w.send({ t: 'slipway:swap', name, version, go } satisfies ClusterMessage);
    },
    logger,
  });

  cluster.on('message', (worker, msg: ClusterMessage) => {
    switch (msg?.t) {
      case 'slipway:prepared':
        swaps.prepared(worker.id, msg.name, msg.version);
        return;
      case 'slipway:serving':
        swaps.serving(worker.id, msg.name, msg.version ?? undefined);
        return;
      case 'slipway:load-failed':
        swaps.failed(worker.id, msg.name, msg.version, msg.reason);
        return;
      case 'slipway:ready':
        ready.add(worker.id);
        firstInfo ??= msg.info;
        if (typeof msg.info.name === 'string' && typeof msg.info.version === 'string') swaps.serving(worker.id, msg.info.name, msg.info.version);
        if (!starting) logger.info({ pid: worker.process.pid }, 'cluster: a replacement worker is ready');
        oneReady?.();
        return;
      case 'slipway:failed':
        // After the start, the worker exits by itself and is replaced (with growing pauses while that keeps failing).
        if (starting) failStart?.(new SlipwayError(msg.code as ErrorCode, msg.message));
        else logger.error({ pid: worker.process.pid, err: msg.message }, 'cluster: a replacement worker could not start');
        return;
      case 'slipway:ask':
        void answer(worker, msg);
        return;
      case 'slipway:publish':
        // Relayed to every other worker as it came (one sender's messages keep their order).
        for (const other of alive()) {
          if (other.id !== worker.id && other.isConnected()) other.send({ t: 'slipway:published', topic: msg.topic, payload: msg.payload, from: worker.id } satisfies ClusterMessage);
        }
        return;
      case 'slipway:gathered': {
        const g = gathers.get(msg.id);
        if (!g) return;
        if (msg.error === undefined) g.values.push(msg.value);
        g.waiting.delete(worker.id);
        if (g.waiting.size === 0) g.done();
        return;
      }
      case 'slipway:unlock':
        if (locks.get(msg.name) === worker.id) handOn(msg.name);
        return;
      default:
    }
  });

  /** Cluster-wide locks: name → the id of the worker holding it, and the workers waiting for it in turn. */
  const locks = new Map<string, number>();
  const lockQueues = new Map<string, Array<{ workerId: number; id: number }>>();
  /** Gives lock `name` to the next worker waiting for it that is still there, or frees it. */
  const handOn = (name: string) => {
    locks.delete(name);
    const queue = lockQueues.get(name) ?? [];
    for (let next = queue.shift(); next; next = queue.shift()) {
      const w = cluster.workers?.[next.workerId];
      if (!w || w.isDead() || !w.isConnected()) continue;
      locks.set(name, next.workerId);
      w.send({ t: 'slipway:answer', id: next.id, value: true } satisfies ClusterMessage);
      return;
    }
  };
  /** Gathers under way: the workers still to answer and what the others said. */
  const gathers = new Map<number, { waiting: Set<number>; values: unknown[]; done: () => void }>();
  let nextGather = 0;
  /** Every ready worker's answer to `topic`, and how many workers did not answer (failed, too slow, gone, or not ready). */
  const gather = (topic: string): Promise<{ values: unknown[]; missing: number }> =>
    new Promise((resolve) => {
      const id = nextGather++;
      const workers = alive().filter((w) => ready.has(w.id) && w.isConnected());
      const g = { waiting: new Set(workers.map((w) => w.id)), values: [] as unknown[], done: () => {} };
      const timer = setTimeout(() => g.done(), GATHER_TIMEOUT_MS);
      g.done = () => {
        clearTimeout(timer);
        gathers.delete(id);
        resolve({ values: g.values, missing: opts.workers - g.values.length });
      };
      gathers.set(id, g);
      if (workers.length === 0) return g.done();
      for (const w of workers) w.send({ t: 'slipway:gather', id, topic } satisfies ClusterMessage);
    });

  const answer = async (worker: Worker, msg: Extract<ClusterMessage, { t: 'slipway:ask' }>) => {
    const reply = (body: { value?: unknown; error?: string }) => {
      if (worker.isConnected()) worker.send({ t: 'slipway:answer', id: msg.id, ...body } satisfies ClusterMessage);
    };
    if (msg.what === 'lock') {
      const holder = locks.get(msg.name);
      const free = holder === undefined || !alive().some((w) => w.id === holder);
      if (free) {
        locks.set(msg.name, worker.id);
        reply({ value: true });
      } else if (msg.wait) {
        // Also behind itself: the lock it holds may be a grant it gave up waiting for and is handing back.
        lockQueues.set(msg.name, [...(lockQueues.get(msg.name) ?? []), { workerId: worker.id, id: msg.id }]);
      } else {
        reply({ value: false });
      }
      return;
    }
    if (msg.what === 'gather') {
      reply({ value: await gather(msg.topic) });
      return;
    }
    if (msg.what === 'ready') {
      const workers = alive();
      reply({ value: stopping === undefined && workers.length === opts.workers && workers.every((w) => ready.has(w.id)) });
      return;
    }
    try {
      reply({ value: await aggregator.clusterMetrics() });
    } catch (err) {
      reply({ error: err instanceof Error ? err.message : String(err) });
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    const startedAt = started.get(worker.id) ?? 0;
    ready.delete(worker.id);
    started.delete(worker.id);
    swaps.gone(worker.id);
    for (const [name, queue] of lockQueues) lockQueues.set(name, queue.filter((q) => q.workerId !== worker.id));
    for (const [name, holder] of [...locks]) if (holder === worker.id) handOn(name);
    for (const g of [...gathers.values()]) {
      g.waiting.delete(worker.id);
      if (g.waiting.size === 0) g.done();
    }
    const index = Number((worker as Worker & { slipwayIndex?: number }).slipwayIndex ?? 0);
    if (stopping !== undefined) {
      // A worker that could not drain cleanly makes the whole stop a failure.
      if (code !== 0 && code !== null) exitCode = 1;
      if (alive().length === 0) {
        swaps.close();
        resolveStopped(exitCode);
      }
      return;
    }
    if (starting) {
      failStart?.(new SlipwayError('INTERNAL', `A worker process exited (${signal ?? `code ${code}`}) before it was ready.`));
      return;
    }
    const lived = Date.now() - startedAt;
    quickDeaths = lived < CRASH_WINDOW_MS ? quickDeaths + 1 : 0;
    const delay = quickDeaths === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 100 * 2 ** quickDeaths);
    logger.warn({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'cluster: a worker died; starting another');
    // Not unref'd: with every worker gone, this timer is what keeps the primary alive to start them again.
    setTimeout(() => {
      if (stopping === undefined) tag(fork(index), index);
    }, delay);
  });


  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      const workers = alive();
      if (workers.length === 0) {
        resolveStopped(exitCode);
        return stopped;
      }
      for (const w of workers) w.process.kill('SIGTERM');
      const timer = setTimeout(() => {
        exitCode = 1;
        logger.warn({ timeoutMs: opts.shutdownTimeoutMs }, 'cluster: workers did not stop in time; killing them');
        for (const w of alive()) w.process.kill('SIGKILL');
      }, opts.shutdownTimeoutMs);
      timer.unref();
      const code = await stopped;
      clearTimeout(timer);
      return code;
    })();
    return stopping;
  };

  for (let i = 0; i < opts.workers; i++) tag(fork(i), i);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new SlipwayError('DEADLINE_EXCEEDED', `The workers were not ready within ${opts.startTimeoutMs} ms.`)), opts.startTimeoutMs);
      timer.unref();
      failStart = (err) => {
        clearTimeout(timer);
        reject(err);
      };
      oneReady = () => {
        if (ready.size < opts.workers) return;
        clearTimeout(timer);
        resolve();
      };
      const onAbort = () => failStart?.(new StartStopped('stopped before every worker was ready'));
      if (opts.signal?.aborted) onAbort();
      else opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  } catch (err) {
    // One worker's failure is the start's: the others stop before the error is reported. Stopped on purpose, the
    // workers that already serve drain what they took.
    stopping = Promise.resolve(1);
    const workers = alive();
    for (const w of workers) w.process.kill(err instanceof StartStopped ? 'SIGTERM' : 'SIGKILL');
    await Promise.all(workers.map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r())))));
    throw err;
  } finally {
    starting = false;
    failStart = undefined;
  }
  return { info: firstInfo ?? {}, pids: () => alive().map((w) => w.process.pid ?? 0), stop, stopped };
}

/**
 * Runs this process as the cluster's primary until the workers stop: starts them, calls `onReady`
 * once every one serves, and drains them all on SIGTERM or SIGINT (a signal during the start stops
 * the start; a second signal changes nothing). Resolves with the exit code.
 */
export async function runClusterPrimary(o: ClusterOptions & { onReady: (running: RunningCluster) => void }): Promise<number> {
  const started: { cluster?: RunningCluster } = {};
  let stopRequested = false;
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) return;
    stopRequested = true;
    o.logger.info({ signal }, 'cluster: draining every worker');
    if (started.cluster) void started.cluster.stop();
    else abort.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let running: RunningCluster;
  try {
    running = await startCluster({ ...o, signal: abort.signal });
  } catch (err) {
    // Stopped as asked before it served: nothing failed.
    if (err instanceof StartStopped) return 0;
    throw err;
  }
  started.cluster = running;
  o.onReady(running);
  return running.stopped;
}
