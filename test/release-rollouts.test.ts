/**
 * Releases end to end on the real serving path: the full server app on 127.0.0.1, real
 * onnxruntime, the registry and release routes over HTTP, and keep-alive clients sending
 * steady load to /v2/models/NAME/infer while canary, shadow and blue-green rollouts move
 * the traffic. Every client request must succeed throughout.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { DIALECTS } from './support/dialects.js';
import { fixture, holdout } from './support/serving.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const sqlite = DIALECTS.find((d) => d.name === 'sqlite') as (typeof DIALECTS)[number];
const cancer = holdout('breast_cancer');
const FILES = {
  champion: readFileSync(fixture('breast_cancer_mlp.onnx')),
  good: readFileSync(fixture('release/cancer_good.onnx')),
  slow: readFileSync(fixture('release/cancer_slow.onnx')),
  worse: readFileSync(fixture('release/cancer_worse.onnx')),
};
const TERMINAL = ['promoted', 'rejected', 'rolled_back', 'aborted'];

let t: TestApp;
let pool: Pool;

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await pool.request({ method: method as 'GET', path: `/api/v1${path}`, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.body.text();
  return { ...(text ? (JSON.parse(text) as Json) : {}), http: res.statusCode };
}

/** Registers `model` with the champion as version 1 (alias `champion`) and the given files as versions 2, 3… */
async function register(model: string, ...files: Array<keyof typeof FILES>): Promise<void> {
  const all = ['champion' as const, ...files];
  for (const [i, f] of all.entries()) await t.ctx.artifacts?.put(`models/${model}/v${i + 1}/model.onnx`, FILES[f]);
  expect((await api('POST', '/models', { name: model })).http).toBe(201);
  for (let i = 0; i < all.length; i++) expect((await api('POST', `/models/${model}/versions`, { source: `mlflow-artifacts:/models/${model}/v${i + 1}` })).http).toBe(201);
  expect((await api('PUT', `/models/${model}/aliases/champion`, { version: '1' })).http).toBeLessThan(300);
}

async function infer(model: string, i: number): Promise<{ status: number; version: string; text: string }> {
  const row = cancer.rows[i % cancer.rows.length] as number[];
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] });
  const res = await pool.request({ method: 'POST', path: `/v2/models/${model}/infer`, body, headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, version: res.statusCode === 200 ? (JSON.parse(text) as { model_version: string }).model_version : '', text };
}

/** Waits until the model answers (the first request loads it on demand). */
async function served(model: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await infer(model, 0)).status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${model} is not served`);
}

/** Steady load from `clients` keep-alive callers until stopped (30 s at most); counts answers by version and keeps failures. */
function load(model: string, clients = 12) {
  const versions = new Map<string, number>();
  const failures: string[] = [];
  let stopped = false;
  let i = 0;
  const deadline = Date.now() + 30_000;
  const client = async () => {
    while (!stopped && Date.now() < deadline) {
      const r = await infer(model, i++).catch((err: unknown) => ({ status: 0, version: '', text: String(err) }));
      if (r.status !== 200) failures.push(`${r.status} ${r.text}`);
      else versions.set(r.version, (versions.get(r.version) ?? 0) + 1);
    }
  };
  const running = Promise.all(Array.from({ length: clients }, client));
  return {
    versions,
    failures,
    /** Forgets the counts so far (e.g. after a promotion). */
    reset: () => versions.clear(),
    async stop() {
      stopped = true;
      await running;
    },
  };
}

async function settled(id: string, done: (r: Json) => boolean = (r) => TERMINAL.includes(r.state)): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const r = await api('GET', `/releases/${id}`);
    if (done(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`release ${id} did not settle`);
}

const alias = async (model: string): Promise<string> => (await api('GET', `/models/${model}/aliases/champion`)).version as string;

beforeAll(async () => {
  t = await openTestApp(sqlite);
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  pool = new Pool(url, { connections: 32, pipelining: 1 });
});
afterAll(async () => {
  await pool?.close();
  await t?.close();
});

describe('canary on real serving', () => {
  it('walks a fine challenger 10 → 50 → 100 under load and promotes it; afterwards every answer is the new version; no request fails', async () => {
    await register('canary', 'good');
    await served('canary');
    const traffic = load('canary');
    const r = await api('POST', '/releases', {
      model: 'canary',
      version: '2',
      environment: 'champion',
      // A relaxed latency ratio: both models are tiny, so their p99s on a shared machine are noise. The default PSI
      // bound holds although the champion MLP answers 1e-30 / 1 - 1e-7 and the logistic regression 0.01 / 0.99.
      policy: { strategy: { kind: 'canary', steps: [10, 50, 100], interval: '400ms', failureLimit: 2, checks: { maxP99Ratio: 20, minRequests: 5 } } },
    });
    expect(r.http).toBe(201);
    const done = await settled(r.id);
    try {
      expect(done.state, done.reason).toBe('promoted');
      expect(done.events.filter((e: Json) => e.type === 'step').map((e: Json) => e.details.weight)).toEqual([10, 50, 100]);
      expect(await alias('canary')).toBe('2');
      // The challenger answered clients during the canary.
      expect(traffic.versions.get('2') ?? 0).toBeGreaterThan(0);
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
    expect([...traffic.versions.keys()]).toEqual(['2']);
  });

  it('rolls a slow challenger back on its own: champion serves everything, alias unchanged, evidence kept, no request fails', async () => {
    await register('slow', 'slow');
    await served('slow');
    const traffic = load('slow');
    const r = await api('POST', '/releases', {
      model: 'slow',
      version: '2',
      environment: 'champion',
      // An absolute bound: the slow model needs about 12 ms a call on its own, and a ratio to the champion's p99
      // would move with whatever else shares the machine's cores (it slows both sides alike).
      policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '500ms', checks: { maxP99Ms: 5, minRequests: 5 } } },
    });
    expect(r.http).toBe(201);
    const done = await settled(r.id);
    let after: Map<string, number>;
    try {
      expect(done.state, done.reason).toBe('rolled_back');
      expect(done.reason).toMatch(/challenger p99 [\d.]+ ms > maxP99Ms 5 ms/);
      expect(done.reason).toMatch(/'champion' unchanged/);
      const last = done.rollout.analyses.at(-1) as Json;
      expect(last.verdict).toBe('breach');
      expect(last.challenger.p99Ms).toBeGreaterThan(5);
      expect(await alias('slow')).toBe('1');
      traffic.reset();
      await new Promise((resolve) => setTimeout(resolve, 300));
      after = new Map(traffic.versions);
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
    expect([...after.keys()]).toEqual(['1']);
    // Traffic went back to the champion in the same analysis that saw the breach.
    const rolledBack = done.events.find((e: Json) => e.to === 'rolled_back') as Json;
    expect(rolledBack.details).toMatchObject({ verdict: 'breach' });
  });
});

describe('canary accuracy on late labels', () => {
  it('rolls back a challenger whose labelled accuracy falls more than maxAccuracyDrop below the champion, labels sent after the answers', async () => {
    const labels = readFileSync(fixture('breast_cancer_holdout.csv'), 'utf8').trim().split('\n').slice(1).map((l) => Number(l.split(',').at(-1)));
    await register('labelled', 'worse');
    await served('labelled');
    // Callers send holdout rows under their own request ids; the true labels follow about a second later, as late
    // labels do, for predictions live monitoring has stored by then (ids it does not know yet are sent again).
    const answered: Array<{ id: string; label: number; at: number }> = [];
    let stopped = false;
    let k = 0;
    const caller = async () => {
      while (!stopped) {
        const i = k++;
        const row = cancer.rows[i % cancer.rows.length] as number[];
        const id = `acc-${i}`;
        const res = await pool.request({ method: 'POST', path: '/v2/models/labelled/infer', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] }) });
        await res.body.text();
        if (res.statusCode === 200) answered.push({ id, label: labels[i % labels.length] as number, at: Date.now() });
      }
    };
    const labeller = async () => {
      while (!stopped) {
        await new Promise((resolve) => setTimeout(resolve, 300));
        const due = answered.filter((a) => Date.now() - a.at > 1200);
        if (due.length === 0) continue;
        answered.splice(0, answered.length, ...answered.filter((a) => Date.now() - a.at <= 1200));
        const sent = await api('POST', '/monitoring/models/labelled/ground-truth', { labels: due.slice(0, 10_000).map((a) => ({ requestId: a.id, label: a.label })) });
        const unknown = new Set((sent.unknown as string[] | undefined) ?? []);
        answered.push(...due.filter((a) => unknown.has(a.id)).map((a) => ({ ...a, at: Date.now() - 1000 })));
      }
    };
    const running = Promise.all([caller(), caller(), caller(), caller(), labeller()]);
    try {
      const r = await api('POST', '/releases', {
        model: 'labelled',
        version: '2',
        environment: 'champion',
        // Only the accuracy check can decide: latency and PSI bounds are out of reach.
        policy: { strategy: { kind: 'canary', steps: [50, 60, 70, 100], interval: '2s', checks: { maxAccuracyDrop: 0.05, minRequests: 20, maxP99Ratio: 1000, maxPsi: 1000 } } },
      });
      expect(r.http).toBe(201);
      const done = await settled(r.id, (x) => TERMINAL.includes(x.state as string));
      expect(done.state, done.reason).toBe('rolled_back');
      expect(done.reason).toMatch(/challenger accuracy 0\.\d+ \(\d+ labelled\) < champion accuracy 0\.9\d* \(\d+ labelled\) - maxAccuracyDrop 0\.05/);
      const last = done.rollout.analyses.at(-1) as Json;
      expect(last.accuracy.challenger.accuracy).toBeLessThan(last.accuracy.champion.accuracy - 0.05);
      expect(await alias('labelled')).toBe('1');
    } finally {
      stopped = true;
      await running;
    }
  }, 60_000);
});

describe('shadow on real serving', () => {
  it('never answers clients from the challenger, records agreement, promotes an agreeing challenger and rejects a disagreeing one', async () => {
    await register('shadow', 'good', 'worse');
    await served('shadow');
    const traffic = load('shadow', 8);
    try {
      const strategy = { kind: 'shadow', duration: '900ms', interval: '300ms', minAgreement: 0.9, maxP99Ratio: 50 };
      const bad = await api('POST', '/releases', { model: 'shadow', version: '3', environment: 'champion', policy: { strategy } });
      expect(bad.http).toBe(201);
      const rejected = await settled(bad.id);
      expect(rejected.state, rejected.reason).toBe('rejected');
      expect(rejected.reason).toMatch(/agreement 0\.\d+ < minAgreement 0\.9/);
      const windows = rejected.rollout.analyses as Json[];
      expect(windows.length).toBe(3);
      expect(windows.reduce((n, w) => n + (w.shadow?.compared ?? 0), 0)).toBeGreaterThan(0);
      expect([...traffic.versions.keys()]).toEqual(['1']);
      expect(await alias('shadow')).toBe('1');

      const good = await api('POST', '/releases', { model: 'shadow', version: '2', environment: 'champion', policy: { strategy } });
      const promoted = await settled(good.id);
      expect(promoted.state, promoted.reason).toBe('promoted');
      expect(promoted.reason).toMatch(/agreement 0\.9\d+ over \d+ mirrored requests/);
      expect(await alias('shadow')).toBe('2');
    } finally {
      await traffic.stop();
    }
    expect(traffic.failures).toEqual([]);
  });
});

describe('blue-green on real serving', () => {
  it('loads a registered model nobody has asked for yet, as its first request would, instead of refusing a live release', async () => {
    await register('unasked', 'good');
    const r = await api('POST', '/releases', { model: 'unasked', version: '2', environment: 'champion', policy: { strategy: { kind: 'blue-green', bake: '1m' } } });
    expect(r.http, r.message as string).toBe(201);
    expect((await settled(r.id)).state).toBe('promoted');
    expect((await infer('unasked', 1)).version).toBe('2');
  });

  it('switches at once; a rollback during the bake is instant and the old version answers right away', async () => {
    await register('bluegreen', 'good');
    await served('bluegreen');
    const r = await api('POST', '/releases', { model: 'bluegreen', version: '2', environment: 'champion', policy: { strategy: { kind: 'blue-green', bake: '1m' } } });
    const done = await settled(r.id);
    expect(done.state, done.reason).toBe('promoted');
    expect((await infer('bluegreen', 1)).version).toBe('2');
    const traffic = load('bluegreen', 8);
    let rb: Json;
    try {
      rb = await api('POST', '/models/bluegreen/rollback', { reason: 'bad numbers' });
      // The very next request is answered by the old version: it was still loaded.
      expect((await infer('bluegreen', 2)).version).toBe('1');
    } finally {
      await traffic.stop();
    }
    expect(rb).toMatchObject({ http: 200, version: '1', previousVersion: '2', instant: true, releaseId: r.id });
    expect(await alias('bluegreen')).toBe('1');
    expect(traffic.failures).toEqual([]);
    const history = await api('GET', `/releases/${r.id}`);
    expect(history.events.at(-1)).toMatchObject({ type: 'rollback', details: { instant: true, version: '1' } });
  });
});
