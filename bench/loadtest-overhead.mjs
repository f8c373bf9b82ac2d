// Timing overhead of Slipway's load generator per request: the latency it reports
// against a target with a known service time (a 1 ms busy-wait) minus what a bare
// client measures on the same target in the same round (an undici request loop
// timed with performance.now()); wrk -c1 is printed as a second reference. One
// request at a time over one connection; rounds alternate and the median round's
// difference is reported, so a busy machine's drift cancels out.
//   npm run build && node bench/loadtest-overhead.mjs
import { Pool } from 'undici';
import { runLoadTest } from '../dist/loadtest/index.js';
import { startBareTarget, wrk } from './loadtest-common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SERVICE_MS = 1;

async function bareClient(url, seconds) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 1 });
  const samples = [];
  const warmEnd = performance.now() + 300;
  const end = warmEnd + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    const res = await pool.request({ path: u.pathname, method: 'GET' });
    await res.body.dump();
    if (t0 >= warmEnd) samples.push(performance.now() - t0);
  }
  await pool.close();
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)], mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
const target = await startBareTarget(SERVICE_MS);
try {
  await bareClient(target.url, 1);
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const measureOurs = async () => {
      const closed = await runLoadTest({ target: target.url, mode: 'closed', clients: 1, workers: 1, duration: SECONDS * 1000, warmup: 300 });
      // Open model well under capacity: latency counts from the intended send time, so scheduling lag is included.
      const open = await runLoadTest({ target: target.url, rate: 200, workers: 1, duration: SECONDS * 1000, warmup: 300, lateTolerance: 1000 });
      return { closed: closed.latencyMs, open: open.latencyMs };
    };
    let ours;
    let bare;
    if (round % 2 === 0) {
      bare = await bareClient(target.url, SECONDS);
      ours = await measureOurs();
    } else {
      ours = await measureOurs();
      bare = await bareClient(target.url, SECONDS);
    }
    const w = await wrk(target.url, { threads: 1, connections: 1, seconds: SECONDS });
    rows.push({ bare, ours, wrk: w });
    console.log(`round ${round + 1}: bare p50 ${us(bare.p50)}, slipway closed p50 ${us(ours.closed.p50)}, open p50 ${us(ours.open.p50)}${w ? `, wrk p50 ${us(w.p50Ms)}` : ''}`);
  }
  console.log(`\ntarget: node:http with a ${SERVICE_MS} ms busy-wait per request; one connection; ${SECONDS} s per measurement; ${ROUNDS} rounds (medians)`);
  console.log(`bare undici loop (baseline): p50 ${us(median(rows.map((r) => r.bare.p50)))}, mean ${us(median(rows.map((r) => r.bare.mean)))}`);
  if (rows[0].wrk) console.log(`wrk -c1 -t1 (reference):    p50 ${us(median(rows.map((r) => r.wrk.p50Ms)))}, mean ${us(median(rows.map((r) => r.wrk.meanMs)))}`);
  console.log(`slipway closed, 1 client:    p50 ${us(median(rows.map((r) => r.ours.closed.p50)))}, mean ${us(median(rows.map((r) => r.ours.closed.mean)))}`);
  console.log(`slipway open, 200/s:         p50 ${us(median(rows.map((r) => r.ours.open.p50)))}, mean ${us(median(rows.map((r) => r.ours.open.mean)))}`);
  console.log(`overhead vs the bare loop (median of per-round differences): closed p50 ${us(median(rows.map((r) => r.ours.closed.p50 - r.bare.p50)))}, open p50 ${us(median(rows.map((r) => r.ours.open.p50 - r.bare.p50)))} (goal <= 50 µs)`);
} finally {
  target.stop();
}
