/**
 * Load shedding on the whole server's queue when several worker processes serve the same models:
 * each worker tells the others how many requests wait in its batching queues (when that changes,
 * at most every 10 ms, and every 250 ms while any wait), and counts theirs toward the model's
 * `maxQueueSize` with its own. A worker's word older than a second no longer counts (it died, or
 * its queues emptied and it fell silent).
 */
import type { ServerCluster } from './server-cluster.js';

const TOPIC = 'serving.queue';
const REPORT_MS = 10;
const HEARTBEAT_MS = 250;
const STALE_MS = 1000;

/** What this worker knows of the other workers' queues. */
export interface QueueShare {
  /** Requests waiting for model `name` in the other workers, as they last said. */
  queuedElsewhere(name: string): number;
  /** Starts telling the others this worker's queue depths, read from `depths`; returns the stop. */
  report(depths: () => Record<string, number>): () => void;
}

/** Shares queue depths with the other workers of `cluster`. */
export function shareQueues(cluster: Pick<ServerCluster, 'publish' | 'subscribe'>): QueueShare {
  const others = new Map<number, { at: number; depths: Record<string, number> }>();
  const unsubscribe = cluster.subscribe(TOPIC, (payload, from) => {
    if (typeof payload !== 'object' || payload === null) return;
    others.set(from, { at: Date.now(), depths: payload as Record<string, number> });
  });
  return {
    queuedElsewhere(name) {
      const since = Date.now() - STALE_MS;
      let sum = 0;
      for (const o of others.values()) if (o.at >= since) sum += Number(o.depths[name] ?? 0) || 0;
      return sum;
    },
    report(depths) {
      let last = '';
      let sentAt = 0;
      const timer = setInterval(() => {
        const now = Date.now();
        const current = depths();
        const text = JSON.stringify(current);
        const waiting = Object.values(current).some((n) => n > 0);
        if (text === last && !(waiting && now - sentAt >= HEARTBEAT_MS)) return;
        last = text;
        sentAt = now;
        cluster.publish(TOPIC, current);
      }, REPORT_MS);
      timer.unref();
      return () => {
        clearInterval(timer);
        unsubscribe();
      };
    },
  };
}
