// Live monitoring: the cost the observer adds on the request path, and the store space
// of one hour of 1-minute windows for one model with 30 features.
// Run: npm run build && node bench/monitoring-live.mjs
// Baselines, same run: an observer that does nothing (the floor of calling observers),
// and the size of the same hour kept as raw JSON rows (what logging every row would store).
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSampler, LiveMonitor, attachReference, profileTable } from '../dist/monitoring/index.js';
import { openStore } from '../dist/store/store.js';
import { columns, rng, value } from './monitoring-common.mjs';

const FEATURES = 30;
const names = Array.from({ length: FEATURES }, (_, c) => `f${c}`);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function records(n, rowsPerRequest, seed) {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const inputs = new Float32Array(rowsPerRequest * FEATURES);
    for (let k = 0; k < inputs.length; k++) inputs[k] = value(r, k % FEATURES, false);
    return { model: 'm', version: '1', requestId: `r${i}`, time: 0, latencyMs: 1, rows: rowsPerRequest, columns: names, inputs, outputs: new Float32Array(rowsPerRequest).fill(0.5), outputWidth: 1 };
  });
}

function perRow(observer, recs, drainEvery) {
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    let rows = 0;
    const t0 = performance.now();
    for (let i = 0; i < recs.length; i++) {
      observer.observe(recs[i]);
      rows += recs[i].rows;
      if (drainEvery && i % drainEvery === drainEvery - 1) observer.drain();
    }
    best = Math.min(best, ((performance.now() - t0) * 1000) / rows);
  }
  return best;
}

for (const rowsPerRequest of [1, 10]) {
  const recs = records(20_000, rowsPerRequest, 3);
  const noop = perRow({ observe() {} }, recs, 0);
  const sampler = perRow(new InferenceSampler({ maxBufferedRows: 1e9 }), recs, 1000);
  const half = perRow(new InferenceSampler({ sampleRate: 0.5, maxBufferedRows: 1e9 }), recs, 1000);
  console.log(`observe(), ${rowsPerRequest} row(s) × ${FEATURES} features per request: ${sampler.toFixed(3)} µs/row (sample rate 1), ${half.toFixed(3)} µs/row (0.5); baseline no-op observer ${noop.toFixed(3)} µs/row`);
}

// One hour of 1-minute windows, 1,000 sampled rows per window, on SQLite.
const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-live-'));
const store = await openStore(`sqlite:///${join(dir, 'm.db')}`);
const ref = columns(5000, FEATURES, 1);
await attachReference(store, 'm', '1', profileTable({ rows: 5000, columns: ref.map((values, c) => ({ name: names[c], type: 'number', values })) }), 'bench', { time: 0 });
// Checkpoint the WAL so the file sizes below count only the windows.
store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
const sizeBefore = statSync(join(dir, 'm.db')).size;
let now = 0;
const monitor = new LiveMonitor(store, { now: () => now }, silent, { windowMs: 60_000, graceMs: 0, keepPredictions: false });
const PER_WINDOW = 1000;
let rawJsonBytes = 0;
const t0 = performance.now();
for (let w = 0; w < 60; w++) {
  const recs = records(PER_WINDOW / 10, 10, 100 + w);
  for (const r of recs) {
    r.time = w * 60_000 + 5;
    r.model = 'm';
    monitor.sampler.observe(r);
    for (let i = 0; i < r.rows; i++) rawJsonBytes += JSON.stringify(Array.from(r.inputs.subarray(i * FEATURES, (i + 1) * FEATURES))).length + 8;
  }
  now = (w + 1) * 60_000 + 1;
  await monitor.flush();
}
const flushMs = performance.now() - t0;
const row = await store.db.selectFrom('monitoring_windows').select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum(eb.fn('length', ['profile'])).as('p'), eb.fn.sum(eb.fn('length', ['figures'])).as('f')]).executeTakeFirst();
store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
await store.close();
const sizeAfter = statSync(join(dir, 'm.db')).size;
console.log(`one hour: ${row.n} windows × ${FEATURES} features + prediction, ${PER_WINDOW} rows each: ${((Number(row.p) + Number(row.f)) / 1e6).toFixed(2)} MB of window data (SQLite file grew ${((sizeAfter - sizeBefore) / 1e6).toFixed(2)} MB); profiling + drift + store ${(flushMs / 60).toFixed(1)} ms per window`);
console.log(`baseline: the same hour as raw JSON rows: ${(rawJsonBytes / 1e6).toFixed(2)} MB`);
rmSync(dir, { recursive: true, force: true });
