/**
 * Target and prediction columns in reports: kept out of feature drift, and scored with
 * scikit-learn's metrics. Reference values come from scikit-learn 1.2.1 on the same
 * fixtures (run in test/fixtures):
 *   y = target column; p = breast_cancer_mlp_expected.csv p_benign; yp = (p >= 0.5).astype(int)
 *   accuracy_score(y, yp), precision_score(y, yp), recall_score(y, yp), f1_score(y, yp),
 *   roc_auc_score(y, p), log_loss(y, p), confusion_matrix(y, yp)
 *   diabetes: mean_absolute_error(y, p), sqrt(mean_squared_error(y, p)), r2_score(y, p)
 *     with p = diabetes_forest_expected.csv prediction
 *   strings: the *_score(..., average='macro') and confusion_matrix of ANIMALS_TRUE / ANIMALS_PRED below
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMonitorSpec } from '../quality/monitor-spec.js';
import { readTable } from '../readers/table-reader.js';
import { tableFromRows, type Table } from '../table.js';
import { buildReport } from './report-builder.js';
import { reportToHtml } from './report-html.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const NOW = new Date('2026-01-01T00:00:00Z');

/** `table` with the columns of `extra` appended (same rows). */
async function withColumns(table: Table, extraFile: string): Promise<Table> {
  const extra = await readTable(fixture(extraFile));
  expect(extra.rows).toBe(table.rows);
  return { ...table, columns: [...table.columns, ...extra.columns] };
}

const CANCER = { accuracy: 0.9766081871345029, precision: 0.9904761904761905, recall: 0.9719626168224299, f1: 0.9811320754716981, rocAuc: 0.9992698598130841, logLoss: 0.09423581062891462 };
const DIABETES = { mae: 44.38285563909774, rmse: 55.30060073593131, r2: 0.463891093689621 };
const ANIMALS_TRUE = ['cat', 'dog', 'bird', 'cat', 'dog', 'dog', 'bird', 'cat', 'cat', 'dog'];
const ANIMALS_PRED = ['cat', 'dog', 'cat', 'cat', 'bird', 'dog', 'bird', 'dog', 'cat', 'dog'];

function expectClose(actual: Record<string, unknown>, expected: Record<string, number>): void {
  for (const [k, v] of Object.entries(expected)) expect(actual[k], k).toBeCloseTo(v, 12);
}

describe('model performance in the report', () => {
  it('binary classification with probabilities: metrics and confusion matrix equal scikit-learn, threshold 0.5 stated', async () => {
    const reference = await readTable(fixture('breast_cancer_holdout.csv'));
    const current = await withColumns(await readTable(fixture('breast_cancer_holdout.csv')), 'breast_cancer_mlp_expected.csv');
    const spec = parseMonitorSpec({ target: 'target', prediction: 'p_benign' });
    const doc = buildReport({ table: reference }, { table: current }, { spec, now: NOW });
    const perf = doc.performance;
    expect(perf).toMatchObject({ task: 'classification', taskFrom: 'target', target: 'target', prediction: 'p_benign', reference: null });
    expect(perf?.current).toMatchObject({ rows: 171, missing: 0, average: 'binary', positiveLabel: '1', threshold: 0.5, confusionMatrix: { labels: ['0', '1'], counts: [[63, 1], [3, 104]] } });
    expectClose(perf?.current as unknown as Record<string, unknown>, CANCER);
    expect(perf?.notes.join(' ')).toMatch(/p_benign >= 0\.5/);
    expect(perf?.notes.join(' ')).toMatch(/reference data has no column p_benign/);
  });

  it('keeps the target and the prediction out of feature drift, reporting target drift apart', async () => {
    const reference = await readTable(fixture('breast_cancer_holdout.csv'));
    const current = await withColumns(await readTable(fixture('breast_cancer_holdout.csv')), 'breast_cancer_mlp_expected.csv');
    const doc = buildReport({ table: reference }, { table: current }, { spec: parseMonitorSpec({ target: 'target', prediction: 'p_benign' }), now: NOW });
    const features = doc.drift.columns.map((c) => c.column);
    expect(features).toHaveLength(30);
    expect(features).not.toContain('target');
    expect(features).not.toContain('p_benign');
    expect(doc.targetDrift).toMatchObject({ column: 'target', status: 'ok', test: 'z' });
    // The reference has no predictions: no prediction drift, and no "extra column" warning for it.
    expect(doc.predictionDrift).toBeNull();
    expect(doc.quality.tests.find((t) => t.name === 'extra columns')?.status).toBe('pass');
    expect(doc.columns.find((c) => c.name === 'target')?.role).toBe('target');
    expect(doc.status).toBe('pass');
  });

  it('regression on both sides: MAE, RMSE and R² equal scikit-learn', async () => {
    const labelled = await withColumns(await readTable(fixture('diabetes_holdout.csv')), 'diabetes_forest_expected.csv');
    const doc = buildReport({ table: labelled }, { table: await withColumns(await readTable(fixture('diabetes_holdout.csv')), 'diabetes_forest_expected.csv') }, { spec: parseMonitorSpec({ target: 'target', prediction: 'prediction' }), now: NOW });
    expect(doc.performance).toMatchObject({ task: 'regression', taskFrom: 'target', notes: [] });
    for (const side of [doc.performance?.reference, doc.performance?.current]) {
      expect(side).toMatchObject({ task: 'regression', rows: 133, missing: 0 });
      expectClose(side as unknown as Record<string, unknown>, DIABETES);
    }
    expect(doc.predictionDrift).toMatchObject({ column: 'prediction', status: 'ok' });
    expect(doc.drift.columns.some((c) => c.column === 'prediction' || c.column === 'target')).toBe(false);
  });

  it('string labels: macro-averaged metrics and a sorted confusion matrix equal scikit-learn; missing labels are left out', () => {
    const rows = ANIMALS_TRUE.map((t, i) => ({ x: i, label: t, predicted: ANIMALS_PRED[i] }));
    const t = tableFromRows([...rows, { x: 10, label: null, predicted: 'cat' }]);
    const doc = buildReport({ table: t }, { table: t }, { spec: parseMonitorSpec({ target: 'label', prediction: 'predicted' }), now: NOW });
    const cur = doc.performance?.current;
    expect(cur).toMatchObject({ task: 'classification', average: 'macro', rows: 10, missing: 1, threshold: null, rocAuc: null, confusionMatrix: { labels: ['bird', 'cat', 'dog'], counts: [[1, 1, 0], [0, 3, 1], [1, 0, 3]] } });
    expectClose(cur as unknown as Record<string, unknown>, { accuracy: 0.7, precision: 0.6666666666666666, recall: 0.6666666666666666, f1: 0.6666666666666666 });
  });

  it('the spec decides the task when asked, and a declared column that exists nowhere is an error', async () => {
    const t = tableFromRows(Array.from({ length: 20 }, (_, i) => ({ y: i % 3, yhat: (i + 1) % 3 })));
    const inferred = buildReport({ table: t }, { table: t }, { spec: parseMonitorSpec({ target: 'y', prediction: 'yhat' }), now: NOW });
    expect(inferred.performance?.task).toBe('classification');
    const forced = buildReport({ table: t }, { table: t }, { spec: parseMonitorSpec({ target: 'y', prediction: 'yhat', task: 'regression' }), now: NOW });
    expect(forced.performance).toMatchObject({ task: 'regression', taskFrom: 'spec' });
    expect(() => parseMonitorSpec({ task: 'ranking' })).toThrow(/task/);
    expect(() => buildReport({ table: t }, { table: t }, { spec: parseMonitorSpec({ target: 'label' }), now: NOW })).toThrow(/target column 'label' is in neither/);
  });
});

describe('HTML report readability', () => {
  it('shows a performance section with a confusion matrix when labels exist', async () => {
    const reference = await readTable(fixture('breast_cancer_holdout.csv'));
    const current = await withColumns(await readTable(fixture('breast_cancer_holdout.csv')), 'breast_cancer_mlp_expected.csv');
    const html = reportToHtml(buildReport({ table: reference }, { table: current }, { spec: parseMonitorSpec({ target: 'target', prediction: 'p_benign' }), now: NOW }));
    expect(html).toContain('<h2>Model performance</h2>');
    expect(html).toMatch(/<tr><td>accuracy<\/td><td>—<\/td><td>0\.97661<\/td><\/tr>/);
    expect(html).toMatch(/<caption>Confusion matrix, current<\/caption>.*<tr><th>0<\/th><td class="hit">63<\/td><td class="miss">1<\/td><\/tr><tr><th>1<\/th><td class="miss">3<\/td><td class="hit">104<\/td><\/tr>/s);
    expect(html).toContain('<h2>Target and prediction drift</h2>');
    // The feature drift tables name no target.
    const features = html.slice(html.indexOf('<h2>Feature drift'), html.indexOf('<h2>Data quality'));
    expect(features).not.toMatch(/<td>target<\/td>|<td>p_benign<\/td>/);
    expect(html).not.toMatch(/<script|https?:\/\/|<link |src=/);
  });

  it('puts each column distributions with axes in its drift row and collapses what passed', async () => {
    const doc = buildReport({ table: await readTable(fixture('breast_cancer_holdout.csv')) }, { table: await readTable(fixture('breast_cancer_drifted.csv')) }, { now: NOW });
    const html = reportToHtml(doc);
    const rows = html.match(/<tr class="(?:drift|ok|skipped)"><td>[^<]+<\/td>.*?<\/tr>/g) ?? [];
    expect(rows).toHaveLength(31);
    for (const row of rows) {
      const svg = /<svg [^]*?<\/svg>/.exec(row)?.[0] ?? '';
      expect(svg).toMatch(/<g class="axis x"><line [^>]+\/>.*<text [^>]*>[^<]+<\/text>.*>value<\/text><\/g>/);
      expect(svg).toMatch(/<g class="axis y"><line [^>]+\/>.*>0%<\/text>.*>share<\/text><\/g>/);
    }
    // Drifted columns stay open; the 28 others and the passing checks sit in collapsed <details>.
    const open = html.slice(0, html.indexOf('<details'));
    expect(open.match(/<tr class="drift">/g)).toHaveLength(3);
    expect(html).toMatch(/<details class="passed"><summary>28 columns without drift \(28 passed, 0 not tested\)<\/summary>/);
    const passing = doc.quality.tests.filter((t) => t.status === 'pass').length;
    expect(html).toContain(`<details class="passed"><summary>${passing} passing checks</summary>`);
    expect(html.slice(html.indexOf('<h2>Data quality'), html.indexOf(`${passing} passing checks`))).not.toMatch(/<tr class="pass">/);
  });
});
