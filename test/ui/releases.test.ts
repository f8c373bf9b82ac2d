/**
 * The release pages in a real browser: a release started through the API is listed (with
 * its filters in the URL), its page shows the gates with their evidence and the history, a
 * self-approval is refused inside the dialog, and Abort does nothing until confirmed.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import type { Release } from '../../src/client/schemas/releases.js';
import { fixture } from '../support/serving.js';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
let release: Release;

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const c = server.client;
  await c.models.create({ name: 'cancer' });
  for (const [v, file] of [
    [1, 'breast_cancer_mlp.onnx'],
    [2, 'release/cancer_good.onnx'],
  ] as const) {
    const stored = await c.artifacts.put(`models/cancer/v${v}/model.onnx`, readFileSync(fixture(file)));
    await c.models.createVersion('cancer', { source: stored.uri });
  }
  await c.models.setAlias('cancer', 'champion', 1);
  const created = await c.releases.create({
    model: 'cancer',
    version: '2',
    environment: 'champion',
    requestedBy: 'alice',
    policy: { gates: [{ kind: 'signature' }, { kind: 'approval', count: 1 }], strategy: { kind: 'canary', steps: [25, 100], interval: '30s' } },
  });
  release = await c.releases.wait(created.id, { intervalMs: 100, timeoutMs: 20_000 });
  expect(release.state).toBe('awaiting_approval');
}, 45_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the release pages', () => {
  it('lists the release with its filters in the URL, and opens it', async () => {
    const ui = await openPage(browser, `${server.url}/#/releases`);
    const { page } = ui;
    try {
      const row = page.getByRole('row').filter({ hasText: 'cancer' });
      await row.waitFor();
      const cells = await row.getByRole('cell').allTextContents();
      expect(cells.slice(1, 5)).toEqual(['cancer', '2 → champion', 'canary', 'awaiting approval']);
      expect(cells[6]).toBe('alice');
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      await page.getByLabel('State').selectOption('promoted');
      await page.waitForURL(/#\/releases\?state=promoted$/);
      await page.getByText('No release matches these filters.').waitFor();
      await page.getByLabel('State').selectOption('active');
      await row.waitFor();
      await page.getByLabel('Environment').fill('staging');
      await page.waitForURL(/environment=staging/);
      await page.getByText('No release matches these filters.').waitFor();
      // The link reproduces the view.
      await page.goto(`${server.url}/#/releases?state=active&environment=champion`);
      await row.waitFor();
      expect(await page.getByLabel('Environment').inputValue()).toBe('champion');

      await row.getByRole('link', { name: /release of cancer version 2 to champion/ }).click();
      await page.waitForURL(new RegExp(`#/releases/${release.id}$`));
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Release of cancer version 2 to champion');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  }, 30_000);

  it('shows the gates with their evidence and the history; refuses a self-approval in the dialog; aborts only once confirmed', async () => {
    const ui = await openPage(browser, `${server.url}/#/releases/${release.id}`);
    const { page } = ui;
    try {
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Release of cancer version 2 to champion');
      const gates = page.getByRole('list').filter({ has: page.getByRole('heading', { name: 'signature' }) });
      const signature = gates.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'signature' }) });
      await signature.getByText('pass', { exact: true }).waitFor();
      const approval = gates.getByRole('listitem').filter({ has: page.getByRole('heading', { name: 'approval' }) });
      await approval.getByText('pending', { exact: true }).waitFor();
      await page.getByText('0 of 1 approval by people other than alice.').waitFor();
      const history = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'What happened' }) });
      expect(await history.getByRole('row').count()).toBeGreaterThan(2);
      await history.getByRole('cell', { name: 'gates → awaiting approval' }).first().waitFor();
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      // Approving as the requester: the server's refusal shows in the dialog, nothing changes.
      await page.getByRole('button', { name: 'Approve' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('button', { name: 'Approve' }).click();
      await dialog.getByText('Say who approves').waitFor();
      await dialog.getByLabel(/Your name/).fill('alice');
      await dialog.getByRole('button', { name: 'Approve' }).click();
      await dialog.getByRole('alert').filter({ hasText: 'alice requested release' }).waitFor();
      expect(await dialog.getByRole('alert').filter({ hasText: 'alice requested release' }).textContent()).toContain('PERMISSION_DENIED · HTTP 403');
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect((await server.client.releases.get(release.id)).approvals).toEqual([]);

      // Abort, then Cancel: nothing is sent.
      await page.getByRole('button', { name: 'Abort' }).click();
      await dialog.getByRole('heading', { name: 'Abort this release of cancer?' }).waitFor();
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect((await server.client.releases.get(release.id)).state).toBe('awaiting_approval');

      // Abort, then Confirm: the release ends aborted and the page shows it.
      await page.getByRole('button', { name: 'Abort' }).click();
      await dialog.getByLabel('Reason (optional)').fill('not this week');
      await dialog.getByRole('button', { name: 'Abort release' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await expect.poll(async () => (await server.client.releases.get(release.id)).state).toBe('aborted');
      await page.getByRole('definition').filter({ hasText: /^aborted$/ }).waitFor();
      expect(await page.getByRole('button', { name: 'Abort' }).count()).toBe(0);
      await page.getByRole('cell', { name: /not this week/ }).first().waitFor();
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  }, 40_000);

  it('says plainly when a release does not exist', async () => {
    const ui = await openPage(browser, `${server.url}/#/releases/no-such-release`);
    try {
      await expect.poll(() => ui.page.getByRole('alert').textContent()).toContain('There is no release no-such-release.');
      expect(await ui.page.getByRole('heading', { level: 1 }).textContent()).toBe('Release not found');
      expect(describeViolations(await seriousA11yViolations(ui.page))).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  }, 20_000);
});
