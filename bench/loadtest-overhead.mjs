// Timing overhead of Slipway's load generator per request: the latency it reports
// against a target with a known service time (a 1 ms busy-wait) minus what a bare
// client measures on the same target in the same round. Closed model: a bare undici
// request loop, back to back. Open model (latency from the intended send time): a
// bare undici loop paced at the same rate, timed from its actual send, run in a worker
// thread as the generator is (so both pay the same wake-ups: a sleeping thread woken
// by a timer, then by the answer); the same loop on the main thread and wrk -c1 are
// printed as references. One request at a time over one connection; the order of the
// measurements alternates between rounds and the median round's difference is
// reported, so a busy machine's drift cancels out; the load average is printed.
//   npm run build && node bench/loadtest-overhead.mjs
import { loadavg } from 'node:os';
import { Pool } from 'undici';
import { runLoadTest } from '../dist/loadtest/index.js';
import { bareLoop, bareLoopInWorker } from './loadtest-bare-client.mjs';
import { startBareTarget, wrk } from './loadtest-common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const SERVICE_MS = 1;
// Low enough that a busy machine rarely queues requests behind each other (queueing is not overhead).
const RATE = Number(process.env.BENCH_RATE ?? 50);

// The closed-model baseline: undici's request API back to back, each timed from its send to the end of its body.
async function poolLoop(url, seconds) {
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
  return samples;
}

const stats = (samples) => {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: s[Math.floor(s.length / 2)], mean: s.reduce((a, b) => a + b, 0) / s.length };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
const load = () => loadavg()[0].toFixed(2);
const loadStart = load();
const target = await startBareTarget(SERVICE_MS);
try {
  await poolLoop(target.url, 1);
  const rows = [];
  for (let round = 0; round < ROUNDS; round++) {
    const steps = {
      bare: async () => stats(await poolLoop(target.url, SECONDS)),
      paced: async () => stats(await bareLoopInWorker(target.url, { seconds: SECONDS, rate: RATE })),
      pacedMain: async () => stats(await bareLoop(target.url, { seconds: SECONDS, rate: RATE })),
      closed: async () => (await runLoadTest({ target: target.url, mode: 'closed', clients: 1, workers: 1, duration: SECONDS * 1000, warmup: 300 })).latencyMs,
      // Open model well under capacity: latency counts from the intended send time, so scheduling lag is included.
      open: async () => {
        const r = await runLoadTest({ target: target.url, rate: RATE, workers: 1, duration: SECONDS * 1000, warmup: 300, lateTolerance: 1000 });
        return { ...r.latencyMs, lag: r.generator.meanLagMs };
      },
    };
    const order = Object.keys(steps);
    if (round % 2 === 1) order.reverse();
    const row = {};
    for (const name of order) row[name] = await steps[name]();
    row.wrk = await wrk(target.url, { threads: 1, connections: 1, seconds: SECONDS });
    row.load = load();
    rows.push(row);
    console.log(
      `round ${round + 1} (load ${row.load}): bare p50 ${us(row.bare.p50)}, slipway closed p50 ${us(row.closed.p50)}; paced bare p50 ${us(row.paced.p50)} (main thread ${us(row.pacedMain.p50)}), slipway open p50 ${us(row.open.p50)}${row.wrk ? `; wrk p50 ${us(row.wrk.p50Ms)}` : ''}`,
    );
  }
  const col = (f) => median(rows.map(f));
  console.log(`\ntarget: node:http with a ${SERVICE_MS} ms busy-wait per request; one connection; ${SECONDS} s per measurement; ${ROUNDS} rounds (medians); load average ${loadStart} at start, ${load()} at end`);
  console.log(`bare undici loop (closed baseline):              p50 ${us(col((r) => r.bare.p50))}, mean ${us(col((r) => r.bare.mean))}`);
  console.log(`bare loop paced ${RATE}/s, worker thread (open baseline): p50 ${us(col((r) => r.paced.p50))}, mean ${us(col((r) => r.paced.mean))}`);
  console.log(`bare loop paced ${RATE}/s, main thread (reference):  p50 ${us(col((r) => r.pacedMain.p50))}, mean ${us(col((r) => r.pacedMain.mean))}`);
  if (rows[0].wrk) console.log(`wrk -c1 -t1 (reference):                         p50 ${us(col((r) => r.wrk.p50Ms))}, mean ${us(col((r) => r.wrk.meanMs))}`);
  console.log(`slipway closed, 1 client:                        p50 ${us(col((r) => r.closed.p50))}, mean ${us(col((r) => r.closed.mean))}`);
  console.log(`slipway open, ${RATE}/s:                             p50 ${us(col((r) => r.open.p50))}, mean ${us(col((r) => r.open.mean))}, mean send lag ${us(col((r) => r.open.lag))}`);
  console.log(
    `overhead (median of per-round p50 differences, goal <= 50 µs): closed vs bare loop ${us(col((r) => r.closed.p50 - r.bare.p50))}; open (from intended send time) vs paced bare loop ${us(col((r) => r.open.p50 - r.paced.p50))} (vs the main-thread loop ${us(col((r) => r.open.p50 - r.pacedMain.p50))})`,
  );
} finally {
  target.stop();
}
