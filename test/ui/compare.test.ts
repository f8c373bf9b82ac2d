/**
 * Comparing runs in a real browser: three runs logged through the SDK appear as three curves
 * with their names in the legend, the params table lists only the params that differ until
 * "Show all params" is ticked, the parallel coordinates draw one line per run, an unknown run
 * id is named while the others stay shown, and the view lives in the URL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
const ids: string[] = [];

async function seedRun(name: string, params: Record<string, string>, scale: number): Promise<string> {
  const run = await server.client.runs.create({ runName: name });
  const metrics = Array.from({ length: 20 }, (_, step) => [
    { key: 'loss', value: scale / (step + 1), step, timestamp: 1_700_000_000_000 + step * 1000 },
    { key: 'accuracy', value: 1 - scale / (step + 2), step, timestamp: 1_700_000_000_000 + step * 1000 },
  ]).flat();
  await server.client.runs.log(run.info.runId, { params, metrics });
  await server.client.runs.update(run.info.runId, { status: 'FINISHED' });
  return run.info.runId;
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  ids.push(await seedRun('alpha', { lr: '0.1', optimizer: 'adam', layers: '2' }, 1));
  ids.push(await seedRun('beta', { lr: '0.01', optimizer: 'adam', layers: '2' }, 0.6));
  ids.push(await seedRun('gamma', { lr: '0.001', optimizer: 'adam', layers: '3' }, 0.3));
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the compare page', () => {
  it('overlays three runs, lists the params that differ, and draws a line per run in parallel coordinates', async () => {
    const unknown = 'f'.repeat(32);
    const ui = await openPage(browser, `${server.url}/#/compare?runs=${[...ids, unknown].join(',')}&metric=loss`);
    try {
      const { page } = ui;
      await page.getByRole('heading', { level: 1, name: 'Compare 4 runs' }).waitFor();
      await expect.poll(() => page.getByRole('alert').first().textContent()).toContain(unknown);

      // The chart: one curve per run, named in the legend with its last value.
      await page.getByRole('img', { name: 'loss of 3 runs by step' }).waitFor();
      const legend = page.getByRole('region', { name: 'Legend of the loss chart' });
      for (const name of ['alpha', 'beta', 'gamma']) await legend.getByRole('rowheader', { name }).waitFor();
      const alphaRow = legend.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'alpha' }) });
      expect(await alphaRow.getByRole('cell').allTextContents()).toEqual(['', '0.05', '0.05', '1', '20']);

      // A run can be left off the chart (and back) without leaving the comparison; the URL keeps it.
      await legend.getByRole('checkbox', { name: 'Show beta on the chart' }).uncheck();
      await page.getByRole('img', { name: 'loss of 2 runs by step' }).waitFor();
      await page.waitForURL((u) => u.hash.includes(`hide=${ids[1]}`));
      await page.getByRole('button', { name: 'Show every run' }).click();
      await page.getByRole('img', { name: 'loss of 3 runs by step' }).waitFor();

      // Params: only lr and layers differ; optimizer appears once all params are asked for.
      await page.getByRole('heading', { name: 'Params that differ' }).waitFor();
      const params = page.getByRole('region', { name: 'Params that differ between the runs' });
      expect(await params.getByRole('rowheader').allTextContents()).toEqual(['layers', 'lr']);
      expect(await params.getByRole('columnheader').allTextContents()).toEqual(['Param', 'alpha', 'beta', 'gamma']);
      await page.getByRole('checkbox', { name: 'Show all params' }).check();
      await page.waitForURL(/all=1/);
      await expect.poll(() => page.getByRole('region', { name: 'All params, by run' }).getByRole('rowheader').allTextContents()).toEqual(['layers', 'lr', 'optimizer']);

      // Parallel coordinates: an axis per param and the metric, a line per run, and the same data as a table.
      const chart = page.getByRole('img', { name: /^Parallel coordinates of 3 runs: params layers, lr, optimizer against loss/ });
      await chart.waitFor();
      await expect.poll(() => chart.locator('path.pc-line').count()).toBe(3);
      expect(await chart.locator('path.pc-line title').allTextContents()).toEqual(['alpha: loss 0.05', 'beta: loss 0.03', 'gamma: loss 0.015']);
      const pcTable = page.getByRole('region', { name: 'Parallel coordinates data' });
      expect(await pcTable.getByRole('rowheader').allTextContents()).toEqual(['alpha', 'beta', 'gamma']);

      // Another metric and the time axis go into the URL, so the link reproduces the view.
      await page.getByRole('combobox', { name: 'Metric' }).selectOption('accuracy');
      await page.getByRole('combobox', { name: 'X axis' }).selectOption('time');
      await page.getByRole('checkbox', { name: 'Log scale' }).check();
      await page.waitForURL((u) => ['metric=accuracy', 'x=time', 'log=1'].every((part) => u.hash.includes(part)));
      await page.getByRole('img', { name: 'accuracy of 3 runs by time, logarithmic scale' }).waitFor();
      const url = page.url();
      await page.reload();
      await page.getByRole('img', { name: 'accuracy of 3 runs by time, logarithmic scale' }).waitFor();
      expect(page.url()).toBe(url);

      // Each run's name links back to it.
      expect(await page.getByRole('region', { name: 'Legend of the accuracy chart' }).getByRole('link', { name: 'beta' }).getAttribute('href')).toBe(`#/runs/${ids[1]}`);

      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('says what to do without runs, and names ids that are not run ids', async () => {
    const ui = await openPage(browser, `${server.url}/#/compare`);
    try {
      const { page } = ui;
      await page.getByText('No runs chosen.').waitFor();
      await page.goto(`${server.url}/#/compare?runs=not-a-run,${ids[0]}`);
      await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('not-a-run');
      // Without metric= the first metric by name is drawn.
      await page.getByRole('img', { name: 'accuracy of 1 run by step' }).waitFor();
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
