/**
 * search_runs with a metric filter, a param filter and an order_by, 100 results:
 *   filter "metrics.m3 > 0.5 and params.p1 = 'a'", order_by ["metrics.m5 DESC"], max_results 100
 * over experiments whose runs each carry 10 params (p0..p9) and 10 metrics (m0..m9).
 * Slipway (SQLite) is measured over 100,000 runs and over 10,000 runs; the real MLflow server, the
 * same-run baseline, over 10,000 runs (seeding it with more takes too long). Every answer is checked:
 * 100 runs, each matching the filter, in descending m5 order.
 *
 *   npm run build && node bench/tracking-search.mjs [--runs 100000] [--baseline-runs 10000] [--queries 30]
 *        [--slipway-home DIR] [--mlflow-dir DIR] [--url URL]
 *
 * Slipway is seeded before it starts, straight into its SQLite file through the built TrackingService
 * (the same write path, audit events included, without HTTP); MLflow and --url targets are seeded through
 * MLflow REST (runs/create + one runs/log-batch per run, bounded parallelism). --slipway-home / --mlflow-dir keep a seeded store between invocations
 * (an experiment tagged bench.seeded marks it complete); without them temp folders are used and removed.
 * --url URL   seed (once) and measure only that MLflow-REST server, with --runs runs.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, parseFlags, parallel, percentiles, removeTemp, restClient, startMlflow, startSlipway, tempDir, treeCpuSeconds, machineLine, checkFilteredByM5 } from './tracking-common.mjs';

console.log(machineLine());
const opts = parseFlags({ url: '', runs: 100_000, baselineRuns: 10_000, queries: 30, duration: 60, seedParallel: 16, slipwayHome: '', mlflowDir: '' });
const QUERY = { filter: "metrics.m3 > 0.5 and params.p1 = 'a'", order_by: ['metrics.m5 DESC'], max_results: 100 };

/** Deterministic values per run index, so every server gets the same data. */
function runData(i) {
  let x = (i + 1) * 2654435761;
  const rnd = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
  const letters = 'abcd';
  const params = Array.from({ length: 10 }, (_, k) => ({ key: `p${k}`, value: k === 1 ? letters[Math.floor(rnd() * 4)] : `v${Math.floor(rnd() * 100)}` }));
  const ts = 1_700_000_000_000 + i;
  const metrics = Array.from({ length: 10 }, (_, k) => ({ key: `m${k}`, value: rnd(), timestamp: ts, step: 0 }));
  return { params, metrics };
}

/** Finds or seeds an experiment of `count` runs; returns its id and the seeding rate. */
async function ensureSeeded(api, name, count) {
  const expName = `search-bench-${count}`;
  try {
    const { experiment } = await api.get(`experiments/get-by-name?experiment_name=${expName}`);
    if ((experiment.tags ?? []).some((t) => t.key === 'bench.seeded' && t.value === 'true')) {
      console.log(`${name}: reusing seeded experiment ${expName}`);
      return { experimentId: experiment.experiment_id };
    }
    throw new Error(`${name}: experiment ${expName} exists but its seeding did not finish; use a fresh folder`);
  } catch (err) {
    if (!/-> 404/.test(String(err.message))) throw err;
  }
  const { experiment_id: experimentId } = await api.post('experiments/create', { name: expName });
  const t0 = performance.now();
  let done = 0;
  await parallel(count, opts.seedParallel, async (i) => {
    const { run } = await api.post('runs/create', { experiment_id: experimentId, run_name: `r${i}`, start_time: 1_700_000_000_000 + i });
    const { params, metrics } = runData(i);
    await api.post('runs/log-batch', JSON.stringify({ run_id: run.info.run_id, params, metrics }));
    if (++done % 10_000 === 0) console.log(`${name}: seeded ${fmt(done)} runs`);
  });
  const seconds = (performance.now() - t0) / 1000;
  await api.post('experiments/set-experiment-tag', { experiment_id: experimentId, key: 'bench.seeded', value: 'true' });
  console.log(`${name}: seeded ${fmt(count)} runs × 20 values in ${seconds.toFixed(1)} s (${fmt(count / seconds)} runs/s over HTTP)`);
  return { experimentId };
}

/**
 * Seeds Slipway's store file directly (no server running): the experiment through the built tracking
 * service, then the runs as plain rows in one transaction — run, run-name tag, params and latest metric
 * values, which is all search_runs reads (no audit events, no metric-history blocks) — so 100,000 runs take
 * seconds instead of the minutes the full write path would.
 */
async function seedSlipwayDirect(home, count) {
  const { openStore } = await import('../dist/store/store.js');
  const { TrackingService } = await import('../dist/tracking/index.js');
  const store = await openStore(`sqlite:///${join(home, 'slipway.db')}`);
  try {
    const tracking = new TrackingService(store);
    const expName = `search-bench-${count}`;
    const existing = await tracking.getExperimentByName(expName).catch(() => undefined);
    if (existing) return;
    const t0 = performance.now();
    const experimentId = await tracking.createExperiment({ name: expName });
    const raw = store.sqlite;
    const insertRun = raw.prepare(`insert into runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
      values (?, ?, ?, 'bench', 'FINISHED', ?, ?, 'active', ?, null)`);
    const insertTag = raw.prepare('insert into tags (run_uuid, key, value) values (?, ?, ?)');
    const insertParam = raw.prepare('insert into params (run_uuid, key, value) values (?, ?, ?)');
    const insertLatest = raw.prepare('insert into latest_metrics (run_uuid, key, value, is_nan, timestamp, step) values (?, ?, ?, 0, ?, ?)');
    raw.transaction(() => {
      for (let i = 0; i < count; i++) {
        const id = randomUUID().replaceAll('-', '');
        const start = 1_700_000_000_000 + i;
        insertRun.run(id, `r${i}`, Number(experimentId), start, start + 500, `mlflow-artifacts:/${experimentId}/${id}/artifacts`);
        insertTag.run(id, 'mlflow.runName', `r${i}`);
        const { params, metrics } = runData(i);
        for (const p of params) insertParam.run(id, p.key, p.value);
        for (const m of metrics) {
          insertLatest.run(id, m.key, m.value, m.timestamp, m.step);
        }
      }
    })();
    raw.exec('analyze');
    await tracking.setExperimentTag(experimentId, 'bench.seeded', 'true');
    const seconds = (performance.now() - t0) / 1000;
    console.log(`Slipway: seeded ${fmt(count)} runs × 20 values in ${seconds.toFixed(1)} s straight into SQLite`);
  } finally {
    await store.close();
  }
}

function check(runs, label, count) {
  // a tiny experiment (a smoke run) may hold fewer than 100 matches
  if (runs.length !== 100 && !(count < 2000 && runs.length > 0)) throw new Error(`${label}: expected 100 runs, got ${runs.length}`);
  checkFilteredByM5(runs, label);
}

async function measure(server, count) {
  const api = restClient(server.url, opts.seedParallel);
  try {
    const { experimentId } = await ensureSeeded(api, server.name, count);
    const body = JSON.stringify({ experiment_ids: [experimentId], ...QUERY });
    const label = `${server.name} over ${fmt(count)} runs`;
    check((await api.post('runs/search', body)).runs ?? [], label, count); // warm-up and correctness
    const samples = [];
    const cpu0 = server.child ? treeCpuSeconds(server.child.pid) : 0;
    const stopAt = performance.now() + opts.duration * 1000;
    for (let q = 0; q < opts.queries && performance.now() < stopAt; q++) {
      const t0 = performance.now();
      const res = await api.post('runs/search', body);
      samples.push(performance.now() - t0);
      check(res.runs ?? [], label, count);
    }
    const cpuMs = server.child ? ((treeCpuSeconds(server.child.pid) - cpu0) * 1000) / samples.length : undefined;
    const p = percentiles(samples);
    console.log(
      `${label.padEnd(30)} p50 ${p.p50.toFixed(1)} ms  p90 ${p.p90.toFixed(1)} ms  max ${p.max.toFixed(1)} ms  (${p.n} queries)` +
        (cpuMs === undefined ? '' : `  server CPU ${cpuMs.toFixed(1)} ms per query`),
    );
    return { label, ...p, cpuMs };
  } finally {
    await api.close();
  }
}

const started = [];
const rows = [];
try {
  if (opts.url) {
    rows.push(await measure({ name: 'target', url: opts.url.replace(/\/$/, '') }, opts.runs));
  } else {
    const home = opts.slipwayHome || tempDir('slipway-search-');
    mkdirSync(home, { recursive: true });
    await seedSlipwayDirect(home, opts.runs);
    await seedSlipwayDirect(home, opts.baselineRuns);
    const slipway = await startSlipway({ home });
    started.push({ server: slipway, keep: Boolean(opts.slipwayHome) });
    rows.push(await measure(slipway, opts.runs));
    rows.push(await measure(slipway, opts.baselineRuns));
    await slipway.stop();
    const mlflow = await startMlflow(opts.mlflowDir ? { dir: opts.mlflowDir } : {});
    if (mlflow) {
      started.push({ server: mlflow, keep: Boolean(opts.mlflowDir) });
      rows.push(await measure(mlflow, opts.baselineRuns));
      await mlflow.stop();
    } else {
      console.log('MLflow baseline skipped: set MLFLOW_SERVER_CMD or make `python3 -m mlflow` importable.');
    }
    console.log(`\nquery: ${QUERY.filter} order by ${QUERY.order_by[0]}, ${QUERY.max_results} results`);
    for (const r of rows) console.log(`${r.label.padEnd(30)} p50 ${fmt(r.p50, 1).padStart(8)} ms   p90 ${fmt(r.p90, 1).padStart(8)} ms   CPU ${fmt(r.cpuMs ?? 0, 1).padStart(8)} ms per query`);
  }
} finally {
  for (const { server, keep } of started) {
    await server.stop();
    if (!keep) removeTemp(server.home ?? server.dir);
  }
}
console.log(machineLine());
