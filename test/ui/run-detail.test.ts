/**
 * The run page in a real browser: the overview of a seeded run, its metric charts (a spike and
 * a NaN among a few hundred steps; log scale, wall time, smoothing and zoom kept in the URL),
 * its artifacts (folders, text and CSV previews, an image, a download with the file's bytes),
 * a deleted run's banner, an unknown and a malformed run id, and axe finding nothing serious.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiPage, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
let runId: string;
let deletedRunId: string;

const START = Date.UTC(2026, 0, 5, 9, 0, 0);
// Quoted fields holding the delimiter, doubled quotes and a line break; CRLF line ends.
const CSV = 'name,score,comment\r\nalpha,0.91,"plain"\r\nbeta,0.75,"has, a comma"\r\ngamma,0.5,"says ""hi""\non two lines"\r\n';
const NOTES = 'Training notes\nline two of the notes\n';
// More than the 1 MiB a text preview reads.
const BIG_LOG = Array.from({ length: 50_000 }, (_, i) => `epoch ${String(i).padStart(5, '0')} loss 0.123456`).join('\n');
// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const { client } = server;
  const exp = await client.experiments.create({ name: 'vision-detail' });
  const run = await client.runs.create({ experimentId: exp.experimentId, runName: 'resnet-sweep-7', startTime: START, userId: 'ada', tags: { team: 'vision', 'mlflow.source.name': 'train.py' } });
  runId = run.info.runId;
  const metrics: Array<{ key: string; value: number | 'NaN'; step: number; timestamp: number }> = [];
  for (let step = 0; step < 300; step++) {
    metrics.push({ key: 'loss', value: 2 * Math.exp(-step / 80) + 0.05, step, timestamp: START + step * 1000 });
    metrics.push({ key: 'grad_norm', value: step === 150 ? 987.5 : step === 200 ? 'NaN' : 1 + (step % 7) / 10, step, timestamp: START + step * 1000 });
  }
  // More points than a chart asks for: it comes downsampled, spike kept.
  for (let step = 0; step < 5000; step++) metrics.push({ key: 'throughput', value: step === 3210 ? 5000 : 100 + (step % 13), step, timestamp: START + step * 60 });
  for (let i = 0; i < metrics.length; i += 1000) await client.runs.log(runId, { metrics: metrics.slice(i, i + 1000) });
  await client.runs.log(runId, { params: { lr: '0.003', optimizer: 'adamw' } });
  await client.runs.logInputs(runId, {
    datasets: [{ dataset: { name: 'imagenet-mini', digest: 'd41d8cd9', sourceType: 'local', source: '/data/imagenet-mini' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] }],
  });
  await client.artifacts.upload(runId, 'notes.txt', NOTES);
  await client.artifacts.upload(runId, 'report.html', '<h1>Eval report</h1><script>parent.document.title = "pwned"</script>');
  await client.artifacts.upload(runId, 'eval/scores.csv', CSV);
  await client.artifacts.upload(runId, 'train.log', BIG_LOG);
  await client.artifacts.upload(runId, 'eval/plots/confusion.png', new Uint8Array(PNG));
  await client.runs.update(runId, { status: 'FINISHED', endTime: START + 300_000 });
  const gone = await client.runs.create({ experimentId: exp.experimentId, runName: 'abandoned' });
  deletedRunId = gone.info.runId;
  await client.runs.delete(deletedRunId);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

// Chromium logs the report's script it refused to run: that is the sandbox working.
const SANDBOX_BLOCKED = "Blocked script execution in 'about:srcdoc'";

async function expectClean(ui: UiPage): Promise<void> {
  expect(describeViolations(await seriousA11yViolations(ui.page))).toBe('');
  expect(ui.problems().filter((p) => !p.includes(SANDBOX_BLOCKED))).toEqual([]);
}

function hashQuery(page: Page): URLSearchParams {
  const hash = new URL(page.url()).hash;
  return new URLSearchParams(hash.slice(hash.indexOf('?') + 1));
}

async function chartDrawn(page: Page, metric: string): Promise<void> {
  await page.getByRole('img', { name: new RegExp(`^Chart of ${metric}`) }).locator('canvas').first().waitFor();
}

describe('the run page', () => {
  it('shows what the run is: ids, experiment, status, user, times, params, latest metrics, tags and datasets', async () => {
    const ui = await openPage(browser, `${server.url}/#/runs/${runId}`);
    try {
      const page = ui.page;
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('resnet-sweep-7');
      await expect.poll(() => page.getByRole('link', { name: 'vision-detail' }).count()).toBeGreaterThan(0);
      const info = page.locator('dl.run-info');
      await expect.poll(() => info.textContent()).toContain(runId);
      const text = (await info.textContent()) ?? '';
      expect(text).toContain('finished');
      expect(text).toContain('ada');
      expect(text).toContain('5 min 0 s');
      expect(text).toContain('train.py');
      const params = page.getByRole('table', { name: 'Parameters' });
      expect(await params.getByRole('row', { name: /lr/ }).textContent()).toContain('0.003');
      const latest = page.getByRole('table', { name: 'Latest metric values' });
      expect(await latest.getByRole('row', { name: /loss/ }).textContent()).toContain('299');
      expect(await page.getByRole('table', { name: 'Tags' }).textContent()).toContain('vision');
      // System tags are grouped apart, folded.
      expect(await page.getByRole('table', { name: 'Tags' }).textContent()).not.toContain('mlflow.source.name');
      await page.getByText(/System tags \(mlflow\.\*/).click();
      expect(await page.getByRole('table', { name: 'System tags' }).textContent()).toContain('train.py');
      const datasets = page.getByRole('table', { name: 'Dataset inputs' });
      const row = (await datasets.getByRole('row', { name: /imagenet-mini/ }).first().textContent()) ?? '';
      expect(row).toContain('d41d8cd9');
      expect(row).toContain('/data/imagenet-mini');
      expect(row).toContain('training');
      await expectClean(ui);
    } finally {
      await ui.close();
    }
  });

  it('charts metrics with the spike and the NaN visible, and keeps log scale, wall time, smoothing and zoom in the URL', async () => {
    const ui = await openPage(browser, `${server.url}/#/runs/${runId}`);
    try {
      const page = ui.page;
      await page.getByRole('tab', { name: 'Metrics' }).click();
      await expect.poll(() => hashQuery(page).get('tab')).toBe('metrics');
      expect(await page.getByRole('tab', { name: 'Metrics' }).getAttribute('aria-selected')).toBe('true');
      // The first key is charted until the user picks.
      await chartDrawn(page, 'grad_norm');
      expect(await page.getByRole('checkbox', { name: 'grad_norm' }).isChecked()).toBe(true);
      await page.getByRole('checkbox', { name: 'loss' }).check();
      await expect.poll(() => hashQuery(page).get('metrics')).toBe('grad_norm,loss');
      await chartDrawn(page, 'loss');
      await page.getByRole('checkbox', { name: 'loss' }).uncheck();
      await expect.poll(() => hashQuery(page).get('metrics')).toBe('grad_norm');
      await expect.poll(() => page.getByRole('img', { name: /^Chart of loss/ }).count()).toBe(0);
      const legend = page.getByRole('img', { name: /^Chart of grad_norm/ }).locator('.u-legend');
      expect(await legend.textContent()).toContain('grad_norm');
      const stats = page.getByLabel('Statistics of grad_norm');
      await expect.poll(() => stats.textContent()).toContain('max 987.5 at step 150');
      expect(await stats.textContent()).toContain('1 NaN/∞ point (gaps)');
      expect(await stats.textContent()).toContain('last 1.5 at step 299');

      await page.getByRole('checkbox', { name: 'Log scale y' }).check();
      await expect.poll(() => hashQuery(page).get('log')).toBe('1');
      await expect.poll(() => page.getByRole('img', { name: 'Chart of grad_norm by step, log scale' }).locator('canvas').count()).toBe(1);

      await page.getByLabel('X axis').selectOption('time');
      await expect.poll(() => hashQuery(page).get('x')).toBe('time');
      await chartDrawn(page, 'grad_norm by wall time');
      await expect.poll(() => stats.textContent()).toContain('max 987.5');

      await page.getByLabel('Smoothing').fill('0.6');
      await expect.poll(() => hashQuery(page).get('smooth')).toBe('0.6');
      await expect.poll(() => legend.textContent()).toContain('grad_norm (raw)');
      await chartDrawn(page, 'grad_norm');

      // A series longer than the chart's point budget comes downsampled, its spike and its min–max band kept; dragging
      // across the chart puts the window in the URL and fetches it at full detail.
      await page.goto(`${server.url}/#/runs/${runId}?tab=metrics&metrics=throughput`);
      await chartDrawn(page, 'throughput');
      const throughput = page.getByLabel('Statistics of throughput');
      await expect.poll(() => throughput.textContent()).toMatch(/of 5,000 points drawn \(min–max per bucket\)/);
      expect(await throughput.textContent()).toContain('max 5000 at step 3210');
      expect(await page.getByRole('img', { name: /^Chart of throughput/ }).locator('.u-legend').textContent()).toContain('bucket max');
      const over = page.getByRole('img', { name: /^Chart of throughput/ }).locator('.u-over');
      const box = await over.boundingBox();
      if (!box) throw new Error('the chart has no plotting area');
      await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2, { steps: 5 });
      await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
      await page.mouse.up();
      await expect.poll(() => hashQuery(page).get('from')).not.toBe(null);
      const from = Number(hashQuery(page).get('from'));
      const to = Number(hashQuery(page).get('to'));
      expect(from).toBeGreaterThan(1000);
      expect(to).toBeLessThan(4000);
      expect(to).toBeGreaterThan(from);
      await expect.poll(() => throughput.textContent()).toMatch(/points, all drawn/);
      expect(await page.getByText(/^Zoomed in on/).textContent()).toBe(`Zoomed in on steps ${from} to ${to}.`);
      await page.getByRole('button', { name: 'Reset zoom' }).click();
      await expect.poll(() => hashQuery(page).get('from')).toBe(null);
      await expect.poll(() => throughput.textContent()).toMatch(/of 5,000 points drawn/);

      // The whole view is a link: opening it again shows the same settings.
      await page.goto(`${server.url}/#/runs/${runId}?tab=metrics&metrics=loss,grad_norm&log=1&smooth=0.3`);
      await chartDrawn(page, 'loss');
      await chartDrawn(page, 'grad_norm');
      expect(await page.getByRole('checkbox', { name: 'Log scale y' }).isChecked()).toBe(true);
      expect(await page.getByRole('checkbox', { name: 'loss' }).isChecked()).toBe(true);
      await expectClean(ui);
    } finally {
      await ui.close();
    }
  });

  it('browses artifacts: folders, a text and a CSV preview, an image, and a download with the bytes', async () => {
    const ui = await openPage(browser, `${server.url}/#/runs/${runId}?tab=artifacts`);
    try {
      const page = ui.page;
      const list = page.getByRole('table', { name: 'Files in this folder' });
      await expect.poll(() => list.textContent()).toContain('notes.txt');
      await list.getByRole('link', { name: 'notes.txt' }).click();
      await expect.poll(() => hashQuery(page).get('path')).toBe('notes.txt');
      await expect.poll(() => page.getByLabel('Contents of notes.txt').textContent()).toContain('line two of the notes');

      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download notes.txt' }).click()]);
      expect(download.suggestedFilename()).toBe('notes.txt');
      expect(readFileSync(await download.path(), 'utf8')).toBe(NOTES);

      // A long log shows its first MiB and says so.
      await list.getByRole('link', { name: 'train.log' }).click();
      await expect.poll(() => page.getByRole('note').textContent()).toBe(`Showing the first 1.00 MiB of ${(BIG_LOG.length / 1048576).toFixed(2)} MiB: download the file to see all of it.`);
      expect(await page.getByLabel('Contents of train.log').textContent()).toMatch(/^epoch 00000 loss/);

      // An HTML report runs in a frame with no scripts and no origin.
      await list.getByRole('link', { name: 'report.html' }).click();
      const frame = page.locator('iframe[title="Report report.html"]');
      expect(await frame.getAttribute('sandbox')).toBe('');
      await expect.poll(() => page.frameLocator('iframe[title="Report report.html"]').getByRole('heading').textContent()).toBe('Eval report');
      expect(await page.title()).not.toBe('pwned');
      await expect.poll(() => ui.problems().some((p) => p.includes(SANDBOX_BLOCKED))).toBe(true);

      await list.getByRole('link', { name: 'eval/' }).click();
      await expect.poll(() => hashQuery(page).get('path')).toBe('eval');
      await list.getByRole('link', { name: 'scores.csv' }).click();
      const table = page.getByRole('region', { name: 'Table preview of scores.csv' }).getByRole('table');
      await expect.poll(() => table.getByRole('columnheader').allTextContents()).toEqual(['name', 'score', 'comment']);
      expect(await table.getByRole('row', { name: /beta/ }).getByRole('cell').allTextContents()).toEqual(['beta', '0.75', 'has, a comma']);
      expect(await table.getByRole('row', { name: /gamma/ }).getByRole('cell').allTextContents()).toEqual(['gamma', '0.5', 'says "hi"\non two lines']);
      expect(await table.getByRole('row').count()).toBe(4);

      await list.getByRole('link', { name: 'plots/' }).click();
      await list.getByRole('link', { name: 'confusion.png' }).click();
      const img = page.getByRole('img', { name: 'Preview of eval/plots/confusion.png' });
      await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBe(1);
      expect(await img.getAttribute('src')).toMatch(/^blob:/);
      await page.getByRole('navigation', { name: 'Artifact folder' }).getByRole('link', { name: 'artifacts' }).click();
      await expect.poll(() => hashQuery(page).get('path')).toBe(null);
      await expectClean(ui);
    } finally {
      await ui.close();
    }
  });

  it('marks a deleted run, and names an unknown or malformed run id', async () => {
    const ui = await openPage(browser, `${server.url}/#/runs/${deletedRunId}`);
    try {
      const page = ui.page;
      await expect.poll(() => page.getByText('This run is deleted.').count()).toBe(1);
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('abandoned');
      await expectClean(ui);
      const unknown = 'f'.repeat(32);
      await page.goto(`${server.url}/#/runs/${unknown}`);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain(`There is no run ${unknown}`);
      expect(await page.getByRole('alert').textContent()).toContain('not found');
      await page.goto(`${server.url}/#/runs/not-a-run`);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('32-character hex run id');
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
    } finally {
      await ui.close();
    }
  });
});
