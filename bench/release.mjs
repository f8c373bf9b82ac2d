/**
 * Releases on a real `slipway server` (built CLI, its own store under a scratch home), against
 * same-run baselines:
 *
 *   npm run build && node bench/release.mjs [--seconds 4] [--connections 64] [--rounds 3]
 *
 * Load: 64 keep-alive connections of 1-row V2 requests (holdout rows in turn) to `bc`, whose
 * champion is breast_cancer_mlp.onnx, either closed loop (saturating) or paced (10 requests/s per
 * connection). Every answer's `model_version`, status and arrival time are kept.
 * (1) Automatic rollback: a canary of cancer_slow.onnx (steps 50, 100; 1 s analysis interval;
 *     challenger p99 bound 5 ms, the ratio check lifted) under the paced load,
 *     `--rounds` times. Reported per round: each analysis window; first challenger answer (the
 *     slow model is slow from its first request, so the breach starts there) → last challenger
 *     answer; start of the window that tripped → last challenger answer; last challenger answer
 *     → the `rolled_back` event (written once traffic has moved). Target: all traffic on the
 *     champion within 2 s of the breach, 1 s interval. Control: cancer_good under the same load
 *     and checks, which should be promoted.
 * (2) Failed client requests (non-200 answers, connection errors) during (a) the control and a
 *     canary promoting a copy of the champion under the closed loop, (b) the rolled-back
 *     canaries of (1), (c) a blue-green promotion under the closed loop followed 1 s later by
 *     POST /api/v1/models/bc/rollback. Target: 0. Baselines for (1) and (2): both loads with no
 *     release (req/s, p50/p99/max, failures).
 * (3) A release of model `cancer` (champion breast_cancer_mlp.onnx with a reference profile of
 *     the training set; candidate cancer_good.onnx) through signature, evaluation, quality,
 *     drift, loadtest (100/s for 3 s), command (`true`) and approval (1, given by the bench as
 *     soon as the release waits), blue-green. Reported: wall time from POST to `promoted` and
 *     each gate's own time. Target: ≤ 60 s. Baselines: a manual promotion (PUT alias, and until
 *     the served version answers) and `slipway loadtest` alone at the same rate and duration.
 * Loopback only; the server is stopped by its PID.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { percentile, root, scratch } from './serving-common.mjs';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, connections: { type: 'string', default: '64' }, rounds: { type: 'string', default: '3' } } });
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const ROUNDS = Number(values.rounds);
const cli = join(root, 'dist', 'cli', 'main.js');
const fixtures = join(root, 'test', 'fixtures');
const home = join(scratch, 'home');
const env = { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** Runs the built CLI to completion; throws with its stderr on a non-zero exit. */
function slipway(args) {
  const r = spawnSync(process.execPath, [cli, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`slipway ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Starts `slipway server` on the scratch store and resolves once every model answers ready. */
async function startServer(models) {
  const child = spawn(process.execPath, [cli, 'server', '--port', '0', '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`server did not start: ${err}`)), 60_000);
    child.once('exit', (code) => rej(new Error(`server exited with ${code}: ${err}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
  });
  for (const name of models) {
    for (let i = 0; i < 600; i++) {
      const r = await fetch(`${url}/v2/models/${name}/ready`).catch(() => undefined);
      if (r?.status === 200) break;
      await sleep(100);
    }
  }
  const stop = () =>
    new Promise((res) => {
      if (child.exitCode !== null) return res();
      child.once('exit', res);
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
    });
  return { url, stop, stderr: () => err };
}

/** A JSON call to the native API; throws on a status other than `expect`. */
async function api(url, method, path, body, expect = [200, 201]) {
  const res = await fetch(`${url}/api/v1${path}`, { method, headers: body !== undefined ? { 'content-type': 'application/json' } : {}, body: body !== undefined ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!expect.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

// Per-connection pace of the paced load of (1): 64 × 10 = 640 req/s offered, well below what the
// server answers, so a fine challenger's p99 stays near 1 ms (the control below) and a 5 ms bound
// trips a slow one (one run of cancer_slow takes ~15 ms whatever the batch).
const PACE = 10;
// The relative p99 check is lifted: on two cores a slow challenger takes the cores the champion
// needs, so both sides' p99 rise together and only an absolute bound tells them apart.
const LIVE_CHECKS = { maxP99Ms: 5, maxP99Ratio: 1000 };

const TERMINAL = ['promoted', 'rejected', 'rolled_back', 'aborted'];

/** Polls a release every 25 ms until `done`; `onPoll` sees each state (approvals are given there). */
async function waitRelease(url, id, done = (r) => TERMINAL.includes(r.state), onPoll = async () => {}, limitMs = 120_000) {
  const until = Date.now() + limitMs;
  for (;;) {
    const r = await api(url, 'GET', `/releases/${id}`);
    await onPoll(r);
    if (done(r)) return r;
    if (Date.now() > until) throw new Error(`release ${id} still ${r.state} after ${limitMs} ms: ${r.reason}`);
    await sleep(25);
  }
}

// Holdout rows without the label, as 1-row V2 bodies: varied scores, so the canary's PSI sees real distributions.
const holdoutText = readFileSync(join(fixtures, 'breast_cancer_holdout.csv'), 'utf8');
const [header, ...lines] = holdoutText.trim().split('\n');
const columns = header.split(',');
const labelAt = columns.indexOf('target');
const bodies = lines.map((line) => {
  const data = line.split(',').map(Number).filter((_, i) => i !== labelAt);
  return JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, data.length], data }] });
});

/**
 * Closed-loop load: `connections` keep-alive connections, each sending the next request as soon as
 * its answer is read. Returns `stop()`, which resolves with every answer: time (epoch ms, at the end
 * of the body), latency, status, the answering version, or the connection error. With `pace`,
 * each connection sends at most that many requests a second instead.
 */
function startLoad(url, model, { connections = CONNECTIONS, pace = 0 } = {}) {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const path = `/v2/models/${model}/infer`;
  const answers = [];
  let running = true;
  let next = 0;
  const loop = async () => {
    // Paced connections start spread over one period, so their requests do not arrive in bursts.
    if (pace > 0) await sleep(Math.random() * (1000 / pace));
    while (running) {
      const body = bodies[next++ % bodies.length];
      const t0 = now();
      try {
        const res = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json' }, body });
        const text = await res.body.text();
        const t = now();
        answers.push({ t, ms: t - t0, status: res.statusCode, version: /"model_version":"([^"]*)"/.exec(text)?.[1], error: res.statusCode === 200 ? undefined : text.slice(0, 200) });
      } catch (err) {
        const t = now();
        answers.push({ t, ms: t - t0, status: 0, error: err.code ?? err.message });
      }
      // Paced: each connection sends at most `pace` requests a second, so the server is not saturated.
      if (pace > 0) await sleep(Math.max(0, t0 + 1000 / pace - now()));
    }
  };
  const started = now();
  const loops = Array.from({ length: connections }, loop);
  return {
    started,
    async stop() {
      running = false;
      await Promise.all(loops);
      await pool.close();
      return { answers, started, ended: now() };
    },
  };
}

/** req/s, latency percentiles and failures of a load's answers. */
function summary({ answers, started, ended }) {
  const ms = answers.map((a) => a.ms).sort((a, b) => a - b);
  const failed = answers.filter((a) => a.status !== 200);
  const kinds = {};
  for (const f of failed) kinds[f.status === 0 ? `connection error ${f.error}` : `${f.status} ${f.error}`] = (kinds[f.status === 0 ? `connection error ${f.error}` : `${f.status} ${f.error}`] ?? 0) + 1;
  const versions = {};
  for (const a of answers) if (a.version) versions[a.version] = (versions[a.version] ?? 0) + 1;
  return { requests: answers.length, rps: answers.length / ((ended - started) / 1000), p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1), failed: failed.length, kinds, versions };
}

const f1 = (x) => (x === undefined || x === null || Number.isNaN(x) ? '—' : x.toFixed(1));
const ms = (x) => (x === undefined || Number.isNaN(x) ? '—' : `${x.toFixed(0)} ms`);
const sec = (x) => (x === undefined || Number.isNaN(x) ? '—' : `${(x / 1000).toFixed(2)} s`);
const loadLine = (s) => `${s.requests} requests, ${s.rps.toFixed(0)} req/s, p50 ${f1(s.p50)} ms, p99 ${f1(s.p99)} ms, max ${f1(s.max)} ms, failed ${s.failed}${s.failed ? ` ${JSON.stringify(s.kinds)}` : ''}, by version ${JSON.stringify(s.versions)}`;

/** Runs `release` (a POST /releases body) under load and returns the load's answers and the finished release. */
async function releaseUnderLoad(url, body, { lead = 1000, tail = 1000, after, pace = 0 } = {}) {
  const load = startLoad(url, body.model, { pace });
  await sleep(lead);
  const created = now();
  const r = await api(url, 'POST', '/releases', body);
  const done = await waitRelease(url, r.id);
  const extra = after ? await after(done) : undefined;
  await sleep(tail);
  return { created, release: done, extra, load: await load.stop() };
}

async function main() {
  console.log(`machine: ${cpus().length} CPUs, load average at start ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  console.log(`load: ${CONNECTIONS} keep-alive connections (undici), closed loop or paced at ${PACE}/s each, 1-row V2 requests over the ${bodies.length} holdout rows\n`);

  // The store: model bc (champion mlp, then slow, good and a second mlp copy as candidates) and model cancer for (3).
  const release = join(fixtures, 'release');
  const mlpCopy = join(scratch, 'breast_cancer_mlp_copy.onnx');
  copyFileSync(join(fixtures, 'breast_cancer_mlp.onnx'), mlpCopy);
  const goodCopy = join(scratch, 'cancer_good_copy.onnx');
  copyFileSync(join(release, 'cancer_good.onnx'), goodCopy);
  slipway(['models', 'register', join(fixtures, 'breast_cancer_mlp.onnx'), '--name', 'bc', '--alias', 'champion']);
  slipway(['models', 'register', join(release, 'cancer_slow.onnx'), '--name', 'bc']);
  slipway(['models', 'register', join(release, 'cancer_good.onnx'), '--name', 'bc']);
  slipway(['models', 'register', mlpCopy, '--name', 'bc']);
  slipway(['models', 'register', goodCopy, '--name', 'bc']);
  slipway(['models', 'register', join(fixtures, 'breast_cancer_mlp.onnx'), '--name', 'cancer', '--alias', 'champion']);
  slipway(['models', 'register', join(release, 'cancer_good.onnx'), '--name', 'cancer']);
  slipway(['monitor', 'reference', 'set', 'models:/cancer/1', '--data', join(fixtures, 'breast_cancer_train.csv')]);

  const server = await startServer(['bc', 'cancer']);
  const { url } = server;
  try {
    // Warm-up, then the baseline: the same load with no release.
    const warm = startLoad(url, 'bc');
    await sleep(1000);
    await warm.stop();
    const base = startLoad(url, 'bc');
    await sleep(SECONDS * 1000);
    const baseline = summary(await base.stop());
    const pacedBase = startLoad(url, 'bc', { pace: PACE });
    await sleep(SECONDS * 1000);
    const pacedBaseline = summary(await pacedBase.stop());

    console.log(`baseline, no release, ${SECONDS} s, closed loop: ${loadLine(baseline)}`);
    console.log(`baseline, no release, ${SECONDS} s, paced ${PACE}/s per connection: ${loadLine(pacedBaseline)}`);

    // (1) and (2b): the slow challenger, rolled back by the live analysis; several rounds, the champion stays version 1.
    const livePolicy = { strategy: { kind: 'canary', steps: [50, 100], interval: '1s', checks: LIVE_CHECKS } };
    console.log(`\n(1) canary of the slow challenger (v2) under the paced load, steps 50/100, interval 1 s, checks ${JSON.stringify(LIVE_CHECKS)}, ${ROUNDS} rounds:`);
    const slowRounds = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const slow = await releaseUnderLoad(url, { model: 'bc', version: '2', environment: 'champion', policy: livePolicy }, { pace: PACE });
      const sum = summary(slow.load);
      const challenger = slow.load.answers.filter((a) => a.version === '2');
      const first = Math.min(...challenger.map((a) => a.t));
      const last = Math.max(...challenger.map((a) => a.t));
      const events = slow.release.events ?? [];
      // The rolled_back event is written once every request already goes to the champion (traffic first).
      const rolledBackAt = events.find((e) => e.to === 'rolled_back')?.time;
      const windows = slow.release.rollout?.analyses ?? [];
      const breachIndex = windows.findIndex((w) => w.verdict === 'breach');
      // The breaching window began when the previous analysis closed, or with the first challenger answer.
      const breachStart = breachIndex > 0 ? windows[breachIndex - 1].time : first;
      const r = { state: slow.release.state, sum, first, last, rolledBackAt, breachStart, breachStep: breachIndex + 1, postToFirst: first - slow.created, challengerAnswers: challenger.length };
      slowRounds.push(r);
      console.log(`  round ${round}: ${slow.release.state}: ${slow.release.reason}`);
      console.log(`    under load: ${loadLine(sum)}`);
      for (const [i, w] of windows.entries()) {
        const c = w.challenger ?? {};
        console.log(`    window ${i + 1} closed ${sec(w.time - first)} after the first challenger answer: ${w.verdict}; challenger ${c.requests} requests, p99 ${f1(c.p99Ms)} ms; champion p99 ${f1(w.champion?.p99Ms)} ms`);
      }
      const rows = [
        ['POST /releases → first challenger answer (challenger loaded)', r.postToFirst],
        ['first challenger answer → last challenger answer', last - first],
        ['start of the breaching window → last challenger answer', last - breachStart],
        ['last challenger answer → rolled_back event', rolledBackAt - last],
      ];
      for (const [k, v] of rows) console.log(`    ${k.padEnd(62)} ${ms(v)}`);
    }

    // The control: a fine challenger under the same paced load and checks is promoted (the bound trips only a slow one).
    const control = await releaseUnderLoad(url, { model: 'bc', version: '3', environment: 'champion', policy: livePolicy }, { pace: PACE });
    const controlSum = summary(control.load);
    console.log(`  control, cancer_good (v3) under the same load and checks: ${control.release.state}: ${control.release.reason}`);
    for (const [i, w] of (control.release.rollout?.analyses ?? []).entries()) console.log(`    window ${i + 1}: ${w.verdict}; challenger ${w.challenger?.requests} requests, p99 ${f1(w.challenger?.p99Ms)} ms; champion p99 ${f1(w.champion?.p99Ms)} ms`);

    // (2a): a fine challenger (a copy of the first champion, v4) promoted by a canary under the saturating closed-loop load.
    const good = await releaseUnderLoad(url, { model: 'bc', version: '4', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '1s', } } });
    const goodSum = summary(good.load);

    // (2c): blue-green to version 5, then an instant rollback to version 4 one second after the promotion.
    const bg = await releaseUnderLoad(
      url,
      { model: 'bc', version: '5', environment: 'champion', policy: { strategy: { kind: 'blue-green', bake: '60s' } } },
      {
        after: async () => {
          await sleep(1000);
          const t0 = now();
          const r = await api(url, 'POST', '/models/bc/rollback', { environment: 'champion', reason: 'benchmark' });
          return { ...r, at: t0, ms: now() - t0 };
        },
      },
    );
    const rollback = bg.extra;
    const bgSum = summary(bg.load);
    const lastV5 = Math.max(...bg.load.answers.filter((a) => a.t > rollback.at && a.version === '5').map((a) => a.t), rollback.at);

    console.log(`\n(2) failed client requests (non-200 or connection error) under ${CONNECTIONS} connections:`);
    console.log(`    baseline, no release, closed loop: ${loadLine(baseline)}`);
    console.log(`    baseline, no release, paced: ${loadLine(pacedBaseline)}`);
    for (const [i, r] of slowRounds.entries()) console.log(`    (b) canary rolled back, paced, round ${i + 1}: ${r.state}; ${loadLine(r.sum)}`);
    console.log(`    (a) canary promoting v3 (cancer_good), paced: ${control.release.state}; ${loadLine(controlSum)}`);
    console.log(`    (a) canary promoting v4 (mlp copy), closed loop: ${good.release.state}${good.release.state !== 'promoted' ? ` (${good.release.reason})` : ''}; ${loadLine(goodSum)}`);
    console.log(`    (c) blue-green v5, closed loop, then rollback: ${bg.release.state}; rollback to v${rollback.version} instant=${rollback.instant} answered in ${f1(rollback.ms)} ms, last v5 answer ${ms(lastV5 - rollback.at)} after it was sent; ${loadLine(bgSum)}`);

    // (3) the gated release of model cancer.
    const holdoutRef = 'releases/holdouts/breast_cancer_holdout.csv';
    const up = await fetch(`${url}/api/v1/artifacts/${holdoutRef}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: holdoutText });
    if (!up.ok) throw new Error(`holdout upload: ${up.status} ${await up.text()}`);
    const gatedPolicy = {
      holdout: holdoutRef,
      label: 'target',
      gates: [
        { kind: 'signature' },
        { kind: 'evaluation', metrics: ['accuracy >= champion - 0.02', 'f1_weighted >= champion - 0.02', 'roc_auc >= champion - 0.02'] },
        { kind: 'quality' },
        { kind: 'drift' },
        { kind: 'loadtest', rate: 100, duration: '3s', slo: ['error_rate < 0.01', 'p99 <= champion + 5ms'] },
        { kind: 'command', run: 'true' },
        { kind: 'approval', count: 1 },
      ],
      strategy: { kind: 'blue-green', bake: '1m' },
    };
    const t0 = now();
    const created = await api(url, 'POST', '/releases', { model: 'cancer', version: '2', environment: 'champion', requestedBy: 'release-engineer', policy: gatedPolicy });
    let approvedAt;
    const gated = await waitRelease(url, created.id, undefined, async (r) => {
      if (r.state === 'awaiting_approval' && approvedAt === undefined) {
        approvedAt = now();
        await api(url, 'POST', `/releases/${created.id}/approve`, { by: 'second-reviewer' });
      }
    });
    const gatedWall = now() - t0;

    // Baselines of (3): a manual promotion, and the load test alone.
    const m0 = now();
    await api(url, 'PUT', '/models/cancer/aliases/champion', { version: '1' });
    const putMs = now() - m0;
    let servedMs;
    for (let i = 0; i < 2000 && servedMs === undefined; i++) {
      const res = await fetch(`${url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodies[0] });
      if (/"model_version":"1"/.test(await res.text())) servedMs = now() - m0;
      else await sleep(5);
    }
    const features = columns.filter((c) => c !== 'target').join(',');
    const l0 = now();
    const lt = spawnSync(process.execPath, [cli, 'loadtest', '--url', `${url}/v2/models/cancer/infer`, '--protocol', 'v2', '--data', join(fixtures, 'breast_cancer_holdout.csv'), '--columns', features, '--rate', '100', '--duration', '3s', '--json'], { env, encoding: 'utf8', timeout: 60_000 });
    const loadtestMs = now() - l0;
    if (lt.status !== 0) console.log(`(slipway loadtest exited ${lt.status}: ${(lt.stderr + lt.stdout).trim().slice(-400)})`);

    console.log(`\n(3) gated release of cancer v2 (cancer_good) → champion, blue-green: ${gated.state}${gated.state !== 'promoted' ? ` (${gated.reason})` : ''}`);
    console.log(`    wall time, POST /releases → promoted seen by the client: ${sec(gatedWall)} (server: created → ended ${sec(gated.endedTime - gated.createdTime)})`);
    for (const g of gated.gates) {
      const took = g.startedTime !== undefined && g.endedTime !== undefined ? g.endedTime - g.startedTime : undefined;
      console.log(`    gate ${g.name.padEnd(11)} ${g.verdict.padEnd(5)} ${ms(took).padStart(9)}   ${g.reason.slice(0, 100)}`);
    }
    if (approvedAt !== undefined) console.log(`    the release reached awaiting_approval ${sec(approvedAt - t0)} after POST (polled every 25 ms) and was approved by a second person at once`);
    console.log(`    baseline: manual promotion, PUT alias answered in ${ms(putMs)}; the served model answered as the new version ${ms(servedMs)} after the PUT was sent`);
    console.log(`    baseline: slipway loadtest alone against the served model, 100/s for 3 s: ${sec(loadtestMs)} (process wall time, node start included)`);

    const worst = Math.max(...slowRounds.map((r) => r.last - r.first));
    console.log(`\nsummary: rollback — first → last challenger answer ≤ ${ms(worst)} over ${ROUNDS} rounds (target ≤ 2 s with a 1 s interval); failed requests ${[...slowRounds.map((r) => r.sum.failed), controlSum.failed, goodSum.failed, bgSum.failed].reduce((a, b) => a + b, 0)} (baselines ${baseline.failed + pacedBaseline.failed}); gated release ${sec(gatedWall)} (target ≤ 60 s)`);
  } catch (err) {
    console.error(server.stderr());
    throw err;
  } finally {
    await server.stop();
  }
}

await main();
