/**
 * What live monitoring of a text model costs, against same-run baselines.
 *
 *   npm run build && node bench/monitoring-text.mjs
 *
 * 1. Request path: InferenceSampler.observe on requests of 1 and 16 review texts (sample, copy
 *    the text list, enqueue), against the same requests without their texts (logits only, as
 *    records of text models were before) and a no-op observer.
 * 2. Off the request path: folding 1,500 texts into a window's text summary with the model's
 *    tokenizer, against tokenising the same texts alone (the tokenizer's own cost).
 * 3. Store: one hour of one-minute windows of the fixture transformer, 1,000 sampled texts a
 *    window, closed by the live monitor on SQLite (text summary, logits profile, figures against
 *    a 1,500-text reference), against the same texts kept as raw JSON.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { InferenceSampler, LiveMonitor, attachReference, DatasetProfile, summariseTexts } from '../dist/monitoring/index.js';
import { openStore } from '../dist/store/store.js';
import { TextTokenizer } from '../dist/serving/text-model.js';
import { parseCsv } from '../dist/serving/mlflow-protocol.js';

console.log(`${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average at start ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
const root = new URL('..', import.meta.url).pathname;
const FIXTURES = join(root, 'test', 'fixtures', 'text');
const train = parseCsv(readFileSync(join(FIXTURES, 'reviews_train.csv'), 'utf8')).slice(1).map((r) => r[0]);
const feed = [...train, ...parseCsv(readFileSync(join(FIXTURES, 'reviews_drifted.csv'), 'utf8')).slice(1).map((r) => r[0])].filter((t) => t.trim() !== '');
const tokenizer = await TextTokenizer.load(join(FIXTURES, 'transformer', 'model.onnx'));
const silent = { debug() {}, info() {}, warn() {}, error() {} };

// 1. The request path.
function records(n, rows, withTexts) {
  return Array.from({ length: n }, (_, i) => {
    const values = Array.from({ length: rows }, (_, j) => feed[(i * rows + j) % feed.length]);
    const r = { model: 'm', version: '1', requestId: `r${i}`, time: 0, latencyMs: 1, rows, outputs: new Float32Array(rows * 3).fill(0.1), outputWidth: 3 };
    if (withTexts) r.texts = { input: 'text', values, tokenizer };
    return r;
  });
}
function perRequest(observer, recs) {
  let best = Infinity;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    for (let i = 0; i < recs.length; i++) {
      observer.observe(recs[i]);
      if (i % 1000 === 999) observer.drain?.();
    }
    best = Math.min(best, ((performance.now() - t0) * 1000) / recs.length);
  }
  return best;
}
for (const rows of [1, 16]) {
  const withTexts = records(20_000, rows, true);
  const without = records(20_000, rows, false);
  const text = perRequest(new InferenceSampler({ maxBufferedRows: 1e9 }), withTexts);
  const logits = perRequest(new InferenceSampler({ maxBufferedRows: 1e9 }), without);
  const noop = perRequest({ observe() {} }, withTexts);
  console.log(`observe(), ${rows} text(s) per request: ${text.toFixed(3)} µs/request with the texts; baseline without texts ${logits.toFixed(3)} µs, no-op observer ${noop.toFixed(3)} µs`);
}

// 2. Off the request path: the summary against the tokenizer alone.
const texts = train;
let summaryMs = Infinity;
let tokenizeMs = Infinity;
for (let rep = 0; rep < 7; rep++) {
  let t0 = performance.now();
  let sink = 0;
  for (const t of texts) sink += tokenizer.contentIds(t).length;
  tokenizeMs = Math.min(tokenizeMs, performance.now() - t0);
  t0 = performance.now();
  const s = summariseTexts(texts, tokenizer);
  summaryMs = Math.min(summaryMs, performance.now() - t0);
  if (s.tokens !== sink) throw new Error('token counts differ');
}
console.log(`${texts.length} texts into a window summary: ${summaryMs.toFixed(1)} ms (${((summaryMs * 1000) / texts.length).toFixed(1)} µs/text); baseline tokenising them alone ${tokenizeMs.toFixed(1)} ms (${((tokenizeMs * 1000) / texts.length).toFixed(1)} µs/text)`);

// 3. One hour of windows on SQLite.
const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-text-'));
const store = await openStore(`sqlite:///${join(dir, 'm.db')}`);
const reference = new DatasetProfile(train.length, new Map());
reference.texts.set('text', summariseTexts(train, tokenizer));
await attachReference(store, 'm', '1', reference, 'bench', { time: 0 });
store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
const sizeBefore = statSync(join(dir, 'm.db')).size;
let now = 0;
const monitor = new LiveMonitor(store, { now: () => now }, silent, { windowMs: 60_000, graceMs: 0, keepPredictions: false });
const PER_WINDOW = 1000;
let rawJsonBytes = 0;
let closeMs = 0;
for (let w = 0; w < 60; w++) {
  for (let i = 0; i < PER_WINDOW; i += 10) {
    const values = Array.from({ length: 10 }, (_, j) => feed[(w * PER_WINDOW + i + j) % feed.length]);
    monitor.sampler.observe({ model: 'm', version: '1', requestId: `w${w}-${i}`, time: w * 60_000 + i, latencyMs: 1, rows: 10, outputs: new Float32Array(30).fill(0.1), outputWidth: 3, texts: { input: 'text', values, tokenizer } });
    rawJsonBytes += values.reduce((s, t) => s + Buffer.byteLength(JSON.stringify({ text: t, logits: [0.1, 0.1, 0.1] })) + 1, 0);
  }
  now = (w + 1) * 60_000;
  const t0 = performance.now();
  await monitor.flush();
  closeMs += performance.now() - t0;
}
store.sqlite.pragma('wal_checkpoint(TRUNCATE)');
const stored = store.sqlite.prepare('select sum(length(profile) + length(figures)) as bytes, count(*) as n from monitoring_windows').get();
const grew = statSync(join(dir, 'm.db')).size - sizeBefore;
console.log(`one hour of 1-minute windows, ${PER_WINDOW} texts each: ${stored.n} windows, ${(stored.bytes / 1e6).toFixed(3)} MB of profiles + figures (SQLite file grew ${(grew / 1e6).toFixed(3)} MB); baseline raw JSON rows ${(rawJsonBytes / 1e6).toFixed(3)} MB`);
console.log(`closing a window (summarising ${PER_WINDOW} texts, logits profile, drift against the reference, write): ${(closeMs / 60).toFixed(1)} ms per window`);
await store.close();
rmSync(dir, { recursive: true, force: true });
