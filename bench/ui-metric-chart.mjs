/**
 * The run page's metric chart against a 1,000,000-point history, in Chromium: time from
 * navigating to `#/runs/<id>?tab=metrics` (and from clicking the Metrics tab) until uPlot has
 * drawn the chart, read from the performance mark the chart sets after its first draw. The UI
 * asks the downsampled history API for about two points per pixel.
 *
 * Same-run baseline, in the same browser and page: the MLflow way, fetching the whole history
 * (GET /api/v1/runs/{id}/metrics/{key}/history, every point) and drawing all of it with uPlot.
 *
 *   npm run build && npm run build:web && node bench/ui-metric-chart.mjs [--points 1000000] [--repeat 7] [--fullRepeat 3]
 *
 * SLIPWAY_UI points the server at another UI build than dist/web; SLIPWAY_TEST_CHROMIUM at
 * another Chromium than /usr/bin/chromium.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { fmt, machineLine, parallel, parseFlags, percentiles, startSlipway } from './tracking-common.mjs';

/* global document, requestAnimationFrame -- functions passed to page.evaluate run in the browser */

const opts = parseFlags({ points: 1_000_000, repeat: 7, fullRepeat: 3, concurrency: 8 });
const require = createRequire(import.meta.url);
const UPLOT_SOURCE = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
const CHROMIUM = process.env.SLIPWAY_TEST_CHROMIUM ?? '/usr/bin/chromium';
const KEY = 'loss';
const MARK = `slipway:metric-chart-drawn:${KEY}`;
const SPIKE_AT = 654_321;

async function call(url, method, path, body) {
  const res = await fetch(`${url}/api/v1/${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

function row(label, samples, note) {
  const p = percentiles(samples);
  return `| ${label} | ${fmt(p.p50, 0)} | ${fmt(Math.min(...samples), 0)} | ${fmt(p.max, 0)} | ${note} |`;
}

const server = await startSlipway();
let browser;
try {
  console.log(machineLine());
  const exp = await call(server.url, 'POST', 'experiments', { name: `chart-bench-${Date.now()}` });
  const run = await call(server.url, 'POST', 'runs', { experimentId: exp.experimentId, runName: 'long-training' });
  const runId = run.info.runId;
  const start = Date.now() - opts.points;
  const t0 = performance.now();
  await parallel(Math.ceil(opts.points / 1000), opts.concurrency, async (b) => {
    const metrics = [];
    for (let i = b * 1000; i < Math.min(opts.points, (b + 1) * 1000); i++) {
      metrics.push({ key: KEY, value: i === SPIKE_AT ? 50 : Math.exp(-i / 300_000) + ((i * 7919) % 101) / 1000, step: i, timestamp: start + i });
    }
    await call(server.url, 'POST', `runs/${runId}/log`, { metrics });
  });
  console.log(`logged ${fmt(opts.points)} points of '${KEY}' in ${fmt((performance.now() - t0) / 1000, 1)} s (POST /api/v1/runs/{id}/log, 1000 per call, ${opts.concurrency} at a time)`);

  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const chartUrl = `${server.url}/#/runs/${runId}?tab=metrics&metrics=${KEY}`;
  const waitMark = () => page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, MARK, { timeout: 60_000 });

  // Warm-up: the bundles in the browser cache and the history's blocks read once, as for a user who has the UI open.
  await page.goto(chartUrl);
  await waitMark();
  const statsText = await page.getByLabel(`Statistics of ${KEY}`).textContent();

  const navigation = [];
  const navigationParts = [];
  for (let i = 0; i < opts.repeat; i++) {
    await page.goto('about:blank');
    await page.goto(chartUrl);
    await waitMark();
    const t = await page.evaluate((m) => {
      const history = performance.getEntriesByType('resource').find((e) => e.name.includes('/history/downsampled'));
      return { drawn: performance.getEntriesByName(m)[0].startTime, asked: history?.startTime ?? NaN, answered: history?.responseEnd ?? NaN };
    }, MARK);
    navigation.push(t.drawn);
    navigationParts.push(t);
  }

  const tabSwitch = [];
  for (let i = 0; i < opts.repeat; i++) {
    await page.goto('about:blank');
    await page.goto(`${server.url}/#/runs/${runId}`);
    await page.getByRole('tab', { name: 'Metrics' }).waitFor();
    await page.getByRole('table', { name: 'Parameters' }).or(page.getByText('No parameters logged.')).first().waitFor();
    tabSwitch.push(
      await page.evaluate(
        (m) =>
          new Promise((resolve) => {
            performance.clearMarks(m);
            const tab = [...document.querySelectorAll('[role="tab"]')].find((el) => el.textContent === 'Metrics');
            const clicked = performance.now();
            tab.click();
            const poll = () => {
              const mark = performance.getEntriesByName(m)[0];
              if (mark) resolve(mark.startTime - clicked);
              else requestAnimationFrame(poll);
            };
            poll();
          }),
        MARK,
      ),
    );
  }

  // Baseline in the same page: every point over the wire, then every point into uPlot.
  await page.evaluate(UPLOT_SOURCE);
  const baseline = [];
  let fullBytes = 0;
  for (let i = 0; i < opts.fullRepeat; i++) {
    const r = await page.evaluate(
      async ({ runId: id, key }) => {
        const t0 = performance.now();
        const res = await fetch(`/api/v1/runs/${id}/metrics/${encodeURIComponent(key)}/history`);
        const text = await res.text();
        const body = JSON.parse(text);
        const fetched = performance.now();
        const n = body.metrics.length;
        const x = new Float64Array(n);
        const y = new Array(n);
        for (let j = 0; j < n; j++) {
          const p = body.metrics[j];
          x[j] = p.step;
          y[j] = typeof p.value === 'number' ? p.value : null;
        }
        const box = document.createElement('div');
        box.style.width = '1200px';
        document.body.appendChild(box);
        const drawn = await new Promise((resolve) => {
          // eslint-disable-next-line no-undef
          const plot = new uPlot(
            { width: 1200, height: 280, scales: { x: { time: false } }, series: [{}, { stroke: '#1f6feb', width: 1.5, points: { show: false } }], hooks: { draw: [() => resolve(plot)] } },
            [x, y],
            box,
          );
        });
        const done = performance.now();
        drawn.destroy();
        box.remove();
        return { total: done - t0, fetch: fetched - t0, draw: done - fetched, bytes: text.length, points: n };
      },
      { runId, key: KEY },
    );
    baseline.push(r);
    fullBytes = r.bytes;
  }

  console.log(`\nchart stats line after drawing: ${statsText}\n`);
  console.log(`| ${fmt(opts.points)}-point metric, Chromium 1360×900 | median ms | min ms | max ms | what is drawn |`);
  console.log('|---|---:|---:|---:|---|');
  console.log(row('Run page: navigation to `?tab=metrics` → chart drawn', navigation, `downsampled (≈2 points per px), ${opts.repeat} runs`));
  console.log(row('  of which until the downsampled history is asked (page, bundles, layout)', navigationParts.map((t) => t.asked), ''));
  console.log(row('  of which the downsampled history request', navigationParts.map((t) => t.answered - t.asked), ''));
  console.log(row('  of which parsing and drawing', navigationParts.map((t) => t.drawn - t.answered), ''));
  console.log(row('Run page: click on the Metrics tab → chart drawn', tabSwitch, `downsampled, ${opts.repeat} runs`));
  console.log(row('Baseline: full history fetched + drawn by uPlot', baseline.map((b) => b.total), `all ${fmt(baseline[0].points)} points, ${fmt(fullBytes / 1e6, 1)} MB JSON, ${opts.fullRepeat} runs`));
  console.log(row('  of which fetch + JSON parse', baseline.map((b) => b.fetch), ''));
  console.log(row('  of which uPlot draw', baseline.map((b) => b.draw), ''));
  const nav = percentiles(navigation).p50;
  const base = percentiles(baseline.map((b) => b.total)).p50;
  console.log(`\nnavigation to chart: median ${fmt(nav, 0)} ms (target < 300 ms: ${nav < 300 ? 'met' : 'NOT met'}); the full-history baseline takes ${fmt(base / nav, 1)}× as long`);
} finally {
  await browser?.close();
  await server.stop();
}
