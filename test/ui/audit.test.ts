/**
 * The audit page in a real browser: the events recorded by changes made through the API,
 * filtered by action from the URL-backed filters, paged with "Load more", bad filter values
 * answered with the server's message, and the chain verified intact with its head.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
/** Experiments created by the seed, each an `experiment.create` event: more than a page of 100. */
const EXPERIMENTS = 104;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  for (let i = 0; i < EXPERIMENTS; i++) await server.client.experiments.create({ name: `audit-exp-${String(i).padStart(3, '0')}` });
  await server.client.models.create({ name: 'fraud' });
  await server.client.models.create({ name: 'churn' });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const eventRows = (page: Page) => page.getByRole('table', { name: 'Audit events, oldest first' }).locator('tbody').getByRole('row');

describe('the audit page', () => {
  it('lists events, filters them by action from the URL, pages with Load more and shows an event in full', async () => {
    const ui = await openPage(browser, `${server.url}/#/audit`);
    try {
      const { page } = ui;
      await page.getByRole('heading', { level: 1, name: 'Audit trail' }).waitFor();
      await expect.poll(() => eventRows(page).count()).toBe(100);
      await page.getByText('100 events shown, more follow.').waitFor();
      await page.getByRole('button', { name: 'Load more' }).click();
      await expect.poll(() => eventRows(page).count()).toBeGreaterThanOrEqual(EXPERIMENTS + 2);
      expect(await page.getByRole('button', { name: 'Load more' }).count()).toBe(0);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      await page.getByLabel('Action').fill('registered_model.create');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(/#\/audit\?action=registered_model.create$/);
      await expect.poll(() => eventRows(page).count()).toBe(2);
      const cells = await eventRows(page).evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(2, 5).map((c) => c.textContent?.trim())));
      expect(cells).toEqual([
        ['anonymous', 'registered_model.create', 'registered_model fraud'],
        ['anonymous', 'registered_model.create', 'registered_model churn'],
      ]);

      const first = eventRows(page).first();
      expect(await first.getByText(/"changeDigest"/).isVisible()).toBe(false);
      await first.getByText(/^Event \d+: JSON$/).click();
      await first.getByText(/"changeDigest": "[0-9a-f]{64}"/).waitFor();

      // A shared link reproduces the view.
      const shared = await ui.context.newPage();
      await shared.goto(page.url());
      await expect.poll(() => eventRows(shared).count()).toBe(2);
      expect(await shared.getByLabel('Action').inputValue()).toBe('registered_model.create');
      await shared.close();

      await page.getByRole('button', { name: 'Clear' }).click();
      await page.waitForURL(/#\/audit$/);
      // The unfiltered list comes back as far as it was loaded.
      await expect.poll(() => eventRows(page).count()).toBeGreaterThanOrEqual(EXPERIMENTS + 2);
      expect(await page.getByLabel('Action').inputValue()).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it("shows the server's message for a bad filter value", async () => {
    const ui = await openPage(browser, `${server.url}/#/audit?since=yesterday`);
    try {
      await expect.poll(() => ui.page.getByRole('alert').textContent()).toContain("must be epoch milliseconds or an ISO 8601 time such as 2024-05-01T12:00:00Z, got 'yesterday'");
      expect(await ui.page.getByLabel('Since').inputValue()).toBe('yesterday');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('shows the head and verifies the chain intact up to it', async () => {
    const head = (await (await fetch(`${server.url}/api/v1/audit/head`)).json()) as { seq: number; hash: string };
    const ui = await openPage(browser, `${server.url}/#/audit`);
    try {
      const { page } = ui;
      await page.getByText(`${head.seq}:${head.hash}`).first().waitFor();
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      const verdict = page.getByRole('status').filter({ hasText: 'The chain is intact' });
      await verdict.waitFor();
      expect(await verdict.textContent()).toContain(`up to event ${head.seq}: head ${head.seq}:${head.hash}`);

      await page.getByLabel('Expected head (optional)').fill(`${head.seq + 5}:${'0'.repeat(64)}`);
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('truncated');

      await page.getByLabel('Expected head (optional)').fill('not-a-head');
      await page.getByRole('button', { name: 'Verify the chain' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('must be SEQ:HASH');
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
