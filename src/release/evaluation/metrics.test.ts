import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { binaryRocAuc, classificationEvaluation, classificationFromScores, predictedLabels, regressionEvaluation } from './metrics.js';

interface ReferenceCase {
  name: string;
  task: 'classification' | 'regression';
  y_true: number[];
  y_pred: number[];
  scores?: { columns: number; values: number[] };
  expected: Record<string, number | null>;
  confusion_matrix?: number[][];
  classes?: number[];
}

const reference = JSON.parse(readFileSync(new URL('../../../test/fixtures/release/metric-reference.json', import.meta.url), 'utf8')) as {
  cases: ReferenceCase[];
  fixtures: ReferenceCase[];
};

// 1e-9 absolute; for figures above 1 (an MSE, a MAPE over near-zero targets) 1e-9 of the figure.
function expectSklearn(name: string, metric: string, ours: number | null | undefined, sklearn: number | null): void {
  if (sklearn === null) {
    expect(ours, `${name}: ${metric}`).toBeNull();
    return;
  }
  expect(ours, `${name}: ${metric}`).not.toBeNull();
  expect(Math.abs((ours as number) - sklearn), `${name}: ${metric} ${ours} vs sklearn ${sklearn}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(sklearn)));
}

function check(c: ReferenceCase): void {
  if (c.task === 'regression') {
    const ours = regressionEvaluation(c.y_true, c.y_pred);
    for (const [metric, value] of Object.entries(c.expected)) expectSklearn(c.name, metric, ours[metric], value);
    return;
  }
  const scores = c.scores as { columns: number; values: number[] };
  expect(Array.from(predictedLabels(scores, c.y_true.length)), `${c.name}: predicted labels`).toEqual(c.y_pred);
  const ours = classificationEvaluation(c.y_true, c.y_pred, scores);
  for (const [metric, value] of Object.entries(c.expected)) expectSklearn(c.name, metric, ours.metrics[metric], value);
  expect(ours.classes).toEqual(c.classes);
  expect(ours.confusionMatrix).toEqual(c.confusion_matrix);
  // The same figures from the scores alone (one pass where labels are 0/1 and scores float32).
  const fromScores = classificationFromScores(c.y_true, scores);
  for (const [metric, value] of Object.entries(c.expected)) expectSklearn(`${c.name} (from scores)`, metric, fromScores.metrics[metric], value);
  expect(fromScores.confusionMatrix).toEqual(c.confusion_matrix);
  expect(fromScores.classes).toEqual(c.classes);
  if (scores.columns <= 2) {
    const f32 = { columns: scores.columns, values: Float32Array.from(scores.values) };
    const general = classificationEvaluation(c.y_true, predictedLabels(f32, c.y_true.length), f32);
    expect(classificationFromScores(c.y_true, f32), `${c.name}: float32 scores, one pass vs general`).toEqual(general);
  }
}

describe('metrics equal scikit-learn', () => {
  it('has binary, multiclass and regression reference cases', () => {
    const names = reference.cases.map((c) => c.name);
    expect(names.filter((n) => n.startsWith('binary')).length).toBeGreaterThan(4);
    expect(names.filter((n) => n.startsWith('multiclass')).length).toBeGreaterThan(4);
    expect(names.filter((n) => n.startsWith('regression')).length).toBeGreaterThan(3);
  });

  for (const c of reference.cases) it(c.name, () => check(c));

  for (const c of reference.fixtures) it(`${c.name} (the framework's own predictions)`, () => check(c));

  it('reports 0, not NaN, for precision of a class never predicted (sklearn zero_division)', () => {
    const ours = classificationEvaluation([0, 1, 1, 0], [0, 0, 0, 0]);
    expect(ours.metrics.precision).toBe(0);
    expect(ours.metrics.f1).toBe(0);
    expect(ours.metrics.roc_auc).toBeNull();
  });

  it('ranks float32 scores (the radix path) as a pairwise count does, negatives and signed zeros included', () => {
    const n = 2000;
    const y = Array.from({ length: n }, (_, i) => ((i * 37) % 7 < 3 ? 1 : 0));
    const s = Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 12.9898) * 3) * (i % 11 === 0 ? 0 : 1) * (i % 22 === 0 ? -1 : 1));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      if (y[i] !== 1) continue;
      for (let j = 0; j < n; j++) {
        if (y[j] !== 0) continue;
        pairs++;
        wins += (s[i] as number) > (s[j] as number) ? 1 : s[i] === s[j] ? 0.5 : 0;
      }
    }
    expect(binaryRocAuc(y, 1, Float32Array.from(s))).toBeCloseTo(wins / pairs, 12);
  });

  it('scores a million-row binary holdout with tied scores (ROC AUC of an uninformative ranking is 0.5)', () => {
    const n = 1_000_000;
    const y = new Float64Array(n);
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 3 === 0 ? 1 : 0;
      p[i] = ((i * 7919) % 1000) / 1000;
    }
    const ours = classificationEvaluation(y, predictedLabels({ columns: 1, values: p }, n), { columns: 1, values: p });
    // Scores cycle independently of labels' period, so the ranking carries no signal.
    expect(ours.metrics.roc_auc).toBeCloseTo(0.5, 2);
  });
});
