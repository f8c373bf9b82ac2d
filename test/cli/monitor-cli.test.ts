/** `slipway monitor` as a user or a CI job runs it: the built CLI in a child process. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryService } from '../../src/registry/index.js';
import { openStore } from '../../src/store/store.js';
import { runCli } from '../support/cli.js';
import { fixture } from '../support/serving.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-monitor-cli-'));
const storeUri = `sqlite:///${join(dir, 'slipway.db')}`;
const env = { SLIPWAY_BACKEND_STORE_URI: storeUri, SLIPWAY_HOME: dir };
const holdoutCsv = fixture('breast_cancer_holdout.csv');
const driftedCsv = fixture('breast_cancer_drifted.csv');

beforeAll(async () => {
  const store = await openStore(storeUri);
  const registry = new RegistryService({ store });
  await registry.createRegisteredModel({ name: 'cancer' });
  await registry.createModelVersion({ name: 'cancer', source: fixture('breast_cancer_mlp.onnx') });
  await registry.setAlias('cancer', 'champion', '1');
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('slipway monitor report', () => {
  it('exits 1 when the suite fails and writes a self-contained HTML report and a JSON document', async () => {
    const html = join(dir, 'report.html');
    const out = join(dir, 'report.json');
    const r = await runCli(['monitor', 'report', '--reference', holdoutCsv, '--current', driftedCsv, '--html', html, '--out', out], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/mean_radius\s+numerical\s+ks\s+\S+\s+0\.05\s+drift/);
    expect(r.stdout).toMatch(/quality: fail/);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.drift.columns.filter((c: { drifted: boolean }) => c.drifted).map((c: { column: string }) => c.column).sort()).toEqual(['mean_radius', 'mean_texture', 'worst_area']);
    expect(readFileSync(html, 'utf8')).toMatch(/<svg /);
  });

  it('exits 0 and prints JSON for identical data', async () => {
    const r = await runCli(['monitor', 'report', '--reference', holdoutCsv, '--current', holdoutCsv, '--json'], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'pass', drift: { driftedColumns: 0 } });
  });

  it('applies a YAML spec', async () => {
    const spec = join(dir, 'monitor.yaml');
    writeFileSync(spec, 'quality:\n  outOfRange: { warn: 0.5, fail: 0.9 }\ndrift:\n  columns:\n    mean_texture: { skip: true }\n');
    const r = await runCli(['monitor', 'report', '--reference', holdoutCsv, '--current', driftedCsv, '--spec', spec, '--json'], env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.drift.driftedColumns).toBe(2);
    expect(doc.status).toBe('pass');
  });

  it('--target and --prediction (or the spec) give model performance equal to scikit-learn and keep both out of feature drift', async () => {
    // Holdout rows with the model's P(benign) appended, on both sides: the reference is read in a worker thread.
    const labelled = join(dir, 'labelled.csv');
    const probs = readFileSync(fixture('breast_cancer_mlp_expected.csv'), 'utf8').trimEnd().split('\n');
    writeFileSync(labelled, `${readFileSync(holdoutCsv, 'utf8').trimEnd().split('\n').map((line, i) => `${line},${probs[i]}`).join('\n')}\n`);
    const html = join(dir, 'labelled.html');
    const r = await runCli(['monitor', 'report', '--reference', labelled, '--current', labelled, '--target', 'target', '--prediction', 'p_benign', '--html', html], env);
    expect(r.code).toBe(0);
    // sklearn: accuracy_score(y, p >= 0.5) and roc_auc_score(y, p) (see src/monitoring/report/report-performance.test.ts).
    expect(r.stdout).toMatch(/accuracy\s+0\.9766\s+0\.9766/);
    expect(r.stdout).toMatch(/rocAuc\s+0\.9993\s+0\.9993/);
    expect(r.stdout).toMatch(/prediction\s+p_benign\s+ks/);
    expect(r.stdout).toMatch(/\(0\/30 columns drifted\)/);
    expect(readFileSync(html, 'utf8')).toContain('<caption>Confusion matrix, current</caption>');

    const spec = join(dir, 'labels.yaml');
    writeFileSync(spec, 'target: target\nprediction: p_benign\n');
    const j = await runCli(['monitor', 'report', '--reference', holdoutCsv, '--current', labelled, '--spec', spec, '--json'], env);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout);
    expect(doc.drift.columns.map((c: { column: string }) => c.column)).not.toContain('target');
    expect(doc.performance.current).toMatchObject({ rows: 171, accuracy: 0.9766081871345029, confusionMatrix: { labels: ['0', '1'], counts: [[63, 1], [3, 104]] } });
    expect(doc.performance.current.f1).toBeCloseTo(0.9811320754716981, 12);

    const bad = await runCli(['monitor', 'report', '--reference', holdoutCsv, '--current', holdoutCsv, '--task', 'ranking'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--task expects classification or regression/);
  });

  it('exits 2 with a clear message on bad input', async () => {
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    const badSpec = join(dir, 'bad.yaml');
    writeFileSync(badSpec, 'drift:\n  test: astrology\n');
    const cases: Array<[string[], RegExp]> = [
      [['--reference', join(dir, 'missing.csv'), '--current', holdoutCsv], /Cannot read .*missing\.csv: no such file/],
      [['--reference', holdoutCsv, '--current', empty], /empty\.csv is empty/],
      [['--reference', holdoutCsv, '--current', holdoutCsv, '--spec', badSpec], /drift\.test/],
      [['--current', holdoutCsv], /exactly one of --reference <file> or --model <uri>/],
      [['--model', 'cancer', '--current', holdoutCsv], /models:\/NAME@ALIAS/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['monitor', 'report', ...args], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('slipway monitor profile and reference', () => {
  it('profiles a file, attaches it to a registered version and reports against models:/NAME@ALIAS', async () => {
    const profile = join(dir, 'ref.json');
    const p = await runCli(['monitor', 'profile', holdoutCsv, '--out', profile, '--kind', 'target=categorical'], env);
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/target\s+categorical/);
    expect(JSON.parse(readFileSync(profile, 'utf8'))).toMatchObject({ format: 'slipway-profile/1', rows: 171 });

    const set = await runCli(['monitor', 'reference', 'set', 'models:/cancer@champion', '--profile', profile], env);
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/to cancer version 1/);
    const show = await runCli(['monitor', 'reference', 'show', 'models:/cancer/1', '--json'], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ model: 'cancer', version: '1', rows: 171 });

    const r = await runCli(['monitor', 'report', '--model', 'models:/cancer@champion', '--current', driftedCsv, '--json'], env);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).drift.columns.filter((c: { drifted: boolean }) => c.drifted).map((c: { column: string }) => c.column).sort()).toEqual(['mean_radius', 'mean_texture', 'worst_area']);

    const none = await runCli(['monitor', 'reference', 'show', 'models:/cancer/2'], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/not found|no reference/);
  });

  it('lists alert rules and windows (empty at first)', async () => {
    const a = await runCli(['monitor', 'alerts'], env);
    expect([a.code, a.stdout.trim()]).toEqual([0, '(no alert rules)']);
    const w = await runCli(['monitor', 'windows', 'cancer', '--json'], env);
    expect([w.code, JSON.parse(w.stdout)]).toEqual([0, []]);
  });
});
