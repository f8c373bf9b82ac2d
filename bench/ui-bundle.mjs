/**
 * The web UI's first-load JavaScript: opens `#/experiments` in Chromium against `slipway server`
 * serving the built UI (dist/web, or SLIPWAY_UI), lists every script the first page loads, and
 * sums their bytes as the server sends them with `accept-encoding: br` and with `gzip` (the
 * answer's content-length), against the raw files (the baseline). Each script must come back
 * compressed and with `cache-control: … immutable`. Target: ≤ 300 KB brotli.
 *
 * Builds nothing:  npm run build && npm run build:web && node bench/ui-bundle.mjs
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { machineLine, startSlipway } from './tracking-common.mjs';

const TARGET_KB = 300;
const uiDir = process.env.SLIPWAY_UI ?? join(import.meta.dirname, '..', 'dist', 'web');
if (!existsSync(join(uiDir, 'index.html'))) {
  console.error(`No UI build in ${uiDir}: run npm run build:web first.`);
  process.exit(2);
}
const CHROMIUM = process.env.SLIPWAY_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** GET with one accept-encoding; the bytes on the wire (not decompressed) and the headers. */
function rawGet(url, encoding) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { 'accept-encoding': encoding } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const kb = (n) => (n / 1024).toFixed(1);
const server = await startSlipway();
let browser;
try {
  console.log(machineLine());
  console.log(`UI build: ${uiDir}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  await page.goto(`${server.url}/#/experiments`);
  await page.getByRole('heading', { level: 1 }).waitFor();
  await page.waitForLoadState('networkidle');
  const entries = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .filter((e) => new URL(e.name).pathname.endsWith('.js'))
      .map((e) => ({ url: e.name, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize })),
  );
  if (entries.length === 0) throw new Error('the first page loaded no JavaScript: is the UI build served?');

  const rows = [];
  const problems = [];
  for (const e of entries) {
    const [br, gzip, raw] = await Promise.all([rawGet(e.url, 'br'), rawGet(e.url, 'gzip'), rawGet(e.url, 'identity')]);
    const path = new URL(e.url).pathname;
    for (const [name, r, enc] of [['br', br, 'br'], ['gzip', gzip, 'gzip']]) {
      if (r.status !== 200) problems.push(`${path} (${name}): HTTP ${r.status}`);
      if (r.headers['content-encoding'] !== enc) problems.push(`${path}: asked for ${name}, got content-encoding ${r.headers['content-encoding'] ?? 'none'}`);
      if (!/\bimmutable\b/.test(r.headers['cache-control'] ?? '')) problems.push(`${path}: cache-control '${r.headers['cache-control'] ?? ''}' is not immutable`);
      if (Number(r.headers['content-length']) !== r.bytes) problems.push(`${path} (${name}): content-length ${r.headers['content-length']} but ${r.bytes} bytes sent`);
    }
    rows.push({ path, br: br.bytes, gzip: gzip.bytes, raw: raw.bytes, browser: e.encoded, cache: br.headers['cache-control'] });
  }

  const sum = (k) => rows.reduce((a, r) => a + r[k], 0);
  console.log(`\nJavaScript loaded by the first page (#/experiments): ${rows.length} files\n`);
  console.log('| file | brotli KB | gzip KB | raw KB (baseline) | Chromium received KB | cache-control |');
  console.log('|---|---:|---:|---:|---:|---|');
  for (const r of rows) console.log(`| ${r.path} | ${kb(r.br)} | ${kb(r.gzip)} | ${kb(r.raw)} | ${kb(r.browser)} | ${r.cache} |`);
  console.log(`| **total** | **${kb(sum('br'))}** | **${kb(sum('gzip'))}** | **${kb(sum('raw'))}** | **${kb(sum('browser'))}** | |`);
  const got = sum('browser') === sum('br') ? 'the brotli form' : sum('browser') === sum('gzip') ? 'the gzip form' : 'a mix of forms';
  console.log(`\nChromium received ${got} (${kb(sum('browser'))} KB, PerformanceResourceTiming.encodedBodySize).`);
  console.log(`brotli total ${kb(sum('br'))} KB — target ≤ ${TARGET_KB} KB: ${sum('br') <= TARGET_KB * 1024 ? 'met' : 'NOT met'}; ${(sum('raw') / sum('br')).toFixed(1)}× smaller than raw`);
  if (problems.length > 0) {
    console.log(`\nProblems:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    process.exitCode = 1;
  } else console.log('every script: compressed as asked (br, gzip), content-length exact, cache-control immutable');
} finally {
  await browser?.close();
  await server.stop();
}
