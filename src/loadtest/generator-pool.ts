/**
 * Runs a load across worker threads and merges what they measured: per-second HDR
 * histograms (added together) and counters. The parent thread only merges, so its
 * own work never delays a send.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { SlipwayError } from '../core/errors.js';
import { createArrivalClock } from './arrival-schedule.js';
import { errorKind, generatorWorkerMain, pickPayload, type WorkerDone, type WorkerJob, type WorkerSecond } from './generator-worker.js';

/** What the pool hands back after a run. */
export interface PoolOutcome {
  /** Histograms of latency in µs per second of the measured window (by completion time). */
  seconds: Map<number, { histogram: hdr.Histogram; completed: number; errors: number }>;
  total: hdr.Histogram;
  counters: Omit<WorkerDone, 'type'>;
  /** Epoch ms at which arrival 0 was due. */
  startAt: number;
  /** True when the run was stopped early through the abort signal. */
  stopped: boolean;
}

/** A snapshot the pool reports about once a second while running. */
export interface PoolProgress {
  elapsedMs: number;
  completed: number;
  errors: number;
  /** Responses in the last complete second. */
  lastSecondRate: number;
  /** p99 so far in milliseconds (NaN before the first response). */
  p99Ms: number;
}

const localRequire = createRequire(import.meta.url);

function workerSource(): string {
  // Function sources are self-contained; see generator-worker.ts.
  return [
    `const createArrivalClock = ${createArrivalClock.toString()};`,
    `const pickPayload = ${pickPayload.toString()};`,
    `const errorKind = ${errorKind.toString()};`,
    `const generatorWorkerMain = ${generatorWorkerMain.toString()};`,
    `const { workerData } = require('node:worker_threads');`,
    `generatorWorkerMain(workerData, { createArrivalClock, pickPayload, errorKind });`,
  ].join('\n');
}

/** Builds a latency histogram (µs): 3 significant digits for the whole run, 2 for each second of the time series (1 % resolution keeps an hour of seconds small). */
export function newLatencyHistogram(digits: 2 | 3 = 3): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: digits, bitBucketSize: 32, autoResize: true });
}

/** Splits `jobBase` across `workers` threads, runs them and merges their measurements. */
export async function runGeneratorPool(
  jobBase: Omit<WorkerJob, 'index' | 'workers' | 'modules'>,
  workers: number,
  onProgress?: (p: PoolProgress) => void,
  signal?: AbortSignal,
): Promise<PoolOutcome> {
  const modules = { undici: localRequire.resolve('undici'), hdr: localRequire.resolve('hdr-histogram-js'), workerThreads: 'node:worker_threads' };
  const source = workerSource();
  const seconds: PoolOutcome['seconds'] = new Map();
  const total = newLatencyHistogram();
  const counters: PoolOutcome['counters'] = { sent: 0, completed: 0, completedInWindow: 0, okInWindow: 0, errorsByStatus: {}, errorsByKind: {}, late: 0, dropped: 0, maxLateMs: 0, sumLagMs: 0, lagCount: 0 };
  let completed = 0;
  let errors = 0;

  const onSecond = (m: WorkerSecond): void => {
    const h = hdr.decodeFromCompressedBase64(m.histogram, 32);
    let s = seconds.get(m.second);
    if (!s) {
      s = { histogram: newLatencyHistogram(2), completed: 0, errors: 0 };
      seconds.set(m.second, s);
    }
    s.histogram.add(h);
    s.completed += m.completed;
    s.errors += m.errors;
    total.add(h);
    completed += m.completed;
    errors += m.errors;
  };
  const onDone = (m: WorkerDone): void => {
    counters.sent += m.sent;
    counters.completed += m.completed;
    counters.completedInWindow += m.completedInWindow;
    counters.okInWindow += m.okInWindow;
    counters.late += m.late;
    counters.dropped += m.dropped;
    counters.maxLateMs = Math.max(counters.maxLateMs, m.maxLateMs);
    counters.sumLagMs += m.sumLagMs;
    counters.lagCount += m.lagCount;
    for (const [k, v] of Object.entries(m.errorsByStatus)) counters.errorsByStatus[k] = (counters.errorsByStatus[k] ?? 0) + v;
    for (const [k, v] of Object.entries(m.errorsByKind)) counters.errorsByKind[k] = (counters.errorsByKind[k] ?? 0) + v;
  };

  const threads: Worker[] = [];
  let startAt = Number.POSITIVE_INFINITY;
  let ready = 0;
  const onReady = (): void => {
    ready += 1;
    if (ready < workers) return;
    // Every thread is loaded: give them a common start shortly ahead.
    startAt = Date.now() + 50;
    for (const t of threads) t.postMessage({ type: 'start', startAt });
  };
  const runs = Array.from({ length: workers }, (_, index) => {
    const share = Math.floor(jobBase.maxRequests / workers) + (index < jobBase.maxRequests % workers ? 1 : 0);
    const job: WorkerJob = { ...jobBase, index, workers, modules, maxRequests: share };
    return new Promise<void>((resolve, reject) => {
      const w = new Worker(source, { eval: true, workerData: job });
      threads.push(w);
      let finished = false;
      w.on('message', (m: WorkerSecond | WorkerDone | { type: 'ready' }) => {
        if (m.type === 'ready') onReady();
        else if (m.type === 'second') onSecond(m);
        else {
          onDone(m);
          finished = true;
          void w.terminate();
        }
      });
      w.on('error', (err) => reject(new SlipwayError('INTERNAL', `Load generator worker ${index} failed: ${err.message}`)));
      w.on('exit', () => (finished ? resolve() : reject(new SlipwayError('INTERNAL', `Load generator worker ${index} stopped before finishing.`))));
    });
  });

  let stopped = false;
  const onAbort = (): void => {
    stopped = true;
    for (const t of threads) t.postMessage({ type: 'stop' });
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let lastCompleted = 0;
  const progressTimer = onProgress
    ? setInterval(() => {
        if (!Number.isFinite(startAt)) return;
        onProgress({
          elapsedMs: Math.max(0, Date.now() - startAt),
          completed,
          errors,
          lastSecondRate: completed - lastCompleted,
          p99Ms: total.totalCount > 0 ? total.getValueAtPercentile(99) / 1000 : Number.NaN,
        });
        lastCompleted = completed;
      }, 1000)
    : undefined;
  try {
    await Promise.all(runs);
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    signal?.removeEventListener('abort', onAbort);
    for (const t of threads) void t.terminate();
  }
  return { seconds, total, counters, startAt, stopped };
}
