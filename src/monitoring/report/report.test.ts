import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { computeDrift } from '../drift/data-drift.js';
import { profileTable } from '../profile/dataset-profile.js';
import { parseMonitorSpec } from '../quality/monitor-spec.js';
import { readTable } from '../readers/table-reader.js';
import { tableFromRows } from '../table.js';
import { buildReport, reportToJson } from './report-builder.js';
import { reportToHtml } from './report-html.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
const NOW = new Date('2026-01-01T00:00:00Z');

describe('acceptance on the breast-cancer fixtures', () => {
  it('holdout vs drifted flags exactly mean_radius, worst_area and mean_texture on the defaults', async () => {
    const doc = buildReport({ table: await readTable(fixture('breast_cancer_holdout.csv')) }, { table: await readTable(fixture('breast_cancer_drifted.csv')) }, { now: NOW });
    const flagged = doc.drift.columns.filter((c) => c.drifted).map((c) => c.column);
    expect(flagged.sort()).toEqual(['mean_radius', 'mean_texture', 'worst_area']);
    // 171 reference rows: Evidently's choice is KS for these numerical columns.
    expect(doc.drift.columns.find((c) => c.column === 'mean_radius')?.test).toBe('ks');
    expect(doc.drift.drifted).toBe(false);
    // mean_texture ×0.7 puts 23 of 171 values below the reference minimum.
    expect(doc.quality.tests.find((t) => t.name === 'out of range' && t.column === 'mean_texture')).toMatchObject({ status: 'fail', value: 23 / 171 });
    // The drift table is sorted by severity: the three drifted columns come first.
    expect(doc.drift.columns.slice(0, 3).every((c) => c.drifted)).toBe(true);
  });

  it('holdout vs itself flags nothing and the suite passes', async () => {
    const t = await readTable(fixture('breast_cancer_holdout.csv'));
    const doc = buildReport({ table: t }, { table: await readTable(fixture('breast_cancer_holdout.csv')) }, { now: NOW });
    expect(doc.drift.driftedColumns).toBe(0);
    expect(doc.status).toBe('pass');
  });

  it('a stored reference profile gives the same verdicts as the raw reference', async () => {
    const ref = profileTable(await readTable(fixture('breast_cancer_holdout.csv')));
    const doc = buildReport({ profile: ref, source: 'ref.json' }, { table: await readTable(fixture('breast_cancer_drifted.csv')) }, { now: NOW });
    expect(doc.drift.columns.filter((c) => c.drifted).map((c) => c.column).sort()).toEqual(['mean_radius', 'mean_texture', 'worst_area']);
  });
});

describe('edge cases give defined results, never NaN', () => {
  const ref = tableFromRows(Array.from({ length: 50 }, (_, i) => ({ constant: 7, allMissing: null, num: i, color: ['red', 'blue'][i % 2] ?? null })));

  it('constant, all-missing and unseen categories', () => {
    const cur = tableFromRows(Array.from({ length: 40 }, (_, i) => ({ constant: 7, allMissing: null, num: i + 0.5, color: ['red', 'blue', 'green'][i % 3] ?? null })));
    const doc = buildReport({ table: ref }, { table: cur }, { now: NOW });
    const byCol = new Map(doc.drift.columns.map((c) => [c.column, c]));
    expect(byCol.get('constant')).toMatchObject({ status: 'ok', drifted: false, score: 1 });
    expect(byCol.get('allMissing')).toMatchObject({ status: 'skipped', drifted: false, note: 'no values in the reference' });
    expect(byCol.get('color')).toMatchObject({ test: 'chisquare', drifted: true, score: 0, statistic: null });
    expect(byCol.get('color')?.note).toMatch(/unseen in the reference: green/);
    expect(doc.quality.tests.find((t) => t.name === 'new categories')).toMatchObject({ status: 'fail' });
    expect(reportToJson(doc)).not.toMatch(/NaN|Infinity/);
  });

  it('a current set with no rows reports an error status for the suite', () => {
    const cur = tableFromRows([]);
    const doc = buildReport({ table: ref }, { table: { columns: ref.columns.map((c) => (c.type === 'number' ? { ...c, values: new Float64Array(0) } : { ...c, values: [] })), rows: 0 } }, { now: NOW });
    expect(cur.rows).toBe(0);
    expect(doc.status).toBe('error');
    expect(doc.quality.tests.find((t) => t.name === 'row count')?.message).toMatch(/no rows/);
    expect(doc.drift.columns.every((c) => c.status === 'skipped')).toBe(true);
    expect(reportToJson(doc)).not.toMatch(/NaN/);
  });

  it('non-numeric values in a numerical column fail the kind test, naming the value', () => {
    const cur = tableFromRows(Array.from({ length: 10 }, (_, i) => ({ constant: 7, allMissing: null, num: i === 3 ? 'n/a-ish' : String(i), color: 'red' })));
    const doc = buildReport({ table: ref }, { table: cur }, { now: NOW });
    const t = doc.quality.tests.find((x) => x.name === 'column kind' && x.column === 'num');
    expect(t).toMatchObject({ status: 'fail', value: 1 });
    expect(t?.message).toMatch(/first 'n\/a-ish' at data row 4/);
  });

  it('missing and extra columns are schema failures and warnings', () => {
    const cur = tableFromRows([{ num: 1, extra: 2 }]);
    const doc = buildReport({ table: ref }, { table: cur }, { now: NOW });
    expect(doc.quality.tests.find((t) => t.name === 'missing columns')).toMatchObject({ status: 'fail', value: 3 });
    expect(doc.quality.tests.find((t) => t.name === 'extra columns')).toMatchObject({ status: 'warn', value: 1 });
  });
});

describe('spec overrides', () => {
  it('per-column tests and thresholds, drift share, and quality thresholds from YAML-shaped specs', async () => {
    const ref = await readTable(fixture('breast_cancer_holdout.csv'));
    const cur = await readTable(fixture('breast_cancer_drifted.csv'));
    const spec = parseMonitorSpec({
      exclude: ['target'],
      drift: { driftShare: 0.03, columns: { mean_radius: { test: 'psi', threshold: 5 }, worst_area: { skip: true } } },
      quality: { outOfRange: { warn: 0.5, fail: 0.9 } },
    });
    const doc = buildReport({ table: ref }, { table: cur }, { spec, now: NOW });
    const radius = doc.drift.columns.find((c) => c.column === 'mean_radius');
    expect(radius).toMatchObject({ test: 'psi', threshold: 5, drifted: false });
    expect(doc.drift.columns.some((c) => c.column === 'worst_area' || c.column === 'target')).toBe(false);
    expect(doc.drift.driftedColumns).toBe(1);
    expect(doc.drift.drifted).toBe(true);
    expect(doc.quality.tests.filter((t) => t.name === 'out of range').every((t) => t.status === 'pass')).toBe(true);
    expect(doc.quality.tests.find((t) => t.name === 'dataset drift')?.status).toBe('fail');
  });

  it('rejects unknown tests and fields, naming them', () => {
    expect(() => parseMonitorSpec({ drift: { test: 'anderson' } })).toThrow(/drift\.test/);
    expect(() => parseMonitorSpec({ quality: { missingShare: { warn: -1 } } })).toThrow(/quality\.missingShare\.warn/);
    expect(() => parseMonitorSpec({ colour: 1 })).toThrow(/colour|Unrecognized/);
    const ref = profileTable(tableFromRows([{ c: 'a' }, { c: 'b' }]));
    expect(() => computeDrift(ref, ref, { columns: { c: { test: 'ks' } } })).toThrow(/needs numbers but column 'c' is categorical/);
  });
});

describe('HTML report', () => {
  it('is self-contained: inline SVG overlays, no scripts and no network references', async () => {
    const doc = buildReport({ table: await readTable(fixture('breast_cancer_holdout.csv')) }, { table: await readTable(fixture('breast_cancer_drifted.csv')) }, { now: NOW });
    const html = reportToHtml(doc);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html.match(/<svg /g)?.length).toBe(31);
    expect(html).not.toMatch(/<script|https?:\/\/|<link |src=/);
    // The drift table lists the most severe column first.
    const firstRow = /<tbody>\n<tr class="(\w+)"><td>([^<]+)</.exec(html);
    expect(firstRow?.[1]).toBe('drift');
    expect(['mean_radius', 'mean_texture', 'worst_area']).toContain(firstRow?.[2]);
  });

  it('escapes column names and values', () => {
    const t = tableFromRows([{ '<b>x</b>': '<script>alert(1)</script>' }, { '<b>x</b>': 'y' }]);
    const html = reportToHtml(buildReport({ table: t }, { table: t }, { now: NOW }));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;b&gt;x&lt;/b&gt;');
  });
});
