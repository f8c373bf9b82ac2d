import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayError } from '../../core/errors.js';
import { evaluateOnHoldout } from './evaluate.js';
import { checkMetricThresholds, parseMetricThreshold } from './thresholds.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);
const reference = JSON.parse(readFileSync(fixture('release/metric-reference.json'), 'utf8')) as {
  fixtures: Array<{ name: string; expected: Record<string, number | null>; confusion_matrix?: number[][] }>;
};
const manifest = JSON.parse(readFileSync(fixture('release/MANIFEST.json'), 'utf8')) as Record<string, { accuracy: number | null } & Record<string, unknown>>;

const CANCER = fixture('breast_cancer_holdout.csv');
const mlp = { onnxPath: fixture('breast_cancer_mlp.onnx'), version: '1' };
const good = { onnxPath: fixture('release/cancer_good.onnx'), version: '2' };

async function rejection(p: Promise<unknown>): Promise<SlipwayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SlipwayError);
  return err as SlipwayError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slipway-evaluation-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('evaluateOnHoldout against scikit-learn on the fixture models', () => {
  // The frameworks wrote their predictions with 5-6 significant digits and onnxruntime computes in float32,
  // so continuous metrics agree to 1e-5 (relative above 1); counts-based metrics must agree exactly.
  const COUNTED = new Set(['accuracy', 'balanced_accuracy', 'precision', 'recall', 'f1', 'precision_macro', 'recall_macro', 'f1_macro', 'precision_weighted', 'recall_weighted', 'f1_weighted', 'roc_auc']);

  it('scores the breast-cancer MLP on its holdout as sklearn scores its predictions', async () => {
    const result = await evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: mlp });
    const ref = reference.fixtures.find((f) => f.name.startsWith('breast_cancer_mlp'));
    expect(result.task).toBe('classification');
    expect(result.rows).toBe(171);
    for (const [metric, value] of Object.entries(ref?.expected ?? {})) {
      const ours = result.candidate.metrics[metric] as number;
      if (COUNTED.has(metric)) expect(ours, metric).toBe(value);
      else expect(Math.abs(ours - (value as number)), metric).toBeLessThan(1e-5 * Math.max(1, Math.abs(value as number)));
    }
    expect(result.candidate.confusionMatrix).toEqual(ref?.confusion_matrix);
    expect(result.candidate.classes).toEqual([0, 1]);
  });

  for (const file of ['diabetes_holdout.csv', 'diabetes_holdout.parquet']) {
    it(`takes the diabetes forest on ${file} for a regressor and scores it as sklearn does`, async () => {
      const result = await evaluateOnHoldout({ holdoutPath: fixture(file), label: 'target', candidate: { onnxPath: fixture('diabetes_forest.onnx'), version: '7' } });
      const ref = reference.fixtures.find((f) => f.name.startsWith('diabetes_forest'));
      expect(result.task).toBe('regression');
      expect(result.candidate.confusionMatrix).toBeUndefined();
      expect(Object.keys(result.candidate.metrics).sort()).toEqual(['mae', 'mape', 'max_error', 'mse', 'r2', 'rmse']);
      for (const [metric, value] of Object.entries(ref?.expected ?? {})) {
        expect(Math.abs((result.candidate.metrics[metric] as number) - (value as number)), metric).toBeLessThan(1e-5 * Math.max(1, Math.abs(value as number)));
      }
    });
  }

  it('reads a label output beside a probability matrix (multiclass, one-vs-rest ROC AUC)', async () => {
    const result = await evaluateOnHoldout({ holdoutPath: fixture('release/multiclass_holdout.csv'), label: 'label', candidate: { onnxPath: fixture('release/multiclass.onnx'), version: '3' } });
    const expected = manifest['multiclass.onnx'] as { accuracy: number; f1_macro: number; roc_auc: number; log_loss: number; confusion_matrix: number[][] };
    expect(result.task).toBe('classification');
    expect(result.candidate.metrics.accuracy).toBe(expected.accuracy);
    expect(result.candidate.metrics.f1_macro).toBeCloseTo(expected.f1_macro, 12);
    expect(result.candidate.metrics.roc_auc).toBeCloseTo(expected.roc_auc, 6);
    expect(result.candidate.metrics.log_loss).toBeCloseTo(expected.log_loss, 6);
    // Binary-only metrics have no meaning for three classes.
    expect(result.candidate.metrics.precision).toBeNull();
    expect(result.candidate.confusionMatrix).toEqual(expected.confusion_matrix);
    expect(result.candidate.classes).toEqual([0, 1, 2]);
  });

  it("reads a scikit-learn style classifier: class labels 10/20/30 and probabilities behind a ZipMap", async () => {
    const path = join(dir, 'labels-10-20-30.csv');
    const [header, ...lines] = readFileSync(fixture('release/multiclass_holdout.csv'), 'utf8').trim().split(/\r?\n/);
    await writeFile(path, [header, ...lines.map((l) => l.replace(/,(\d)$/, (_, c: string) => `,${(Number(c) + 1) * 10}`))].join('\n'));
    const result = await evaluateOnHoldout({ holdoutPath: path, label: 'label', candidate: { onnxPath: fixture('release/multiclass_zipmap.onnx'), version: '8' } });
    const expected = manifest['multiclass.onnx'] as { accuracy: number; roc_auc: number; log_loss: number; confusion_matrix: number[][] };
    expect(result.candidate.classes).toEqual([10, 20, 30]);
    expect(result.candidate.metrics.accuracy).toBe(expected.accuracy);
    expect(result.candidate.metrics.roc_auc).toBeCloseTo(expected.roc_auc, 6);
    expect(result.candidate.metrics.log_loss).toBeCloseTo(expected.log_loss, 6);
    expect(result.candidate.confusionMatrix).toEqual(expected.confusion_matrix);
  });
});

describe('candidate against champion', () => {
  it('evaluates both on the same rows and the thresholds tell the better model from the worse', async () => {
    const champion = mlp;
    const better = await evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: good, champion });
    expect(better.candidate.rows).toBe(better.champion?.rows);
    expect(better.candidate.metrics.accuracy).toBe(manifest['cancer_good.onnx']?.accuracy);
    expect(better.champion?.metrics.accuracy).toBe(manifest.champion?.accuracy);
    expect(better.champion?.version).toBe('1');
    const thresholds = ['accuracy >= champion - 0.02', 'f1 >= 0.95', 'log_loss <= champion * 1.5'].map(parseMetricThreshold);
    expect(checkMetricThresholds(thresholds, better).pass).toBe(true);

    const worse = await evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: { onnxPath: fixture('release/cancer_worse.onnx'), version: '3' }, champion });
    expect(worse.candidate.metrics.accuracy).toBe(manifest['cancer_worse.onnx']?.accuracy);
    expect((worse.champion?.metrics.accuracy as number) - (worse.candidate.metrics.accuracy as number)).toBeGreaterThanOrEqual(0.05);
    const verdict = checkMetricThresholds(thresholds, worse);
    expect(verdict.pass).toBe(false);
    expect(verdict.checks[0]?.reason).toMatch(/^accuracy 0\.678\d* < bound 0\.956\d* \(champion 0\.976\d* - 0\.02\)$/);
  });

  it('gives the slow model the same figures as the one it wraps', async () => {
    const fast = await evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: good });
    const slow = await evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: { onnxPath: fixture('release/cancer_slow.onnx'), version: '4' } });
    expect(slow.candidate.metrics).toEqual(fast.candidate.metrics);
  });

  it('reports progress per batch and honours the given feature columns', async () => {
    const seen: Array<[number, number]> = [];
    const features = readFileSync(CANCER, 'utf8').split('\n')[0]?.split(',').slice(0, 30) as string[];
    const result = await evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: { ...good, columns: features }, batchSize: 50, onProgress: (done, total) => seen.push([done, total]) });
    expect(seen).toEqual([
      [50, 171],
      [100, 171],
      [150, 171],
      [171, 171],
    ]);
    expect(result.candidate.metrics.accuracy).toBe(manifest['cancer_good.onnx']?.accuracy);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('release aborted'));
    await expect(evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: good, signal: controller.signal })).rejects.toThrow('release aborted');
  });
});

describe('refuses what it cannot evaluate, naming the column and file', () => {
  it('a model with a different input width', async () => {
    const err = await rejection(evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: { onnxPath: fixture('release/cancer_incompatible.onnx'), version: '5' } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('version 5');
    expect(err.message).toContain('[batch, 29]');
    expect(err.message).toContain('30 feature columns');
  });

  it('a missing label column', async () => {
    const err = await rejection(evaluateOnHoldout({ holdoutPath: CANCER, label: 'diagnosis', candidate: good }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain("'diagnosis'");
    expect(err.message).toContain(CANCER);
  });

  it('a missing feature column', async () => {
    const err = await rejection(evaluateOnHoldout({ holdoutPath: CANCER, label: 'target', candidate: { ...good, columns: ['mean_radius', 'mean_girth'] } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain("'mean_girth'");
    expect(err.message).toContain(CANCER);
  });

  it('a non-numeric feature column', async () => {
    const path = join(dir, 'text-feature.csv');
    await writeFile(path, 'a,b,target\n1,x,0\n2,y,1\n');
    const err = await rejection(evaluateOnHoldout({ holdoutPath: path, label: 'target', candidate: good }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain("Column 'b'");
    expect(err.message).toContain(path);
  });

  it('an empty holdout', async () => {
    const path = join(dir, 'header-only.csv');
    await writeFile(path, 'mean_radius,target\n');
    const err = await rejection(evaluateOnHoldout({ holdoutPath: path, label: 'target', candidate: good }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe(`The holdout ${path} has no rows.`);
  });

  it('non-integer labels on a classification task', async () => {
    const err = await rejection(evaluateOnHoldout({ holdoutPath: fixture('diabetes_holdout.csv'), label: 's5', task: 'classification', candidate: { onnxPath: fixture('diabetes_forest.onnx'), version: '6' } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain("'s5'");
  });
});
