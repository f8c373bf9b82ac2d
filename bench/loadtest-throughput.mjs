// Maximum request rate of Slipway's load generator vs wrk on the same bare
// node:http target answering a constant body, measured in the same run.
//   npm run build && node bench/loadtest-throughput.mjs
// Needs wrk (apt-get install -y wrk). Both use the same connection count and
// the same number of threads; the rounds alternate so neither always goes first.
import { availableParallelism } from 'node:os';
import { runLoadTest } from '../dist/loadtest/index.js';
import { startBareTarget, wrk } from './loadtest-common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 64;
// One thread each by default: on a small machine the target needs the other core.
const THREADS = Number(process.env.BENCH_THREADS ?? Math.max(1, Math.floor(availableParallelism() / 2)));

const target = await startBareTarget(0);
try {
  // Let the target JIT before anything is timed.
  await wrk(target.url, { threads: 1, connections: 8, seconds: 1 });
  const ours = [];
  const theirs = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runOurs = async () => {
      const r = await runLoadTest({ target: target.url, mode: 'closed', clients: CONNECTIONS, connections: CONNECTIONS, workers: THREADS, duration: SECONDS * 1000, warmup: 500 });
      ours.push(r.throughput.achieved);
    };
    const runWrk = async () => {
      const w = await wrk(target.url, { threads: THREADS, connections: CONNECTIONS, seconds: SECONDS });
      if (!w) throw new Error('wrk is not installed: apt-get install -y wrk');
      theirs.push(w.rps);
    };
    if (round % 2 === 0) {
      await runOurs();
      await runWrk();
    } else {
      await runWrk();
      await runOurs();
    }
    console.log(`round ${round + 1}: slipway ${ours.at(-1).toFixed(0)} req/s, wrk ${theirs.at(-1).toFixed(0)} req/s`);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const o = median(ours);
  const w = median(theirs);
  console.log(`\nbare node:http target, ${CONNECTIONS} keep-alive connections, ${THREADS} threads, ${SECONDS} s per run, median of ${ROUNDS}`);
  console.log(`slipway loadtest (closed model): ${o.toFixed(0)} req/s`);
  console.log(`wrk (baseline):                  ${w.toFixed(0)} req/s`);
  console.log(`ratio: ${((o / w) * 100).toFixed(1)}% of wrk (goal >= 70%)`);
} finally {
  target.stop();
}
