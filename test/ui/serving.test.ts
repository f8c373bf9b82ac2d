/**
 * The serving page in a real browser: a registered ONNX model that `slipway server` serves
 * shows READY with its version, and its live figures (rate, latency, totals) move as V2
 * inference requests arrive, without a reload. When the server stops answering, the page says
 * so and keeps the last figures marked stale.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { fixture, holdout } from '../support/serving.js';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

const cancer = holdout('breast_cancer');
let server: UiServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const stored = await server.client.artifacts.put('models/cancer/v1/model.onnx', readFileSync(fixture('breast_cancer_mlp.onnx')));
  await server.client.models.create({ name: 'cancer' });
  await server.client.models.createVersion('cancer', { source: stored.uri });
  await server.client.models.setAlias('cancer', 'champion', 1);
  // The first request loads the model on demand.
  expect(await infer(1)).toEqual([200]);
}, 40_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Sends `n` V2 inference requests, four at a time; their statuses. */
async function infer(n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i += 4) {
    const batch = Array.from({ length: Math.min(4, n - i) }, async (_, j) => {
      const res = await fetch(`${server.url}/v2/models/cancer/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[(i + j) % cancer.rows.length] }] }),
      });
      await res.arrayBuffer();
      return res.status;
    });
    statuses.push(...(await Promise.all(batch)));
  }
  return statuses;
}

const figure = (page: Page, label: string) => page.getByRole('region', { name: 'cancer' }).getByRole('group', { name: label });
const figureText = async (page: Page, label: string) => ((await figure(page, label).textContent()) ?? '').replace(label, '').trim();

describe('the serving page', () => {
  it('shows the served model READY with its version, and live figures that move with inference requests', async () => {
    const ui = await openPage(browser, `${server.url}/#/serving`);
    const { page } = ui;
    // Watching live figures is all reads: the page never sends anything but GET on its own.
    const sent: string[] = [];
    page.on('request', (r) => {
      if (r.method() !== 'GET') sent.push(`${r.method()} ${r.url()}`);
    });
    try {
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Serving');
      const section = page.getByRole('region', { name: 'cancer' });
      await section.getByText('READY', { exact: true }).waitFor();
      await section.getByText('version 1', { exact: true }).waitFor();
      await expect.poll(() => figureText(page, 'Total requests'), { timeout: 10_000 }).toBe('1');

      // A burst while the page watches: rate and latency become non-zero without a reload.
      expect((await infer(24)).every((s) => s === 200)).toBe(true);
      await expect.poll(() => figureText(page, 'Total requests'), { timeout: 10_000 }).toBe('25');
      await expect.poll(async () => Number(await figureText(page, 'Requests/s')), { timeout: 10_000 }).toBeGreaterThan(0);
      await expect.poll(() => figureText(page, 'Latency p99'), { timeout: 10_000 }).toMatch(/^\d+(\.\d+)? (ms|s)$/);
      expect(await figureText(page, 'Errors')).toBe('0.00 %');

      // A later burst, with failures among it, changes the figures again, still without a reload.
      expect((await infer(40)).every((s) => s === 200)).toBe(true);
      const bad = await fetch(`${server.url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
      expect(bad.status).toBe(400);
      await expect.poll(() => figureText(page, 'Total requests'), { timeout: 10_000 }).toBe('66');
      await expect.poll(() => figureText(page, 'Errors'), { timeout: 10_000 }).not.toBe('0.00 %');
      expect(page.url()).toContain('#/serving');

      // The rolling charts fill in as polls accumulate.
      await section.getByRole('img', { name: /cancer: requests per second/ }).waitFor({ timeout: 10_000 });
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      // The server stops answering: the page says so plainly and keeps the figures, marked stale.
      await ui.context.route('**/api/v1/serving/stats', (route) => route.abort('connectionrefused'));
      await page.getByRole('alert').filter({ hasText: 'The server is not answering' }).waitFor({ timeout: 10_000 });
      await section.getByText('stale', { exact: true }).waitFor();
      expect(await figureText(page, 'Total requests')).toBe('66');
      await ui.context.unroute('**/api/v1/serving/stats');
      await page.getByRole('alert').filter({ hasText: 'The server is not answering' }).waitFor({ state: 'detached', timeout: 10_000 });
      expect(sent).toEqual([]);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  }, 60_000);

  it('shows the traffic split of a running canary release, with each side\'s figures', async () => {
    const stored = await server.client.artifacts.put('models/cancer/v2/model.onnx', readFileSync(fixture('release/cancer_good.onnx')));
    await server.client.models.createVersion('cancer', { source: stored.uri });
    const release = await server.client.releases.create({ model: 'cancer', version: '2', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [25, 100], interval: '10m' } } });
    await expect.poll(async () => (await server.client.releases.get(release.id)).state, { timeout: 10_000 }).toBe('rolling_out');
    const ui = await openPage(browser, `${server.url}/#/serving`);
    const { page } = ui;
    try {
      const section = page.getByRole('region', { name: 'cancer' });
      await section.getByRole('heading', { name: /Traffic split · release of version 2 \(canary, rolling out\)/ }).waitFor({ timeout: 10_000 });
      await section.getByText('challenger version 2: 25 %').waitFor({ timeout: 10_000 });
      expect((await infer(40)).every((s) => s === 200)).toBe(true);
      const split = section.getByRole('table', { name: /Traffic split/ });
      await split.getByRole('row').filter({ hasText: 'challenger' }).waitFor({ timeout: 10_000 });
      await split.getByRole('row').filter({ hasText: 'champion' }).waitFor();
      await section.getByRole('link', { name: 'release of version 2' }).click();
      await page.waitForURL(new RegExp(`#/releases/${release.id}$`));
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
      await server.client.releases.abort(release.id, { by: 'test' });
    }
  }, 40_000);
});
