import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareWithBaseline, loadSpecFile, parseThreshold, renderCapacityReport, renderHtmlReport, runCapacitySearch, runLoadTest, type LoadTestResult } from './index.js';
import { baselineFromFile } from './baseline-comparison.js';
import { startTestTarget, type TestTarget } from './test-target.test-support.js';

const scratch = mkdtempSync(join(tmpdir(), 'slipway-loadtest-report-'));

describe('HTML report and baselines', () => {
  let t: TestTarget;
  let result: LoadTestResult;
  beforeAll(async () => {
    t = await startTestTarget({ serviceMs: 2, status: (n) => (n % 10 === 0 ? 500 : 200) });
    // 1.5 s: one whole second and a partial one, which the charts over time leave out.
    result = await runLoadTest({ target: t.url, rate: 100, duration: '1500ms', workers: 1, lateTolerance: '250ms', thresholds: ['p99<1s', 'error_rate<1%'] });
  });
  afterAll(async () => t.close());

  it('renders a self-contained report with charts, verdicts and settings', () => {
    const html = renderHtmlReport(result);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    // Opens offline: nothing is fetched.
    expect(html).not.toMatch(/<script|<link|src=|url\(|@import/i);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect((html.match(/<svg /g) ?? []).length).toBe(3);
    for (const title of ['Latency over time', 'Throughput over time', 'Latency by percentile']) expect(html).toContain(title);
    expect(html).toMatch(/<code>p99&lt;1s<\/code><\/td><td>[^<]+<\/td><td><span class="pass">PASS/);
    expect(html).toMatch(/<code>error_rate&lt;1%<\/code><\/td><td>[^<]+<\/td><td><span class="fail">FAIL/);
    expect(html).toContain('HTTP 500');
    expect(html).toContain('open: 100/s for 1.50s');
    expect(html).toContain(t.url);
  });

  it('draws a latency SLO on the latency charts, and names one far above the data instead of flattening it', () => {
    // A limit inside the measured range is drawn as a line with its label.
    const near = parseThreshold(`p99<${result.latencyMs.max}ms`);
    const html = renderHtmlReport({ ...result, thresholds: [{ ...near, actual: result.latencyMs.p99, passed: true }] });
    const label = `SLO p99&lt;${result.latencyMs.max}ms<`;
    // On the latency-over-time chart and on the percentile curve.
    expect(html.match(/<line [^>]*class="slo"><title>[^<]*<\/title><\/line>/g)).toHaveLength(2);
    expect(html.split(label).length - 1).toBe(4);
    // p99<1s is far above a 2 ms service: named in a note, not drawn.
    const far = renderHtmlReport(result);
    expect(far).not.toContain('class="slo">');
    expect(far).toContain('Off the scale, above the data: SLO p99&lt;1s.');
  });

  it('charts whole seconds only, so the partial last second does not read as a collapse', () => {
    expect(result.timeSeries.map((s) => s.second)).toContain(1);
    const html = renderHtmlReport(result);
    // Hover bands name each charted second; only second 0 is whole in a 1.5 s window.
    expect(html).toMatch(/<title>0s–1s: p50 [\d.]+ ms, p90 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms<\/title>/);
    expect(html).toMatch(/<title>0s–1s: answered \d+\/s, offered 100\/s, errors \d+\/s<\/title>/);
    expect(html).not.toContain('1s–2s');
    expect(html).toContain('a partial last second is left out');
  });

  it('compares with a previous result file and flags regressions beyond the tolerance', async () => {
    const path = join(scratch, 'previous.json');
    writeFileSync(path, JSON.stringify(result));
    const figures = await baselineFromFile(path);
    expect(figures).toMatchObject({ p99Ms: result.latencyMs.p99, throughput: result.throughput.achieved });
    const slower = compareWithBaseline(figures, { p99Ms: figures.p99Ms * 1.5, throughput: figures.throughput * 0.8 }, { p99: 0.1, throughput: 0.1 });
    expect(slower.passed).toBe(false);
    expect(slower.regressions).toHaveLength(2);
    expect(slower.regressions[0]).toContain('50.0% above');
    expect(compareWithBaseline(figures, { p99Ms: figures.p99Ms * 1.05, throughput: figures.throughput * 0.95 }).passed).toBe(true);
    writeFileSync(join(scratch, 'other.json'), '{"kind":"something"}');
    await expect(baselineFromFile(join(scratch, 'other.json'))).rejects.toThrow('is not a Slipway load-test result');
    await expect(baselineFromFile(join(scratch, 'none.json'))).rejects.toThrow('no such file');
  });
});

describe('capacity search', () => {
  it('steps the rate up until the SLO breaks and reports the highest rate that held', async () => {
    // One request at a time, 20 ms each: about 50/s.
    const t = await startTestTarget({ serviceMs: 20, serial: true });
    try {
      const steps: number[] = [];
      const c = await runCapacitySearch(
        { target: t.url, startRate: 20, stepRate: 20, maxRate: 200, stepDuration: '1s', warmup: '300ms', workers: 1, timeout: '2s', lateTolerance: '250ms', connections: 256, thresholds: ['p99<300ms'] },
        { onStep: (s) => steps.push(s.rate) },
      );
      expect(c.maxSustainableRate).not.toBeNull();
      expect(c.maxSustainableRate).toBeGreaterThanOrEqual(20);
      expect(c.maxSustainableRate).toBeLessThanOrEqual(60);
      expect(c.breakingRate).toBe((c.maxSustainableRate as number) + 20);
      expect(c.steps.at(-1)?.passed).toBe(false);
      expect(steps).toEqual(c.steps.map((s) => s.rate));
      expect(c.lastPassing?.throughput.offered).toBe(c.maxSustainableRate);
      // Each step says why it broke: the failed threshold with what was measured.
      const broke = c.steps.at(-1);
      expect(c.steps.filter((s) => s.passed).every((s) => s.reason === null)).toBe(true);
      expect(broke?.reason).toMatch(/p99<300ms failed \(measured [\d.]+ ms\)|the generator fell behind/);
      expect(broke?.p50Ms).toBeGreaterThan(0);
      expect(JSON.parse(JSON.stringify(c)).steps.at(-1).reason).toBe(broke?.reason);

      const html = renderCapacityReport(c);
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).not.toMatch(/<script|<link|src=|url\(|@import/i);
      expect(html).toContain(`Highest rate that held: <strong>${c.maxSustainableRate}/s</strong>; broke at ${c.breakingRate}/s.`);
      // The ladder: one row per step, the breaking one marked, with its percentiles and reason.
      const rows = html.match(/<tr class="(held|broke)">.*?<\/tr>/g) ?? [];
      expect(rows).toHaveLength(c.steps.length);
      expect(rows.at(-1)).toContain(`<tr class="broke"><td>${c.breakingRate}/s</td>`);
      expect(rows.at(-1)).toContain(`<span class="fail">BROKE</span> — ${(broke?.reason ?? '').replaceAll('<', '&lt;')}`);
      expect(html).toContain(`<h2>Why ${c.breakingRate}/s broke</h2>`);
      expect(html).toContain(`broke at ${c.breakingRate}/s</text>`);
      expect(html).toContain('SLO p99&lt;300ms</text>');
    } finally {
      await t.close();
    }
  });

  it('needs a threshold and a sane ladder', async () => {
    await expect(runCapacitySearch({ target: 'http://127.0.0.1:1/', startRate: 10, stepRate: 10, maxRate: 100 })).rejects.toThrow('at least one threshold');
    await expect(runCapacitySearch({ target: 'http://127.0.0.1:1/', startRate: 100, stepRate: 10, maxRate: 10, thresholds: ['p99<1s'] })).rejects.toThrow('maxRate (10) is below startRate (100)');
    await expect(runCapacitySearch({ target: 'http://127.0.0.1:1/', startRate: 10, stepRate: 0, maxRate: 100, thresholds: ['p99<1s'] })).rejects.toThrow('stepRate must be greater than zero');
  });
});

describe('YAML specs', () => {
  it('reads options and resolves data paths next to the spec', async () => {
    const path = join(scratch, 'spec.yaml');
    writeFileSync(path, 'target: http://127.0.0.1:8080/v2/models/m/infer\nrate: 200\nduration: 30s\ndata: rows.csv\nthresholds:\n  - p99<50ms\n  - error_rate<0.1%\n');
    expect(await loadSpecFile(path)).toEqual({ target: 'http://127.0.0.1:8080/v2/models/m/infer', rate: 200, duration: '30s', data: join(scratch, 'rows.csv'), thresholds: ['p99<50ms', 'error_rate<0.1%'] });
  });

  it('names the spec and the problem', async () => {
    const bad = join(scratch, 'bad.yaml');
    writeFileSync(bad, 'thresholds: p99<50ms\n');
    await expect(loadSpecFile(bad)).rejects.toThrow('thresholds must be a list');
    writeFileSync(bad, 'target: [unclosed\n');
    await expect(loadSpecFile(bad)).rejects.toThrow('is not valid YAML');
    await expect(loadSpecFile(join(scratch, 'absent.yaml'))).rejects.toThrow('cannot be read');
  });
});
