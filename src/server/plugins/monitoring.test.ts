/**
 * The monitoring HTTP API over a real server context: the breast-cancer model served
 * by onnxruntime, its requests observed by live monitoring, labels posted later,
 * reports, alert rules, gauges on /metrics, and bad input answered with 4xx.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { FileModelSource, fixture, holdout } from '../../../test/support/serving.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { attachReference, classificationMetrics, profileTable, readTable } from '../../monitoring/index.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';

const API = '/api/v1/monitoring';

describe('monitoring HTTP API', () => {
  let app: FastifyInstance;
  let ctx: ServerContext;
  let close: () => Promise<void>;
  const data = holdout('breast_cancer');
  const targets = readFileSync(fixture('breast_cancer_holdout.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',').at(-1)));

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-monitoring-api-'));
    // The fixture model lives outside the artifact store: allow its folder, as an operator would.
    const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('breast_cancer_mlp.onnx')) }, {}, home);
    const source = new FileModelSource().add('bc', '1', fixture('breast_cancer_mlp.onnx'));
    source.columns = data.columns;
    source.setAlias('bc', 'prod', '1');
    ctx = { config, store: opened.store, logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [], modelSource: source };
    app = await buildApp(ctx);
    await app.ready();
    await attachReference(opened.store, 'bc', '1', profileTable(await readTable(fixture('breast_cancer_holdout.csv'))), 'holdout', { time: Date.now() });
    close = async () => {
      for (const hook of ctx.onClose) await hook();
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, payload: payload as object, headers });
  const errorOf = (res: { json(): unknown }) => (res.json() as { error: { code: string; message: string } }).error;

  it('observes served requests into a window that matches the reference, then scores late labels', async () => {
    expect(ctx.inferenceObservers.length).toBeGreaterThan(0);
    for (let from = 0; from < data.rows.length; from += 19) {
      const rows = data.rows.slice(from, from + 19);
      const res = await post('/v2/models/bc/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, 30], data: rows.flat() }] }, { 'x-request-id': `req-${from}` });
      expect(res.statusCode).toBe(200);
    }
    expect((await post(`${API}/windows/flush`, {})).statusCode).toBe(200);
    const windows = (await app.inject({ method: 'GET', url: `${API}/models/bc/windows` })).json() as { windows: Array<{ rows: number; version: string; figures: Record<string, number> }> };
    const total = windows.windows.reduce((s, w) => s + w.rows, 0);
    expect(total).toBe(171);
    expect(windows.windows.every((w) => w.version === '1' && w.figures.drifted_columns === 0)).toBe(true);

    const labels = [];
    for (let from = 0; from < data.rows.length; from += 19) labels.push({ requestId: `req-${from}`, labels: targets.slice(from, from + 19) });
    const gt = await post(`${API}/models/bc/ground-truth`, { labels });
    expect(gt.json()).toEqual({ accepted: 9, unknown: [] });
    const perf = (await app.inject({ method: 'GET', url: `${API}/models/bc/performance` })).json() as { windows: Array<{ labelled: number; classification: { accuracy: number } }> };
    const labelled = perf.windows.reduce((s, w) => s + w.labelled, 0);
    expect(labelled).toBe(171);
    if (perf.windows.length === 1) expect(perf.windows[0]?.classification.accuracy).toBeCloseTo(classificationMetrics(targets, data.expected).accuracy as number, 6);

    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/slipway_monitoring_window_rows\{model="bc",version="1"\} \d+/);
    expect(metrics.body).toMatch(/slipway_monitoring_drift_score\{model="bc",version="1",feature="mean_radius",test="ks"\}/);
  });

  it('builds JSON and HTML reports from posted rows and from a model reference', async () => {
    const rows = data.rows.map((r) => Object.fromEntries(data.columns.map((c, i) => [c, r[i]])));
    const shifted = rows.map((r) => ({ ...r, mean_radius: (r.mean_radius as number) * 1.25 }));
    const json = await post(`${API}/reports`, { reference: { model: 'models:/bc@prod' }, current: { rows: shifted } });
    // The model is served from files here, not registered: the registry answers 404.
    expect(json.statusCode).toBe(404);
    expect(errorOf(json).message).toMatch(/name=bc not found/);
    const res = await post(`${API}/reports`, { reference: { rows }, current: { rows: shifted } });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { drift: { columns: Array<{ column: string; drifted: boolean }> } };
    expect(doc.drift.columns.filter((c) => c.drifted).map((c) => c.column)).toEqual(['mean_radius']);
    const html = await post(`${API}/reports?format=html`, { reference: { rows }, current: { rows: shifted } });
    expect(html.headers['content-type']).toMatch(/text\/html/);
    expect(html.body).toContain('<svg');
  });

  it('manages alert rules and shows their state', async () => {
    const rule = { name: 'bc-acc', model: 'bc', figure: 'accuracy', comparison: '<', threshold: 0.5, forWindows: 1 };
    const created = await post(`${API}/alerts`, rule);
    expect(created.statusCode).toBe(201);
    const dup = await post(`${API}/alerts`, rule);
    expect([dup.statusCode, errorOf(dup).code]).toEqual([400, 'ALREADY_EXISTS']);
    const evaluated = (await post(`${API}/alerts/evaluate?model=bc`, {})).json() as { alerts: Array<{ name: string; state: string; lastValue: number }> };
    expect(evaluated.alerts[0]).toMatchObject({ name: 'bc-acc', state: 'ok' });
    expect(evaluated.alerts[0]?.lastValue).toBeGreaterThan(0.9);
    expect((await app.inject({ method: 'GET', url: `${API}/alerts/bc-acc/events` })).json()).toEqual({ events: [] });
    expect((await app.inject({ method: 'DELETE', url: `${API}/alerts/bc-acc` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'DELETE', url: `${API}/alerts/bc-acc` })).statusCode).toBe(404);
  });

  it('answers bad input with 4xx and a message naming the problem', async () => {
    const cases: Array<[Promise<{ statusCode: number; json(): unknown }>, number, RegExp]> = [
      [post(`${API}/profiles`, { rows: 'nope' }), 400, /'rows' must be an array/],
      [post(`${API}/profiles`, { rows: [] }), 400, /'rows' is empty/],
      [post(`${API}/profiles`, { rows: [{ a: 1 }], kinds: { a: 'weird' } }), 400, /kinds\.a/],
      [post(`${API}/models/bc/ground-truth`, { nope: 1 }), 400, /'labels'/],
      [post(`${API}/models/bc/ground-truth`, { labels: [{ requestId: 'x', label: 'cat' }] }), 400, /labels\[0\]/],
      [post(`${API}/alerts`, { name: 'x', model: 'bc', figure: 'vibes', comparison: '>', threshold: 1 }), 400, /'figure' must be one of/],
      [post(`${API}/alerts`, { name: 'x', model: 'bc', figure: 'rows', comparison: '>', threshold: 1, webhookUrl: 'ftp://x' }), 400, /webhookUrl/],
      [post(`${API}/reports`, { reference: { rows: [{ a: 1 }] }, current: { rows: [{ a: 2 }] }, spec: { drift: { test: 'nope' } } }), 400, /drift\.test/],
      [post(`${API}/reports`, { reference: { model: 'bc' }, current: { rows: [] } }), 400, /models:\/NAME@ALIAS/],
      [app.inject({ method: 'GET', url: `${API}/models/bc/windows?limit=abc` }), 400, /'limit'/],
      [app.inject({ method: 'GET', url: `${API}/models/bc/windows?version=1&version=2` }), 400, /'version' must be given once/],
      [app.inject({ method: 'GET', url: `${API}/models/bc/performance?task=ranking` }), 400, /'task'/],
      [app.inject({ method: 'PUT', url: `${API}/models/ghost/versions/1/reference`, payload: { rows: [{ a: 1 }] } }), 404, /ghost/],
      [app.inject({ method: 'GET', url: `${API}/models/bc/versions/7/reference` }), 404, /no reference profile/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      expect(res.statusCode).toBe(status);
      expect(errorOf(res).message).toMatch(message);
    }
  });
});
