/**
 * The statement timeout bounds a pathological run search on both backends.
 *
 *   npm run build && node bench/search-timeout.mjs [--runs 50000] [--pg postgresql://postgres@127.0.0.1:5432]
 *
 * Seeds --runs runs (one param each) into a fresh SQLite file and a fresh PostgreSQL database,
 * then runs two 100-clause searches that probe every run 100 times with the statement timeout
 * set to 250 ms, 1 s and 3 s. Baseline, same run and data: the same search
 * with a 20 s timeout, i.e. how long it takes when nothing stops it sooner. Each timed-out search must
 * fail with DEADLINE_EXCEEDED (504) close to its timeout; an ordinary search must still answer after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../dist/store/store.js';
import { TrackingService } from '../dist/tracking/index.js';
import { toHttpError } from '../dist/server/http-errors.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const RUNS = Number(flag('runs', 50_000));
const PG = flag('pg', 'postgresql://postgres@127.0.0.1:5432');
// Two shapes, since each backend's planner copes with one of them: 100 clauses every run
// matches, and 99 such clauses then one that none matches (nothing ends the scan early).
const FILTERS = {
  'all 100 clauses match': Array.from({ length: 100 }, (_, i) => `params.p != 'x${i}'`).join(' and '),
  'the 100th matches none': [...Array.from({ length: 99 }, (_, i) => `params.p != 'x${i}'`), "params.p = 'none'"].join(' and '),
};
const BASELINE_CAP_MS = 20_000;
const TIMEOUTS = [250, 1000, 3000];

async function seed(store) {
  const runs = `insert into runs (run_uuid, name, experiment_id, user_id, status, start_time, lifecycle_stage, artifact_uri)
    select 'r' || n, 'run', 0, 'u', 'FINISHED', n, 'active', 'a' from s`;
  const params = `insert into params (run_uuid, key, value) select 'r' || n, 'p', 'v' from s`;
  if (store.sqlite) {
    const series = `with recursive s(n) as (select 1 union all select n + 1 from s where n < ${RUNS}) `;
    store.sqlite.exec(`${series}${runs}; ${series}${params}; analyze;`);
  } else {
    const client = await store.pool.connect();
    try {
      const series = `with s(n) as (select generate_series(1, ${RUNS})) `;
      await client.query('set statement_timeout = 0');
      await client.query(`${series}${runs}`);
      await client.query(`${series}${params}`);
      await client.query('analyze');
    } finally {
      client.release(true);
    }
  }
}

async function timedSearch(uri, timeoutMs, filter) {
  const store = await openStore(uri, { statementTimeoutMs: timeoutMs });
  try {
    const svc = new TrackingService(store);
    const started = performance.now();
    const outcome = await svc.searchRuns({ experimentIds: ['0'], filter }).then(
      (page) => `answered (${page.runs.length} runs)`,
      (err) => {
        const http = toHttpError(err, 'bench');
        return `${http.status} ${http.code}`;
      },
    );
    const ms = performance.now() - started;
    const after = (await svc.searchRuns({ experimentIds: ['0'], filter: "params.p = 'v'", maxResults: 5 })).runs.length;
    return { ms, outcome, after };
  } finally {
    await store.close();
  }
}

async function measure(name, uri) {
  const store = await openStore(uri);
  await seed(store);
  await store.close();
  console.log(`${name}: ${RUNS.toLocaleString('en-US')} runs`);
  let ok = true;
  for (const [label, filter] of Object.entries(FILTERS)) {
    const base = await timedSearch(uri, BASELINE_CAP_MS, filter);
    console.log(`  ${label}, baseline (${BASELINE_CAP_MS / 1000} s timeout): ${base.ms.toFixed(0).padStart(6)} ms  ${base.outcome}`);
    for (const t of TIMEOUTS) {
      const r = await timedSearch(uri, t, filter);
      const bounded = r.outcome === '504 DEADLINE_EXCEEDED' && r.ms < t + 500 && r.after === 5;
      // A search that finishes before its timeout needs no bounding.
      ok &&= bounded || (r.outcome.startsWith('answered') && r.ms < t + 500);
      console.log(`  ${label}, timeout ${String(t).padStart(5)} ms: ${r.ms.toFixed(0).padStart(6)} ms  ${r.outcome}; ordinary search after it: ${r.after} runs`);
    }
  }
  return ok;
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-timeout-'));
const dbName = `slipway_bench_${randomBytes(5).toString('hex')}`;
const admin = new pg.Client({ connectionString: `${PG}/postgres` });
let ok = true;
try {
  ok &&= await measure('SQLite', `sqlite:///${join(dir, 'bench.db')}`);
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  ok &&= await measure('PostgreSQL', `${PG}/${dbName}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
  await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await admin.end().catch(() => {});
}
console.log(ok ? 'every search stopped within 500 ms of its timeout' : 'a search was not bounded by its timeout');
process.exitCode = ok ? 0 : 1;
