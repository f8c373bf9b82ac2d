/**
 * The explain service over real onnxruntime sessions: which output and class a classifier's
 * explanation covers by default and on request, and the short queue of explanations.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { zipMapClassifier } from '../../test/support/onnx-models.js';
import { mlpFile } from '../../test/support/serving.js';
import { profileTable, tableFromRows } from '../monitoring/index.js';
import { loadRuntime } from '../serving/model-runtime.js';
import { ExplainService, type ExplainedModel } from './explain-service.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-explain-service-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const columns = ['a', 'b', 'c', 'd'];
const reference = profileTable(tableFromRows(Array.from({ length: 200 }, (_, i) => ({ a: Math.sin(i), b: Math.cos(i), c: (i % 7) / 7, d: (i % 11) / 11 - 0.5 }))));
const body = (rows: number[][], parameters?: Record<string, unknown>) => ({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }], ...(parameters ? { parameters } : {}) });

async function modelOf(name: string, labels: string[]): Promise<ExplainedModel> {
  const path = join(dir, `${name}.onnx`);
  writeFileSync(path, zipMapClassifier({ labels }).onnx);
  const runtime = await loadRuntime(path, { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: false, executor: 'inline', concurrency: 1 });
  await runtime.release();
  return { name, version: '1', source: path, signature: runtime.signature, columns };
}

describe('ExplainService', () => {
  let service: ExplainService;
  let binary: ExplainedModel;
  let three: ExplainedModel;
  beforeAll(async () => {
    service = new ExplainService({ reference: async () => reference, options: { graphOptimizationLevel: 'all', nonFinite: 'reject' }, limits: { maxWaiting: 1, backgroundSize: 20 } });
    binary = await modelOf('binary', ['malignant', 'benign']);
    three = await modelOf('three', ['setosa', 'versicolor', 'virginica']);
  });
  afterAll(() => service.close());

  it("explains a binary classifier's positive-class probability by default, and another class on request", async () => {
    const row = [0.5, -0.2, 0.3, 0.1];
    const e = await service.explain(binary, body([row]));
    expect(e.output).toMatchObject({ name: 'output_probability', column: 1, class: 'benign' });
    expect(e.output.description).toMatch(/positive-class probability/);
    expect(e.features).toEqual(columns);
    const first = e.explanations[0] as (typeof e.explanations)[number];
    expect(Math.abs(first.attributions.reduce((s, a) => s + a.value, 0) - (first.prediction - e.baseline))).toBeLessThan(1e-6);
    const other = await service.explain(binary, body([row], { class: 'malignant' }));
    expect(other.output).toMatchObject({ column: 0, class: 'malignant' });
    expect(other.output.description).toMatch(/named by the request/);
    // The two probabilities sum to 1, so their attributions are opposite.
    other.explanations[0]?.attributions.forEach((a, j) => expect(a.value).toBeCloseTo(-(first.attributions[j]?.value as number), 6));
    await expect(service.explain(binary, body([row], { output: 'output_label' }))).rejects.toThrow(/'output_label' is INT64; explanations need a floating-point output \('output_probability'\)/);
  });

  it('asks which class of a three-class output to explain, by index or label', async () => {
    const row = [0.1, 0.2, 0.3, 0.4];
    await expect(service.explain(three, body([row]))).rejects.toThrow(/3 columns; name the one to explain with parameters\.class \(0 to 2 or a class label\)/);
    expect((await service.explain(three, body([row], { class: 'virginica' }))).output).toMatchObject({ column: 2, class: 'virginica' });
    expect((await service.explain(three, body([row], { class: 0 }))).output).toMatchObject({ column: 0, class: 'setosa' });
    await expect(service.explain(three, body([row], { class: 'rose' }))).rejects.toThrow(/Unknown class 'rose'.*'setosa', 'versicolor', 'virginica'/);
    await expect(service.explain(three, body([row], { class: 5 }))).rejects.toThrow(/Unknown class 5: output 'output_probability' has 3 columns/);
  });

  it('runs one explanation at a time, lets one wait and refuses more with OVERLOADED', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => [i / 20, 0, 0, 0]);
    const results = await Promise.allSettled([service.explain(binary, body(rows)), service.explain(binary, body(rows)), service.explain(binary, body(rows))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/waiting already; retry later/);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'OVERLOADED', details: { retryAfterSeconds: 1 } });
  });

  it("keeps KernelSHAP's regression of a 256-feature model within its bounds: a capped default budget, and a 400 naming the rows to send", async () => {
    const path = mlpFile([256, 1], { seed: 11 });
    const runtime = await loadRuntime(path, { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: false, executor: 'inline', concurrency: 1 });
    await runtime.release();
    const names = Array.from({ length: 256 }, (_, j) => `f${j}`);
    const wide: ExplainedModel = { name: 'wide', version: '1', source: path, signature: runtime.signature, columns: names };
    const wideReference = profileTable(tableFromRows(Array.from({ length: 60 }, (_, i) => Object.fromEntries(names.map((n, j) => [n, Math.sin(i * 7 + j)])))));
    const wideService = new ExplainService({ reference: async () => wideReference, options: { graphOptimizationLevel: 'all', nonFinite: 'reject' }, limits: { sampleBudget: 8192, backgroundSize: 2 } });
    try {
      const input = runtime.signature.inputs[0]?.name as string;
      const rows = (n: number) => ({ inputs: [{ name: input, datatype: 'FP32', shape: [n, 256], data: Array.from({ length: n * 256 }, (_, k) => Math.cos(k)) }] });
      // The configured default (8,192 coalitions) would hold the thread for about 0.2 s per row: 4,128 is the most a 256-feature row may use.
      const e = await wideService.explain(wide, rows(1));
      expect(e).toMatchObject({ method: 'kernel', coalitions: 4128 });
      await expect(wideService.explain(wide, { ...rows(1), parameters: { sample_budget: 8192 } })).rejects.toThrow('KernelSHAP over 256 features with 8192 coalitions costs 532684800 multiply-adds per row in its regression, above the limit of 268435456; send a parameters.sample_budget of at most 4128.');
      await expect(wideService.explain(wide, { ...rows(100), parameters: { sample_budget: 2048 } })).rejects.toThrow(/KernelSHAP over 100 rows of 256 features with 2048 coalitions costs 13317120000 multiply-adds in its regression, above the limit of 8589934592; send at most 64 rows, or a smaller parameters\.sample_budget\./);
    } finally {
      await wideService.close();
    }
  });
});
