/**
 * What a worker of `slipway server --workers N` shares with the other workers of its cluster, as the
 * server's plugins use it (ServerContext.cluster): the summed /metrics and cluster-wide readiness,
 * the atomic hot swap of served models, notices between workers (access caches, registry changes),
 * every worker's answer to a question (serving figures) and cluster-wide locks (one load test).
 */
import type { Registry } from 'prom-client';
import * as link from './worker-link.js';

/** A worker's view of its cluster. */
export interface ServerCluster {
  /** The Prometheus text of every worker's metrics summed. */
  metricsText(): Promise<string>;
  /** True when every worker is ready. */
  othersReady(): Promise<boolean>;
  /** ModelManager's swap gate: a new version serves in every worker at once, or in none. */
  swapGate(name: string, version: string): Promise<boolean>;
  /** Tells the others that this worker could not load a new version. */
  onSwapLoadFailed(name: string, version: string, reason: string): void;
  /** Tells the primary which version this worker serves as `name` now (undefined: none). */
  onServing(name: string, version: string | undefined): void;
  /** Tells every other worker `payload` on `topic`. */
  publish(topic: string, payload: unknown): void;
  /** Hears what other workers publish on `topic`; returns the unsubscribe. */
  subscribe(topic: string, handler: (payload: unknown, from: number) => void): () => void;
  /** Sets this worker's answer to `gather(topic)`. */
  answer(topic: string, fn: () => unknown): void;
  /** Every ready worker's answer to `topic`, this one's included, and how many workers did not answer. */
  gather(topic: string): Promise<{ values: unknown[]; missing: number }>;
  /** A lock one worker holds at a time: its release, or undefined when another worker holds it (with `waitMs`: once it is this worker's turn). */
  lock(name: string, opts?: { waitMs?: number }): Promise<(() => void) | undefined>;
}

/** Joins this worker process to its cluster; `registry` is what the primary sums into /metrics. */
export function joinServerCluster(registry: Registry): ServerCluster {
  link.joinClusterMetrics(registry);
  return {
    metricsText: link.clusterMetricsText,
    othersReady: link.clusterReady,
    swapGate: link.clusterSwapGate,
    onSwapLoadFailed: link.reportSwapLoadFailed,
    onServing: link.reportServing,
    publish: link.publish,
    subscribe: link.subscribe,
    answer: link.answer,
    gather: link.gather,
    lock: link.lock,
  };
}
