/**
 * A worker process's side of a Slipway cluster (several processes answering on one port, see
 * supervisor.ts): it says when it is ready or why it failed, and asks the primary for what only
 * the whole cluster knows — /metrics summed over every worker, and whether every worker is ready.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

/** Messages between the primary and its workers (JSON over the IPC channel). */
export type ClusterMessage =
  | { t: 'slipway:ready'; info: Record<string, unknown> }
  | { t: 'slipway:failed'; code: string; message: string }
  | { t: 'slipway:ask'; id: number; what: 'metrics' | 'ready' }
  | { t: 'slipway:answer'; id: number; value?: string | boolean; error?: string }
  | { t: 'slipway:prepared'; name: string; version: string }
  | { t: 'slipway:load-failed'; name: string; version: string; reason: string }
  | { t: 'slipway:swap'; name: string; version: string; go: boolean };

/** True in a worker forked by the Slipway cluster supervisor. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env.SLIPWAY_CLUSTER_WORKER !== undefined;
}

/** How long a worker waits for the primary's answer. */
const ASK_TIMEOUT_MS = 5000;

let nextId = 0;
const pending = new Map<number, { resolve: (v: string | boolean) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
let listening = false;

/** Swaps waiting for the primary's word, by model and version. */
const swaps = new Map<string, Array<(go: boolean) => void>>();
const swapKey = (name: string, version: string) => `${name}\u0000${version}`;

function listen(): void {
  if (listening) return;
  listening = true;
  process.on('message', (msg: ClusterMessage) => {
    if (msg?.t === 'slipway:swap') {
      const key = swapKey(msg.name, msg.version);
      const waiting = swaps.get(key) ?? [];
      swaps.delete(key);
      for (const decide of waiting) decide(msg.go);
      return;
    }
    if (msg?.t !== 'slipway:answer') return;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined || msg.value === undefined) p.reject(new Error(msg.error ?? 'no answer'));
    else p.resolve(msg.value);
  });
}

function ask(what: 'metrics' | 'ready'): Promise<string | boolean> {
  listen();
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`the cluster's primary process did not answer within ${ASK_TIMEOUT_MS} ms`));
    }, ASK_TIMEOUT_MS);
    timer.unref();
    pending.set(id, { resolve, reject, timer });
    process.send?.({ t: 'slipway:ask', id, what } satisfies ClusterMessage);
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
  return (await ask('metrics')) as string;
}

/** True when every worker of the cluster is ready (and the cluster is not shutting down). */
export async function clusterReady(): Promise<boolean> {
  return (await ask('ready').catch(() => false)) === true;
}

/** Tells the primary this worker serves, with what to print. */
export function reportReady(info: Record<string, unknown>): void {
  process.send?.({ t: 'slipway:ready', info } satisfies ClusterMessage);
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
    process.send?.({ t: 'slipway:prepared', name, version } satisfies ClusterMessage);
  });
}

/** Tells the primary this worker could not load a new version (ModelManager's `onSwapLoadFailed`). */
export function reportSwapLoadFailed(name: string, version: string, reason: string): void {
  process.send?.({ t: 'slipway:load-failed', name, version, reason } satisfies ClusterMessage);
}
