/**
 * What a traffic split costs, against same-run baselines.
 *
 *   npm run build && node bench/canary-routing.mjs [seconds] [rounds]
 *
 * (a) The routing decision, in-process over 1M requests each: picking the version with no split
 *     (the baseline), with a 90/10 split drawn at random, and with a sticky header's value;
 *     p50 of the per-decision cost (median of 1,000-decision batches), in µs. Target: ≤ 2 µs.
 * (b) 1-row V2 requests/s through one server (wrk, 64 connections), alternating rounds of one
 *     model alone and of a 90/10 canary split. Target: split ≥ 95 % of alone.
 * (c) The same server with a 100 % shadow (every request also run on the challenger, off the
 *     response path) against no split, alternating rounds: primary p50 latency, at 64 and at 4
 *     connections. Target: ≤ +10 %.
 * The server runs in a child process built from dist/ (the serving routes, manager and traffic
 * splitter of `slipway server`), so the split can be switched between rounds without a restart.
 * Needs wrk (Debian: apt-get install -y wrk).
 */
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildMlp } from './onnx-builder.mjs';
import { root, scratch, wrk } from './serving-common.mjs';

const dist = (p) => join(root, 'dist', p);
const LAYERS = [16, 64, 64, 2];

/** Model files and a model source over them: version 1 the champion, version 2 the challenger. */
function modelSource() {
  const files = { 1: join(scratch, 'canary-v1.onnx'), 2: join(scratch, 'canary-v2.onnx') };
  writeFileSync(files[1], buildMlp(LAYERS, { seed: 1 }));
  writeFileSync(files[2], buildMlp(LAYERS, { seed: 2 }));
  return {
    async resolve(ref) {
      const version = ref.version ?? '1';
      return { name: ref.name, version, onnxPath: files[version] };
    },
  };
}

/** A manager, splitter and (for the server) routes, as `slipway server` builds them. */
async function servingStack() {
  const [{ ModelManager }, { TrafficSplitter }, { ServingMetrics }, { resolveServingOptions }, { ModelFileAllowList }, { Registry }] = await Promise.all([
    import(dist('serving/model-manager.js')),
    import(dist('serving/traffic-split.js')),
    import(dist('serving/serving-metrics.js')),
    import(dist('serving/serving-options.js')),
    import(dist('artifacts/model-file-allow-list.js')),
    import('prom-client'),
  ]);
  const options = resolveServingOptions({});
  const registry = new Registry();
  const metrics = ServingMetrics.for(registry);
  const manager = new ModelManager({ options, metrics, source: modelSource(), modelFiles: new ModelFileAllowList({ dirs: [tmpdir(), scratch] }) });
  const traffic = new TrafficSplitter({ manager, metrics });
  await manager.load('m', 'models:/m/1');
  return { manager, traffic, metrics, registry, options };
}

// --- the server child ---
if (process.argv[2] === '--child') {
  const { manager, traffic, metrics, registry } = await servingStack();
  const [{ default: Fastify }, { InferenceService }, { FastRoutes, httpServerFactory }, { registerServingRoutes }, { systemClock }] = await Promise.all([
    import('fastify'),
    import(dist('serving/inference-service.js')),
    import(dist('server/http-server.js')),
    import(dist('server/plugins/serving-routes.js')),
    import(dist('core/clock.js')),
  ]);
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const service = new InferenceService({ manager, metrics, observers: [], clock: systemClock, logger, traffic });
  const fastRoutes = new FastRoutes();
  const app = Fastify({ serverFactory: httpServerFactory({ requestTimeoutMs: 60_000 }, fastRoutes), logger: false });
  await registerServingRoutes(app, { manager, service, registry, logger, modelControl: 'none', fastRoutes });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('message', async (msg) => {
    try {
      if (msg.op === 'start') await traffic.startSplit('m', { challengerUri: 'models:/m/2', ...msg.spec });
      if (msg.op === 'end' && traffic.activeSplit('m')) await traffic.endSplit('m', 'rollback');
      const stats = msg.op === 'stats' ? traffic.takeStats('m') : undefined;
      process.send({ ok: true, stats: stats ? { champion: stats.champion.requests, challenger: stats.challenger.requests, shadow: stats.shadow } : undefined });
    } catch (err) {
      process.send({ ok: false, error: String(err) });
    }
  });
  process.on('SIGTERM', async () => {
    await app.close();
    await manager.close();
    process.exit(0);
  });
  process.send({ url });
} else {
  await main();
}

async function main() {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 3);
  console.log(`machine load average at start: ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${cpus().length} CPUs)`);
  console.log(`model: MLP ${LAYERS.join('→')} (two versions with different weights), 1-row FP32 V2 requests\n`);

  // (a) The routing decision, in-process.
  const { manager, traffic } = await servingStack();
  const N = 1_000_000;
  const BATCH = 1000;
  const perCall = (fn) => {
    const batches = new Float64Array(N / BATCH);
    let sink = 0;
    for (let b = 0; b < batches.length; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) sink += fn(i) ? 1 : 0;
      batches[b] = Number(process.hrtime.bigint() - t0) / BATCH / 1000;
    }
    batches.sort();
    return { p50: batches[batches.length >> 1], sink };
  };
  const keys = Array.from({ length: 1024 }, (_, i) => `user-${i * 7919}`);
  // Warm-up runs first so every case is measured on optimised code.
  const cases = () => ({
    'no split (baseline)': perCall(() => traffic.route('m', undefined, undefined).model !== undefined),
  });
  cases();
  const alone = cases();
  await traffic.startSplit('m', { challengerUri: 'models:/m/2', weight: 0.1 });
  const split = traffic.splitOf('m');
  const run = () => ({
    'split 90/10, random draw': perCall(() => traffic.route('m', undefined, undefined).role === 'challenger'),
    'split 90/10, sticky key': perCall((i) => traffic.route('m', undefined, keys[i & 1023]).role === 'challenger'),
    'decision alone, random draw': perCall(() => split.toChallenger(undefined)),
    'decision alone, sticky key': perCall((i) => split.toChallenger(keys[i & 1023])),
  });
  run();
  const withSplit = run();
  console.log('(a) routing decision, p50 per request over 1M requests (µs):');
  for (const [k, v] of Object.entries({ ...alone, ...withSplit })) console.log(`    ${k.padEnd(30)} ${v.p50.toFixed(3)}`);
  await traffic.endSplit('m', 'rollback');
  await manager.close();

  // (b), (c) over HTTP.
  const child = fork(new URL(import.meta.url).pathname, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  const waiting = [];
  child.on('message', (m) => (waiting.length ? waiting.shift()(m) : replies.push(m)));
  const next = () => new Promise((r) => (replies.length ? r(replies.shift()) : waiting.push(r)));
  const ask = async (msg) => {
    child.send(msg);
    const r = await next();
    if (!r.ok) throw new Error(r.error);
    return r;
  };
  try {
    const { url } = await next();
    const row = Array.from({ length: LAYERS[0] }, (_, i) => Math.sin(i));
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, LAYERS[0]], data: row }] });
    const target = `${url}/v2/models/m/infer`;
    wrk(target, body, { seconds: 2 });

    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const b = { alone: [], split: [] };
    let shares = { champion: 0, challenger: 0 };
    for (let r = 0; r < rounds; r++) {
      await ask({ op: 'end' });
      b.alone.push(wrk(target, body, { seconds }));
      await ask({ op: 'start', spec: { weight: 0.1 } });
      b.split.push(wrk(target, body, { seconds }));
      const s = (await ask({ op: 'stats' })).stats;
      shares = { champion: shares.champion + s.champion, challenger: shares.challenger + s.challenger };
    }
    await ask({ op: 'end' });
    const failures = [...b.alone, ...b.split].reduce((n, x) => n + x.non2xx, 0);
    console.log(`\n(b) 1-row req/s, 64 connections, ${rounds} alternating rounds of ${seconds} s:`);
    console.log(`    one model alone      ${b.alone.map((x) => x.rps.toFixed(0)).join(' / ')}   mean ${mean(b.alone.map((x) => x.rps)).toFixed(0)}`);
    console.log(`    90/10 canary split   ${b.split.map((x) => x.rps.toFixed(0)).join(' / ')}   mean ${mean(b.split.map((x) => x.rps)).toFixed(0)}`);
    console.log(`    split / alone        ${((100 * mean(b.split.map((x) => x.rps))) / mean(b.alone.map((x) => x.rps))).toFixed(1)} %   (challenger share ${((100 * shares.challenger) / (shares.champion + shares.challenger)).toFixed(2)} %, non-2xx ${failures})`);

    console.log(`\n(c) 100 % shadow: primary latency, ${rounds} alternating rounds of ${seconds} s:`);
    for (const connections of [64, 4]) {
      const c = { none: [], shadow: [] };
      const shadow = { compared: 0, dropped: 0, agreement: 0 };
      for (let r = 0; r < rounds; r++) {
        await ask({ op: 'end' });
        c.none.push(wrk(target, body, { seconds, connections }));
        await ask({ op: 'start', spec: { weight: 0, shadowShare: 1 } });
        c.shadow.push(wrk(target, body, { seconds, connections }));
        const s = (await ask({ op: 'stats' })).stats.shadow;
        shadow.compared += s?.compared ?? 0;
        shadow.dropped += s?.dropped ?? 0;
        shadow.agreement = s?.agreement ?? shadow.agreement;
      }
      await ask({ op: 'end' });
      const p50 = (xs) => mean(xs.map((x) => x.p50));
      console.log(`  ${connections} connections:`);
      console.log(`    no split   p50 ${c.none.map((x) => x.p50.toFixed(3)).join(' / ')} ms   mean ${p50(c.none).toFixed(3)} ms, ${mean(c.none.map((x) => x.rps)).toFixed(0)} req/s`);
      console.log(`    shadow     p50 ${c.shadow.map((x) => x.p50.toFixed(3)).join(' / ')} ms   mean ${p50(c.shadow).toFixed(3)} ms, ${mean(c.shadow.map((x) => x.rps)).toFixed(0)} req/s`);
      console.log(`    shadow / none p50 ${((100 * p50(c.shadow)) / p50(c.none) - 100).toFixed(1)} %   (mirrors compared ${shadow.compared}, dropped ${shadow.dropped})`);
    }
  } finally {
    await new Promise((r) => {
      if (child.exitCode !== null) return r();
      child.once('exit', r);
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
    });
  }
}
