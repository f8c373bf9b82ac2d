/**
 * Load-test pages in a real browser: two load tests run by the server against its own
 * health route and recorded as tracking runs (tagged with a model through the MLflow API),
 * listed and filtered by model, one report with its percentiles, thresholds and chart, the
 * other chosen as its baseline, the recorded HTML report in a sandboxed frame, and clear
 * messages for a run that is not a load test and for an unknown run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { describeViolations, launchBrowser, openPage, seriousA11yViolations, startUiServer, type UiServer } from './ui-harness.js';

let server: UiServer;
let browser: Browser;
let passedRun = '';
// A loaded machine can make the generator fall behind, which fails any test: the page must show what was recorded.
let firstPassed = true;
let failedRun = '';
let plainRun = '';

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? null : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

// A two-second open-model test of the server's own health route, recorded, then tagged with the model it stands for.
async function recordLoadTest(version: string, alias: string | undefined, thresholds: string[]): Promise<{ runId: string; passed: boolean }> {
  const result = await call<{ recordedRun: { runId: string }; passed: boolean }>('POST', '/api/v1/loadtests', { target: `${server.url}/health`, protocol: 'raw', method: 'GET', rate: 40, duration: '2s', workers: 1, connections: 4, thresholds, record: true });
  const runId = result.recordedRun.runId;
  const tags: Record<string, string> = { 'slipway.model.name': 'cancer', 'slipway.model.version': version, ...(alias ? { 'slipway.model.alias': alias } : {}) };
  for (const [key, value] of Object.entries(tags)) await call('POST', '/api/2.0/mlflow/runs/set-tag', { run_id: runId, key, value });
  return { runId, passed: result.passed };
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startUiServer(), launchBrowser()]);
  const first = await recordLoadTest('1', 'champion', ['p99<5s', 'error_rate<1%']);
  passedRun = first.runId;
  firstPassed = first.passed;
  failedRun = (await recordLoadTest('2', undefined, ['p50<0.001ms', 'error_rate<1%'])).runId;
  const exp = await call<{ experiment_id: string }>('POST', '/api/2.0/mlflow/experiments/create', { name: 'training' });
  plainRun = (await call<{ run: { info: { run_id: string } } }>('POST', '/api/2.0/mlflow/runs/create', { experiment_id: exp.experiment_id, run_name: 'plain-training', start_time: Date.now() })).run.info.run_id;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('load-test pages', () => {
  it('lists the recorded load tests with their verdicts, filtered by model in the URL', async () => {
    const ui = await openPage(browser, `${server.url}/#/loadtests`);
    try {
      const page = ui.page;
      await page.getByRole('heading', { level: 1, name: 'Load tests' }).waitFor();
      const rows = page.locator('table.data tbody tr');
      await expect.poll(() => rows.count()).toBe(2);
      // Newest first: the failed v2 test, then the passed v1 test at its alias.
      await expect.poll(() => rows.nth(0).innerText()).toMatch(/cancer\s+v2\s+.*Failed/s);
      await expect.poll(() => rows.nth(1).innerText()).toMatch(new RegExp(`cancer\\s+v1 @champion\\s+.*${firstPassed ? 'Passed' : 'Failed'}`, 's'));
      expect(await rows.nth(1).locator('td').nth(4).innerText()).toMatch(/(µs|ms)$/);
      expect(await rows.nth(1).locator('td').nth(5).innerText()).toMatch(/req\/s$/);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      await page.getByLabel('Model').fill('nobody');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL(/#\/loadtests\?model=nobody$/);
      await expect.poll(() => page.locator('.empty').innerText()).toContain('No recorded load test of model nobody');
      await page.getByRole('button', { name: 'Show all models' }).click();
      await expect.poll(() => rows.count()).toBe(2);

      await page.goto(`${server.url}/#/loadtests?model=cancer`);
      await expect.poll(() => page.getByLabel('Model').inputValue()).toBe('cancer');
      await expect.poll(() => rows.count()).toBe(2);
      await rows.nth(1).getByRole('link', { name: 'cancer' }).click();
      await page.waitForURL(new RegExp(`#/loadtests/${passedRun}$`));
      await page.getByRole('heading', { level: 1, name: 'Load test of cancer v1 @champion' }).waitFor();
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('shows a report: verdict, thresholds with measured values, percentiles, latency chart, settings and the recorded HTML report', async () => {
    const ui = await openPage(browser, `${server.url}/#/loadtests/${failedRun}`);
    try {
      const page = ui.page;
      await page.getByRole('heading', { level: 1, name: 'Load test of cancer v2' }).waitFor();
      await expect.poll(() => page.getByRole('heading', { level: 2, name: /Verdict/ }).innerText()).toBe('Verdict: Failed');
      const thresholds = page.getByRole('table', { name: 'Thresholds with measured values and verdicts' });
      await expect.poll(() => thresholds.getByRole('row', { name: /p50<0\.001ms/ }).innerText()).toMatch(/Failed$/);
      await expect.poll(() => thresholds.getByRole('row', { name: /error_rate<1%/ }).innerText()).toMatch(/0\.000 %\s+Passed$/);
      const percentiles = page.getByRole('table', { name: 'Latency percentiles' });
      for (const p of ['p50 (median)', 'p90', 'p95', 'p99', 'p99.9', 'max']) await expect.poll(() => percentiles.getByRole('row', { name: new RegExp(`^${p.replace(/[().]/g, '\\$&')} `) }).innerText()).toMatch(/\d (µs|ms)$/);
      await page.getByRole('img', { name: 'Latency over time (ms)' }).locator('canvas').first().waitFor();
      await page.getByRole('img', { name: 'Latency by percentile (ms)' }).locator('canvas').first().waitFor();
      await expect.poll(() => page.locator('dl.kv').innerText()).toMatch(/Schedule\s+Open model: 40 req\/s for 2\.0 s/);
      expect(await page.getByRole('table', { name: /Throughput and requests/ }).innerText()).toMatch(/Requests sent\s+80/);
      await expect.poll(() => page.getByRole('heading', { level: 2, name: 'Errors' }).isVisible()).toBe(true);
      expect(await page.getByText('No request failed.').isVisible()).toBe(true);
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');

      await page.getByRole('tab', { name: 'Recorded HTML report' }).click();
      await page.waitForURL(/tab=html/);
      const frame = page.frameLocator('iframe[title^="Recorded HTML report"]');
      await expect.poll(() => frame.locator('h1').innerText()).toMatch(/^Load test FAIL — http:\/\/127\.0\.0\.1:\d+\/health$/);
      expect(await page.locator('iframe').getAttribute('sandbox')).toBe('');
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('compares with a baseline chosen from the recorded tests: both percentiles with differences in words, both curves on one chart', async () => {
    const ui = await openPage(browser, `${server.url}/#/loadtests/${failedRun}`);
    try {
      const page = ui.page;
      await page.getByRole('heading', { level: 1, name: 'Load test of cancer v2' }).waitFor();
      const picker = page.getByLabel('Compare with');
      await expect.poll(() => picker.locator('option').count()).toBe(2);
      const label = await picker.locator('option').nth(1).innerText();
      expect(label).toMatch(new RegExp(`^cancer v1 @champion · .* · p99 .* · ${firstPassed ? 'passed' : 'failed'}$`));
      await picker.selectOption({ label });
      await page.waitForURL(new RegExp(`baseline=${passedRun}`));
      const table = page.getByRole('table', { name: 'Latency percentiles compared with the baseline' });
      await expect.poll(() => table.locator('thead').innerText()).toMatch(/Statistic\s+This test\s+Baseline\s+Difference/);
      await expect.poll(() => table.getByRole('row', { name: /^p99 / }).locator('td').nth(2).innerText()).toMatch(/(better|worse|about the same)$/);
      expect(await page.getByRole('table', { name: /Throughput and requests compared/ }).getByRole('row', { name: /^Throughput achieved/ }).innerText()).toMatch(/req\/s\s+.*req\/s/);
      const chart = page.getByRole('img', { name: 'Latency over time, this test and the baseline (ms)' });
      await chart.locator('canvas').first().waitFor();
      const legend = await chart.locator('.u-legend').innerText();
      expect(legend).toContain('This test p99');
      expect(legend).toContain('Baseline p99');
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      // The link reproduces the comparison.
      await page.reload();
      await expect.poll(() => page.getByRole('table', { name: 'Latency percentiles compared with the baseline' }).count()).toBe(1);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it('says so for a run that is not a load test and for an unknown run', async () => {
    const ui = await openPage(browser, `${server.url}/#/loadtests/${plainRun}`);
    try {
      const page = ui.page;
      await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/This run is not a load test\s+Run plain-training is not a recorded load test: it has no loadtest\.json artifact/);
      await page.getByRole('heading', { level: 1, name: 'Not a load test' }).waitFor();
      expect(describeViolations(await seriousA11yViolations(page))).toBe('');
      await page.goto(`${server.url}/#/loadtests/${'0'.repeat(32)}`);
      await expect.poll(() => page.getByRole('alert').innerText()).toMatch(/The load test could not be read[\s\S]*HTTP 404/);
      expect(ui.problems()).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
