import { afterEach, describe, expect, it } from 'vitest';
import { DynamicBatcher } from '../../serving/batcher.js';
import { shareQueues, type QueueShare } from './queue-share.js';

/** Two workers' links joined by an in-memory relay, as the primary relays between processes. */
function pair() {
  const handlers = new Map<number, Map<string, (payload: unknown, from: number) => void>>();
  const link = (id: number) => ({
    publish: (topic: string, payload: unknown) => {
      for (const [other, topics] of handlers) if (other !== id) topics.get(topic)?.(structuredClone(payload), id);
    },
    subscribe: (topic: string, handler: (payload: unknown, from: number) => void) => {
      const topics = handlers.get(id) ?? new Map();
      topics.set(topic, handler);
      handlers.set(id, topics);
      return () => void topics.delete(topic);
    },
  });
  return [shareQueues(link(1)), shareQueues(link(2))] as const;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

describe('load shedding on the whole server queue', () => {
  it('counts the requests waiting in the other workers, and forgets a worker that fell silent', async () => {
    const [a, b]: readonly QueueShare[] = pair();
    let depthA: Record<string, number> = { cancer: 7 };
    stops.push(a!.report(() => depthA), b!.report(() => ({ cancer: 2 })));
    await sleep(50);
    expect(b!.queuedElsewhere('cancer')).toBe(7);
    expect(a!.queuedElsewhere('cancer')).toBe(2);
    expect(a!.queuedElsewhere('other')).toBe(0);
    depthA = { cancer: 0 };
    await sleep(50);
    expect(b!.queuedElsewhere('cancer')).toBe(0);
  });

  it('refuses a request once this worker and the others together hold maxQueueSize', async () => {
    let elsewhere = 3;
    const never = () => new Promise<never>(() => {});
    const batcher = new DynamicBatcher(never, { maxBatchSize: 1, maxQueueDelayMicros: 0, preferredBatchSizes: [], maxQueueSize: 4, concurrency: 1, batchable: false, retryAfterSeconds: 1, queuedElsewhere: () => elsewhere });
    // The first runs (concurrency 1), the second waits: with 3 waiting elsewhere the queue is full.
    const row = () => ({ inputs: [{ datatype: 'FP32' as const, shape: [1, 1], data: Float32Array.from([1]) }], rows: 1, deadlineMs: 60_000 });
    void batcher.submit(row()).catch(() => {});
    await sleep(5);
    void batcher.submit(row()).catch(() => {});
    expect(batcher.queueDepth).toBe(1);
    expect(batcher.refusal()?.code).toBe('OVERLOADED');
    elsewhere = 2;
    expect(batcher.refusal()).toBeUndefined();
  });
});
