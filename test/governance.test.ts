/**
 * Lineage and model cards over real stores: a version logged from a run (params, git commit, dataset,
 * python version), released through an evaluation gate, a load-test gate and an approval by someone
 * other than the requester, with a monitoring reference and a live window; a version registered from
 * a file says what is unknown. Also the audit trail's time filters, and the CLI against a real server.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from './support/dialects.js';
import { readCsv } from '../src/monitoring/readers/csv-reader.js';
import { profileTable } from '../src/monitoring/profile/dataset-profile.js';
import { attachReference } from '../src/monitoring/reference/reference-repository.js';
import { saveWindow } from '../src/monitoring/live/window-repository.js';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { trackingOf } from '../src/server/native/services.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ROOT = join(import.meta.dirname, '..');
const FIXTURES = join(ROOT, 'test/fixtures');
const ONNX = readFileSync(join(FIXTURES, 'breast_cancer_mlp.onnx'));
const GOOD = readFileSync(join(FIXTURES, 'release/cancer_good.onnx'));
const HOLDOUT = readFileSync(join(FIXTURES, 'breast_cancer_holdout.csv'));
const COMMIT = '3f2a9c1d0b7e6f5a4c3b2a1908f7e6d5c4b3a291';

describe.each(DIALECTS)('governance on $name', (dialect) => {
  let t: TestApp;
  let runId = '';
  let releaseId = '';
  const get = async (url: string) => t.app.inject({ url: `/api/v1${url}` });
  const send = async (method: 'POST' | 'PUT', url: string, payload: unknown = {}) => t.app.inject({ method, url: `/api/v1${url}`, payload: payload as object });

  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.ctx.artifacts?.put('models/fraud/v1/model.onnx', ONNX);
    await t.ctx.artifacts?.put('models/fraud/v2/model.onnx', GOOD);
    await t.ctx.artifacts?.put('releases/holdouts/fraud.csv', HOLDOUT);
    const exp = (await send('POST', '/experiments', { name: 'fraud-training' })).json() as Json;
    const run = (await send('POST', '/runs', { experimentId: exp.experimentId, runName: 'mlp-sweep-7', tags: { 'mlflow.source.git.commit': COMMIT, 'mlflow.source.name': 'train.py', python_version: '3.11.8', 'onnxruntime.version': '1.18.0', team: 'risk' } })).json() as Json;
    runId = run.info.runId;
    expect((await send('POST', `/runs/${runId}/log`, { params: { hidden_layers: '64,32', learning_rate: '0.001' }, metrics: [{ key: 'val_accuracy', value: 0.97 }] })).statusCode).toBe(204);
    await trackingOf(t.ctx).logInputs(runId, [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset: { name: 'cancer-train', digest: 'a1b2c3', sourceType: 'local', source: 'data/train.csv' } }]);

    expect((await send('POST', '/models', { name: 'fraud' })).statusCode).toBe(201);
    await t.ctx.registry?.setRegisteredModelTag('fraud', 'intended_use', 'Flag suspicious <b>card</b> payments for review | never to block them.');
    expect((await send('POST', '/models/fraud/versions', { source: 'mlflow-artifacts:/models/fraud/v1' })).statusCode).toBe(201);
    const v2 = await send('POST', '/models/fraud/versions', { source: 'mlflow-artifacts:/models/fraud/v2', runId, description: 'MLP retrained on the 2024 data', tags: { limitations: 'Not validated on business cards.' } });
    expect(v2.statusCode).toBe(201);
    await send('PUT', '/models/fraud/aliases/champion', { version: '1' });

    const policy = {
      holdout: 'releases/holdouts/fraud.csv',
      label: 'target',
      gates: [
        { kind: 'evaluation', name: 'accuracy-bar', metrics: ['accuracy >= 0.9'] },
        { kind: 'loadtest', name: 'latency', slo: ['error_rate < 0.01'], rate: 50, duration: '1s' },
        { kind: 'approval', name: 'four-eyes', count: 1 },
      ],
    };
    const created = await send('POST', '/releases', { model: 'fraud', version: '2', environment: 'champion', policy, requestedBy: 'ana' });
    expect(created.statusCode).toBe(201);
    releaseId = (created.json() as Json).id;
    await until(['awaiting_approval']);
    expect((await send('POST', `/releases/${releaseId}/approve`, { by: 'ben', comment: 'figures fine' })).statusCode).toBe(200);
    expect((await until(['promoted', 'rejected', 'rolled_back'])).state).toBe('promoted');

    const now = Date.now();
    await attachReference(t.ctx.store, 'fraud', '2', profileTable(await readCsv(join(FIXTURES, 'breast_cancer_holdout.csv'))), 'holdout.csv', { time: now });
    const live = profileTable(await readCsv(join(FIXTURES, 'breast_cancer_holdout.csv')));
    await saveWindow(t.ctx.store, { model: 'fraud', version: '2', windowStart: now - 60_000, windowEnd: now, rows: live.rows, requests: 40, droppedRows: 0, profile: live }, { dataset_drift: 1, drift_share: 0.6, drifted_columns: 18 }, now);
  }, 60_000);
  afterAll(() => t?.close());

  async function until(states: string[]): Promise<Json> {
    for (let i = 0; i < 600; i++) {
      const r = (await get(`/releases/${releaseId}`)).json() as Json;
      if (states.includes(r.state)) return r;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`release ${releaseId} never reached ${states.join('/')}`);
  }

  it('traces the released version to its run, code revision, data, environment, artifact, gates and approver', async () => {
    const res = await get('/models/fraud/versions/2/lineage');
    expect(res.statusCode).toBe(200);
    const l = res.json() as Json;
    expect(l.run).toMatchObject({
      runId,
      runName: 'mlp-sweep-7',
      experimentName: 'fraud-training',
      params: { hidden_layers: '64,32', learning_rate: '0.001' },
      metrics: { val_accuracy: 0.97 },
      codeRevision: COMMIT,
      sourceName: 'train.py',
      environment: { python_version: '3.11.8', 'onnxruntime.version': '1.18.0' },
      tags: { team: 'risk' },
      datasets: [{ name: 'cancer-train', digest: 'a1b2c3', context: 'training', from: 'input' }],
    });
    const { createHash } = await import('node:crypto');
    expect(l.artifact).toMatchObject({ source: 'mlflow-artifacts:/models/fraud/v2', sha256: createHash('sha256').update(GOOD).digest('hex'), size: GOOD.length });
    expect(l.artifact.signature.inputs[0].type).toBe('float32');
    expect(l.serving.aliases).toEqual(['champion']);
    expect(l.releases).toHaveLength(1);
    expect(l.releases[0]).toMatchObject({ id: releaseId, environment: 'champion', state: 'promoted', requestedBy: 'ana', championVersion: '1', approvals: [{ by: 'ben', comment: 'figures fine' }] });
    expect(l.releases[0].gates.map((g: Json) => `${g.name}:${g.verdict}`)).toEqual(['accuracy-bar:pass', 'latency:pass', 'four-eyes:pass']);
    expect(l.unknown).toEqual([]);
  });

  it('says what is unknown about a version registered from a file, and what serves it no longer', async () => {
    const l = (await get('/models/fraud/versions/1/lineage')).json() as Json;
    expect(l.run).toBeNull();
    expect(l.serving.aliases).toEqual([]);
    expect(l.unknown.join(' ')).toMatch(/registered from 'mlflow-artifacts:\/models\/fraud\/v1' without a run: the training parameters, code revision, datasets and environment are unknown/);
    expect(l.unknown.join(' ')).toMatch(/No release has moved version 1/);
    expect((await get('/models/fraud/versions/9/lineage')).statusCode).toBe(404);
    expect((await get('/models/fraud/versions/two/lineage')).statusCode).toBe(400);
  });

  it('builds the JSON card: intended use from tags, gate figures, baseline and drift', async () => {
    const res = await get('/models/fraud/versions/2/card');
    expect(res.statusCode).toBe(200);
    const card = res.json() as Json;
    expect(card).toMatchObject({ model: 'fraud', version: '2', description: 'MLP retrained on the 2024 data', details: { intended_use: expect.stringContaining('never to block'), limitations: 'Not validated on business cards.' } });
    const evaluation = card.evaluations.find((e: Json) => e.kind === 'evaluation');
    expect(evaluation).toMatchObject({ gate: 'accuracy-bar', verdict: 'pass', releaseId });
    expect(JSON.stringify(evaluation.figures)).toMatch(/accuracy/);
    expect(card.evaluations.find((e: Json) => e.kind === 'loadtest')).toMatchObject({ gate: 'latency', verdict: 'pass' });
    expect(card.evaluations.some((e: Json) => e.kind === 'approval')).toBe(false);
    expect(card.monitoring.baseline).toMatchObject({ rows: HOLDOUT.toString().trim().split('\n').length - 1, source: 'holdout.csv' });
    expect(card.monitoring.baseline.columns.find((c: Json) => c.name === 'mean_radius')).toMatchObject({ kind: 'numerical', missingShare: 0 });
    expect(card.monitoring.drift).toMatchObject({ status: 'drift', windows: 1, driftedWindows: 1, latest: { driftShare: 0.6, driftedColumns: 18 } });
  });

  it('renders the card as Markdown and as an escaped, self-contained HTML page', async () => {
    const md = await get('/models/fraud/versions/2/card?format=md');
    expect(md.headers['content-type']).toMatch(/^text\/markdown/);
    expect(md.body).toMatch(/^# Model card: fraud version 2/);
    expect(md.body).toContain(COMMIT);
    expect(md.body).toContain('Flag suspicious \\<b\\>card\\</b\\> payments for review \\| never to block them.');
    expect(md.body).toMatch(new RegExp(`\\| ${releaseId} \\| champion \\| promoted \\| ana \\| ben \\|`));
    expect(md.body).toMatch(/Drift: \*\*drift\*\*/);

    const html = await get('/models/fraud/versions/2/card?format=html');
    expect(html.headers['content-type']).toMatch(/^text\/html/);
    expect(html.body).toContain('Flag suspicious &lt;b&gt;card&lt;/b&gt; payments');
    expect(html.body).not.toContain('<b>card</b>');
    expect(html.body).not.toMatch(/<script|<link|src=/);
    expect(html.body).toContain(`<td>${releaseId}</td><td>champion</td><td>promoted</td><td>ana</td><td>ben</td>`);

    const bad = await get('/models/fraud/versions/2/card?format=pdf');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/format/);
  });

  it('filters the audit trail by time on the server (ISO or epoch ms), with the other filters', async () => {
    const all = ((await get('/audit/events?limit=1000')).json() as Json).events as Json[];
    const pivot = all.find((e) => e.action === 'release.approved') as Json;
    const since = ((await get(`/audit/events?limit=1000&since=${new Date(pivot.time).toISOString()}`)).json() as Json).events as Json[];
    expect(since.length).toBeGreaterThan(0);
    expect(since.every((e) => e.time >= pivot.time)).toBe(true);
    expect(since.length).toBe(all.filter((e) => e.time >= pivot.time).length);
    const until = ((await get(`/audit/events?limit=1000&until=${pivot.time}&entityType=model_version`)).json() as Json).events as Json[];
    expect(until.length).toBeGreaterThan(0);
    expect(until.every((e) => e.time < pivot.time && e.entityType === 'model_version')).toBe(true);
    const bad = await get('/audit/events?since=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/since.*ISO 8601/);
  });

  it('lists the governance routes in the OpenAPI document', async () => {
    const doc = (await get('/openapi.json')).json() as { paths: Record<string, Record<string, { operationId: string; tags: string[] }>> };
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p)).filter((o) => o.tags.includes('governance'));
    expect(ops.map((o) => o.operationId).sort()).toEqual(['getModelCard', 'getModelVersionLineage']);
  });

  // The command line talks HTTP whatever the store, so one store suffices.
  if (dialect.name === 'sqlite') it('answers the CLI: lineage by alias, the card to a file, and the audit log as JSON lines', async () => {
    const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const run = promisify(execFile);
    const cli = (...args: string[]) => run(process.execPath, [join(ROOT, 'dist/cli/main.js'), ...args, '--server', url]);
    const lineage = JSON.parse((await cli('lineage', 'models:/fraud@champion', '--json')).stdout) as Json;
    expect(lineage).toMatchObject({ version: '2', run: { codeRevision: COMMIT } });
    const text = (await cli('lineage', 'models:/fraud/1')).stdout;
    expect(text).toMatch(/unknown: not registered from a run/);

    const { mkdtempSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync(join((await import('node:os')).tmpdir(), 'slipway-card-'));
    try {
      const out = join(dir, 'MODEL_CARD.md');
      await cli('models', 'card', 'fraud', '--version', '2', '--format', 'md', '--out', out);
      expect(readFileSync(out, 'utf8')).toMatch(/^# Model card: fraud version 2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const exported = await cli('audit', 'log', '--format', 'jsonl', '--since', '1h', '--limit', '5000');
    const lines = exported.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    const total = (((await get('/audit/events?limit=1000')).json() as Json).events as Json[]).length;
    expect(lines).toHaveLength(total);
    expect(lines.map((e) => e.seq)).toEqual([...lines.map((e) => e.seq)].sort((a, b) => a - b));
    expect(exported.stderr).toContain(`exported ${total} audit event(s)`);
    const none = await cli('audit', 'log', '--format', 'jsonl', '--until', '2000-01-01T00:00:00Z');
    expect(none.stdout).toBe('');
  });
});
