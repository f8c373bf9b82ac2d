/**
 * Traffic splits over real onnxruntime and real HTTP on loopback: canary weights, sticky
 * callers, shadow mirroring and its comparison figures, promotion and rollback under load
 * with no failed request, the blue-green bake and revert, and the split's life cycle.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { Pool } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ModelFileAllowList } from '../src/artifacts/model-file-allow-list.js';
import { systemClock } from '../src/core/clock.js';
import type { InferenceRecord } from '../src/core/inference-record.js';
import { FastRoutes, httpServerFactory } from '../src/server/http-server.js';
import { registerServingRoutes } from '../src/server/plugins/serving-routes.js';
import { InferenceService } from '../src/serving/inference-service.js';
import { ModelManager } from '../src/serving/model-manager.js';
import { ServingMetrics } from '../src/serving/serving-metrics.js';
import { resolveServingOptions } from '../src/serving/serving-options.js';
import { TrafficSplitter } from '../src/serving/traffic-split.js';
import { brokenFile, FileModelSource, fixture, mlpFile } from './support/serving.js';

/** Versions of model `m`: 1 and 2 predict alike (same weights), 3 differs (other weights). */
const source = new FileModelSource()
  .add('m', '1', mlpFile([4, 16, 3], { seed: 11 }))
  .add('m', '2', mlpFile([4, 16, 3], { seed: 11 }))
  .add('m', '3', mlpFile([4, 16, 3], { seed: 12 }))
  .add('m', '4', brokenFile());

interface Harness {
  app: FastifyInstance;
  manager: ModelManager;
  traffic: TrafficSplitter;
  registry: Registry;
  records: InferenceRecord[];
  pool: Pool;
  close(): Promise<void>;
}

async function harness(): Promise<Harness> {
  const options = resolveServingOptions({ maxQueueSize: 4096 });
  const registry = new Registry();
  const metrics = ServingMetrics.for(registry);
  const modelFiles = new ModelFileAllowList({ dirs: [fixture(''), tmpdir()] });
  const manager = new ModelManager({ options, metrics, modelFiles, source });
  const traffic = new TrafficSplitter({ manager, metrics });
  const records: InferenceRecord[] = [];
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const service = new InferenceService({ manager, metrics, observers: [{ observe: (r) => void records.push(r) }], clock: systemClock, logger, traffic });
  const fastRoutes = new FastRoutes();
  const app = Fastify({ serverFactory: httpServerFactory({ requestTimeoutMs: 60_000 }, fastRoutes), logger: false, forceCloseConnections: 'idle' });
  await registerServingRoutes(app, { manager, service, registry, logger, modelControl: 'none', fastRoutes });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const pool = new Pool(url, { connections: 64, pipelining: 1 });
  return {
    app,
    manager,
    traffic,
    registry,
    records,
    pool,
    async close() {
      await pool.close();
      await app.close();
      await manager.close();
    },
  };
}

const rowOf = (i: number) => [Math.sin(i), Math.cos(i * 0.7), (i % 13) / 6 - 1, ((i * 7) % 11) / 5 - 1];

/** One V2 infer of one row; the answer's version and outputs. */
async function infer(h: Harness, i: number, opts: { headers?: Record<string, string>; version?: string; id?: string } = {}): Promise<{ status: number; version: string; data: number[]; text: string }> {
  const body = JSON.stringify({ ...(opts.id ? { id: opts.id } : {}), inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: rowOf(i) }] });
  const path = opts.version ? `/v2/models/m/versions/${opts.version}/infer` : '/v2/models/m/infer';
  const res = await h.pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json', ...opts.headers } });
  const text = await res.body.text();
  if (res.statusCode !== 200) return { status: res.statusCode, version: '', data: [], text };
  const json = JSON.parse(text) as { model_version: string; outputs: Array<{ data: number[] }> };
  return { status: 200, version: json.model_version, data: json.outputs[0]?.data ?? [], text };
}

/** Runs `n` requests with at most `width` in flight. */
async function many<T>(n: number, width: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

const argmax = (v: number[]) => v.indexOf(Math.max(...v));

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('traffic split', () => {
  let h: Harness;
  beforeAll(async () => {
    source.setAlias('m', 'champion', '1');
    h = await harness();
    await h.manager.load('m', 'models:/m@champion');
  });
  afterAll(() => h?.close());
  // A failed test must not leave its split to the next one.
  afterEach(async () => {
    if (h.traffic.activeSplit('m')) await h.traffic.endSplit('m', 'rollback');
  });

  it('refuses a split of an unserved model, a challenger that fails to load, and a second split, changing nothing', async () => {
    await expect(h.traffic.startSplit('nope', { challengerUri: 'models:/m/3' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(h.traffic.startSplit('m', { challengerUri: 'models:/m/4', weight: 0.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(h.traffic.startSplit('m', { challengerUri: 'models:/m/9', weight: 0.5 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(h.traffic.activeSplit('m')).toBeUndefined();
    const answers = await many(20, 4, (i) => infer(h, i));
    expect(answers.every((a) => a.status === 200 && a.version === '1')).toBe(true);

    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0 });
    await expect(h.traffic.startSplit('m', { challengerUri: 'models:/m/2' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(h.traffic.activeSplit('m')).toMatchObject({ challengerUri: 'models:/m/3', championVersion: '1', challengerVersion: '3', weight: 0 });
    await h.traffic.endSplit('m', 'rollback');
    expect(h.traffic.activeSplit('m')).toBeUndefined();
    expect(h.traffic.servedUri('m')).toBe('models:/m@champion');
  });

  it('sends about the weight of requests to the challenger, counts each side, and labels records and metrics', async () => {
    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0.1 });
    h.traffic.takeStats('m');
    h.records.length = 0;
    const answers = await many(2000, 32, (i) => infer(h, i, { id: `r-${i}` }));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const toChallenger = answers.filter((a) => a.version === '3').length;
    // Binomial(2000, 0.1): the standard deviation is about 13, so 120..280 is beyond 6 of them.
    expect(toChallenger).toBeGreaterThan(120);
    expect(toChallenger).toBeLessThan(280);

    const stats = h.traffic.takeStats('m');
    expect(stats?.challenger).toMatchObject({ version: '3', requests: toChallenger, errors: 0 });
    expect(stats?.champion).toMatchObject({ version: '1', requests: 2000 - toChallenger, errors: 0 });
    expect(stats?.challenger.scores).toHaveLength(toChallenger);
    expect(stats?.champion.requestIds).toHaveLength(2000 - toChallenger);
    // The sampled score is the first column of the answer the caller got.
    const byId = new Map(answers.map((a, i) => [`r-${i}`, a]));
    const firstId = stats?.challenger.requestIds[0] as string;
    expect(stats?.challenger.scores).toContain(Math.fround(byId.get(firstId)?.data[0] as number));
    expect(stats?.champion.latencyP50Ms).toBeGreaterThan(0);
    expect(stats?.champion.latencyP99Ms).toBeGreaterThanOrEqual(stats?.champion.latencyP50Ms as number);
    expect(stats?.shadow).toBeUndefined();
    expect(h.records.filter((r) => r.role === 'challenger')).toHaveLength(toChallenger);
    expect(h.records.filter((r) => r.role === 'champion')).toHaveLength(2000 - toChallenger);

    // A new window starts empty.
    const next = h.traffic.takeStats('m');
    expect(next?.champion.requests).toBe(0);
    expect(next?.challenger.requests).toBe(0);
    expect(next?.champion.latencyP50Ms).toBeNull();

    // An explicit version goes to that side whatever the weight.
    expect((await infer(h, 1, { version: '3' })).version).toBe('3');
    expect((await infer(h, 1, { version: '1' })).version).toBe('1');

    const text = await h.registry.metrics();
    expect(text).toMatch(/slipway_serving_split_requests_total\{model="m",version="3",role="challenger"\} [1-9]/);
    expect(text).toMatch(/slipway_serving_split_requests_total\{model="m",version="1",role="champion"\} [1-9]/);
    expect(text).toMatch(/slipway_serving_split_request_duration_seconds_count\{model="m",version="1",role="champion"\} [1-9]/);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    expect(`${check.stdout}${check.stderr}`.trim()).toBe('');
    await h.traffic.endSplit('m', 'rollback');
  });

  it('pins each caller of a sticky split to one side, and moves callers only towards the challenger as the weight grows', async () => {
    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0.5, stickyHeader: 'X-Caller' });
    const callers = Array.from({ length: 60 }, (_, i) => `caller-${i}`);
    const sideOf = async () => {
      const sides = new Map<string, Set<string>>();
      await many(callers.length * 4, 16, async (i) => {
        const caller = callers[i % callers.length] as string;
        const a = await infer(h, i, { headers: { 'x-caller': caller } });
        if (!sides.has(caller)) sides.set(caller, new Set());
        sides.get(caller)?.add(a.version);
      });
      return sides;
    };
    const before = await sideOf();
    expect([...before.values()].every((s) => s.size === 1)).toBe(true);
    const onChallenger = callers.filter((c) => before.get(c)?.has('3'));
    expect(onChallenger.length).toBeGreaterThan(10);
    expect(onChallenger.length).toBeLessThan(50);

    h.traffic.updateSplit('m', { weight: 0.8 });
    const after = await sideOf();
    expect([...after.values()].every((s) => s.size === 1)).toBe(true);
    expect(onChallenger.every((c) => after.get(c)?.has('3'))).toBe(true);
    expect(callers.filter((c) => after.get(c)?.has('3')).length).toBeGreaterThan(onChallenger.length);
    await h.traffic.endSplit('m', 'rollback');
  });

  for (const [label, challenger] of [
    ['a challenger that agrees', '2'],
    ['a challenger that disagrees', '3'],
  ] as const) {
    it(`mirrors every request to ${label} without returning its answers, and compares them right`, async () => {
      await h.traffic.startSplit('m', { challengerUri: `models:/m/${challenger}`, shadowShare: 1 });
      h.traffic.takeStats('m');
      const n = 200;
      const answers = await many(n, 16, (i) => infer(h, i));
      expect(answers.every((a) => a.status === 200 && a.version === '1')).toBe(true);
      // Mirrors run after the answers; wait for them to be compared.
      const split = h.traffic.activeSplit('m');
      expect(split?.shadowShare).toBe(1);
      let stats = h.traffic.takeStats('m');
      let compared = stats?.shadow?.compared ?? 0;
      let rowsAgreeing = (stats?.shadow?.agreement ?? 0) * compared;
      let sumAbs = (stats?.shadow?.meanAbsDiff ?? 0) * compared * 3;
      let maxAbs = stats?.shadow?.maxAbsDiff ?? 0;
      let challengerRuns = stats?.challenger.requests ?? 0;
      await until(() => {
        if (compared >= n) return true;
        const s = h.traffic.takeStats('m');
        const c = s?.shadow?.compared ?? 0;
        compared += c;
        rowsAgreeing += (s?.shadow?.agreement ?? 0) * c;
        sumAbs += (s?.shadow?.meanAbsDiff ?? 0) * c * 3;
        maxAbs = Math.max(maxAbs, s?.shadow?.maxAbsDiff ?? 0);
        challengerRuns += s?.challenger.requests ?? 0;
        stats = s;
        return compared >= n;
      });
      expect(compared).toBe(n);
      expect(challengerRuns).toBe(n);

      // The reference: each row on both versions, asked for explicitly.
      const other = await many(n, 16, (i) => infer(h, i, { version: challenger }));
      let agree = 0;
      let sum = 0;
      let max = 0;
      answers.forEach((a, i) => {
        const b = other[i]?.data as number[];
        if (argmax(a.data) === argmax(b)) agree++;
        a.data.forEach((x, j) => {
          const d = Math.abs(x - (b[j] as number));
          sum += d;
          max = Math.max(max, d);
        });
      });
      expect(rowsAgreeing / n).toBeCloseTo(agree / n, 6);
      expect(sumAbs / (n * 3)).toBeCloseTo(sum / (n * 3), 5);
      expect(maxAbs).toBeCloseTo(max, 5);
      if (challenger === '2') expect(agree).toBe(n);
      else expect(agree).toBeLessThan(n);
      await h.traffic.endSplit('m', 'rollback');
    });
  }

  it('promotes and rolls back under 64 concurrent connections with no failed request, then reverts within the bake', async () => {
    const failures: string[] = [];
    const seen = new Set<string>();
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 64 }, async (_, c) => {
        const end = Date.now() + 20_000;
        for (let i = c; !stop && Date.now() < end; i += 64) {
          const a = await infer(h, i);
          if (a.status !== 200) failures.push(`${a.status} ${a.text}`);
          else seen.add(a.version);
        }
      }),
    );
    const pause = () => new Promise((r) => setTimeout(r, 150));
    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0.5 });
    await pause();
    await h.traffic.endSplit('m', 'rollback');
    await pause();
    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0.5 });
    await pause();
    const champion = h.manager.current('m');
    await h.traffic.endSplit('m', 'promote', { bakeMs: 60_000 });
    expect(h.manager.current('m')?.version).toBe('3');
    expect(h.manager.current('m')).not.toBe(champion);
    await pause();
    expect(h.traffic.keptVersion('m')).toBe('1');
    // A rollback asked to another version leaves serving alone: the kept one is not the one wanted.
    expect(await h.traffic.revert('m', '2')).toBeUndefined();
    expect(h.manager.current('m')?.version).toBe('3');
    expect(await h.traffic.revert('m', '1')).toBe('1');
    await pause();
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual(['1', '3']);
    expect(h.manager.current('m')?.version).toBe('1');
    expect(await h.traffic.revert('m')).toBeUndefined();
  });

  it('keeps the promoted version when the alias follows it, without reloading, and retires the old one after the bake', async () => {
    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0.2 });
    await h.traffic.endSplit('m', 'promote', { bakeMs: 150 });
    const promoted = h.manager.current('m');
    expect(promoted?.version).toBe('3');
    // Another alias moving announces the model too: the stale champion alias must not swap version 1 back in.
    source.setAlias('m', 'other', '2');
    await h.manager.settled();
    expect(h.manager.current('m')).toBe(promoted);
    source.setAlias('m', 'champion', '3');
    await h.manager.settled();
    expect(h.manager.current('m')).toBe(promoted);
    expect(h.manager.index().find((s) => s.name === 'm')).toMatchObject({ version: '3', state: 'READY', reason: '' });
    expect((await infer(h, 5)).version).toBe('3');
    await until(() => h.traffic.keptVersion('m') === undefined, 5000);
    expect(await h.traffic.revert('m')).toBeUndefined();
    // A real move of the alias afterwards still swaps.
    source.setAlias('m', 'champion', '1');
    await h.manager.settled();
    expect(h.manager.current('m')?.version).toBe('1');
  });

  it('ends the split when the model is unloaded, releasing the challenger', async () => {
    await h.traffic.startSplit('m', { challengerUri: 'models:/m/3', weight: 0.5 });
    expect(h.traffic.activeSplit('m')).toBeDefined();
    await h.manager.unload('m');
    expect(h.traffic.activeSplit('m')).toBeUndefined();
    expect(h.traffic.takeStats('m')).toBeUndefined();
    expect(h.traffic.servedUri('m')).toBeUndefined();
    expect((await infer(h, 1)).status).toBe(503);
    await expect(h.traffic.startSplit('m', { challengerUri: 'models:/m/3' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
