/**
 * Takes the screenshots of docs/ui.md: starts `slipway server` (the built one, on a free
 * loopback port, in a temporary home), fills it through the public APIs and the CLI with a
 * small but realistic history — an experiment of runs with learning curves, the
 * breast-cancer fixture registered twice with an alias, served and sent requests (half of
 * them drifted), a reference profile, labels, an alert, two recorded load tests — then opens
 * each main page in headless Chromium and saves a PNG into docs/ui/.
 *
 *   npm run build && npm run build:web && node web/scripts/screenshots.mjs [--out docs/ui]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { SlipwayClient } from '../../dist/client/index.js';

/* global document, HTMLElement -- functions passed to page.evaluate run in the browser */

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const FIXTURES = join(ROOT, 'test/fixtures');
const outFlag = process.argv.indexOf('--out');
const OUT = resolve(outFlag > 0 ? process.argv[outFlag + 1] : join(ROOT, 'docs/ui'));
const CHROMIUM = process.env.SLIPWAY_TEST_CHROMIUM ?? '/usr/bin/chromium';

const home = mkdtempSync(join(tmpdir(), 'slipway-screens-'));
const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_'))), SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_MONITORING_WINDOW: '2s' };

function startServer() {
  const child = spawn(process.execPath, [CLI, 'server', '--port', '0', '--host', '127.0.0.1'], { cwd: home, env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`server not ready: ${out}`)), 30_000);
    child.stdout.on('data', (c) => {
      out += c;
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        done({ child, url: m[1] });
      }
    });
  });
}

function cli(args) {
  const res = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  if (res.status !== 0 && !(args[0] === 'loadtest' && res.status === 1)) throw new Error(`slipway ${args.join(' ')} exited ${res.status}: ${res.stderr}`);
  return res.stdout;
}

function csvRows(name) {
  const [header, ...lines] = readFileSync(join(FIXTURES, name), 'utf8').trim().split('\n');
  const columns = header.split(',');
  return { columns, rows: lines.map((l) => l.split(',').map(Number)) };
}

// A deterministic random walk, so the screenshots are the same on every machine.
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

async function seedRuns(client) {
  const exp = await client.experiments.create({ name: 'churn-classifier', tags: { team: 'growth' } });
  const runIds = [];
  for (let i = 0; i < 40; i++) {
    const r = rng(i + 1);
    const lr = [0.3, 0.1, 0.03, 0.01, 0.003][i % 5];
    const depth = 2 + (i % 4);
    const optimizer = ['adam', 'sgd'][i % 2];
    const start = Date.UTC(2026, 11, 1, 9) + i * 3_600_000;
    const run = await client.runs.create({ experimentId: exp.experimentId, runName: `${optimizer}-lr${lr}-d${depth}-${i}`, startTime: start, userId: ['ana', 'ben', 'chloe'][i % 3], tags: { 'mlflow.source.name': 'train.py' } });
    const id = run.info.runId;
    runIds.push(id);
    const speed = lr * (optimizer === 'adam' ? 30 : 12);
    const floor = 0.18 + 0.04 * Math.abs(depth - 4) + r() * 0.05;
    const metrics = [];
    for (let step = 0; step < 300; step++) {
      const loss = floor + 0.9 * Math.exp(-speed * step * 0.05) + (r() - 0.5) * 0.03;
      metrics.push({ key: 'loss', value: loss, step, timestamp: start + step * 1000 });
      if (step % 10 === 0) metrics.push({ key: 'val_auc', value: Math.min(0.99, 0.98 - floor * 0.6 + (r() - 0.5) * 0.01 - 0.3 * Math.exp(-speed * step * 0.05)), step, timestamp: start + step * 1000 });
    }
    for (let k = 0; k < metrics.length; k += 1000) await client.runs.log(id, { metrics: metrics.slice(k, k + 1000), ...(k === 0 ? { params: { learning_rate: String(lr), max_depth: String(depth), optimizer, batch_size: '256' } } : {}) });
    await client.runs.update(id, { status: i === 39 ? 'RUNNING' : i === 7 ? 'FAILED' : 'FINISHED', ...(i === 39 ? {} : { endTime: start + 300_000 }) });
  }
  return { experimentId: exp.experimentId, runIds };
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const server = await startServer();
  const client = new SlipwayClient({ url: server.url });
  try {
    const { experimentId, runIds } = await seedRuns(client);
    const model = join(FIXTURES, 'breast_cancer_mlp.onnx');
    const columns = join(FIXTURES, 'breast_cancer_holdout.csv');
    for (const alias of ['champion', 'challenger']) cli(['models', 'register', model, '--name', 'breast-cancer', '--alias', alias, '--columns-from', columns, '--target', 'target', '--server', server.url]);
    cli(['monitor', 'reference', 'set', 'models:/breast-cancer/1', '--data', columns, '--server', server.url]);
    await fetch(`${server.url}/api/v1/monitoring/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'breast-cancer-drift', model: 'breast-cancer', figure: 'drifted_columns', comparison: '>=', threshold: 2, forWindows: 1 }) });

    // Served traffic: holdout rows, then drifted rows, each request with an id for its labels.
    const holdout = csvRows('breast_cancer_holdout.csv');
    const drifted = csvRows('breast_cancer_drifted.csv');
    const target = holdout.columns.indexOf('target');
    const features = (row) => row.filter((_, i) => i !== target);
    const meta = await (await fetch(`${server.url}/v2/models/breast-cancer`)).json().catch(() => ({}));
    const input = meta.inputs?.[0]?.name ?? 'features';
    const labels = [];
    for (const [name, data] of [['holdout', holdout], ['drifted', drifted]]) {
      for (let i = 0; i + 10 <= data.rows.length; i += 10) {
        const batch = data.rows.slice(i, i + 10);
        const requestId = `${name}-${i}`;
        const body = { inputs: [{ name: input, datatype: 'FP32', shape: [batch.length, 30], data: batch.flatMap(features) }] };
        for (let attempt = 0; attempt < 100; attempt++) {
          const res = await fetch(`${server.url}/v2/models/breast-cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId }, body: JSON.stringify(body) });
          if (res.ok) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        labels.push({ requestId, labels: batch.map((row) => row[target] ?? 0) });
      }
      await fetch(`${server.url}/api/v1/monitoring/windows/flush`, { method: 'POST' });
      // The next phase goes into a window of its own.
      await new Promise((r) => setTimeout(r, 2200));
    }
    await fetch(`${server.url}/api/v1/monitoring/models/breast-cancer/ground-truth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ labels }) });
    await fetch(`${server.url}/api/v1/monitoring/alerts/evaluate?model=breast-cancer`, { method: 'POST' });
    const loadtest = ['loadtest', '--model', 'models:/breast-cancer@champion', '--server', server.url, '--data', columns, '--duration', '3s', '--record'];
    cli([...loadtest, '--rate', '200', '--slo', 'p99<50ms']);
    cli([...loadtest, '--rate', '400', '--slo', 'p99<50ms']);
    const loadtests = await (await fetch(`${server.url}/api/v1/loadtests`)).json();

    const pages = [
      ['experiments', '/#/experiments'],
      ['runs', `/#/experiments/${experimentId}?order=metrics.val_auc%20DESC&cols=metrics.loss,metrics.val_auc,params.learning_rate,params.optimizer`],
      ['run-metrics', `/#/runs/${runIds[3]}?tab=metrics&metrics=loss,val_auc&smooth=0.6`],
      ['compare', `/#/compare?runs=${runIds.slice(0, 12).join(',')}&metric=loss`],
      ['model', '/#/models/breast-cancer'],
      ['model-version', '/#/models/breast-cancer/versions/1'],
      ['loadtest', `/#/loadtests/${loadtests.loadtests[0].runId}?baseline=${loadtests.loadtests[1].runId}`],
      ['monitoring', '/#/monitoring/breast-cancer?range=all'],
      ['audit', '/#/audit'],
      // Last: its traffic would otherwise show in the monitoring windows.
      ['serving', '/#/serving'],
    ];
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    try {
      const context = await browser.newContext({ viewport: { width: 1440, height: 960 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      // Live figures need live traffic: a steady trickle of requests while the serving page is open.
      let trafficOn = false;
      const trickle = async () => {
        for (let i = 0; trafficOn; i++) {
          const sample = { inputs: [{ name: input, datatype: 'FP32', shape: [1, 30], data: features(holdout.rows[i % holdout.rows.length]) }] };
          await fetch(`${server.url}/v2/models/breast-cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(sample) }).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 4));
        }
      };
      for (const [name, path] of pages) {
        trafficOn = name === 'serving';
        if (trafficOn) void trickle();
        await page.goto(`${server.url}${path}`);
        await page.getByRole('heading', { level: 1 }).first().waitFor();
        // Let queries settle and charts draw (the serving page needs two polls for rates).
        await page.waitForLoadState('networkidle').catch(() => undefined);
        await page.waitForTimeout(name === 'serving' ? 9000 : 800);
        await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
        await page.screenshot({ path: join(OUT, `${name}.png`) });
        trafficOn = false;
        console.log(`docs/ui/${name}.png  ${path}`);
      }
    } finally {
      await browser.close();
    }
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
