/**
 * The model registry in a real browser: from the list to a model and a version with its
 * signature and lineage, moving an alias behind a confirmation (Cancel changes nothing, a
 * refusal stays in the dialog, Confirm moves it), removing one, and the clear messages of a
 * model with no versions and of unknown models and versions. Access control is on: a user
 * who may only read the model sees the server's refusal in the dialog.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiPage, type UiServer } from './ui-harness.js';

const MODEL_FILE = readFileSync(join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx'));
const MODEL = 'fraud detector';

let server: UiServer;
let browser: Browser;
let runId: string;
let signature: { inputs: Array<{ name: string; type: string }>; outputs: Array<{ name: string }> };

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer({ auth: true }), launchBrowser()]);
  const { client } = server;
  // Without a permission of their own, users get the server's default: READ.
  await client.users.create({ username: 'viewer', password: 'viewer-password-1' });
  const run = await client.runs.create({ runName: 'nightly-train', tags: { 'mlflow.source.git.commit': '0123456789abcdef0123456789abcdef01234567' } });
  runId = run.info.runId;
  await client.runs.log(runId, { params: { hidden_units: '32', solver: 'adam' }, metrics: [{ key: 'auc', value: 0.97 }] });
  await client.runs.logInputs(runId, { datasets: [{ dataset: { name: 'transactions', digest: 'd41d8cd9', sourceType: 'http', source: 'https://data.example.com/tx.csv' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] }] });
  await client.artifacts.upload(runId, 'model/model.onnx', new Uint8Array(MODEL_FILE));
  await client.models.create({ name: MODEL, description: 'Scores card transactions for fraud.', tags: { team: 'risk' } });
  const v1 = await client.models.createVersion(MODEL, { source: `runs:/${runId}/model`, runId });
  await client.models.createVersion(MODEL, { source: `runs:/${runId}/model`, runId });
  await client.models.transitionStage(MODEL, 1, { stage: 'Production' });
  await client.models.setAlias(MODEL, 'champion', 1);
  await client.models.setAlias(MODEL, 'shadow', 2);
  await client.models.create({ name: 'empty-model' });
  signature = v1.signature as typeof signature;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens `path` signed in as `username`, with a session the way the login page stores one. */
async function openAs(username: string, path: string): Promise<UiPage> {
  const token = await server.client.tokens.create({ name: 'registry ui test', username, expiresInSeconds: 3600 });
  const ui = await openPage(browser, `${server.url}/favicon.svg`);
  await ui.page.evaluate((session) => window.localStorage.setItem('slipway.session', JSON.stringify(session)), {
    token: token.secret,
    tokenId: token.id,
    username,
    expiresTime: Date.now() + 3_600_000,
  });
  await ui.page.goto(`${server.url}/#${path}`);
  return ui;
}

async function checkA11y(ui: UiPage): Promise<void> {
  expect(describeViolations(await seriousA11yViolations(ui.page))).toBe('');
}

describe('the registry pages', () => {
  it('go from the list to a model and a version with its signature and lineage', async () => {
    const ui = await openAs('admin', '/models');
    try {
      const { page } = ui;
      const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: MODEL }) });
      await row.waitFor();
      expect(await row.getByRole('cell').nth(1).textContent()).toContain('@champion → v1');
      await checkA11y(ui);

      // The name search narrows the list and goes into the URL.
      await page.getByRole('searchbox', { name: 'Search by name' }).fill('EMPTY');
      await page.waitForURL(/q=EMPTY/);
      await expect.poll(() => page.getByRole('table').getByRole('rowheader').allTextContents()).toEqual(['empty-model']);
      await page.getByRole('searchbox', { name: 'Search by name' }).fill('');
      await page.getByRole('link', { name: MODEL }).waitFor();
      await page.getByRole('link', { name: MODEL }).click();

      await page.getByRole('heading', { level: 1, name: MODEL }).waitFor();
      await page.getByText('Scores card transactions for fraud.').waitFor();
      const versions = page.getByRole('table', { name: /Versions of/ });
      await expect.poll(() => versions.getByRole('rowheader').allTextContents()).toEqual(['Version 2', 'Version 1']);
      expect(await versions.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Version 1' }) }).textContent()).toContain('Production');
      await checkA11y(ui);
      await versions.getByRole('link', { name: 'Version 1' }).click();

      await page.getByRole('heading', { level: 1, name: `${MODEL} version 1` }).waitFor();
      const inputs = page.getByRole('table', { name: 'Inputs of the model' });
      await inputs.getByRole('rowheader', { name: signature.inputs[0]?.name }).waitFor();
      expect(await inputs.getByRole('cell').first().textContent()).toBe(signature.inputs[0]?.type);
      await page.getByRole('table', { name: 'Outputs of the model' }).getByRole('rowheader', { name: signature.outputs[0]?.name }).waitFor();

      const lineage = page.locator('.lineage');
      const runLink = lineage.getByRole('link', { name: 'nightly-train' });
      await runLink.waitFor();
      expect(await runLink.getAttribute('href')).toBe(`#/runs/${runId}`);
      await lineage.getByText('0123456789abcdef0123456789abcdef01234567').waitFor();
      expect(await page.getByRole('table', { name: 'Params of the run' }).getByRole('rowheader').allTextContents()).toEqual(['hidden_units', 'solver']);
      const datasets = page.getByRole('table', { name: 'Datasets the run used' });
      await datasets.getByRole('rowheader', { name: 'transactions' }).waitFor();
      expect(await datasets.getByRole('link', { name: 'https://data.example.com/tx.csv' }).getAttribute('rel')).toContain('noopener');
      await checkA11y(ui);

      // The model card opens in an empty sandbox.
      await page.getByRole('button', { name: 'Show the model card' }).click();
      const frame = page.locator('iframe[title="Model card of fraud detector version 1"]');
      await frame.waitFor();
      expect(await frame.getAttribute('sandbox')).toBe('');
      await expect.poll(() => page.frameLocator('iframe[title="Model card of fraud detector version 1"]').locator('body').textContent()).toContain('fraud detector');
      const download = page.waitForEvent('download');
      await page.getByRole('button', { name: 'Download as Markdown' }).click();
      expect((await download).suggestedFilename()).toBe('fraud_detector-v1-card.md');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('moves an alias only once confirmed, keeps a refusal in the dialog, and removes one', async () => {
    const ui = await openAs('admin', `/models/${encodeURIComponent(MODEL)}`);
    try {
      const { page } = ui;
      const form = page.getByRole('form', { name: 'Move or add an alias' });
      await form.waitFor();
      await form.getByLabel('Alias').fill('champion');
      await form.getByLabel('Version').selectOption('2');
      await form.getByRole('button', { name: 'Move alias…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Move alias' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toContain(`Move alias champion from version 1 to version 2 of ${MODEL}?`);
      await checkA11y(ui);

      // Cancel: nothing sent.
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect((await server.client.models.getByAlias(MODEL, 'champion')).version).toBe('1');

      // Confirm: moved on the server and on screen.
      await form.getByRole('button', { name: 'Move alias…' }).click();
      await dialog.getByRole('button', { name: 'Move alias' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.getByRole('status').filter({ hasText: 'Alias champion now points at version 2.' }).waitFor();
      expect((await server.client.models.getByAlias(MODEL, 'champion')).version).toBe('2');
      const aliases = page.getByRole('table', { name: `Aliases of ${MODEL}` });
      await expect.poll(() => aliases.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '@champion' }) }).getByRole('link').textContent()).toBe('v2');

      // A refusal from the server stays in the dialog with its message.
      await form.getByLabel('Alias').fill('latest');
      await form.getByRole('button', { name: 'Add alias…' }).click();
      const add = page.getByRole('dialog', { name: 'Add alias' });
      await add.getByRole('button', { name: 'Add alias' }).click();
      await add.getByRole('alert').filter({ hasText: "'latest' is reserved" }).waitFor();
      expect(await add.getByRole('alert').textContent()).toContain('HTTP 400');
      await add.getByRole('button', { name: 'Cancel' }).click();
      await add.waitFor({ state: 'hidden' });

      // Removing an alias asks first too.
      await page.getByRole('button', { name: 'Remove alias shadow' }).click();
      const remove = page.getByRole('dialog', { name: 'Remove alias' });
      expect(await remove.textContent()).toContain(`Remove alias shadow (version 2) from ${MODEL}?`);
      await remove.getByRole('button', { name: 'Remove alias' }).click();
      await remove.waitFor({ state: 'hidden' });
      await expect.poll(() => aliases.getByRole('rowheader').allTextContents()).toEqual(['@champion']);
      await expect(server.client.models.getByAlias(MODEL, 'shadow')).rejects.toMatchObject({ status: 400 });
      await checkA11y(ui);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('shows a refusal for want of permission in the dialog and changes nothing', async () => {
    const ui = await openAs('viewer', `/models/${encodeURIComponent(MODEL)}`);
    try {
      const { page } = ui;
      await page.getByText('Signed in as viewer').waitFor();
      const form = page.getByRole('form', { name: 'Move or add an alias' });
      await form.getByLabel('Alias').fill('champion');
      await form.getByLabel('Version').selectOption('1');
      await form.getByRole('button', { name: 'Move alias…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Move alias' });
      await dialog.getByRole('button', { name: 'Move alias' }).click();
      const refusal = dialog.getByRole('alert');
      await refusal.waitFor();
      expect(await refusal.textContent()).toContain('HTTP 403');
      expect(await dialog.isVisible()).toBe(true);
      expect((await server.client.models.getByAlias(MODEL, 'champion')).version).toBe('2');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('says plainly when a model has no versions, and when a model or version does not exist', async () => {
    const ui = await openAs('admin', '/models/empty-model');
    try {
      const { page } = ui;
      await page.getByText('empty-model has no versions yet.').waitFor();
      await checkA11y(ui);

      await page.goto(`${server.url}/#/models/no-such-model`);
      await page.getByRole('heading', { level: 1, name: 'Model not found' }).waitFor();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('There is no registered model named no-such-model');
      await checkA11y(ui);

      await page.goto(`${server.url}/#/models/${encodeURIComponent(MODEL)}/versions/99`);
      await page.getByRole('heading', { level: 1, name: 'Model version not found' }).waitFor();
      await expect.poll(() => page.getByRole('alert').textContent()).toContain(`There is no version 99 of ${MODEL}`);
      await checkA11y(ui);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
