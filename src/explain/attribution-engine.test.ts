/**
 * Shapley values of real ONNX models on onnxruntime: closed forms for linear models (exact and
 * KernelSHAP), brute force over every feature ordering for a small ReLU network, and efficiency
 * (attributions sum to prediction - baseline) for the fixture forest and MLP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, mlpFile, readCsv } from '../../test/support/serving.js';
import { loadRuntime, type Runtime } from '../serving/model-runtime.js';
import type { TensorData } from '../serving/tensor-types.js';
import { explainRows, type RowScorer } from './attribution-engine.js';

const INLINE = { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: false, executor: 'inline', concurrency: 1 } as const;

const runtimes: Runtime[] = [];
async function open(path: string): Promise<{ runtime: Runtime; score: RowScorer; predict: (rows: number[][]) => Promise<number[]> }> {
  const runtime = await loadRuntime(path, INLINE);
  runtimes.push(runtime);
  const score: RowScorer = async (rows, count) => {
    const out = await runtime.run([{ datatype: 'FP32', shape: [count, rows.length / count], data: Float32Array.from(rows) }]);
    return (out[0] as TensorData).data as Float32Array;
  };
  const predict = async (rows: number[][]) => Array.from(await score(Float32Array.from(rows.flat()), rows.length));
  return { runtime, score, predict };
}
afterAll(async () => {
  for (const r of runtimes) await r.release();
});

/** Deterministic rows with values in [-2, 2). */
function rowsOf(count: number, width: number, seed: number): number[][] {
  let a = seed;
  const next = () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return (a / 2147483648) * 4 - 2;
  };
  return Array.from({ length: count }, () => Array.from({ length: width }, next));
}

/** The weights of a linear model, read back from the model itself: f(e_j) - f(0). */
async function linearWeights(predict: (rows: number[][]) => Promise<number[]>, width: number): Promise<number[]> {
  const zero = new Array<number>(width).fill(0);
  const units = Array.from({ length: width }, (_, j) => zero.map((_, i) => (i === j ? 1 : 0)));
  const [f0, ...fe] = await predict([zero, ...units]);
  return fe.map((v) => v - (f0 as number));
}

describe('exact Shapley values', () => {
  it('equal w_i (x_i - mean of the background) for a linear model, and sum to prediction - baseline', async () => {
    const { score, predict } = await open(mlpFile([10, 1], { seed: 7 }));
    const w = await linearWeights(predict, 10);
    const background = rowsOf(50, 10, 3);
    const rows = rowsOf(4, 10, 11);
    const result = await explainRows(rows, background, score);
    expect(result).toMatchObject({ method: 'exact', backgroundSize: 50, coalitions: 1022 });
    const means = Array.from({ length: 10 }, (_, j) => background.reduce((s, r) => s + (r[j] as number), 0) / background.length);
    result.rows.forEach((r, i) => {
      const x = rows[i] as number[];
      r.attributions.forEach((phi, j) => expect(phi).toBeCloseTo((w[j] as number) * ((x[j] as number) - (means[j] as number)), 4));
      const sum = r.attributions.reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - (r.prediction - result.baseline))).toBeLessThan(1e-6);
    });
  });

  it('match brute force over every feature ordering for a small ReLU network', async () => {
    const { score, predict } = await open(mlpFile([5, 8, 1], { seed: 3 }));
    const background = rowsOf(20, 5, 5);
    const x = (rowsOf(1, 5, 9)[0] as number[]).map((v) => v * 2);
    const result = await explainRows([x], background, score);
    // Brute force: average each feature's marginal contribution over all 5! orderings, with the
    // value of a coalition computed directly as the mean prediction over the background rows.
    const cache = new Map<string, number>();
    const value = async (set: Set<number>) => {
      const key = [...set].sort().join(',');
      if (!cache.has(key)) {
        const preds = await predict(background.map((b) => b.map((v, j) => (set.has(j) ? (x[j] as number) : v))));
        cache.set(key, preds.reduce((s, v) => s + v, 0) / preds.length);
      }
      return cache.get(key) as number;
    };
    const permutations = (items: number[]): number[][] => (items.length <= 1 ? [items] : items.flatMap((it, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((p) => [it, ...p])));
    const brute = new Array<number>(5).fill(0);
    const orders = permutations([0, 1, 2, 3, 4]);
    for (const order of orders) {
      const set = new Set<number>();
      for (const j of order) {
        const before = await value(set);
        set.add(j);
        brute[j] = (brute[j] as number) + ((await value(set)) - before) / orders.length;
      }
    }
    const phi = (result.rows[0] as { attributions: Float64Array }).attributions;
    brute.forEach((b, j) => expect(phi[j]).toBeCloseTo(b, 5));
    // The network is not additive: some coalition values differ from the linear fit, so this is not the linear case again.
    expect(Math.abs((await value(new Set([0, 1]))) - (await value(new Set([0]))) - (await value(new Set([1]))) + (await value(new Set())))).toBeGreaterThan(1e-4);
  });

  it('sum to prediction - baseline within 1e-6 for the 10-feature diabetes forest', async () => {
    const { score, predict } = await open(fixture('diabetes_forest.onnx'));
    const train = readCsv('diabetes_train.csv').rows.map((r) => r.slice(0, -1));
    const rows = readCsv('diabetes_holdout.csv').rows.slice(0, 3).map((r) => r.slice(0, -1));
    const result = await explainRows(rows, train.slice(0, 40), score);
    expect(result.method).toBe('exact');
    const predictions = await predict(rows);
    const meanBackground = (await predict(train.slice(0, 40))).reduce((s, v) => s + v, 0) / 40;
    expect(result.baseline).toBeCloseTo(meanBackground, 3);
    result.rows.forEach((r, i) => {
      expect(r.prediction).toBeCloseTo(predictions[i] as number, 4);
      const sum = r.attributions.reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - (r.prediction - result.baseline))).toBeLessThan(1e-6);
    });
    // A forest of the diabetes data leans on bmi (column 2) and s5 (column 8) more than on sex (column 1).
    const meanAbs = (j: number) => result.rows.reduce((s, r) => s + Math.abs(r.attributions[j] as number), 0);
    expect(Math.max(meanAbs(2), meanAbs(8))).toBeGreaterThan(meanAbs(1));
  });
});

describe('KernelSHAP beyond 12 features', () => {
  let linear: Awaited<ReturnType<typeof open>>;
  beforeAll(async () => {
    linear = await open(mlpFile([16, 1], { seed: 5 }));
  });

  it('recovers the closed form of a 16-feature linear model with the stated budget', async () => {
    const w = await linearWeights(linear.predict, 16);
    const background = rowsOf(30, 16, 21);
    const rows = rowsOf(2, 16, 23);
    const result = await explainRows(rows, background, linear.score, { sampleBudget: 512 });
    expect(result).toMatchObject({ method: 'kernel', coalitions: 512, backgroundSize: 30 });
    const means = Array.from({ length: 16 }, (_, j) => background.reduce((s, r) => s + (r[j] as number), 0) / background.length);
    result.rows.forEach((r, i) => {
      r.attributions.forEach((phi, j) => expect(phi).toBeCloseTo((w[j] as number) * (((rows[i] as number[])[j] as number) - (means[j] as number)), 3));
    });
  });

  it('keeps the sum exact for the 30-feature breast-cancer MLP, and is deterministic', async () => {
    const { score } = await open(fixture('breast_cancer_mlp.onnx'));
    const train = readCsv('breast_cancer_train.csv').rows.map((r) => r.slice(0, -1));
    const rows = readCsv('breast_cancer_holdout.csv').rows.slice(0, 2).map((r) => r.slice(0, -1));
    const first = await explainRows(rows, train.slice(0, 25), score, { sampleBudget: 256 });
    const again = await explainRows(rows, train.slice(0, 25), score, { sampleBudget: 256 });
    expect(first.method).toBe('kernel');
    expect(first.modelRows).toBe(25 + 2 + 2 * 256 * 25);
    first.rows.forEach((r, i) => {
      const sum = r.attributions.reduce((s, v) => s + v, 0);
      expect(Math.abs(sum - (r.prediction - first.baseline))).toBeLessThan(1e-6);
      expect(Array.from(r.attributions)).toEqual(Array.from((again.rows[i] as { attributions: Float64Array }).attributions));
    });
  });
});

describe('KernelSHAP against exact values of a nonlinear model', () => {
  it('comes within a few percent of the exact Shapley values of a 14-feature ReLU network with 2,048 coalitions', async () => {
    const { score } = await open(mlpFile([14, 16, 1], { seed: 9 }));
    const background = rowsOf(20, 14, 31);
    const rows = rowsOf(2, 14, 37).map((r) => r.map((v) => v * 1.5));
    const exact = await explainRows(rows, background, score, { maxExactFeatures: 14 });
    const kernel = await explainRows(rows, background, score, { sampleBudget: 2048 });
    expect(exact.method).toBe('exact');
    expect(kernel.method).toBe('kernel');
    exact.rows.forEach((r, i) => {
      const k = (kernel.rows[i] as { attributions: Float64Array }).attributions;
      const scale = Math.max(...r.attributions.map(Math.abs));
      const worst = Math.max(...r.attributions.map((phi, j) => Math.abs(phi - (k[j] as number))));
      expect(worst / scale).toBeLessThan(0.05);
    });
  });
});

describe('pacing', () => {
  it('awaits the pace hook before every chunk after the first and scores every coalition', async () => {
    const { score } = await open(mlpFile([10, 1], { seed: 7 }));
    let paced = 0;
    const result = await explainRows(rowsOf(2, 10, 1), rowsOf(10, 10, 2), score, { chunkRows: 1000, pace: async () => void paced++ });
    // 2 rows × 1022 coalitions × 10 background rows in chunks of 100 coalitions, after the head chunk.
    expect(result.modelRows).toBe(12 + 2 * 1022 * 10);
    expect(paced).toBe(Math.ceil((2 * 1022) / 100));
  });
});
