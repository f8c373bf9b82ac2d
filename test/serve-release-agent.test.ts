/**
 * Releases on `slipway serve models:/NAME@ALIAS --server URL`: a real server app on 127.0.0.1 that
 * does not serve the model itself drives canary rollouts through the traffic hub, and the built CLI's
 * serve process (its traffic agent) splits its own traffic, reports its figures, promotes or rolls
 * back. Clients call the serve process only; every request must succeed throughout.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SideStats } from '../src/core/traffic-split.js';
import { mergeSplitStats } from '../src/release/traffic-hub.js';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { CLI_PATH, tempHome } from './support/cli.js';
import { DIALECTS } from './support/dialects.js';
import { servedAddress } from './support/serve-process.js';
import { fixture, holdout } from './support/serving.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const sqlite = DIALECTS.find((d) => d.name === 'sqlite') as (typeof DIALECTS)[number];
const cancer = holdout('breast_cancer');
const FILES = [fixture('breast_cancer_mlp.onnx'), fixture('release/cancer_good.onnx'), fixture('release/cancer_slow.onnx')].map((f) => readFileSync(f));
const TERMINAL = ['promoted', 'rejected', 'rolled_back', 'aborted'];

let t: TestApp;
let serverUrl: string;
let serverPool: Pool;
let proc: ChildProcess;
let stderr = '';
let servePool: Pool;
/** A second serve process, pinned to version 1: no release of the alias touches it. */
let pinned: ChildProcess;
let pinnedPool: Pool;

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await serverPool.request({ method: method as 'GET', path: `/api/v1${path}`, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.body.text();
  return { ...(text ? (JSON.parse(text) as Json) : {}), http: res.statusCode };
}

async function infer(i: number, pool = servePool): Promise<{ status: number; version: string; text: string }> {
  const row = cancer.rows[i % cancer.rows.length] as number[];
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] });
  const res = await pool.request({ method: 'POST', path: '/v2/models/cancer/infer', body, headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, version: res.statusCode === 200 ? (JSON.parse(text) as { model_version: string }).model_version : '', text };
}

/** Steady load on the serve process from `clients` keep-alive callers, each pausing `pauseMs` between requests, until stopped (40 s at most). */
function load(clients: number, pauseMs = 0, pool = servePool) {
  const versions = new Map<string, number>();
  const failures: string[] = [];
  let stopped = false;
  let i = 0;
  const deadline = Date.now() + 40_000;
  const client = async () => {
    while (!stopped && Date.now() < deadline) {
      const r = await infer(i++, pool).catch((err: unknown) => ({ status: 0, version: '', text: String(err) }));
      if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
      else versions.set(r.version, (versions.get(r.version) ?? 0) + 1);
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  };
  const running = Promise.all(Array.from({ length: clients }, client));
  return {
    versions,
    failures,
    reset: () => versions.clear(),
    async stop() {
      stopped = true;
      await running;
    },
  };
}

async function settled(id: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const r = await api('GET', `/releases/${id}`);
    if (TERMINAL.includes(r.state as string)) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`release ${id} did not settle`);
}

/** Log lines the serve process wrote (pino JSON on stderr). */
function logLines(): Json[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Json);
}

beforeAll(async () => {
  t = await openTestApp(sqlite);
  serverUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  serverPool = new Pool(serverUrl, { connections: 4 });
  // Registered after the server started, and never asked for over /v2: the server itself does not serve it.
  for (const [i, bytes] of FILES.entries()) await t.ctx.artifacts?.put(`models/cancer/v${i + 1}/model.onnx`, bytes);
  expect((await api('POST', '/models', { name: 'cancer' })).http).toBe(201);
  for (let i = 0; i < FILES.length; i++) expect((await api('POST', '/models/cancer/versions', { source: `mlflow-artifacts:/models/cancer/v${i + 1}` })).http).toBe(201);
  expect((await api('PUT', '/models/cancer/aliases/champion', { version: '1' })).http).toBeLessThan(300);

  const serve = (ref: string) =>
    // One process each (every worker of several follows the server as an agent of its own).
    spawn(process.execPath, [CLI_PATH, 'serve', ref, '--server', serverUrl, '--port', '0', '--json', '--registry-poll', '500ms', '--workers', '1'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_HOME: tempHome('slipway-serve-agent'), SLIPWAY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  proc = serve('models:/cancer@champion');
  pinned = serve('models:/cancer/1');
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const [info, pinnedInfo] = await Promise.all([servedAddress<{ url: string; version: string }>(proc, 30_000), servedAddress<{ url: string; version: string }>(pinned, 30_000)]);
  expect([info.version, pinnedInfo.version]).toEqual(['1', '1']);
  servePool = new Pool(info.url, { connections: 8, pipelining: 1 });
  pinnedPool = new Pool(pinnedInfo.url, { connections: 2, pipelining: 1 });
  // The serve process has joined the model's traffic once the server lists it.
  for (let i = 0; i < 100 && ((await api('GET', '/traffic/cancer')).agents as Json[]).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
}, 60_000);

afterAll(async () => {
  await servePool?.close();
  await pinnedPool?.close();
  for (const p of [proc, pinned]) {
    if (!p || p.exitCode !== null) continue;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  }
  // The last test closed the server already.
  await serverPool?.close().catch(() => {});
  await t?.close();
});

describe('traffic routes refuse bad input', () => {
  it('answers 400 naming the field, 409 for figures of a split that is not running', async () => {
    const noId = await api('POST', '/traffic/cancer/agents', { uri: 'models:/cancer@champion', version: '1' });
    expect(noId.http).toBe(400);
    expect(noId.error.message).toMatch(/agentId/);
    const badUri = await api('POST', '/traffic/cancer/agents', { agentId: 'a', uri: '/srv/model.onnx', version: '1' });
    expect(badUri.http).toBe(400);
    expect(badUri.error.message).toMatch(/'uri'.*models:\/NAME@ALIAS/);
    const side = { version: '1', requests: 1, errors: 2, latencyP50Ms: 1, latencyP99Ms: 2, scores: [], requestIds: [] };
    const badStats = await api('POST', '/traffic/cancer/stats', { agentId: 'a', splitId: 's', stats: { champion: side, challenger: { ...side, errors: 0 }, windowMs: 1000 } });
    expect(badStats.http).toBe(400);
    expect(badStats.error.message).toMatch(/stats\.champion\.errors/);
    const badShare = await api('POST', '/traffic/cancer/stats', { agentId: 'a', splitId: 's', stats: { champion: { ...side, errors: 0 }, challenger: { ...side, errors: 0 }, shadow: { compared: 1, agreement: 2, meanAbsDiff: 0, maxAbsDiff: 0 }, windowMs: 1000 } });
    expect(badShare.http).toBe(400);
    expect(badShare.error.message).toMatch(/stats\.shadow\.agreement/);
    const stale = await api('POST', '/traffic/cancer/stats', { agentId: 'a', splitId: 'gone', stats: { champion: { ...side, errors: 0 }, challenger: { ...side, errors: 0 }, windowMs: 1000 } });
    expect(stale.http).toBe(409);
    expect(stale.error.message).toMatch(/Split 'gone' of model 'cancer' is not running/);
    const none = await api('GET', '/traffic/unknown-model');
    expect(none).toMatchObject({ http: 200, model: 'unknown-model', epoch: 0, split: null, agents: [] });
  });

  it('documents the traffic routes under the releases tag', async () => {
    const doc = await api('GET', '/openapi.json');
    expect(doc.paths['/api/v1/traffic/{model}'].get.operationId).toBe('getTraffic');
    expect(doc.paths['/api/v1/traffic/{model}/agents'].post.operationId).toBe('trafficHeartbeat');
    expect(doc.paths['/api/v1/traffic/{model}/stats'].post.tags).toEqual(['releases']);
  });
});

describe('releases on a slipway serve process that follows the server', () => {
  it('lists the serve processes under the model’s traffic, with what they serve', async () => {
    const state = await api('GET', '/traffic/cancer');
    expect(state.http).toBe(200);
    expect(state.split).toBeNull();
    expect(state.agents).toHaveLength(2);
    expect(state.agents).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ uri: 'models:/cancer@champion', version: '1', splitId: null, splitError: null }),
        expect.objectContaining({ uri: 'models:/cancer/1', version: '1', splitId: null, splitError: null }),
      ]),
    );
  });

  it('rolls a slow challenger back: the serve process answers from the champion again, alias unchanged, no request fails', async () => {
    // Paced callers: on a saturated machine every request waits in the same queues and no latency bound tells the sides apart.
    const traffic = load(2, 25);
    const pinnedTraffic = load(1, 25, pinnedPool);
    let done: Json;
    let after: Map<string, number>;
    try {
      const r = await api('POST', '/releases', {
        model: 'cancer',
        version: '3',
        environment: 'champion',
        // cancer_slow spends about 12 ms per request in 12 MatMuls that add 0; the champion well under 1 ms.
        policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '1500ms', checks: { maxP50Ratio: 1.5, maxP99Ratio: 1.5, minRequests: 5 } } },
      });
      expect(r.http, JSON.stringify(r)).toBe(201);
      done = await settled(r.id as string);
      expect(done.state, done.reason).toBe('rolled_back');
      expect(done.reason).toMatch(/challenger p(50|99) [\d.]+ ms > 1\.5 × champion p(50|99)/);
      // The challenger answered callers of the serve process during the canary, and the analysis saw them.
      expect(traffic.versions.get('3') ?? 0).toBeGreaterThan(0);
      const last = done.rollout.analyses.at(-1) as Json;
      expect(last.challenger.requests).toBeGreaterThan(0);
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = new Map(traffic.versions);
    } finally {
      await Promise.all([traffic.stop(), pinnedTraffic.stop()]);
    }
    expect(traffic.failures).toEqual([]);
    expect([...after.keys()]).toEqual(['1']);
    // The release moved the champion alias: the process pinned to version 1 never split its traffic.
    expect(pinnedTraffic.failures).toEqual([]);
    expect([...pinnedTraffic.versions.keys()]).toEqual(['1']);
    expect(((await api('GET', '/traffic/cancer')).agents as Json[]).find((a) => a.uri === 'models:/cancer/1')).toMatchObject({ version: '1', splitId: null });
    expect((await api('GET', '/models/cancer/aliases/champion')).version).toBe('1');
    const state = await api('GET', '/traffic/cancer');
    expect(state.split).toBeNull();
    expect(state.ended).toMatchObject({ outcome: 'rollback' });
  }, 60_000);

  it('walks a fine challenger to 100 % and promotes it: the serve process answers from it without reloading, no request fails', async () => {
    const traffic = load(4);
    let after: Map<string, number>;
    try {
      const r = await api('POST', '/releases', {
        model: 'cancer',
        version: '2',
        environment: 'champion',
        // Both models are tiny, so their p99s on a shared machine are noise: a relaxed latency bound.
        policy: { strategy: { kind: 'canary', steps: [20, 100], interval: '1500ms', failureLimit: 2, checks: { maxP99Ratio: 20, minRequests: 5 } } },
      });
      expect(r.http, JSON.stringify(r)).toBe(201);
      const done = await settled(r.id as string);
      expect(done.state, done.reason).toBe('promoted');
      expect(done.events.filter((e: Json) => e.type === 'step').map((e: Json) => e.details.weight)).toEqual([20, 100]);
      expect(traffic.versions.get('2') ?? 0).toBeGreaterThan(0);
      // The alias poll (every 500 ms) finds version 2 already serving.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = new Map(traffic.versions);
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
    expect([...after.keys()]).toEqual(['2']);
    expect((await api('GET', '/models/cancer/aliases/champion')).version).toBe('2');
    // Version 2 took over as the promoted challenger; the alias move did not load it a second time.
    const lines = logLines();
    expect(lines.some((l) => l.msg === 'serving: served version swapped' && l.version === '2')).toBe(true);
    expect(lines.filter((l) => l.msg === 'serving: model version loaded' && l.version === '2')).toEqual([]);
    expect(((await api('GET', '/traffic/cancer')).agents as Json[]).find((a) => a.uri === 'models:/cancer@champion')).toMatchObject({ version: '2', splitId: null });
  }, 60_000);

  it('switches blue-green at once, and a rollback during the bake is instant on the serve process too', async () => {
    const traffic = load(2);
    let after: Map<string, number>;
    try {
      const r = await api('POST', '/releases', { model: 'cancer', version: '3', environment: 'champion', policy: { strategy: { kind: 'blue-green', bake: '1m' } } });
      expect(r.http, JSON.stringify(r)).toBe(201);
      const done = await settled(r.id as string);
      expect(done.state, done.reason).toBe('promoted');
      // The serve process switched before the release was marked promoted.
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect([...traffic.versions.keys()]).toEqual(['3']);
      const back = await api('POST', '/models/cancer/rollback', { reason: 'test' });
      expect(back).toMatchObject({ http: 200, version: '2', previousVersion: '3', instant: true });
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 300));
      after = new Map(traffic.versions);
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
    expect([...after.keys()]).toEqual(['2']);
    expect(logLines().filter((l) => l.msg === 'serving: model version loaded' && (l.version === '2' || l.version === '3'))).toEqual([]);
  }, 60_000);

  // Last: it stops the server.
  it('rolls its split back on its own when the server is out of reach for more than 5 s, and keeps answering', async () => {
    const traffic = load(2);
    let after: Map<string, number>;
    try {
      // A long interval: no analysis ends this split while the server is up.
      const r = await api('POST', '/releases', { model: 'cancer', version: '3', environment: 'champion', policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '60s' } } });
      expect(r.http, JSON.stringify(r)).toBe(201);
      for (let i = 0; i < 200 && (traffic.versions.get('3') ?? 0) === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(traffic.versions.get('3') ?? 0).toBeGreaterThan(0);
      await serverPool.close();
      await t.app.close();
      for (let i = 0; i < 200 && !logLines().some((l) => l.level === 40 && /out of reach for more than 5000 ms/.test(l.msg as string)); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 500));
      after = new Map(traffic.versions);
    } finally {
      await traffic.stop();
    }
    expect(logLines().filter((l) => /out of reach for more than 5000 ms/.test(l.msg as string))).toHaveLength(1);
    expect(traffic.failures).toEqual([]);
    expect([...after.keys()]).toEqual(['2']);
  }, 60_000);
});

describe('merging the windows of several serving processes', () => {
  const side = (o: Partial<SideStats>): SideStats => ({ version: '1', requests: 0, errors: 0, latencyP50Ms: null, latencyP99Ms: null, scores: [], requestIds: [], ...o });

  it('sums requests and errors, weighs p50 by requests, keeps the largest p99 and concatenates samples', () => {
    const merged = mergeSplitStats(
      [
        { champion: side({ requests: 30, errors: 1, latencyP50Ms: 2, latencyP99Ms: 5, scores: [0.1], requestIds: ['a'] }), challenger: side({ version: '2', requests: 10, latencyP50Ms: 4, latencyP99Ms: 9 }), windowMs: 1000 },
        { champion: side({ requests: 10, latencyP50Ms: 6, latencyP99Ms: 7, scores: [0.2], requestIds: ['b'] }), challenger: side({ version: '2' }), windowMs: 900 },
      ],
      { championVersion: '1', challengerVersion: '2', windowMs: 1000 },
    );
    expect(merged.champion).toEqual({ version: '1', requests: 40, errors: 1, latencyP50Ms: 3, latencyP99Ms: 7, scores: [0.1, 0.2], requestIds: ['a', 'b'] });
    expect(merged.challenger).toMatchObject({ version: '2', requests: 10, latencyP50Ms: 4, latencyP99Ms: 9 });
    expect(merged.shadow).toBeUndefined();
  });

  it('weighs shadow agreement by compared requests, and an empty window has no figures', () => {
    const shadowOf = (compared: number, agreement: number) => ({ champion: side({}), challenger: side({ version: '2' }), shadow: { compared, agreement, meanAbsDiff: 0.1, maxAbsDiff: compared / 100, dropped: 1 }, windowMs: 1000 });
    const merged = mergeSplitStats([shadowOf(30, 1), shadowOf(10, 0.6)], { championVersion: '1', challengerVersion: '2', windowMs: 1000 });
    expect(merged.shadow).toEqual({ compared: 40, agreement: 0.9, meanAbsDiff: 0.1, maxAbsDiff: 0.3, dropped: 2 });
    const empty = mergeSplitStats([], { championVersion: '1', challengerVersion: '2', windowMs: 500 });
    expect(empty).toEqual({ champion: side({}), challenger: side({ version: '2' }), windowMs: 500 });
  });
});
