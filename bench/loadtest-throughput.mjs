// Maximum request rate of Slipway's load generator vs wrk on the same bare
// node:http target answering a constant body, measured in the same run.
//   npm run build && node bench/loadtest-throughput.mjs
// Needs wrk (apt-get install -y wrk). Both use the same connection count and the
// same number of threads. Each round runs both back to back (alternating which goes
// first) and the ratio is taken per round, so a busy machine's drift cancels out;
// the median round is reported.
import { availableParallelism } from 'node:os';
import { runLoadTest } from '../dist/loadtest/index.js';
import { startBareTarget, wrk } from './loadtest-common.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CONNECTIONS = 64;
// One thread each by default: on a small machine the target needs the other core.
const THREADS = Number(process.env.BENCH_THREADS ?? Math.max(1, Math.floor(availableParallelism() / 2)));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const target = await startBareTarget(0);
try {
  // Let the target JIT before anything is timed.
  await wrk(target.url, { threads: 1, connections: 8, seconds: 1 });
  const rounds = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cpu = {};
    const runOurs = async () => {
      const c0 = process.cpuUsage();
      const r = await runLoadTest({ target: target.url, mode: 'closed', clients: CONNECTIONS, connections: CONNECTIONS, workers: THREADS, duration: SECONDS * 1000, warmup: 300 });
      const c = process.cpuUsage(c0);
      // Process CPU (generator threads and the parent, start-up included) per request sent.
      cpu.ours = (c.user + c.system) / r.requests.sent;
      return r.throughput.achieved;
    };
    const runWrk = async () => {
      const w = await wrk(target.url, { threads: THREADS, connections: CONNECTIONS, seconds: SECONDS });
      if (!w) throw new Error('wrk is not installed: apt-get install -y wrk');
      cpu.wrk = (w.cpuSeconds * 1e6) / w.requests;
      return w.rps;
    };
    let ours;
    let theirs;
    if (round % 2 === 0) {
      ours = await runOurs();
      theirs = await runWrk();
    } else {
      theirs = await runWrk();
      ours = await runOurs();
    }
    rounds.push({ ours, theirs, ratio: ours / theirs, cpuOurs: cpu.ours, cpuWrk: cpu.wrk });
    console.log(`round ${round + 1}: slipway ${ours.toFixed(0)} req/s (${cpu.ours.toFixed(1)} µs CPU/req), wrk ${theirs.toFixed(0)} req/s (${cpu.wrk.toFixed(1)} µs CPU/req), ratio ${((ours / theirs) * 100).toFixed(1)}%`);
  }
  console.log(`\nbare node:http target, ${CONNECTIONS} keep-alive connections, ${THREADS} thread(s) each, ${SECONDS} s per run, ${ROUNDS} paired rounds`);
  console.log(`slipway loadtest (closed model): median ${median(rounds.map((r) => r.ours)).toFixed(0)} req/s`);
  console.log(`wrk (baseline):                  median ${median(rounds.map((r) => r.theirs)).toFixed(0)} req/s`);
  console.log(`CPU per request: slipway median ${median(rounds.map((r) => r.cpuOurs)).toFixed(1)} µs, wrk median ${median(rounds.map((r) => r.cpuWrk)).toFixed(1)} µs`);
  console.log(`median per-round ratio: ${(median(rounds.map((r) => r.ratio)) * 100).toFixed(1)}% of wrk (goal >= 70%)`);
} finally {
  target.stop();
}
