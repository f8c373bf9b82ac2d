/**
 * Explanations on a real `slipway server` (built CLI, its own store under a scratch home):
 *
 *   npm run build && node bench/explain.mjs [--seconds 8] [--connections 16] [--rows 10] [--rounds 3]
 *
 * Model: a 10-feature MLP (10 → 64 → 64 → 1, bench/onnx-builder.mjs), registered as `bench10`
 * with a reference profile of 2,000 generated rows attached (`slipway monitor reference set`).
 * (1) Exact Shapley values, 100-row background: wall time of POST /v2/models/bench10/explain with
 *     `--rows` rows, per explained row (median of 7 after a warm-up). Target ≤ 50 ms per row.
 *     Baseline, same run: the same model rows (rows × 1,023 coalitions × 100 background rows,
 *     plus the background) scored by onnxruntime-node directly in this process on one intra-op
 *     thread, in chunks of 16,384 rows: the floor the model itself sets.
 * (1b) KernelSHAP for a 30-feature MLP (30 → 64 → 64 → 1, `bench30`) at the default budget
 *     (2,048 coalitions), same request size; same kind of baseline.
 * (1c) Text models by occlusion: the tiny transformer-style review classifier and the small
 *     encoder of test/fixtures/text (registered with their tokenizer), 10 review texts per request
 *     of about 8 and 32 tokens: wall time per explained text (median of 5 after a warm-up).
 *     Baseline, same run: POST …/infer of the same 10 texts (median of 5), per text; an
 *     explanation runs each text N + 1 times (whole, and once without each token).
 * (2) Plain inference (1-row V2 requests, wrk, `--connections` connections), `--rounds` times
 *     alone then with explain requests sent back to back during the whole run, and alone once
 *     more. Target: the median req/s with explanations at most 10 % below the median alone.
 *     Also reported: rows explained per second during the load.
 * Loopback only; the server is stopped by its PID.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { buildMlp } from './onnx-builder.mjs';
import { fmt, root, scratch, wrk } from './serving-common.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, connections: { type: 'string', default: '16' }, rows: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' } } });
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROWS = Number(values.rows);
const FEATURES = 10;
const BACKGROUND = 100;
const cli = join(root, 'dist', 'cli', 'main.js');
const home = join(scratch, 'home');
// One server process: explanations and plain inference share its event loop, the harder case.
const env = { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_SERVER_WORKERS: '1' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function slipway(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`slipway ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Deterministic numbers in [-2, 2). */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return (a / 4294967296) * 4 - 2;
  };
}

const names = Array.from({ length: FEATURES }, (_, j) => `f${j}`);
const modelPath = join(scratch, 'bench10.onnx');
writeFileSync(modelPath, buildMlp([FEATURES, 64, 64, 1], { seed: 4 }));
const next = generator(1);
const refPath = join(scratch, 'reference.csv');
writeFileSync(refPath, `${names.join(',')}\n${Array.from({ length: 2000 }, () => names.map(() => next().toFixed(4)).join(',')).join('\n')}\n`);
slipway('models', 'register', modelPath, '--name', 'bench10', '--alias', 'champion', '--columns-from', refPath);
slipway('monitor', 'reference', 'set', 'models:/bench10@champion', '--data', refPath);
// A 30-feature model for KernelSHAP.
const WIDE = 30;
const wideNames = Array.from({ length: WIDE }, (_, j) => `g${j}`);
const widePath = join(scratch, 'bench30.onnx');
writeFileSync(widePath, buildMlp([WIDE, 64, 64, 1], { seed: 5 }));
const wideRefPath = join(scratch, 'reference30.csv');
writeFileSync(wideRefPath, `${wideNames.join(',')}\n${Array.from({ length: 2000 }, () => wideNames.map(() => next().toFixed(4)).join(',')).join('\n')}\n`);
slipway('models', 'register', widePath, '--name', 'bench30', '--alias', 'champion', '--columns-from', wideRefPath);
slipway('monitor', 'reference', 'set', 'models:/bench30@champion', '--data', wideRefPath);
const wideBody = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [ROWS, WIDE], data: Array.from({ length: ROWS * WIDE }, () => next()) }] });

// Text models: the fixtures' classifiers with their tokenizers, and review-like texts of about N tokens.
const TEXT_MODELS = [
  ['reviews', join(root, 'test', 'fixtures', 'text', 'transformer', 'model.onnx')],
  ['encoder', join(root, 'test', 'fixtures', 'text', 'encoder_small', 'model.onnx')],
];
for (const [name, file] of TEXT_MODELS) slipway('models', 'register', file, '--name', name, '--alias', 'champion');
const reviewWords = readFileSync(join(root, 'test', 'fixtures', 'text', 'reviews_train.csv'), 'utf8')
  .split('\n')
  .slice(1)
  .flatMap((line) => line.replace(/,[a-z]+$/, '').replace(/"/g, '').toLowerCase().split(' '))
  .filter((w) => /^[a-z]+$/.test(w));
const textOf = (words) => Array.from({ length: words }, () => reviewWords[Math.floor(((next() + 2) / 4) * reviewWords.length)]).join(' ');
const TEXT_LENGTHS = [8, 32];

const rows = Array.from({ length: ROWS }, () => names.map(() => next()));
const body = (r) => JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [r.length, FEATURES], data: r.flat() }] });
const explainBody = body(rows);
const inferBody = body(rows.slice(0, 1));

const child = spawn(process.execPath, [cli, 'server', '--port', '0', '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
let stderr = '';
child.stderr.on('data', (d) => (stderr += d));
const url = await new Promise((res, rej) => {
  let out = '';
  const timer = setTimeout(() => rej(new Error(`server did not start: ${stderr}`)), 60_000);
  child.once('exit', (code) => rej(new Error(`server exited with ${code}: ${stderr}`)));
  child.stdout.on('data', (d) => {
    out += d;
    const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
    if (m) {
      clearTimeout(timer);
      res(m[1]);
    }
  });
});
const stop = () =>
  new Promise((res) => {
    if (child.exitCode !== null) return res();
    child.once('exit', res);
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
  });

try {
  for (const name of ['bench10', 'bench30', ...TEXT_MODELS.map(([n]) => n)]) {
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${url}/v2/models/${name}/ready`).catch(() => undefined);
      if (r?.status === 200) break;
      await sleep(100);
    }
  }
  const explain = async () => {
    const t0 = performance.now();
    const r = await fetch(`${url}/v2/models/bench10/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: explainBody });
    const doc = await r.json();
    if (r.status !== 200) throw new Error(`explain answered ${r.status}: ${JSON.stringify(doc)}`);
    return { ms: performance.now() - t0, doc };
  };

  console.log(`cores: ${availableParallelism()} (${cpus()[0]?.model ?? 'unknown CPU'})`);

  // (1) Time per explained row.
  const first = await explain();
  const doc = first.doc;
  const worst = Math.max(...doc.explanations.map((e) => Math.abs(e.attributions.reduce((s, a) => s + a.value, 0) - (e.prediction - doc.baseline))));
  const times = [];
  for (let i = 0; i < 7; i++) times.push((await explain()).ms / ROWS);
  times.sort((a, b) => a - b);
  const perRow = times[3];

  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const modelRows = ROWS * (2 ** FEATURES - 2) * BACKGROUND + BACKGROUND + ROWS;
  const chunk = 16_384;
  const data = new Float32Array(chunk * FEATURES).map(() => next());
  const floorTimes = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    for (let done = 0; done < modelRows; done += chunk) {
      const n = Math.min(chunk, modelRows - done);
      await session.run({ x: new ort.Tensor('float32', data.subarray(0, n * FEATURES), [n, FEATURES]) });
    }
    floorTimes.push((performance.now() - t0) / ROWS);
  }
  await session.release();
  const floor = Math.min(...floorTimes);

  // (1b) KernelSHAP for the 30-feature model at the default budget.
  const wideTimes = [];
  let wideDoc;
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const r = await fetch(`${url}/v2/models/bench30/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: wideBody });
    wideDoc = await r.json();
    if (r.status !== 200) throw new Error(`explain answered ${r.status}: ${JSON.stringify(wideDoc)}`);
    if (i > 0) wideTimes.push((performance.now() - t0) / ROWS);
  }
  wideTimes.sort((a, b) => a - b);
  const wideSession = await ort.InferenceSession.create(widePath, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const wideRows = ROWS * wideDoc.coalitions * BACKGROUND + BACKGROUND + ROWS;
  const wideData = new Float32Array(16_384 * WIDE).map(() => next());
  const t0 = performance.now();
  for (let done = 0; done < wideRows; done += 16_384) {
    const n = Math.min(16_384, wideRows - done);
    await wideSession.run({ x: new ort.Tensor('float32', wideData.subarray(0, n * WIDE), [n, WIDE]) });
  }
  const wideFloor = (performance.now() - t0) / ROWS;
  await wideSession.release();
  const wideWorst = Math.max(...wideDoc.explanations.map((e) => Math.abs(e.attributions.reduce((s, a) => s + a.value, 0) - (e.prediction - wideDoc.baseline))));
  console.log(
    `(1) exact Shapley, ${FEATURES} features, ${doc.background_size}-row background, ${ROWS} rows per request (${doc.coalitions} coalitions per row): ` +
      `${fmt(perRow, 1)} ms per explained row (median of 7; target ≤ 50 ms); baseline, the same ${fmt(modelRows)} model rows on onnxruntime directly: ${fmt(floor, 1)} ms per row; ` +
      `worst |Σ attributions - (prediction - baseline)| ${worst.toExponential(2)}`,
  );
  console.log(
    `(1b) KernelSHAP, ${WIDE} features, budget ${wideDoc.sample_budget} coalitions, ${wideDoc.background_size}-row background, ${ROWS} rows per request: ` +
      `${fmt(wideTimes[1], 1)} ms per explained row (median of 3); baseline, the same ${fmt(wideRows)} model rows on onnxruntime directly: ${fmt(wideFloor, 1)} ms per row; ` +
      `worst |Σ attributions - (prediction - baseline)| ${wideWorst.toExponential(2)}`,
  );

  // (1c) Text models: occlusion per explained text against plain inference of the same texts.
  const post = async (path, payload) => {
    const t0 = performance.now();
    const r = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload });
    const doc = await r.json();
    if (r.status !== 200) throw new Error(`${path} answered ${r.status}: ${JSON.stringify(doc)}`);
    return { ms: performance.now() - t0, doc };
  };
  const medianOf = async (n, fn) => {
    await fn();
    const xs = [];
    for (let i = 0; i < n; i++) xs.push(await fn());
    xs.sort((x, y) => x - y);
    return xs[Math.floor(n / 2)];
  };
  for (const [name] of TEXT_MODELS) {
    for (const length of TEXT_LENGTHS) {
      const texts = Array.from({ length: ROWS }, () => textOf(length));
      const inputs = [{ name: 'text', datatype: 'BYTES', shape: [ROWS], data: texts }];
      const explainText = JSON.stringify({ inputs, parameters: { class: 'negative' } });
      const tokens = (await post(`/v2/models/${name}/explain`, explainText)).doc.explanations.map((e) => e.attributions.length);
      const perText = (await medianOf(5, async () => (await post(`/v2/models/${name}/explain`, explainText)).ms)) / ROWS;
      const inferPerText = (await medianOf(5, async () => (await post(`/v2/models/${name}/infer`, JSON.stringify({ inputs }))).ms)) / ROWS;
      const meanTokens = tokens.reduce((a, b) => a + b, 0) / tokens.length;
      console.log(
        `(1c) occlusion, ${name}, ${ROWS} texts per request of ${fmt(meanTokens, 1)} tokens on average (${Math.min(...tokens)}–${Math.max(...tokens)}): ` +
          `${fmt(perText, 2)} ms per explained text (median of 5); baseline, infer of the same texts: ${fmt(inferPerText, 3)} ms per text (median of 5); ` +
          `ratio ${fmt(perText / inferPerText, 1)} for ${fmt(meanTokens + 1, 1)} model rows per text`,
      );
    }
  }

  // (2) Plain inference with and without explanations running, alternated so a neighbour's load
  // on the machine falls on both sides alike.
  const load = () => wrk(`${url}/v2/models/bench10/infer`, inferBody, { connections: CONNECTIONS, threads: 1, seconds: SECONDS });
  const alone = [];
  const withExplain = [];
  let explainedRows = 0;
  let explainSeconds = 0;
  let non2xx = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const a = load();
    alone.push(a.rps);
    let running = true;
    const started = performance.now();
    const loop = (async () => {
      while (running) {
        await explain();
        explainedRows += ROWS;
      }
    })();
    const w = load();
    running = false;
    await loop;
    explainSeconds += (performance.now() - started) / 1000;
    withExplain.push(w.rps);
    non2xx += a.non2xx + w.non2xx;
  }
  const a = load();
  alone.push(a.rps);
  non2xx += a.non2xx;
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const drop = (1 - median(withExplain) / median(alone)) * 100;
  console.log(
    `(2) plain inference, 1-row requests, ${CONNECTIONS} connections, ${SECONDS} s per run, alternated: alone ${alone.map((x) => fmt(x)).join(' / ')} req/s (median ${fmt(median(alone))}); ` +
      `with explain requests back to back ${withExplain.map((x) => fmt(x)).join(' / ')} req/s (median ${fmt(median(withExplain))}), ${fmt(drop, 1)} % below (target ≤ 10 %); ` +
      `${fmt(explainedRows / explainSeconds, 1)} rows explained per second meanwhile; non-2xx ${non2xx}`,
  );
} finally {
  await stop();
}
