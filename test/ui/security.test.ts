/**
 * What users' data cannot do to the UI: markup in names, params, tags, file names, model
 * descriptions and dataset sources shows as text, never as HTML or a `javascript:` link; an
 * SVG artifact previews as an image whose scripts never run with the UI's origin, even when
 * the image is opened on its own; nothing is framed but sandboxed inline documents; a name
 * '..' never sends a request to another route; the login page never leaves the UI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiPage, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
let runId = '';
let experimentId = '';

// Each payload sets a flag on whatever window runs it; the tests assert no window ever has it.
const HTML = '<img src=x onerror="window.__pwned=1">';
const SCRIPT = '<script>window.__pwned=1</script>';
// An SVG whose scripts, wherever they run, try to reach the UI's storage (where the session token lives).
const STEAL = "try { localStorage.setItem('pwned', location.href) } catch (e) {}";
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="${STEAL}"><script>${STEAL}</script><rect width="10" height="10" fill="red"/></svg>`;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const { client } = server;
  const exp = await client.experiments.create({ name: `exp ${HTML}` });
  experimentId = exp.experimentId;
  const run = await client.runs.create({ experimentId, runName: `run ${HTML}`, tags: { team: HTML, 'mlflow.source.name': `javascript:window.__pwned=1` } });
  runId = run.info.runId;
  await client.runs.log(runId, { params: { note: SCRIPT, html: `p ${HTML}` }, metrics: [{ key: 'loss', value: 1, step: 0, timestamp: Date.now() }] });
  await client.runs.logInputs(runId, {
    datasets: [{ dataset: { name: `ds ${HTML}`, digest: 'd41d8cd9', sourceType: 'http', source: 'javascript:window.__pwned=1' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] }],
  });
  await client.artifacts.upload(runId, 'plot.svg', SVG);
  await client.artifacts.upload(runId, `note ${HTML}.txt`, SCRIPT);
  await client.runs.update(runId, { status: 'FINISHED', endTime: Date.now() });
  const res = await fetch(`${server.url}/api/2.0/mlflow/registered-models/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'xss-model', description: `described ${HTML}` }) });
  expect(res.status).toBe(200);
  // Aliases '..' and '.' are valid names, set here through the MLflow API (which takes them in the body).
  await client.artifacts.upload(runId, 'model/notes.txt', 'a model');
  await client.models.create({ name: 'dotted' });
  await client.models.createVersion('dotted', { source: `runs:/${runId}/model`, runId });
  for (const alias of ['..', '.']) {
    const set = await fetch(`${server.url}/api/2.0/mlflow/registered-models/alias`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'dotted', alias, version: '1' }) });
    expect(set.status).toBe(200);
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

async function noScriptRan(page: Page): Promise<void> {
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  expect(await page.title()).not.toBe('pwned');
  // No link anywhere runs script when followed.
  expect(await page.locator('a[href^="javascript:" i], a[href^="data:" i], [srcdoc]:not([sandbox=""])').count()).toBe(0);
}

async function expectClean(ui: UiPage): Promise<void> {
  await noScriptRan(ui.page);
  expect(describeViolations(await seriousA11yViolations(ui.page))).toBe('');
  expect(ui.problems()).toEqual([]);
}

describe('user data in the UI', () => {
  it('shows markup in run and experiment names, params, tags, dataset names and sources and model descriptions as text', async () => {
    const ui = await openPage(browser, `${server.url}/#/runs/${runId}`);
    try {
      const { page } = ui;
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe(`run ${HTML}`);
      await expect.poll(() => page.getByText(`p ${HTML}`).count()).toBeGreaterThan(0);
      expect(await page.getByText(SCRIPT).count()).toBeGreaterThan(0);
      expect(await page.getByText(`ds ${HTML}`).count()).toBeGreaterThan(0);
      await expectClean(ui);

      await page.goto(`${server.url}/#/experiments/${experimentId}`);
      await expect.poll(() => page.getByRole('link', { name: `run ${HTML}` }).count()).toBe(1);
      await expectClean(ui);

      await page.goto(`${server.url}/#/models/xss-model`);
      await expect.poll(() => page.getByText(`described ${HTML}`).count()).toBe(1);
      await expectClean(ui);
    } finally {
      await ui.close();
    }
  });

  it('previews an SVG artifact as an image whose scripts never run with the UI origin, also when opened on its own', async () => {
    const ui = await openPage(browser, `${server.url}/#/runs/${runId}?tab=artifacts&path=plot.svg`);
    try {
      const { page } = ui;
      const img = page.getByRole('img', { name: 'Preview of plot.svg' });
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBe(10);
      await noScriptRan(page);
      // "Open image in new tab": the image's own URL as a page in the same browser, where the session lives.
      const src = (await img.getAttribute('src')) as string;
      const opened = await ui.context.newPage();
      try {
        // Browsers refuse to open a data: URL as a page; a blob: URL opens, with the UI's origin.
        await opened.goto(src.startsWith('blob:') || src.startsWith('data:') ? src : new URL(src, server.url).href).catch(() => undefined);
      } finally {
        await opened.close();
      }
      expect(await page.evaluate(() => window.localStorage.getItem('pwned'))).toBeNull();

      await page.goto(`${server.url}/#/runs/${runId}?tab=artifacts&path=${encodeURIComponent(`note ${HTML}.txt`)}`);
      await expect.poll(() => page.getByLabel(`Contents of note ${HTML}.txt`).textContent()).toBe(SCRIPT);
      await expectClean(ui);
    } finally {
      await ui.close();
    }
  });

  it('frames nothing but sandboxed inline documents: a blob: or same-origin frame is refused by the page policy', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments`);
    try {
      const { page } = ui;
      await page.getByRole('heading', { level: 1 }).waitFor();
      const loaded = await page.evaluate(async () => {
        const html = new Blob([`<script>try { localStorage.setItem('pwned', 'frame') } catch (e) {}</script>`], { type: 'text/html' });
        const tries = [URL.createObjectURL(html), '/api/v1/health'].map(
          (src) =>
            new Promise<string>((resolve) => {
              const frame = document.createElement('iframe');
              frame.src = src;
              frame.onload = () => {
                try {
                  resolve(frame.contentDocument?.documentElement.outerHTML ?? 'opaque');
                } catch {
                  resolve('opaque');
                }
              };
              document.body.append(frame);
              setTimeout(() => resolve('timeout'), 2000);
            }),
        );
        return await Promise.all(tries);
      });
      for (const reached of loaded) expect(reached).not.toMatch(/pwned|"status"/);
      expect(await page.evaluate(() => window.localStorage.getItem('pwned'))).toBeNull();
    } finally {
      await ui.close();
    }
  });

  it("removing an alias named '..' sends nothing: the browser would resolve …/aliases/.. to another route", async () => {
    const ui = await openPage(browser, `${server.url}/#/models/dotted`);
    try {
      const { page } = ui;
      await page.getByRole('button', { name: 'Remove alias ..' }).click();
      const remove = page.getByRole('dialog', { name: 'Remove alias' });
      expect(await remove.textContent()).toContain('Remove alias .. (version 1) from dotted?');
      await remove.getByRole('button', { name: 'Remove alias' }).click();
      await remove.getByRole('alert').waitFor();
      expect(await remove.getByRole('alert').textContent()).toContain("'..'");
      const model = await fetch(`${server.url}/api/v1/models/dotted`);
      expect(model.status).toBe(200);
      expect(((await model.json()) as { aliases: Array<{ alias: string }> }).aliases.map((a) => a.alias).sort()).toEqual(['.', '..']);
    } finally {
      await ui.close();
    }
  });

  it('never leaves the UI after the login page, whatever `next` says', async () => {
    const ui = await openPage(browser, `${server.url}/#/login`);
    try {
      const { page } = ui;
      for (const next of ['//evil.example/x', 'https://evil.example/', 'javascript:window.__pwned=1', '/\\evil.example', '\t//evil.example']) {
        await page.goto(`${server.url}/#/login?next=${encodeURIComponent(next)}`);
        const link = page.getByRole('link', { name: /Go to the experiments|Continue/ }).first();
        await link.waitFor();
        expect(await link.getAttribute('href'), next).toMatch(/^#\//);
        await noScriptRan(page);
      }
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
