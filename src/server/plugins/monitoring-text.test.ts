/**
 * Live monitoring of a text model over a real server context: the fixture transformer served
 * behind its tokenizer by onnxruntime, its reference set from training reviews (PUT rows with a
 * text column), then a training-like feed and a drifted feed (other languages, longer texts) in
 * two windows: the window figures say text drift for the drifted feed only.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { FileModelSource, fixture } from '../../../test/support/serving.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { parseCsv } from '../../serving/mlflow-protocol.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';
import { registryOf } from '../native/services.js';

const API = '/api/v1/monitoring';
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const texts = (name: string) => parseCsv(readFileSync(fixture(`text/${name}`), 'utf8')).slice(1).map((r) => r[0] as string);

interface Window {
  windowStart: number;
  rows: number;
  figures: Record<string, number | null>;
}

describe('live monitoring of a text model', () => {
  let app: FastifyInstance;
  let ctx: ServerContext;
  let close: () => Promise<void>;
  let now = T0;

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-monitoring-text-'));
    const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('text/transformer/model.onnx')) }, {}, home);
    const source = new FileModelSource().add('reviews', '1', fixture('text/transformer/model.onnx'));
    source.setAlias('reviews', 'prod', '1');
    ctx = { config, store: opened.store, logger: silentLogger, clock: { now: () => now }, inferenceObservers: [], onClose: [], modelSource: source };
    app = await buildApp(ctx);
    await app.ready();
    // The reference route finds versions in the registry; the files come from the source above.
    const registry = registryOf(ctx);
    await registry.createRegisteredModel({ name: 'reviews' });
    await registry.createModelVersion({ name: 'reviews', source: 's3://models/reviews/1' });
    close = async () => {
      for (const hook of ctx.onClose) await hook();
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  const send = async (feed: string[]) => {
    for (let from = 0; from < feed.length; from += 25) {
      const batch = feed.slice(from, from + 25);
      const res = await app.inject({ method: 'POST', url: '/v2/models/reviews/infer', payload: { inputs: [{ name: 'text', datatype: 'BYTES', shape: [batch.length], data: batch }] } });
      expect(res.statusCode, res.body).toBe(200);
    }
  };
  const flush = async () => expect((await app.inject({ method: 'POST', url: `${API}/windows/flush`, payload: {} })).statusCode).toBe(200);
  const windows = async () => ((await app.inject({ method: 'GET', url: `${API}/models/reviews/windows` })).json() as { windows: Window[] }).windows;

  it('sets a text reference from rows with a text column, profiled with the model tokenizer', async () => {
    const rows = texts('reviews_train.csv').map((text) => ({ text }));
    const res = await app.inject({ method: 'PUT', url: `${API}/models/reviews/versions/1/reference`, payload: { rows, source: 'reviews_train.csv' } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ rows: rows.length, texts: ['text'] });
    const stored = (await app.inject({ method: 'GET', url: `${API}/models/reviews/versions/1/reference` })).json() as { profile: { texts: Record<string, { rows: number; texts: number; tokens: number }> } };
    expect(stored.profile.texts.text?.rows).toBe(rows.length);
    expect(stored.profile.texts.text?.tokens).toBeGreaterThan(rows.length);
  });

  it('refuses reference rows of a text model without its text input, naming it', async () => {
    const res = await app.inject({ method: 'PUT', url: `${API}/models/reviews/versions/1/reference`, payload: { rows: [{ review: 'fine food' }] } });
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/text input 'text'/);
  });

  it('profiles the served texts per window: no drift for a training-like feed, drift for a drifted one', async () => {
    const holdout = texts('reviews_holdout.csv').filter((t) => t.trim() !== '');
    // Empty texts are refused by the tokenizer step (400), so they never reach a window.
    const drifted = texts('reviews_drifted.csv').filter((t) => t.trim() !== '');
    now = T0;
    await send(holdout);
    await flush();
    now = T0 + 5 * 60_000;
    await send(drifted);
    await flush();
    const [late, early] = await windows();
    expect(early?.windowStart).toBe(T0);
    expect(early?.rows).toBe(holdout.length);
    expect(late?.rows).toBe(drifted.length);
    const e = early?.figures ?? {};
    const l = late?.figures ?? {};
    expect(e['text_drift:text']).toBe(0);
    expect(e['text_length_pvalue:text']).toBeGreaterThan(0.05);
    expect(e['text_token_js:text']).toBeLessThan(0.1);
    expect(e['text_oov_rate:text']).toBe(0);
    expect(e.drifted_columns).toBe(0);
    expect(e.dataset_drift).toBe(0);
    expect(l['text_drift:text']).toBe(1);
    expect(l['text_length_pvalue:text']).toBeLessThan(1e-6);
    expect(l['text_token_js:text']).toBeGreaterThan(0.1);
    expect(l['text_oov_rate:text']).toBeGreaterThan(0);
    expect(l['text_empty_share:text']).toBe(0);
    expect(l.drifted_columns).toBeGreaterThanOrEqual(1);
    expect(l.dataset_drift).toBe(1);
    // The last closed window's text drift is on /metrics as a feature's.
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/slipway_monitoring_feature_drifted\{model="reviews",version="1",feature="text"\} 1/);
    expect(metrics).toMatch(/slipway_monitoring_drift_score\{model="reviews",version="1",feature="text",test="text_token_jensenshannon"\} 0\.\d+/);
    // The window's detail shows the whole comparison.
    const detail = (await app.inject({ method: 'GET', url: `${API}/models/reviews/windows/${late?.windowStart}` })).json() as { text: Record<string, { drift: boolean; tokenLength: { current: number; reference: number } }> };
    expect(detail.text.text?.drift).toBe(true);
    expect(detail.text.text?.tokenLength.current).toBeGreaterThan(detail.text.text?.tokenLength.reference as number);
  });

  it('shows text drift in the monitoring report of the windows against the reference', async () => {
    const payload = (from: number, to: number) => ({ reference: { model: 'models:/reviews/1' }, current: { windows: { model: 'reviews', from, to } } });
    const drifted = await app.inject({ method: 'POST', url: `${API}/reports`, payload: payload(T0 + 5 * 60_000, T0 + 6 * 60_000) });
    expect(drifted.statusCode, drifted.body).toBe(200);
    const doc = drifted.json() as { text: Record<string, { drift: boolean; oovRate: { current: number }; tokens: { jensenShannon: number } }> };
    expect(doc.text.text).toMatchObject({ drift: true });
    expect(doc.text.text?.tokens.jensenShannon).toBeGreaterThan(0.1);
    const calm = (await app.inject({ method: 'POST', url: `${API}/reports`, payload: payload(T0, T0 + 60_000) })).json() as { text: Record<string, { drift: boolean }> };
    expect(calm.text.text?.drift).toBe(false);
    const html = await app.inject({ method: 'POST', url: `${API}/reports?format=html`, payload: payload(T0 + 5 * 60_000, T0 + 6 * 60_000) });
    expect(html.body).toContain('<h2>Text drift</h2>');
    expect(html.body).toMatch(/out-of-vocabulary tokens/);
  });

  it('lets an alert rule watch a text figure', async () => {
    const res = await app.inject({ method: 'POST', url: `${API}/alerts`, payload: { name: 'reviews-text', model: 'reviews', figure: 'text_drift:text', comparison: '>=', threshold: 1 } });
    expect(res.statusCode, res.body).toBe(201);
    // The newest window is the drifted feed's: the rule fires.
    const evaluated = (await app.inject({ method: 'POST', url: `${API}/alerts/evaluate?model=reviews` })).json() as { alerts: Array<{ name: string; state: string }> };
    expect(evaluated.alerts.find((a) => a.name === 'reviews-text')?.state).toBe('firing');
    const bad = await app.inject({ method: 'POST', url: `${API}/alerts`, payload: { name: 'reviews-bad', model: 'reviews', figure: 'text_drift', comparison: '>=', threshold: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toMatch(/text_drift:<input>/);
  });
});
