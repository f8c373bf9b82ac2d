// Timing overhead of Slipway's load generator per request: latency it reports
// against a target with a known service time (a 1 ms busy-wait) minus what a bare
// client measures on the same target in the same run (an undici request loop timed
// with performance.now(), and wrk). One request at a time over one connection.
//   npm run build && node bench/loadtest-overhead.mjs
import { Pool } from 'undici';
import { runLoadTest } from '../dist/loadtest/index.js';
import { startBareTarget, wrk } from './loadtest-common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SERVICE_MS = 1;

async function bareClient(url, seconds) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: 1 });
  const samples = [];
  const end = performance.now() + seconds * 1000;
  const warmEnd = performance.now() + 500;
  while (performance.now() < end) {
    const t0 = performance.now();
    const res = await pool.request({ path: u.pathname, method: 'GET' });
    await res.body.dump();
    const dt = performance.now() - t0;
    if (t0 >= warmEnd) samples.push(dt);
  }
  await pool.close();
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(samples.length / 2)], mean: samples.reduce((a, b) => a + b, 0) / samples.length, n: samples.length };
}

const target = await startBareTarget(SERVICE_MS);
try {
  await bareClient(target.url, 1);
  const bare = await bareClient(target.url, SECONDS);
  const closed = await runLoadTest({ target: target.url, mode: 'closed', clients: 1, workers: 1, duration: SECONDS * 1000, warmup: 500 });
  // Open model at a rate well under capacity: latency counts from the intended send time, so scheduling lag is included.
  const open = await runLoadTest({ target: target.url, rate: 200, workers: 1, duration: SECONDS * 1000, warmup: 500 });
  const w = await wrk(target.url, { threads: 1, connections: 1, seconds: SECONDS });
  const us = (ms) => `${(ms * 1000).toFixed(0)} µs`;
  console.log(`target: node:http with a ${SERVICE_MS} ms busy-wait per request; ${SECONDS} s per measurement, one connection`);
  console.log(`bare undici loop (baseline): p50 ${us(bare.p50)}, mean ${us(bare.mean)} (${bare.n} requests)`);
  if (w) console.log(`wrk -c1 -t1 (baseline):      p50 ${us(w.p50Ms)}, mean ${us(w.meanMs)}`);
  console.log(`slipway closed, 1 client:    p50 ${us(closed.latencyMs.p50)}, mean ${us(closed.latencyMs.mean)} (${closed.latencyMs.count} requests)`);
  console.log(`slipway open, 200/s:         p50 ${us(open.latencyMs.p50)}, mean ${us(open.latencyMs.mean)} (late sends ${open.generator.late})`);
  console.log(`overhead vs bare loop: closed p50 ${us(closed.latencyMs.p50 - bare.p50)}, mean ${us(closed.latencyMs.mean - bare.mean)}; open p50 ${us(open.latencyMs.p50 - bare.p50)} (goal <= 50 µs)`);
} finally {
  target.stop();
}
