/**
 * The worker executor: sessions in worker threads give the same answers as inline
 * inference, and a long batch no longer holds up the HTTP thread.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, holdout, maxRelativeError, mlpFile, servingApp, type ServingHarness } from './support/serving.js';

const cancer = holdout('breast_cancer');
const diabetes = holdout('diabetes');

describe('worker executor', () => {
  let h: ServingHarness;

  beforeAll(async () => {
    h = await servingApp({ executor: 'worker', concurrency: 2 });
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns);
    await h.manager.load('diabetes', fixture('diabetes_forest.onnx'), diabetes.columns);
    await h.manager.load('heavy', mlpFile([64, 1536, 1536, 10], { seed: 9 }));
  }, 60_000);
  afterAll(() => h?.close());

  const infer = (model: string, rows: number[][], name = 'features') =>
    h.app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: { inputs: [{ name, datatype: 'FP32', shape: [rows.length, rows[0]?.length ?? 0], data: rows }] } });

  it('matches the frameworks’ predictions, batched across requests', async () => {
    const whole = await infer('cancer', cancer.rows);
    expect(whole.statusCode).toBe(200);
    maxRelativeError(whole.json().outputs[0].data, cancer.expected);
    const replies = await Promise.all(diabetes.rows.map((r) => infer('diabetes', [r])));
    maxRelativeError(replies.map((r) => r.json().outputs[0].data[0] as number), diabetes.expected);
  });

  it('keeps answering health checks while a long batch runs', async () => {
    const rows = Array.from({ length: 1500 }, () => new Array(64).fill(0.5) as number[]);
    const long = infer('heavy', rows, 'x');
    await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    const health = await h.app.inject('/v2/health/live');
    const healthMs = performance.now() - started;
    const res = await long;
    expect(health.statusCode).toBe(200);
    expect(res.statusCode).toBe(200);
    expect(res.json().outputs[0].shape).toEqual([1500, 10]);
    // The health check did not wait for the batch.
    const batchMs = (await h.registry.getSingleMetricAsString('slipway_serving_request_duration_seconds')).match(/_sum\{model="heavy",version="1"\} ([\d.e-]+)/)?.[1];
    expect(healthMs).toBeLessThan(Number(batchMs) * 1000);
  });
});

describe('multi-threaded sessions, spinning or sleeping between operators', () => {
  for (const [executor, spinWait] of [['inline', false], ['inline', true], ['worker', false], ['worker', true]] as const) {
    it(`give the framework's predictions (${executor}, spinWait ${spinWait})`, async () => {
      const h = await servingApp({ executor, concurrency: 1, intraOpThreads: 2, spinWait });
      try {
        await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns);
        const res = await h.app.inject({ method: 'POST', url: '/v2/models/cancer/infer', payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [cancer.rows.length, 30], data: cancer.rows }] } });
        expect(res.statusCode).toBe(200);
        maxRelativeError(res.json().outputs[0].data, cancer.expected);
      } finally {
        await h.close();
      }
    });
  }
});
