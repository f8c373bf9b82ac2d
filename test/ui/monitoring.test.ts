/**
 * Monitoring pages in a real browser. A small ONNX model is registered and served by the
 * server; its version gets a reference profile; requests with one feature shifted fill a
 * live window (flushed through the API); an alert rule on drifted features fires; labels
 * arrive for the predictions. The overview lists the model with its firing alert; the
 * dashboard flags the shifted feature and not the stable one, draws the drift charts, lists
 * the alert and its events, shows performance, and builds the report on request. An
 * unknown model gets a clear message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { perceptron } from '../support/onnx-models.js';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;

async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { method, headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

// Deterministic values spread over [0, 1); `shift` moves the second feature only.
const rows = (n: number, shift: number, seed = 0): number[][] => Array.from({ length: n }, (_, i) => [(((i + seed) * 37) % 101) / 101, (((i + seed) * 53) % 97) / 97 + shift]);

async function registerModel(): Promise<void> {
  const exp = await call<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name: 'bc-training' });
  const run = (await call<{ run: { info: { run_id: string } } }>('POST', '/api/2.0/mlflow/runs/create', { experiment_id: exp.experiment_id, start_time: Date.now() })).run.info.run_id;
  const files: Array<[string, string | Buffer]> = [
    ['model/MLmodel', `artifact_path: model\nflavors:\n  onnx:\n    onnx_version: 1.15.0\n    data: model.onnx\nrun_id: ${run}\n`],
    ['model/model.onnx', perceptron({ inputs: 2, hidden: 4, outputs: 1 }).onnx],
  ];
  for (const [path, body] of files) {
    const res = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${exp.experiment_id}/${run}/artifacts/${path}`, { method: 'PUT', body: typeof body === 'string' ? body : new Uint8Array(body) });
    if (!res.ok) throw new Error(`upload ${path}: ${res.status}`);
  }
  await call('POST', '/api/2.0/mlflow/runs/update', { run_id: run, status: 'FINISHED', end_time: Date.now() });
  await call('POST', '/api/2.0/mlflow/registered-models/create', { name: 'bc' });
  await call('POST', '/api/2.0/mlflow/model-versions/create', { name: 'bc', source: `runs:/${run}/model`, run_id: run });
  for (let i = 0; i < 100; i++) {
    const mv = await call<{ model_version: { status: string } }>('GET', '/api/2.0/mlflow/model-versions/get?name=bc&version=1');
    if (mv.model_version.status === 'READY') return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('model version bc/1 never became READY');
}

async function infer(requestId: string, batch: number[][]): Promise<void> {
  const body = { inputs: [{ name: 'x', datatype: 'FP32', shape: [batch.length, 2], data: batch.flat() }] };
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${server.url}/v2/models/bc/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: JSON.stringify(body) });
    if (res.ok) return;
    // The first request loads the model; until it is ready the server answers 503.
    if (res.status !== 503) throw new Error(`infer: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the model never became ready');
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  await registerModel();
  await call('PUT', '/api/v1/monitoring/models/bc/versions/1/reference', { rows: rows(300, 0).map(([a, b]) => ({ input_0: a, input_1: b })), source: 'holdout' });
  await call('POST', '/api/v1/monitoring/alerts', { name: 'bc-drift', model: 'bc', figure: 'drifted_columns', comparison: '>=', threshold: 1, forWindows: 1 });
  for (let r = 0; r < 4; r++) await infer(`req-${r}`, rows(50, 3, r * 50));
  await call('POST', '/api/v1/monitoring/windows/flush');
  await call('POST', '/api/v1/monitoring/alerts/evaluate?model=bc');
  const labels = Array.from({ length: 4 }, (_, r) => ({ requestId: `req-${r}`, labels: rows(50, 3, r * 50).map(([a]) => (a as number) * 2) }));
  const gt = await call<{ accepted: number }>('POST', '/api/v1/monitoring/models/bc/ground-truth', { labels });
  if (gt.accepted !== 4) throw new Error(`ground truth accepted ${gt.accepted} of 4`);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('monitoring pages', () => {
  it('lists the monitored model with its drift and firing alert', async () => {
    const ui = await openPage(browser, `${server.url}/#/monitoring`);
    try {
      const page = ui.page;
      await page.getByRole('heading', { level: 1, name: 'Monitoring' }).waitFor();
      const row = page.getByRole('row', { name: /^bc / });
      await expect.poll(() => row.innerText()).toMatch(/^bc\s+v1\s+.*\s+1 feature drifted \(50 %\)\s+.*Firing: bc-drift$/s);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      await row.getByRole('link', { name: 'bc' }).click();
      await page.waitForURL(/#\/monitoring\/bc$/);
      await page.getByRole('heading', { level: 1, name: 'bc' }).waitFor();
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('flags the drifted feature and not the stable one, draws each feature over windows, and shows data quality, alerts and performance', async () => {
    const ui = await openPage(browser, `${server.url}/#/monitoring/bc?range=all`);
    try {
      const page = ui.page;
      await page.getByRole('heading', { level: 1, name: 'bc' }).waitFor();
      const drift = page.getByRole('table', { name: 'Feature drift in the selected window' });
      await expect.poll(() => drift.getByRole('row', { name: /^input_1 / }).innerText()).toMatch(/^input_1\s+numerical\s+ks\s+.*p ≤ 0\.05\s+Yes/);
      await expect.poll(() => drift.getByRole('row', { name: /^input_0 / }).innerText()).toMatch(/^input_0\s+numerical\s+ks\s+.*p ≤ 0\.05\s+No/);
      await expect.poll(() => page.locator('.drift-chart canvas').count()).toBeGreaterThanOrEqual(2);
      expect(await page.getByRole('img', { name: 'Drift of input_1 over windows' }).count()).toBe(1);
      // The shifted feature leaves the reference range: the quality suite says so.
      await expect.poll(() => page.getByRole('table', { name: 'Data-quality tests that did not pass' }).innerText()).toMatch(/out of range\s+input_1\s+Fail/);
      await expect.poll(() => page.getByRole('table', { name: /Windows of the range/ }).locator('tbody tr').count()).toBeGreaterThanOrEqual(1);

      const alerts = page.getByRole('table', { name: 'Alert rules of the model' });
      await expect.poll(() => alerts.getByRole('row', { name: /^bc-drift / }).innerText()).toMatch(/drifted_columns >= 1 for 1 window\s+Firing\s+1/);
      await page.getByRole('button', { name: 'Show events of bc-drift' }).click();
      await expect.poll(() => page.getByRole('table', { name: 'Events of alert bc-drift' }).innerText()).toMatch(/firing\s+1\s+No webhook/);

      const perf = page.getByRole('table', { name: 'Model performance per window' });
      await expect.poll(() => perf.locator('thead').innerText()).toMatch(/Labelled rows\s+MAE\s+RMSE\s+R²/);
      await expect.poll(async () => (await perf.locator('tbody tr').allInnerTexts()).reduce((n, t) => n + Number(t.split('\t')[2]), 0)).toBe(200);
      await page.getByRole('img', { name: 'MAE over windows' }).locator('canvas').first().waitFor();
      await page.getByLabel('Metric').selectOption('rmse');
      await page.waitForURL(/metric=rmse/);
      await page.getByRole('img', { name: 'RMSE over windows' }).waitFor();
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('builds the report over the range only when asked, in a sandboxed frame', async () => {
    const ui = await openPage(browser, `${server.url}/#/monitoring/bc?range=7d`);
    try {
      const page = ui.page;
      const posts: string[] = [];
      page.on('request', (r) => {
        if (r.method() !== 'GET') posts.push(`${r.method()} ${r.url()}`);
      });
      await page.getByRole('heading', { level: 1, name: 'bc' }).waitFor();
      await expect.poll(() => page.getByLabel('Time range', { exact: true }).inputValue()).toBe('7d');
      const button = page.getByRole('button', { name: 'Build report' });
      await button.waitFor();
      expect(posts).toEqual([]);
      await button.click();
      const frame = page.frameLocator('iframe[title="Monitoring report of bc version 1"]');
      await expect.poll(() => frame.locator('h1').innerText(), { timeout: 20_000 }).toMatch(/^Monitoring report/);
      // Beside the drift, how much the model relies on each feature; the shifted one is marked drifted there.
      await expect.poll(() => frame.getByRole('heading', { name: 'Feature importance' }).count()).toBe(1);
      expect(await frame.locator('table.metrics tr.drift td').first().innerText()).toBe('input_1');
      expect(await page.locator('iframe[title="Monitoring report of bc version 1"]').getAttribute('sandbox')).toBe('');
      expect(posts).toEqual([expect.stringMatching(/^POST .*\/api\/v1\/monitoring\/reports\?format=html$/)]);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('says so for a model that is not monitored, and for a range without windows', async () => {
    const ui = await openPage(browser, `${server.url}/#/monitoring/nobody`);
    try {
      const page = ui.page;
      await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/Not monitored\s+No model named 'nobody' is monitored/);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      // A range from the URL with no window in it says so rather than drawing empty charts.
      await page.goto(`${server.url}/#/monitoring/bc?from=0&to=60000`);
      await expect.poll(() => page.locator('.empty').innerText()).toMatch(/^No window of bc starts in custom range/);
      expect(await page.getByLabel('Time range', { exact: true }).inputValue()).toBe('custom');
      expect(await page.getByLabel('From').inputValue()).toMatch(/^19(69|70)-/);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
