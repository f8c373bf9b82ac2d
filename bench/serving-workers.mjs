/**
 * How serving grows with cores: `slipway serve --workers N` against one worker and against
 * same-run baselines, on whatever machine runs it (it prints its core count).
 *
 *   npm run build && node bench/serving-workers.mjs [seconds] [--workers N] [--wrk-threads T]
 *
 * 1. Tiny model, 1-row V2 (breast_cancer_mlp), 64 and 256 connections: req/s of 1 worker and of
 *    N workers (default: one per core), and of a bare multi-process node:http server (node:cluster,
 *    N workers) that reads the body and answers a constant document.
 *    Targets on 16 cores: N workers >= 5x one worker, and >= 0.6 of the bare cluster.
 * 2. A 64->512->512->10 MLP with 1-row clients (64 and 256 connections), N workers with batching
 *    (--max-batch-size 64, --max-queue-delay 500us), against raw onnxruntime-node in one process:
 *    its best rows/s over batches of 1 to 64 rows (intra-op threads = cores).
 *    Target on 16 cores: >= 50 % of the raw best.
 * 3. Memory: the proportional set size (PSS, shared pages split between the processes that map
 *    them) of the whole server with 1 and with N workers, per model; the difference over N-1 is
 *    what each extra worker costs. Target: at most the model's session size + 40 MB.
 * Needs wrk (Debian: apt-get install -y wrk). Rounds alternate the sides; medians are compared.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildMlp } from './onnx-builder.mjs';
import { fmt, root, scratch, startServe, wrk } from './serving-common.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = Number(args.find((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 8);
const cores = availableParallelism();
const N = flag('--workers', cores);
const WRK_THREADS = flag('--wrk-threads', Math.max(2, Math.min(8, Math.floor(cores / 4))));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
// --parts tiny,mlp,memory (default: all three).
const partsArg = args.indexOf('--parts');
const PARTS = new Set((partsArg >= 0 ? args[partsArg + 1] : 'tiny,mlp,memory').split(','));
console.log(`${cores} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}; N = ${N} workers, wrk ${WRK_THREADS} threads, ${seconds} s per round, ${ROUNDS} rounds`);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A bare node:http cluster of `workers` processes answering `constant`. */
async function startBareCluster(workers, constant) {
  const code = `
    const cluster = require('node:cluster');
    const http = require('node:http');
    const body = ${JSON.stringify(JSON.stringify(constant))};
    if (cluster.isPrimary) {
      let up = 0;
      for (let i = 0; i < ${workers}; i++) cluster.fork().on('listening', (a) => { if (++up === ${workers}) console.log(a.port); });
      process.on('SIGTERM', () => { for (const w of Object.values(cluster.workers)) w.kill(); process.exit(0); });
    } else {
      http.createServer((req, res) => {
        req.on('data', () => {});
        req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }); res.end(body); });
      }).listen(0, '127.0.0.1');
    }
  `;
  // node:cluster forks the script it runs: a file, not -e.
  const file = join(scratch, 'bare-cluster.cjs');
  writeFileSync(file, code);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((res) => child.stdout.once('data', (d) => res(Number(String(d).trim()))));
  return { url: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

/** The child processes of `pid` (Linux). */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** PSS in bytes of one process (Linux): its private pages plus its share of pages it maps with others. */
function pss(pid) {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

const tinyModel = join(root, 'test', 'fixtures', 'breast_cancer_mlp.onnx');
const tinyRow = [10.48, 19.86, 66.72, 337.7, 0.107, 0.05971, 0.04831, 0.0307, 0.1737, 0.0644, 0.3719, 2.612, 2.517, 23.22, 0.01604, 0.01386, 0.01865, 0.01133, 0.03476, 0.00356, 11.48, 29.46, 73.68, 402.8, 0.1515, 0.1026, 0.1181, 0.06736, 0.2883, 0.07748];
const tinyBody = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: tinyRow }] });
const mlpPath = join(scratch, 'mlp-64-512-512-10.onnx');
writeFileSync(mlpPath, buildMlp([64, 512, 512, 10], { seed: 7 }));
const mlpRow = Array.from({ length: 64 }, (_, i) => Math.sin(i) * 0.5);
const mlpBody = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 64], data: mlpRow }] });

// ---- 1. tiny model: req/s ----
if (PARTS.has('tiny')) {
const tiny = {};
for (const c of [64, 256]) tiny[c] = { one: [], many: [], bare: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const side of ['one', 'many', 'bare']) {
    const s = side === 'bare' ? await startBareCluster(N, { model_name: 'm', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.1, 0.9] }] }) : await startServe(tinyModel, ['--name', 'm', '--workers', String(side === 'one' ? 1 : N)]);
    const url = side === 'bare' ? s.url : `${s.url}/v2/models/m/infer`;
    for (const c of [64, 256]) {
      const r = wrk(url, tinyBody, { connections: c, threads: WRK_THREADS, seconds });
      if (r.non2xx > 0 || r.errors) console.log(`  ${side} c${c}: ${r.non2xx} non-2xx, socket errors ${r.errors ?? 'none'}`);
      tiny[c][side].push(r.rps);
    }
    await s.stop();
  }
}
console.log('\n1-row V2, breast_cancer_mlp (req/s, median of rounds)');
console.log('| connections | 1 worker | N workers | N / 1 | bare node:http cluster (N) | N workers / bare |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const c of [64, 256]) {
  const [one, many, bare] = [median(tiny[c].one), median(tiny[c].many), median(tiny[c].bare)];
  console.log(`| ${c} | ${fmt(one)} | ${fmt(many)} | ${(many / one).toFixed(2)}x | ${fmt(bare)} | ${(many / bare).toFixed(2)} |`);
}
}

// ---- 2. MLP: rows/s against raw onnxruntime ----
if (PARTS.has('mlp')) {
const session = await ort.InferenceSession.create(mlpPath, { intraOpNumThreads: cores, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
let rawBest = { rows: 0, batch: 0 };
for (const batch of [1, 8, 16, 32, 64]) {
  const x = new ort.Tensor('float32', new Float32Array(batch * 64).map((_, i) => Math.sin(i) * 0.5), [batch, 64]);
  for (let i = 0; i < 20; i++) await session.run({ x });
  const t0 = performance.now();
  let rows = 0;
  while (performance.now() - t0 < 2000) {
    await session.run({ x });
    rows += batch;
  }
  const rps = rows / ((performance.now() - t0) / 1000);
  if (rps > rawBest.rows) rawBest = { rows: rps, batch };
}
await session.release();
const mlp = { 64: [], 256: [] };
for (let round = 0; round < ROUNDS; round++) {
  const s = await startServe(mlpPath, ['--name', 'mlp', '--workers', String(N), '--max-batch-size', '64', '--max-queue-delay', '500us']);
  for (const c of [64, 256]) mlp[c].push(wrk(`${s.url}/v2/models/mlp/infer`, mlpBody, { connections: c, threads: WRK_THREADS, seconds }).rps);
  await s.stop();
}
console.log(`\n64->512->512->10 MLP, 1-row clients, N = ${N} workers, batches up to 64 rows (rows/s, median)`);
console.log(`raw onnxruntime-node, one process, ${cores} intra-op threads: best ${fmt(rawBest.rows)} rows/s at batch ${rawBest.batch}`);
console.log('| connections | N workers | / raw best |');
console.log('|---:|---:|---:|');
for (const c of [64, 256]) console.log(`| ${c} | ${fmt(median(mlp[c]))} | ${((median(mlp[c]) / rawBest.rows) * 100).toFixed(0)} % |`);
}

// ---- 3. memory per worker ----
if (PARTS.has('memory') && N > 1) {
  console.log(`\nMemory: PSS after 2 s of load; one process (--workers 1) against the primary and ${N} workers`);
  console.log('| model | file | one process | primary | mean worker | each extra worker |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [label, path, body, name] of [
    ['breast_cancer_mlp', tinyModel, tinyBody, 'm'],
    ['64-512-512-10 MLP', mlpPath, mlpBody, 'mlp'],
  ]) {
    const one = await startServe(path, ['--name', name, '--workers', '1']);
    wrk(`${one.url}/v2/models/${name}/infer`, body, { connections: 16, threads: 1, seconds: 2 });
    const single = pss(one.pid);
    await one.stop();
    const many = await startServe(path, ['--name', name, '--workers', String(N)]);
    wrk(`${many.url}/v2/models/${name}/infer`, body, { connections: 16, threads: 1, seconds: 2 });
    const primary = pss(many.pid);
    const workers = childrenOf(many.pid).map(pss);
    await many.stop();
    const total = workers.reduce((a, b) => a + b, 0);
    // Beyond the first worker (which replaces the one process), each worker adds this much; the primary is paid once.
    const extra = (total - single) / (N - 1);
    const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;
    console.log(`| ${label} | ${(readFileSync(path).length / 1e6).toFixed(2)} MB | ${mb(single)} | ${mb(primary)} | ${mb(total / workers.length)} | ${mb(extra)} |`);
  }
}
