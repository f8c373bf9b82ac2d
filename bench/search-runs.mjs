// In-process search_runs over 100,000 runs × (10 params + 10 metrics) on SQLite.
// Run: npm run build && node bench/search-runs.mjs [runs]
// Baseline, same run and same data: the straightforward join query an ORM emits for the
// same search (left joins for the order key, value IS NULL first), the shape of MLflow's
// SQLAlchemy store, then the same page's runs, metrics, params and tags loaded with plain
// prepared statements; timed on the same connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../dist/store/store.js';
import { TrackingService } from '../dist/tracking/index.js';

const RUNS = Number(process.argv[2] ?? 100_000);
const REPS = 30;
const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-search-'));

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function time(label, fn) {
  await fn();
  const samples = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  console.log(`${label.padEnd(44)} p50 ${percentile(samples, 50).toFixed(2)} ms  p95 ${percentile(samples, 95).toFixed(2)} ms`);
  return percentile(samples, 50);
}

try {
  const store = await openStore(`sqlite:///${join(dir, 'bench.db')}`);
  const raw = store.sqlite;
  const t0 = performance.now();
  // Seeded directly (not through the service) so the benchmark measures the query, not ingest.
  const insertRun = raw.prepare(`insert into runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
    values (?, ?, 0, 'bench', 'FINISHED', ?, ?, 'active', ?, null)`);
  const insertParam = raw.prepare('insert into params (run_uuid, key, value) values (?, ?, ?)');
  const insertMetric = raw.prepare('insert into latest_metrics (run_uuid, key, value, is_nan, timestamp, step) values (?, ?, ?, 0, ?, 0)');
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const letters = ['a', 'b', 'c', 'd', 'e'];
  const SMALL = 2_000;
  raw.prepare(`insert into experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) values (1, 'small', 'mlflow-artifacts:/1', 'active', 0, 0)`).run();
  const insertSmallRun = raw.prepare(`insert into runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
    values (?, ?, 1, 'bench', 'FINISHED', ?, ?, 'active', ?, null)`);
  raw.transaction(() => {
    for (let i = 0; i < RUNS + SMALL; i++) {
      const id = i.toString(16).padStart(32, '0');
      (i < RUNS ? insertRun : insertSmallRun).run(id, `run-${i}`, 1_700_000_000_000 + i, 1_700_000_000_500 + i, `mlflow-artifacts:/0/${id}/artifacts`);
      for (let k = 0; k < 10; k++) {
        insertParam.run(id, `p${k}`, letters[Math.floor(rand() * letters.length)]);
        insertMetric.run(id, `m${k}`, rand(), 1_700_000_000_000 + i);
      }
    }
  })();
  raw.exec('analyze');
  console.log(`seeded ${RUNS} + ${SMALL} runs x (10 params + 10 metrics) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const tracking = new TrackingService(store);
  const request = { experimentIds: ['0'], filter: "metrics.m3 > 0.5 and params.p1 = 'a'", orderBy: ['metrics.m5 DESC'], maxResults: 100 };
  const first = await tracking.searchRuns(request);
  const ours = await time('slipway searchRuns (100 runs with data)', () => tracking.searchRuns(request));

  const naive = raw.prepare(`select r.run_uuid from runs r
      left join latest_metrics o on o.run_uuid = r.run_uuid and o.key = 'm5'
      join latest_metrics f on f.run_uuid = r.run_uuid and f.key = 'm3' and f.value > 0.5
      join params p on p.run_uuid = r.run_uuid and p.key = 'p1' and p.value = 'a'
      where r.experiment_id in (0) and r.lifecycle_stage = 'active'
      order by (o.value is null), o.value desc, r.start_time desc, r.run_uuid limit 100`);
  const placeholders = Array.from({ length: 100 }, () => '?').join(', ');
  const loads = ['runs', 'latest_metrics', 'params', 'tags'].map((t) => raw.prepare(`select * from ${t} where run_uuid in (${placeholders})`));
  const baseline = (statement) => {
    const ids = statement.all().map((r) => r.run_uuid);
    const args = Array.from({ length: 100 }, (_, i) => ids[i] ?? '');
    return loads.map((l) => l.all(...args));
  };
  const base = await time('baseline: ORM-style join query + page load', () => baseline(naive));
  const same = JSON.stringify(naive.all().map((r) => r.run_uuid)) === JSON.stringify(first.runs.map((r) => r.info.runId));
  console.log(`results identical: ${same}; speed-up ${(base / ours).toFixed(1)}x`);

  // A small experiment next to the big one: the same keys exist in 100,000 other runs,
  // so walking the order key's index would be the wrong plan here.
  console.log(`\nsame query over experiment 1 (${SMALL} runs) in the same file`);
  const smallRequest = { ...request, experimentIds: ['1'] };
  const smallFirst = await tracking.searchRuns(smallRequest);
  const oursSmall = await time('slipway searchRuns (100 runs with data)', () => tracking.searchRuns(smallRequest));
  const naiveSmall = raw.prepare(naive.source.replace('r.experiment_id in (0)', 'r.experiment_id in (1)'));
  const baseSmall = await time('baseline: ORM-style join query + page load', () => baseline(naiveSmall));
  const sameSmall = JSON.stringify(naiveSmall.all().map((r) => r.run_uuid)) === JSON.stringify(smallFirst.runs.map((r) => r.info.runId));
  console.log(`results identical: ${sameSmall}; speed-up ${(baseSmall / oursSmall).toFixed(1)}x`);
  await store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
