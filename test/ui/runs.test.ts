/**
 * The experiments list and the runs table in a real browser: filtering with MLflow's grammar,
 * sorting on the server both ways, choosing columns, the view surviving a reload, paging as
 * the table scrolls, selecting runs to compare, and the messages for a bad filter and an
 * unknown experiment. Seeded through the SDK only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
let tuningId: string;
let bigId: string;
let retiredId: string;

const LRS = ['0.1', '0.01', '0.001'];
/** The seeded runs of the "tuning" experiment: name, lr, rmse. */
const TUNING = Array.from({ length: 12 }, (_, i) => ({ name: `trial-${String(i).padStart(2, '0')}`, lr: LRS[i % 3] as string, optimizer: i % 2 === 0 ? 'adam' : 'sgd', rmse: Number(((i * 7) % 12 / 10 + 0.05).toFixed(2)) }));
const BIG_RUNS = 1_050;

async function parallel(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const c = server.client;
  tuningId = (await c.experiments.create({ name: 'tuning', tags: { team: 'vision' } })).experimentId;
  bigId = (await c.experiments.create({ name: 'big-sweep' })).experimentId;
  const t0 = Date.now() - 3_600_000;
  await parallel(TUNING.length, 4, async (i) => {
    const r = TUNING[i] as (typeof TUNING)[number];
    const run = await c.runs.create({ experimentId: tuningId, runName: r.name, startTime: t0 + i * 60_000, userId: 'ada' });
    await c.runs.log(run.info.runId, { params: { lr: r.lr, optimizer: r.optimizer }, metrics: [{ key: 'rmse', value: r.rmse }, { key: 'accuracy', value: 1 - r.rmse / 2 }] });
    await c.runs.update(run.info.runId, { status: 'FINISHED', endTime: t0 + i * 60_000 + 42_000 });
  });
  retiredId = (await c.experiments.create({ name: 'retired' })).experimentId;
  for (const name of ['old-a', 'old-b']) await c.runs.create({ experimentId: retiredId, runName: name });
  await c.experiments.delete(retiredId);
  await parallel(BIG_RUNS, 8, async (i) => {
    const run = await c.runs.create({ experimentId: bigId, runName: `sweep-${String(i).padStart(4, '0')}`, startTime: t0 + i });
    if (i % 50 === 0) await c.runs.log(run.info.runId, { metrics: [{ key: 'loss', value: i }] });
  });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The run names the table shows, top to bottom. */
async function visibleNames(page: Page): Promise<string[]> {
  return await page.getByRole('region', { name: 'Runs' }).getByRole('row').getByRole('link').allTextContents();
}

async function expectAccessible(page: Page): Promise<void> {
  expect(describeViolations(await seriousA11yViolations(page))).toBe('');
}

const sorted = (names: string[]): string[] => [...names].sort();

describe('the experiments page', () => {
  it('lists the experiments with links to their runs, and searches by name', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments`);
    try {
      const { page } = ui;
      await expect.poll(() => page.getByRole('link', { name: 'tuning' }).count()).toBe(1);
      expect(await page.getByRole('link', { name: 'big-sweep' }).getAttribute('href')).toBe(`#/experiments/${bigId}`);
      expect(await page.getByRole('columnheader').allTextContents()).toEqual(['Name', 'ID', 'Last update', 'Created']);
      await expectAccessible(page);
      await page.getByLabel('Search experiments by name').fill('SWEEP');
      await expect.poll(() => page.getByRole('link', { name: 'tuning' }).count()).toBe(0);
      await expect.poll(() => page.getByRole('link', { name: 'big-sweep' }).count()).toBe(1);
      expect(page.url()).toContain('q=SWEEP');
      await page.getByRole('link', { name: 'big-sweep' }).click();
      await page.waitForURL(new RegExp(`#/experiments/${bigId}$`));
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('big-sweep');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});

describe('a deleted experiment', () => {
  it('is listed under the deleted view, says so on its page, and shows its runs under Deleted', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments`);
    try {
      const { page } = ui;
      await expect.poll(() => page.getByRole('link', { name: 'tuning' }).count()).toBe(1);
      expect(await page.getByRole('link', { name: 'retired' }).count()).toBe(0);
      await page.getByLabel('Show').selectOption('deleted');
      await expect.poll(() => page.getByRole('link', { name: 'retired' }).count()).toBe(1);
      expect(page.url()).toContain('view=deleted');
      expect(await page.getByRole('row', { name: /retired/ }).textContent()).toContain('Deleted');
      await page.getByRole('link', { name: 'retired' }).click();
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('retired');
      await expect.poll(() => page.getByText('This experiment has no active runs.').count()).toBe(1);
      expect(await page.locator('.page-subtitle').textContent()).toContain('Deleted');
      await page.getByLabel('Show').selectOption('deleted');
      await expect.poll(async () => sorted(await visibleNames(page))).toEqual(['old-a', 'old-b']);
      expect(page.url()).toContain('view=deleted');
      await expectAccessible(page);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});

describe('the runs page', () => {
  it('filters with MLflow grammar from the keyboard, sorts a metric both ways, and shows a chosen param column', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments/${tuningId}`);
    try {
      const { page } = ui;
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('tuning');
      await expect.poll(async () => sorted(await visibleNames(page))).toEqual(sorted(TUNING.map((r) => r.name)));
      await expect.poll(() => page.getByRole('status').filter({ hasText: 'loaded' }).textContent()).toContain('12 runs loaded · all loaded');
      await expectAccessible(page);

      // Search from the keyboard: type the filter and press Enter.
      const box = page.getByRole('searchbox', { name: 'Filter runs' });
      await box.focus();
      await page.keyboard.type("metrics.rmse < 0.6 and params.lr = '0.1'");
      await page.keyboard.press('Enter');
      const matching = TUNING.filter((r) => r.rmse < 0.6 && r.lr === '0.1');
      expect(matching.length).toBeGreaterThan(1);
      expect(matching.length).toBeLessThan(TUNING.length / 2);
      await expect.poll(async () => sorted(await visibleNames(page))).toEqual(sorted(matching.map((r) => r.name)));
      expect(decodeURIComponent(page.url())).toContain("filter=metrics.rmse < 0.6 and params.lr = '0.1'".replace(/ /g, '+'));

      // Sort by the rmse metric: ascending on the first press, descending on the second.
      await page.getByRole('button', { name: /metric rmse/ }).click();
      const byRmse = [...matching].sort((a, b) => a.rmse - b.rmse).map((r) => r.name);
      await expect.poll(() => visibleNames(page)).toEqual(byRmse);
      expect(await page.getByRole('columnheader', { name: /metric rmse/ }).getAttribute('aria-sort')).toBe('ascending');
      // Again from the keyboard: the header is a button.
      await page.getByRole('button', { name: /metric rmse/ }).focus();
      await page.keyboard.press('Enter');
      await expect.poll(() => visibleNames(page)).toEqual([...byRmse].reverse());
      expect(await page.getByRole('columnheader', { name: /metric rmse/ }).getAttribute('aria-sort')).toBe('descending');

      // Choose the lr param column and see its values.
      await page.getByRole('button', { name: /^Columns/ }).click();
      const params = page.getByRole('group', { name: /Params/ });
      await params.getByRole('checkbox', { name: 'lr' }).check();
      await expect.poll(() => page.getByRole('columnheader', { name: /param lr/ }).count()).toBe(1);
      const lrCells = async (): Promise<string[]> => {
        const headers = await page.getByRole('columnheader').allTextContents();
        const at = headers.findIndex((h) => /param\s*lr/.test(h));
        return await page.getByRole('region', { name: 'Runs' }).getByRole('row').locator(`td:nth-child(${at + 1})`).allTextContents();
      };
      await expect.poll(lrCells).toEqual(matching.map(() => '0.1'));
      // Escape closes the chooser and gives focus back to its button.
      await page.keyboard.press('Escape');
      await expect.poll(() => page.getByRole('group', { name: 'Choose columns' }).count()).toBe(0);
      expect(await page.evaluate(() => document.activeElement?.textContent)).toMatch(/^Columns \(\d+\)$/);
      await expectAccessible(page);

      // The URL reproduces the view: a reload shows the same filter, order, columns and rows.
      const url = page.url();
      expect(url).toContain('order=');
      expect(url).toContain('cols=');
      await page.reload();
      await expect.poll(() => visibleNames(page)).toEqual([...byRmse].reverse());
      expect(await page.getByRole('searchbox', { name: 'Filter runs' }).inputValue()).toBe("metrics.rmse < 0.6 and params.lr = '0.1'");
      expect(await page.getByRole('columnheader', { name: /metric rmse/ }).getAttribute('aria-sort')).toBe('descending');
      await expect.poll(lrCells).toEqual(matching.map(() => '0.1'));
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('shows the server message for a malformed filter instead of the old results', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments/${tuningId}`);
    try {
      const { page } = ui;
      await expect.poll(() => visibleNames(page).then((n) => n.length)).toBe(TUNING.length);
      const box = page.getByRole('searchbox', { name: 'Filter runs' });
      await box.fill('metrics.rmse < 1 or params.lr = 1');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      const alert = page.getByRole('alert');
      await expect.poll(() => alert.textContent()).toContain("'OR' is not supported");
      expect(await alert.textContent()).toContain('INVALID_ARGUMENT');
      expect(await page.getByRole('region', { name: 'Runs' }).count()).toBe(0);
      expect(await box.getAttribute('aria-invalid')).toBe('true');
      await expectAccessible(page);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('names an unknown experiment clearly', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments/987654`);
    try {
      const { page } = ui;
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('There is no experiment with id 987654');
      expect(await page.getByRole('alert').textContent()).toContain('NOT_FOUND');
      await expectAccessible(page);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('loads the next page as a 1,000+ run table scrolls, keeps only visible rows in the page, and links 3 selected runs to compare', async () => {
    const ui = await openPage(browser, `${server.url}/#/experiments/${bigId}`);
    try {
      const { page } = ui;
      const count = page.getByRole('status').filter({ hasText: 'loaded' });
      await expect.poll(() => count.textContent()).toContain('200 runs loaded');
      const region = page.getByRole('region', { name: 'Runs' });
      // Newest first: the last-started run leads.
      expect((await visibleNames(page))[0]).toBe(`sweep-${BIG_RUNS - 1}`);
      expect(await region.getByRole('row').count()).toBeLessThan(80);

      const names = (await visibleNames(page)).slice(0, 3);
      const ids: string[] = [];
      for (const name of names) {
        await page.getByRole('checkbox', { name: `Select run ${name}` }).check();
        ids.push(new URL((await page.getByRole('link', { name, exact: true }).getAttribute('href')) as string, server.url).hash.replace('#/runs/', ''));
      }
      const compare = page.getByRole('link', { name: 'Compare (3)' });
      expect(await compare.getAttribute('href')).toBe(`#/compare?runs=${ids.join(',')}`);

      await region.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      await expect.poll(() => count.textContent()).toMatch(/[4-9]\d\d runs loaded|1,\d{3} runs loaded/);
      expect(await region.getByRole('row').count()).toBeLessThan(80);
      // Keep scrolling to the end: every run loads and the count says so.
      await expect
        .poll(
          async () => {
            await region.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
            return await count.textContent();
          },
          { timeout: 20_000 },
        )
        .toContain(`${BIG_RUNS.toLocaleString('en-US')} runs loaded · all loaded`);
      await expect
        .poll(async () => {
          await region.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
          return (await visibleNames(page)).at(-1);
        })
        .toBe('sweep-0000');
      await expectAccessible(page);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
