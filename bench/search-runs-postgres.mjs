/**
 * search_runs over 1,000,000 runs on PostgreSQL: the query of tracking-search.mjs
 *   filter "metrics.m3 > 0.5 and params.p1 = 'a'", order_by ["metrics.m5 DESC"], max_results 100
 * over runs that each carry 10 params (p0..p9) and 10 metrics (m0..m9), answered by `slipway server`
 * on PostgreSQL. Same-run baselines: the same query over 100,000 runs on the same database, and
 * the first page of the experiment's runs with no filter (the runs page's first request).
 *
 *   npm run build && node bench/search-runs-postgres.mjs [--runs 1000000] [--baseline-runs 100000]
 *        [--queries 30] [--pg postgresql://postgres@127.0.0.1:5432] [--database NAME to keep and reuse]
 *
 * The experiments are created through the built tracking service; the runs are generated inside
 * PostgreSQL with generate_series as plain rows — run, run-name tag, params and latest metric values,
 * which is all search_runs reads — so a million runs take a minute rather than the hours the HTTP path
 * would. Values are derived from md5 of the run index, so every seeding is the same. Without
 * --database a fresh database is created and dropped at the end.
 */
import pg from 'pg';
import { fmt, machineLine, parseFlags, percentiles, restClient, startSlipway, removeTemp, tempDir, checkFilteredByM5 } from './tracking-common.mjs';

console.log(machineLine());
const opts = parseFlags({ runs: 1_000_000, baselineRuns: 100_000, queries: 30, pg: 'postgresql://postgres@127.0.0.1:5432', database: '' });
const QUERY = { filter: "metrics.m3 > 0.5 and params.p1 = 'a'", order_by: ['metrics.m5 DESC'], max_results: 100 };
const database = opts.database || `slipway_bench_search_${process.pid}`;
const uri = `${opts.pg.replace(/\/$/, '')}/${database}`;

async function admin(sql) {
  const client = new pg.Client({ connectionString: `${opts.pg.replace(/\/$/, '')}/postgres` });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A uniform value in [0, 1) from md5 of a text, computed by PostgreSQL. */
const unit = (expr) => `(('x' || substr(md5(${expr}), 1, 8))::bit(32)::bigint / 4294967296.0)`;

async function seed(count) {
  const { openStore } = await import('../dist/store/store.js');
  const { TrackingService } = await import('../dist/tracking/index.js');
  const store = await openStore(uri);
  try {
    const tracking = new TrackingService(store);
    const name = `search-bench-${count}`;
    const existing = await tracking.getExperimentByName(name).catch(() => undefined);
    if (existing && existing.tags.some((t) => t.key === 'bench.seeded')) {
      console.log(`reusing ${name} (${fmt(count)} runs)`);
      return existing.experimentId;
    }
    if (existing) throw new Error(`${name} exists but its seeding did not finish; use a fresh --database`);
    const experimentId = await tracking.createExperiment({ name });
    const client = new pg.Client({ connectionString: uri });
    await client.connect();
    const t0 = performance.now();
    try {
      const chunk = 100_000;
      for (let from = 0; from < count; from += chunk) {
        const to = Math.min(count, from + chunk) - 1;
        const ids = `generate_series(${from}, ${to}) as i`;
        const run = `md5('${experimentId}:' || i)`;
        await client.query('begin');
        await client.query(`insert into runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
          select ${run}, 'r' || i, ${Number(experimentId)}, 'bench', 'FINISHED', 1700000000000 + i, 1700000000500 + i, 'active',
                 'mlflow-artifacts:/${experimentId}/' || ${run} || '/artifacts', null from ${ids}`);
        await client.query(`insert into tags (run_uuid, key, value) select ${run}, 'mlflow.runName', 'r' || i from ${ids}`);
        await client.query(`insert into params (run_uuid, key, value)
          select ${run}, 'p' || k, case when k = 1 then substr('abcd', 1 + floor(${unit(`i || ':p1'`)} * 4)::int, 1) else 'v' || floor(${unit(`i || ':p' || k`)} * 100)::int end
          from ${ids}, generate_series(0, 9) as k`);
        await client.query(`insert into latest_metrics (run_uuid, key, value, is_nan, timestamp, step)
          select ${run}, 'm' || k, ${unit(`i || ':m' || k`)}, 0, 1700000000000 + i, 0 from ${ids}, generate_series(0, 9) as k`);
        await client.query('commit');
        process.stdout.write(`  seeded ${fmt(to + 1)} / ${fmt(count)} runs (${((performance.now() - t0) / 1000).toFixed(0)} s)\r`);
      }
      await client.query('analyze');
    } finally {
      await client.end();
    }
    await tracking.setExperimentTag(experimentId, 'bench.seeded', 'true');
    console.log(`\nseeded ${fmt(count)} runs × 20 values in ${((performance.now() - t0) / 1000).toFixed(1)} s inside PostgreSQL`);
    return experimentId;
  } finally {
    await store.close();
  }
}

function check(runs, label, filtered) {
  if (runs.length !== 100) throw new Error(`${label}: expected 100 runs, got ${runs.length}`);
  if (filtered) checkFilteredByM5(runs, label);
}

async function measure(api, experimentId, label, query) {
  const body = JSON.stringify({ experiment_ids: [experimentId], ...query });
  const filtered = query.filter !== undefined;
  check((await api.post('runs/search', body)).runs ?? [], label, filtered); // warm-up and correctness
  const samples = [];
  for (let q = 0; q < opts.queries; q++) {
    const t0 = performance.now();
    const res = await api.post('runs/search', body);
    samples.push(performance.now() - t0);
    check(res.runs ?? [], label, filtered);
  }
  const p = percentiles(samples);
  return { label, ...p };
}

if (!opts.database) await admin(`create database ${database}`);
const home = tempDir('slipway-search-pg-');
let server;
try {
  const big = await seed(opts.runs);
  const small = await seed(opts.baselineRuns);
  process.env.SLIPWAY_BACKEND_STORE_URI = uri;
  server = await startSlipway({ home });
  const api = restClient(server.url, 4);
  const rows = [];
  try {
    rows.push(await measure(api, big, `${fmt(opts.runs)} runs, filter + order`, QUERY));
    rows.push(await measure(api, small, `${fmt(opts.baselineRuns)} runs, filter + order (baseline)`, QUERY));
    rows.push(await measure(api, big, `${fmt(opts.runs)} runs, first page, no filter (baseline)`, { max_results: 100 }));
  } finally {
    await api.close();
  }
  console.log(`\nquery: ${QUERY.filter} order by ${QUERY.order_by[0]}, ${QUERY.max_results} results; ${opts.queries} queries each, PostgreSQL\n`);
  console.log('| search_runs on PostgreSQL | p50 ms | p90 ms | max ms |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.label} | ${fmt(r.p50, 1)} | ${fmt(r.p90, 1)} | ${fmt(r.max, 1)} |`);
  const target = rows[0].p50 <= 200 ? 'met' : 'not met';
  console.log(`\np50 over ${fmt(opts.runs)} runs: ${fmt(rows[0].p50, 1)} ms (target ≤ 200 ms: ${target})`);
} finally {
  await server?.stop();
  removeTemp(home);
  if (!opts.database) await admin(`drop database if exists ${database} with (force)`);
}
