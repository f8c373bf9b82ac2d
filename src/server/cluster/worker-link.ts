/**
 * A worker process's side of a Slipway cluster (several processes answering on one port, see
 * supervisor.ts): it says when it is ready or why it failed, and asks the primary for what only
 * the whole cluster knows — /metrics summed over every worker, whether every worker is ready, every
 * worker's answer to a question (`gather`), a lock held by one worker at a time — and hears what the
 * other workers publish (a revoked token, a registry change, their queue depths).
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** Messages between the primary and its workers (JSON over the IPC channel). */
export type ClusterMessage =
  | { t: 'slipway:ready'; info: Record<string, unknown> }
  | { t: 'slipway:failed'; code: string; message: string }
  | { t: 'slipway:ask'; id: number; what: 'metrics' | 'ready' }
  | { t: 'slipway:ask'; id: number; what: 'gather'; topic: string }
  | { t: 'slipway:ask'; id: number; what: 'lock'; name: string; wait?: boolean }
  | { t: 'slipway:answer'; id: number; value?: unknown; error?: string }
  | { t: 'slipway:unlock'; name: string }
  | { t: 'slipway:publish'; topic: string; payload: unknown }
  | { t: 'slipway:published'; topic: string; payload: unknown; from: number }
  | { t: 'slipway:gather'; id: number; topic: string }
  | { t: 'slipway:gathered'; id: number; value?: unknown; error?: string }
  | { t: 'slipway:prepared'; name: string; version: string }
  | { t: 'slipway:serving'; name: string; version: string | null }
  | { t: 'slipway:load-failed'; name: string; version: string; reason: string }
  | { t: 'slipway:swap'; name: string; version: string; go: boolean };

/** True in a worker forked by the Slipway cluster supervisor. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env.SLIPWAY_CLUSTER_WORKER !== undefined;
}

/** How long a worker waits for the primary's answer. */
const ASK_TIMEOUT_MS = 5000;

let nextId = 0;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
/** Handlers of what other workers publish, by topic. */
const subscribers = new Map<string, Set<(payload: unknown, from: number) => void>>();
/** This worker's answers to the primary's `gather` questions, by topic. */
const answerers = new Map<string, () => unknown>();

/** Sends to the primary; false when the channel is gone (the worker is exiting). */
function sendToPrimary(msg: ClusterMessage): boolean {
  if (!process.send || !process.connected) return false;
  try {
    return process.send(msg);
  } catch {
    return false;
  }
}
let listening = false;
/** Set once this worker is exiting by itself (its channel closes then, too). */
let exitingOnPurpose = false;
process.once('exit', () => (exitingOnPurpose = true));

/** Swaps waiting for the primary's word, by model and version. */
const swaps = new Map<string, Array<(go: boolean) => void>>();
const swapKey = (name: string, version: string) => `${name}\u0000${version}`;

function listen(): void {
  if (listening) return;
  listening = true;
  // A primary that is gone (killed, crashed) cannot stop or replace this worker: it stops too, rather than serve alone.
  process.once('disconnect', () => {
    if (exitingOnPurpose) return;
    process.kill(process.pid, 'SIGTERM');
  });
  process.on('message', (msg: ClusterMessage) => {
    if (msg?.t === 'slipway:swap') {
      const key = swapKey(msg.name, msg.version);
      const waiting = swaps.get(key) ?? [];
      swaps.delete(key);
      for (const decide of waiting) decide(msg.go);
      return;
    }
    if (msg?.t === 'slipway:published') {
      for (const handler of subscribers.get(msg.topic) ?? []) {
        try {
          handler(msg.payload, msg.from);
        } catch {
          // One handler's failure is its own; the others still hear the message.
        }
      }
      return;
    }
    if (msg?.t === 'slipway:gather') {
      void answerGather(msg.id, msg.topic);
      return;
    }
    if (msg?.t !== 'slipway:answer') return;
    const p = pending.get(msg.id);
    if (!p) {
      const late = abandonedLocks.get(msg.id);
      abandonedLocks.delete(msg.id);
      if (late !== undefined && msg.value === true) sendToPrimary({ t: 'slipway:unlock', name: late });
      return;
    }
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined || msg.value === undefined) p.reject(new Error(msg.error ?? 'no answer'));
    else p.resolve(msg.value);
  });
}

async function answerGather(id: number, topic: string): Promise<void> {
  const answerer = answerers.get(topic);
  try {
    if (!answerer) throw new Error(`this worker has no answer for '${topic}'`);
    sendToPrimary({ t: 'slipway:gathered', id, value: await answerer() });
  } catch (err) {
    sendToPrimary({ t: 'slipway:gathered', id, error: err instanceof Error ? err.message : String(err) });
  }
}

type Question = { what: 'metrics' | 'ready' } | { what: 'gather'; topic: string } | { what: 'lock'; name: string; wait?: boolean };

/** Locks asked for and given up on (the wait timed out): granted later, they are handed straight back. */
const abandonedLocks = new Map<number, string>();

function ask(question: Question, timeoutMs = ASK_TIMEOUT_MS): Promise<unknown> {
  listen();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      if (question.what === 'lock') abandonedLocks.set(id, question.name);
      reject(new Error(`the cluster's primary process did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    pending.set(id, { resolve, reject, timer });
    if (!sendToPrimary({ t: 'slipway:ask', id, ...question } as ClusterMessage)) {
      clearTimeout(timer);
      pending.delete(id);
      reject(new Error("the cluster's primary process cannot be reached"));
    }
  });
}

/**
 * Joins the cluster's metrics: the primary reads this worker's `registry` when it sums the
 * workers' figures (prom-client's cluster aggregation: counters and histograms add up).
 */
export function joinClusterMetrics(registry: Registry): void {
  // Constructing an aggregator installs prom-client's worker-side listener; it reads the registries set here.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
}

/** The Prometheus text of every worker's metrics summed. */
export async function clusterMetricsText(): Promise<string> {
  return (await ask({ what: 'metrics' })) as string;
}

/** True when every worker of the cluster is ready (and the cluster is not shutting down). */
export async function clusterReady(): Promise<boolean> {
  return (await ask({ what: 'ready' }).catch(() => false)) === true;
}

/** Tells every other worker of the cluster `payload` on `topic` (fire and forget; order kept per sender). */
export function publish(topic: string, payload: unknown): void {
  listen();
  sendToPrimary({ t: 'slipway:publish', topic, payload });
}

/** Calls `handler` with what other workers publish on `topic`; returns the unsubscribe. */
export function subscribe(topic: string, handler: (payload: unknown, from: number) => void): () => void {
  listen();
  const set = subscribers.get(topic) ?? new Set();
  set.add(handler);
  subscribers.set(topic, set);
  return () => void set.delete(handler);
}

/** Sets this worker's answer to `gather(topic)` (a JSON-serialisable value). */
export function answer(topic: string, fn: () => unknown): void {
  listen();
  answerers.set(topic, fn);
}

/**
 * Every ready worker's answer to `topic` (this one's included), and how many of the cluster's
 * workers did not answer (they failed, were too slow, or were not ready).
 */
export async function gather(topic: string): Promise<{ values: unknown[]; missing: number }> {
  return (await ask({ what: 'gather', topic })) as { values: unknown[]; missing: number };
}

/**
 * Takes the cluster-wide lock `name`: resolves with its release, or undefined when another worker
 * holds it — or, with `waitMs`, once the workers ahead of this one (first come, first served) have
 * released it, rejecting when that takes longer. A worker that dies holding a lock releases it.
 * A worker holds a lock once: callers in one worker take turns among themselves first.
 */
export async function lock(name: string, opts: { waitMs?: number } = {}): Promise<(() => void) | undefined> {
  const got = (await (opts.waitMs !== undefined ? ask({ what: 'lock', name, wait: true }, opts.waitMs) : ask({ what: 'lock', name }))) === true;
  if (!got && opts.waitMs !== undefined) throw new Error(`the cluster lock '${name}' was not given`);
  if (!got) return undefined;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    sendToPrimary({ t: 'slipway:unlock', name });
  };
}

/** Tells the primary this worker serves, with what to print. */
export function reportReady(info: Record<string, unknown>): void {
  sendToPrimary({ t: 'slipway:ready', info });
}

/** Tells the primary why this worker could not start; resolves once the message is on its way. */
export function reportFailure(code: string, message: string): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send({ t: 'slipway:failed', code, message } satisfies ClusterMessage, undefined, {}, () => resolve());
  });
}

/**
 * The swap gate of a worker's models (ModelManager's `swapGate`): a new version serves once every
 * worker has it loaded, all at the primary's word, or nowhere when one of them could not load it.
 */
export function clusterSwapGate(name: string, version: string): Promise<boolean> {
  listen();
  return new Promise((resolve) => {
    const key = swapKey(name, version);
    swaps.set(key, [...(swaps.get(key) ?? []), resolve]);
    sendToPrimary({ t: 'slipway:prepared', name, version });
  });
}

/** Tells the primary which version this worker now serves as `name` (ModelManager's `onServing`; undefined once unloaded). */
export function reportServing(name: string, version: string | undefined): void {
  sendToPrimary({ t: 'slipway:serving', name, version: version ?? null });
}

/** Tells the primary this worker could not load a new version (ModelManager's `onSwapLoadFailed`). */
export function reportSwapLoadFailed(name: string, version: string, reason: string): void {
  sendToPrimary({ t: 'slipway:load-failed', name, version, reason });
}
