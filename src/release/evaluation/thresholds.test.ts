import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../../core/errors.js';
import type { EvaluationResult, ModelEvaluation } from './evaluate.js';
import { checkMetricThresholds, METRIC_NAMES, needsChampion, parseMetricThreshold } from './thresholds.js';

const model = (version: string, metrics: Record<string, number | null>): ModelEvaluation => ({ version, rows: 100, seconds: 0.01, rowsPerSecond: 10_000, metrics });
const classification = (candidate: Record<string, number | null>, champion?: Record<string, number | null>): EvaluationResult => ({
  task: 'classification',
  label: 'target',
  rows: 100,
  candidate: model('2', candidate),
  ...(champion ? { champion: model('1', champion) } : {}),
});

describe('parseMetricThreshold', () => {
  it('reads absolute and champion-relative thresholds', () => {
    expect(parseMetricThreshold('accuracy >= 0.9')).toEqual({ text: 'accuracy >= 0.9', metric: 'accuracy', comparison: '>=', relative: false, value: 0.9 });
    expect(parseMetricThreshold('accuracy >= champion - 0.02')).toEqual({ text: 'accuracy >= champion - 0.02', metric: 'accuracy', comparison: '>=', relative: true, op: '-', operand: 0.02 });
    expect(parseMetricThreshold('rmse<=champion*1.05')).toMatchObject({ metric: 'rmse', comparison: '<=', relative: true, op: '*', operand: 1.05 });
    expect(parseMetricThreshold('f1_macro > champion')).toEqual({ text: 'f1_macro > champion', metric: 'f1_macro', comparison: '>', relative: true });
    expect(parseMetricThreshold('log_loss < 1e-1')).toMatchObject({ comparison: '<', value: 0.1 });
  });

  it('names the known metrics when a threshold names an unknown one', () => {
    let err: unknown;
    try {
      parseMetricThreshold('auc >= 0.9');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SlipwayError);
    expect((err as SlipwayError).code).toBe('INVALID_ARGUMENT');
    expect((err as SlipwayError).message).toContain("Unknown metric 'auc'");
    for (const name of METRIC_NAMES) expect((err as SlipwayError).message).toContain(name);
  });

  it('refuses text that is not a threshold', () => {
    for (const text of ['accuracy', 'accuracy => 0.9', 'accuracy >= best', 'accuracy >= champion ^ 2', '']) {
      expect(() => parseMetricThreshold(text), text).toThrow(SlipwayError);
    }
  });

  it('tells which thresholds need a champion', () => {
    expect(needsChampion(['accuracy >= 0.9'].map(parseMetricThreshold))).toBe(false);
    expect(needsChampion(['accuracy >= 0.9', 'f1 > champion'].map(parseMetricThreshold))).toBe(true);
  });
});

describe('checkMetricThresholds', () => {
  it('explains a failure with the bound and where it came from', () => {
    const result = classification({ accuracy: 0.912, f1: 0.95 }, { accuracy: 0.951, f1: 0.94 });
    const verdict = checkMetricThresholds(['accuracy >= champion - 0.02', 'f1 > champion', 'accuracy >= 0.9'].map(parseMetricThreshold), result);
    expect(verdict.pass).toBe(false);
    expect(verdict.checks.map((c) => c.pass)).toEqual([false, true, true]);
    expect(verdict.checks[0]).toMatchObject({ threshold: 'accuracy >= champion - 0.02', metric: 'accuracy', candidate: 0.912, champion: 0.951 });
    expect(verdict.checks[0]?.bound).toBeCloseTo(0.931, 12);
    expect(verdict.checks[0]?.reason).toBe('accuracy 0.912 < bound 0.931 (champion 0.951 - 0.02)');
    expect(verdict.checks[1]?.reason).toBe('f1 0.95 > bound 0.94 (champion 0.94)');
    expect(verdict.checks[2]?.reason).toBe('accuracy 0.912 >= bound 0.9');
  });

  it('compares lower-is-better metrics with the champion scaled', () => {
    const result: EvaluationResult = { task: 'regression', label: 'y', rows: 10, candidate: model('2', { rmse: 10.4 }), champion: model('1', { rmse: 10 }) };
    const [pass, fail] = checkMetricThresholds(['rmse <= champion * 1.05', 'rmse < champion'].map(parseMetricThreshold), result).checks;
    expect(pass?.pass).toBe(true);
    expect(pass?.reason).toBe('rmse 10.4 <= bound 10.5 (champion 10 * 1.05)');
    expect(fail?.reason).toBe('rmse 10.4 >= bound 10 (champion 10)');
  });

  it('fails, without throwing, a metric of the other task, an undefined metric and a missing champion', () => {
    const result = classification({ accuracy: 0.9, roc_auc: null });
    const checks = checkMetricThresholds(['rmse <= 3', 'roc_auc >= 0.8', 'accuracy >= champion'].map(parseMetricThreshold), result).checks;
    expect(checks.map((c) => c.pass)).toEqual([false, false, false]);
    expect(checks[0]?.reason).toBe('rmse is a regression metric, but the holdout was evaluated as classification.');
    expect(checks[1]?.reason).toContain('roc_auc is undefined for candidate version 2');
    expect(checks[2]?.reason).toContain('no champion');
    const noChampionFigure = checkMetricThresholds([parseMetricThreshold('roc_auc >= champion')], classification({ roc_auc: 0.9 }, { roc_auc: null })).checks[0];
    expect(noChampionFigure?.pass).toBe(false);
    expect(noChampionFigure?.reason).toContain('undefined for champion version 1');
  });
});
