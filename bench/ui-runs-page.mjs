/**
 * The runs page of the web UI over an experiment of 100,000 runs, in headless Chromium:
 *  (a) time from navigation to the runs table showing its first rows with the search box
 *      usable (performance.now() in the page, from the navigation's start), median of several
 *      loads in a fresh browser context each (cold: nothing cached) and in one context
 *      reloaded (warm: the UI's hashed bundles cached);
 *  (b) frame times while the table scrolls continuously (requestAnimationFrame deltas: p50,
 *      p95, max, share over 16.7 ms), right after the first page and again with --preload
 *      runs loaded, so any work proportional to the loaded rows would show.
 * Baselines measured in the same run: the same page over a 100-run experiment, and the bare
 * first-page search (POST /api/v1/runs/search, the page's size) from Node over keep-alive.
 *
 *   npm run build && node bench/ui-runs-page.mjs [--runs 100000] [--baseline-runs 100] [--loads 7]
 *        [--scroll-seconds 4] [--scroll-px 90] [--preload 20000] [--home DIR] [--seed-parallel 16]
 *
 * Seeding goes through the public native API (POST /api/v1/runs, then /runs/{id}/log and
 * PATCH /runs/{id}, many requests in flight). --home DIR keeps the server's home between
 * invocations: an experiment tagged bench.seeded marks a complete seeding, reused as is.
 * The UI served is dist/web, or the build named by SLIPWAY_UI. Chromium: /usr/bin/chromium,
 * or SLIPWAY_BENCH_CHROMIUM.
 */
/* global document, requestAnimationFrame -- functions passed to page.evaluate run in the browser */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { Pool } from 'undici';
import { fmt, machineLine, parallel, parseFlags, startSlipway } from './tracking-common.mjs';

const opts = parseFlags({ runs: 100_000, baselineRuns: 100, loads: 7, scrollSeconds: 4, scrollPx: 90, preload: 20_000, home: '', seedParallel: 16 });
const CHROMIUM = process.env.SLIPWAY_BENCH_CHROMIUM ?? '/usr/bin/chromium';
/** The page's own page size (web/src/pages/runs-page.tsx), so the API baseline asks for the same. */
const PAGE_SIZE = 200;
const FRAME_MS = 1000 / 60;

if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's chromium or set SLIPWAY_BENCH_CHROMIUM.`);
console.log(machineLine());

const server = await startSlipway(opts.home ? { home: opts.home } : {});
const pool = new Pool(server.url, { connections: Math.max(4, opts.seedParallel), pipelining: 1, keepAliveTimeout: 60_000 });

async function call(method, path, body) {
  const res = await pool.request({ method, path: `/api/v1/${path}`, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path} -> ${res.statusCode}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

/** Deterministic, varied values for run i. */
function runValues(i) {
  let x = (i + 1) * 2654435761;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  return {
    params: { lr: String([0.1, 0.03, 0.01, 0.003, 0.001][i % 5]), optimizer: ['adam', 'sgd', 'adamw'][i % 3], batch_size: String(2 ** (5 + (i % 4))) },
    metrics: [
      { key: 'rmse', value: rnd() },
      { key: 'accuracy', value: 0.5 + rnd() / 2 },
      { key: 'loss', value: rnd() * 3 },
    ],
  };
}

/** An experiment of `count` runs, reused when a complete one of that name exists. */
async function seededExperiment(name, count) {
  const page = await call('GET', `experiments?filter=${encodeURIComponent(`name = '${name}'`)}&view=ALL`);
  const found = page.experiments[0];
  if (found && found.tags.some((t) => t.key === 'bench.seeded' && t.value === String(count))) {
    console.log(`reusing experiment '${name}' (${fmt(count)} runs)`);
    return found.experimentId;
  }
  // A half-seeded one (an interrupted earlier run) is renamed away rather than counted.
  if (found) await call('PATCH', `experiments/${found.experimentId}`, { name: `${name}-incomplete-${Date.now()}` });
  const { experimentId } = await call('POST', 'experiments', { name });
  const t0 = performance.now();
  const start = Date.now() - count * 1000;
  let done = 0;
  await parallel(count, opts.seedParallel, async (i) => {
    const run = await call('POST', 'runs', { experimentId, runName: `run-${String(i).padStart(6, '0')}`, startTime: start + i * 1000, userId: ['ada', 'grace', 'alan'][i % 3] });
    const runId = run.info.runId;
    await call('POST', `runs/${runId}/log`, runValues(i));
    await call('PATCH', `runs/${runId}`, { status: i % 17 === 0 ? 'FAILED' : 'FINISHED', endTime: start + i * 1000 + 30_000 + (i % 600) * 1000 });
    done++;
    if (count >= 10_000 && done % 10_000 === 0) console.log(`  seeded ${fmt(done)} / ${fmt(count)} runs (${fmt((performance.now() - t0) / 1000, 0)} s)`);
  });
  await call('PATCH', `experiments/${experimentId}`, { tags: { 'bench.seeded': String(count) } });
  console.log(`seeded '${name}': ${fmt(count)} runs in ${fmt((performance.now() - t0) / 1000, 1)} s (${fmt(count / ((performance.now() - t0) / 1000))} runs/s, 3 requests each)`);
  return experimentId;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
};

/** Resolves with performance.now() when the table shows rows and the search box takes input. */
async function firstRowsAt(page) {
  const handle = await page.waitForFunction(
    () => {
      const row = document.querySelector('[role="region"][aria-label="Runs"] tbody tr:not(.runs-spacer) a');
      const box = document.querySelector('form[role="search"] input[type="search"]');
      return row && box && !box.disabled && box.offsetParent !== null ? performance.now() : false;
    },
    null,
    { polling: 'raf', timeout: 60_000 },
  );
  return await handle.jsonValue();
}

/** Load times (ms) of `url`: each in a fresh context (cold), then reloads of one context (warm). */
async function loadTimes(browser, url) {
  const cold = [];
  for (let i = 0; i < opts.loads; i++) {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    await page.goto(url);
    cold.push(await firstRowsAt(page));
    await context.close();
  }
  const warm = [];
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await firstRowsAt(page);
  for (let i = 0; i < opts.loads; i++) {
    await page.reload();
    warm.push(await firstRowsAt(page));
  }
  await context.close();
  return { cold, warm };
}

/** Scrolls the runs table by scrollPx every frame for scrollSeconds; the frame deltas and how many runs were loaded at the end. */
async function scrollFrames(page) {
  return await page.evaluate(
    async ({ seconds, px }) => {
      const el = document.querySelector('[role="region"][aria-label="Runs"]');
      const deltas = [];
      let last = performance.now();
      const end = last + seconds * 1000;
      await new Promise((resolve) => {
        const frame = (now) => {
          deltas.push(now - last);
          last = now;
          el.scrollTop += px;
          if (now < end) requestAnimationFrame(frame);
          else resolve();
        };
        requestAnimationFrame(frame);
      });
      const rows = el.querySelectorAll('tbody tr:not(.runs-spacer)').length;
      const loaded = /([\d,]+) runs? loaded/.exec(document.body.innerText)?.[1] ?? '?';
      return { deltas: deltas.slice(1), rowsInDom: rows, loaded };
    },
    { seconds: opts.scrollSeconds, px: opts.scrollPx },
  );
}

/** Scrolls to the end until `count` runs are loaded. */
async function preload(page, count) {
  const t0 = performance.now();
  for (;;) {
    const loaded = await page.evaluate(() => {
      const el = document.querySelector('[role="region"][aria-label="Runs"]');
      el.scrollTop = el.scrollHeight;
      return Number((/([\d,]+) runs? loaded/.exec(document.body.innerText)?.[1] ?? '0').replace(/,/g, ''));
    });
    if (loaded >= count) return { loaded, ms: performance.now() - t0 };
    await page.waitForTimeout(20);
  }
}

function frameStats(deltas) {
  return { n: deltas.length, p50: median(deltas), p95: quantile(deltas, 0.95), max: Math.max(...deltas), over: deltas.filter((d) => d > FRAME_MS + 0.5).length / deltas.length };
}

async function apiFirstPage(experimentId, repeat = 20) {
  const body = JSON.stringify({ experimentIds: [experimentId], runViewType: 'ACTIVE_ONLY', maxResults: PAGE_SIZE });
  const one = async () => {
    const t0 = performance.now();
    const res = await pool.request({ method: 'POST', path: '/api/v1/runs/search', headers: { 'content-type': 'application/json' }, body });
    const page = JSON.parse(await res.body.text());
    if (res.statusCode !== 200 || page.runs.length === 0) throw new Error(`search -> ${res.statusCode}`);
    return performance.now() - t0;
  };
  await one();
  const samples = [];
  for (let i = 0; i < repeat; i++) samples.push(await one());
  return samples;
}

let browser;
try {
  const bigId = await seededExperiment(`ui-bench-${opts.runs}`, opts.runs);
  const smallId = await seededExperiment(`ui-bench-${opts.baselineRuns}`, opts.baselineRuns);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'] });
  const urlOf = (id) => `${server.url}/#/experiments/${id}`;

  const apiBig = await apiFirstPage(bigId);
  const apiSmall = await apiFirstPage(smallId);
  const loadBig = await loadTimes(browser, urlOf(bigId));
  const loadSmall = await loadTimes(browser, urlOf(smallId));

  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(urlOf(bigId));
  await firstRowsAt(page);
  const fresh = await scrollFrames(page);
  const pre = await preload(page, Math.min(opts.preload, opts.runs));
  await page.evaluate(() => {
    document.querySelector('[role="region"][aria-label="Runs"]').scrollTop = 0;
  });
  const deep = await scrollFrames(page);
  await context.close();

  // The floor: the same loop over a scroller with nothing to render, which is this machine's own frame pacing.
  const floorContext = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const floorPage = await floorContext.newPage();
  await floorPage.setContent('<div role="region" aria-label="Runs" style="height:640px;overflow:auto"><div style="height:10000000px"></div></div>');
  const floor = await scrollFrames(floorPage);
  await floorContext.close();

  const ms = (v) => `${fmt(v, 0)} ms`;
  console.log('');
  console.log(`| Runs page (Chromium headless, viewport 1440×900) | ${fmt(opts.runs)} runs | ${fmt(opts.baselineRuns)} runs (baseline) | target |`);
  console.log('|---|---|---|---|');
  console.log(`| (a) first rows with the search box usable, cold (median of ${opts.loads}) | ${ms(median(loadBig.cold))} | ${ms(median(loadSmall.cold))} | < 1 s |`);
  console.log(`| (a) same, warm cache (median of ${opts.loads} reloads) | ${ms(median(loadBig.warm))} | ${ms(median(loadSmall.warm))} | < 1 s |`);
  console.log(`| (a) worst load, cold / warm | ${ms(Math.max(...loadBig.cold))} / ${ms(Math.max(...loadBig.warm))} | ${ms(Math.max(...loadSmall.cold))} / ${ms(Math.max(...loadSmall.warm))} | |`);
  console.log(`| bare first-page search API, ${PAGE_SIZE} runs (median of 20, from Node) | ${fmt(median(apiBig), 1)} ms | ${fmt(median(apiSmall), 1)} ms | |`);
  for (const [label, r] of [
    [`(b) scroll ${opts.scrollSeconds} s at ${opts.scrollPx} px/frame, first page loaded`, fresh],
    [`(b) same after ${fmt(pre.loaded)} runs loaded`, deep],
    ['(b) baseline: the same loop over an empty scroller (this machine\'s frame pacing)', floor],
  ]) {
    const s = frameStats(r.deltas);
    console.log(`| ${label}: frame p50 / p95 / max | ${fmt(s.p50, 1)} / ${fmt(s.p95, 1)} / ${fmt(s.max, 1)} ms | | p95 ≤ 16.7 ms (one frame at 60 Hz) |`);
    const detail = r === floor ? '' : ` (rows in DOM ${r.rowsInDom}, ${r.loaded} runs loaded at the end)`;
    console.log(`| ${label}: frames over 16.7 ms | ${fmt(s.over * 100, 1)} % of ${s.n}${detail} | | |`);
  }
  console.log(`| scrolling to ${fmt(pre.loaded)} loaded runs took | ${fmt(pre.ms / 1000, 1)} s | | |`);
  if (problems.length) console.log(`page errors: ${problems.join('; ')}`);
} finally {
  await browser?.close();
  await pool.close();
  await server.stop();
}
