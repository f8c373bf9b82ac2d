// Timing overhead of Slipway's load generator per request: the latency it reports
// against a target with a known service time (a 1 ms busy-wait) minus what a bare
// client measures on the same target in the same round (an undici request loop
// timed with performance.now(): back to back for the closed model, paced at the same
// rate for the open model); wrk -c1 is printed as a second reference. One
// request at a time over one connection; rounds alternate and the median round's
// difference is reported, so a busy machine's drift cancels out.
//   npm run build && node bench/loadtest-overhead.mjs
import { Pool } from 'undici';
import { runLoadTest } from '../dist/loadtest/index.js';
import { startBareTarget, wrk } from './loadtest-common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SERVICE_MS = 1;
// Low enough that a busy machine rarely queues requests behind each other (queueing is not overhead).
const RATE = Number(process.env.BENCH_RATE ?? 50);

// A bare client: back to back, or paced at `rate`/s (sleeping in between, as an open
// model does, so both sides pay the same wake-up costs); each request timed from its actual send.
async function bareClient(url, seconds, rate = 0) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 1 });
  const samples = [];
  const warmEnd = performance.now() + 300;
  const end = warmEnd + seconds * 1000;
  let next = performance.now();
  while (performance.now() < end) {
    if (rate > 0) {
      next += 1000 / rate;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
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
      const open = await runLoadTest({ target: target.url, rate: RATE, workers: 1, duration: SECONDS * 1000, warmup: 300, lateTolerance: 1000 });
      return { closed: closed.latencyMs, open: open.latencyMs, lag: open.generator.meanLagMs };
    };
    let ours;
    let bare;
    let paced;
    if (round % 2 === 0) {
      bare = await bareClient(target.url, SECONDS);
      paced = await bareClient(target.url, SECONDS, RATE);
      ours = await measureOurs();
    } else {
      ours = await measureOurs();
      paced = await bareClient(target.url, SECONDS, RATE);
      bare = await bareClient(target.url, SECONDS);
    }
    const w = await wrk(target.url, { threads: 1, connections: 1, seconds: SECONDS });
    rows.push({ bare, paced, ours, wrk: w });
    console.log(`round ${round + 1}: bare p50 ${us(bare.p50)}, slipway closed p50 ${us(ours.closed.p50)}; paced bare p50 ${us(paced.p50)}, slipway open p50 ${us(ours.open.p50)}${w ? `; wrk p50 ${us(w.p50Ms)}` : ''}`);
  }
  console.log(`\ntarget: node:http with a ${SERVICE_MS} ms busy-wait per request; one connection; ${SECONDS} s per measurement; ${ROUNDS} rounds (medians)`);
  console.log(`bare undici loop (baseline): p50 ${us(median(rows.map((r) => r.bare.p50)))}, mean ${us(median(rows.map((r) => r.bare.mean)))}`);
  console.log(`bare loop paced ${RATE}/s (baseline): p50 ${us(median(rows.map((r) => r.paced.p50)))}, mean ${us(median(rows.map((r) => r.paced.mean)))}`);
  if (rows[0].wrk) console.log(`wrk -c1 -t1 (reference):    p50 ${us(median(rows.map((r) => r.wrk.p50Ms)))}, mean ${us(median(rows.map((r) => r.wrk.meanMs)))}`);
  console.log(`slipway closed, 1 client:    p50 ${us(median(rows.map((r) => r.ours.closed.p50)))}, mean ${us(median(rows.map((r) => r.ours.closed.mean)))}`);
  console.log(`slipway open, ${RATE}/s:        p50 ${us(median(rows.map((r) => r.ours.open.p50)))}, mean ${us(median(rows.map((r) => r.ours.open.mean)))}, mean send lag ${us(median(rows.map((r) => r.ours.lag)))}`);
  console.log(`overhead (median of per-round p50 differences, goal <= 50 µs): closed vs bare loop ${us(median(rows.map((r) => r.ours.closed.p50 - r.bare.p50)))}; open (from intended send time) vs paced bare loop ${us(median(rows.map((r) => r.ours.open.p50 - r.paced.p50)))}`);
} finally {
  target.stop();
}
