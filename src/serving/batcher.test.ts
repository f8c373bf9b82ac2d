import { describe, expect, it } from 'vitest';
import { DynamicBatcher, type BatcherOptions, type BatchRunner } from './batcher.js';
import type { TensorData } from './tensor-types.js';

const base: BatcherOptions = { maxBatchSize: 8, maxQueueDelayMicros: 0, preferredBatchSizes: [], maxQueueSize: 100, concurrency: 1, batchable: true, retryAfterSeconds: 2 };

/** A runner that doubles its input and finishes only when released, recording each batch's rows. */
function gatedRunner() {
  const batches: number[] = [];
  const gates: Array<() => void> = [];
  const run: BatchRunner = async (inputs) => {
    const x = inputs[0] as TensorData;
    batches.push(x.shape[0] as number);
    await new Promise<void>((r) => gates.push(r));
    const data = Float32Array.from(x.data as Float32Array, (v) => v * 2);
    return [{ datatype: 'FP32', shape: [x.shape[0] as number, 1], data }];
  };
  // Releases running batches until no new batch starts (batches form in the next check phase).
  const releaseAll = async () => {
    for (let quiet = 0; quiet < 3; ) {
      const gate = gates.shift();
      if (gate) {
        quiet = 0;
        gate();
      } else quiet++;
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
    }
  };
  return { run, batches, gates, releaseAll };
}

function rows(...values: number[]): { inputs: TensorData[]; rows: number; deadlineMs: number } {
  return { inputs: [{ datatype: 'FP32', shape: [values.length, 1], data: Float32Array.from(values) }], rows: values.length, deadlineMs: 10_000 };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('DynamicBatcher', () => {
  it('runs a lone request at once and batches what queues while the runner is busy, counting rows', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, base);
    const first = b.submit(rows(1));
    await tick();
    expect(g.batches).toEqual([1]);
    const queued = [b.submit(rows(2, 3, 4)), b.submit(rows(5)), b.submit(rows(6, 7, 8, 9)), b.submit(rows(10))];
    expect(b.queueDepth).toBe(4);
    await g.releaseAll();
    const results = await Promise.all([first, ...queued]);
    // 3 + 1 + 4 rows fill the batch of 8; the last request goes in the next one.
    expect(g.batches).toEqual([1, 8, 1]);
    expect(results.map((r) => Array.from(r.outputs[0]?.data as Float32Array))).toEqual([[2], [4, 6, 8], [10], [12, 14, 16, 18], [20]]);
    expect(results[1]?.batchRows).toBe(8);
  });

  it('waits up to the queue delay for more rows, and sends a preferred size at once', async () => {
    const g = gatedRunner();
    const delayed = new DynamicBatcher(g.run, { ...base, maxQueueDelayMicros: 30_000 });
    const a = delayed.submit(rows(1));
    const c = delayed.submit(rows(2));
    await tick();
    expect(g.batches).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(g.batches).toEqual([2]);
    await g.releaseAll();
    await Promise.all([a, c]);

    const p = gatedRunner();
    const preferred = new DynamicBatcher(p.run, { ...base, maxQueueDelayMicros: 10_000_000, preferredBatchSizes: [3] });
    const three = [preferred.submit(rows(1)), preferred.submit(rows(2)), preferred.submit(rows(3))];
    await tick();
    expect(p.batches).toEqual([3]);
    await p.releaseAll();
    await Promise.all(three);
  });

  it('under load on a slow model, waits briefly for the next rows instead of sending a trickle', async () => {
    const batches: number[] = [];
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const b = new DynamicBatcher(async (inputs) => {
      batches.push((inputs[0] as TensorData).shape[0] as number);
      await sleep(50);
      return inputs;
    }, base);
    await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((v) => b.submit(rows(v))));
    const first = b.submit(rows(9));
    await sleep(1);
    const rest = [10, 11, 12].map((v) => b.submit(rows(v)));
    await Promise.all([first, ...rest]);
    // Without the wait the lone row would have gone alone: [8, 1, 3].
    expect(batches).toEqual([8, 4]);
  });

  it('with an off-thread runner, starts the next batch before answering the one that ended', async () => {
    for (const overlap of [true, false]) {
      const g = gatedRunner();
      const b = new DynamicBatcher(g.run, { ...base, overlap });
      // How many batches had started when the first request got its answer.
      const first = b.submit(rows(1)).then(() => g.batches.length);
      await tick();
      const queued = [b.submit(rows(2)), b.submit(rows(3))];
      (g.gates.shift() as () => void)();
      expect(await first, `overlap ${overlap}`).toBe(overlap ? 2 : 1);
      await g.releaseAll();
      await Promise.all(queued);
      expect(g.batches).toEqual([1, 2]);
    }
  });

  it('with parallel off-thread sessions, splits waiting rows so that one batch is left ready for the next free session', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, { ...base, maxBatchSize: 64, concurrency: 2, overlap: true });
    const lone = b.submit(rows(0));
    await tick();
    // A lone request still runs at once.
    expect(g.batches).toEqual([1]);
    await g.releaseAll();
    await lone;
    g.batches.length = 0;
    const all = Array.from({ length: 30 }, (_, i) => b.submit(rows(i)));
    await tick();
    // 30 rows, 2 sessions: a third each, not all 30 to the first session while the second idles.
    expect(g.batches).toEqual([10, 10]);
    expect(b.queueDepth).toBe(10);
    await g.releaseAll();
    expect((await Promise.all(all)).map((r) => (r.outputs[0]?.data as Float32Array)[0])).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
  });

  it('never combines requests for a model whose batch dimension is fixed', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, { ...base, batchable: false, concurrency: 2 });
    const all = [1, 2, 3, 4].map((v) => b.submit(rows(v)));
    await tick();
    expect(b.inFlight).toBe(2);
    await g.releaseAll();
    await Promise.all(all);
    expect(g.batches).toEqual([1, 1, 1, 1]);
  });

  it('sheds load beyond the queue bound with OVERLOADED and Retry-After, then recovers', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, { ...base, maxQueueSize: 2 });
    const running = b.submit(rows(1));
    await tick();
    const accepted = [running, b.submit(rows(2)), b.submit(rows(3))];
    await expect(b.submit(rows(4))).rejects.toMatchObject({ code: 'OVERLOADED', details: { retryAfterSeconds: 2 } });
    await g.releaseAll();
    await Promise.all(accepted);
    const again = b.submit(rows(5));
    await g.releaseAll();
    expect(Array.from((await again).outputs[0]?.data as Float32Array)).toEqual([10]);
  });

  it('fails a request that outlives its deadline with 504 naming the deadline, and keeps serving others', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, base);
    const busy = b.submit(rows(1));
    await tick();
    const late = b.submit({ ...rows(2), deadlineMs: 20 });
    await expect(late).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: 'The request exceeded its deadline of 20 ms (while queued).' });
    expect(b.queueDepth).toBe(0);
    const next = b.submit(rows(3));
    await g.releaseAll();
    await g.releaseAll();
    expect(Array.from((await busy).outputs[0]?.data as Float32Array)).toEqual([2]);
    expect(Array.from((await next).outputs[0]?.data as Float32Array)).toEqual([6]);
    expect(g.batches).toEqual([1, 1]);
  });

  it('times out each request at its own deadline, queued or running, whatever order they came in', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, { ...base, maxBatchSize: 1 });
    const started = performance.now();
    const settledAt = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => ({ code: e.code, ms: performance.now() - started }));
    // Running (the runner never finishes on its own), then two queued: a long deadline first, a short one after it.
    const running = settledAt(b.submit({ ...rows(1), deadlineMs: 60 }));
    await tick();
    const long = b.submit({ ...rows(2), deadlineMs: 5_000 });
    const short = settledAt(b.submit({ ...rows(3), deadlineMs: 30 }));
    const shortResult = await short;
    expect(shortResult).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect((shortResult as { ms: number }).ms).toBeGreaterThanOrEqual(29);
    const runningResult = await running;
    expect(runningResult).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    expect((runningResult as { ms: number }).ms).toBeGreaterThanOrEqual(59);
    // The long one is still waiting and is served once the runner frees up.
    expect(b.queueDepth).toBe(1);
    await g.releaseAll();
    await g.releaseAll();
    expect(Array.from((await long).outputs[0]?.data as Float32Array)).toEqual([4]);
  });

  it('answers 504 when a batch that held the event loop past the deadline completes', async () => {
    // Inference runs on the JavaScript thread, so the deadline timer cannot fire during it.
    const blocking: BatchRunner = async (inputs) => {
      const until = performance.now() + 30;
      while (performance.now() < until);
      return inputs;
    };
    const b = new DynamicBatcher(blocking, base);
    await expect(b.submit({ ...rows(1), deadlineMs: 5 })).rejects.toMatchObject({
      code: 'DEADLINE_EXCEEDED',
      message: 'The request exceeded its deadline of 5 ms (while running).',
    });
    expect(Array.from((await b.submit(rows(4))).outputs[0]?.data as Float32Array)).toEqual([4]);
  });

  it('rejects every request of a failed batch and runs the next batch normally', async () => {
    let fail = true;
    const b = new DynamicBatcher(async (inputs) => {
      if (fail) {
        fail = false;
        throw new Error('model exploded');
      }
      return inputs;
    }, base);
    await expect(b.submit(rows(1))).rejects.toThrow('model exploded');
    expect(Array.from((await b.submit(rows(4))).outputs[0]?.data as Float32Array)).toEqual([4]);
  });

  it('drains: refuses new work and resolves once queued and running requests are answered', async () => {
    const g = gatedRunner();
    const b = new DynamicBatcher(g.run, base);
    const running = b.submit(rows(1));
    const queued = b.submit(rows(2));
    await tick();
    let drained = false;
    const drain = b.drain().then(() => (drained = true));
    await expect(b.submit(rows(3))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await tick();
    expect(drained).toBe(false);
    await g.releaseAll();
    await g.releaseAll();
    await drain;
    await expect(running).resolves.toBeDefined();
    await expect(queued).resolves.toBeDefined();
  });
});
