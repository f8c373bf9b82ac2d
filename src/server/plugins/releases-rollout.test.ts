/**
 * Rollouts driven by the release runner over a server's traffic controller. Serving's
 * controller is not in this tree yet, so an in-test controller stands in for it: it
 * records the splits and hands out the window figures a test scripts, which is what
 * the analysis decides on. The store, registry, routes and runner are the real ones.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { freshSqliteFile } from '../../../test/support/dialects.js';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import type { SideStats, SplitStats, TrafficController, TrafficSplitSpec } from '../../core/traffic-split.js';
import { scorePsi } from '../../release/rollout-analysis.js';
import { openStore } from '../../store/store.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';
import { getMetricsRegistry } from '../metrics-registry.js';

const ONNX = readFileSync(new URL('../../../test/fixtures/breast_cancer_mlp.onnx', import.meta.url));
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function side(version: string, over: Partial<SideStats> = {}): SideStats {
  const scores = Array.from({ length: 200 }, (_, i) => (i % 100) / 100);
  return { version, requests: 100, errors: 0, latencyP50Ms: 2, latencyP99Ms: 5, scores, requestIds: [], ...over };
}

/** Records what the runner asks; `window()` scripts the figures of the next analysis. */
class ScriptedTraffic implements TrafficController {
  calls: string[] = [];
  split: (TrafficSplitSpec & { championVersion: string; challengerVersion: string }) | undefined;
  window: (n: number) => Partial<SideStats> = () => ({});
  championWindow: (n: number) => Partial<SideStats> = () => ({});
  private n = 0;
  constructor(private readonly served: string) {}
  async startSplit(model: string, spec: TrafficSplitSpec): Promise<void> {
    this.calls.push(`start ${model} ${spec.challengerUri} ${spec.weight ?? 0} ${spec.shadowShare ?? 0}`);
    this.split = { ...spec, championVersion: '1', challengerVersion: spec.challengerUri.split('/').pop() as string };
  }
  updateSplit(model: string, change: { weight?: number }): void {
    this.calls.push(`update ${model} ${change.weight}`);
  }
  /** Runs inside `endSplit('promote')`, e.g. to abort the release at that moment. */
  onPromote: (() => Promise<void>) | undefined;
  async endSplit(model: string, outcome: 'promote' | 'rollback', opts?: { bakeMs?: number }): Promise<void> {
    this.calls.push(`end ${model} ${outcome}${opts?.bakeMs !== undefined ? ` ${opts.bakeMs}` : ''}`);
    this.split = undefined;
    if (outcome === 'promote') await this.onPromote?.();
  }
  takeStats(): SplitStats | undefined {
    if (!this.split) return undefined;
    const n = this.n++;
    const challenger = side(this.split.challengerVersion, this.window(n));
    return { champion: side('1', this.championWindow(n)), challenger, windowMs: 20, shadow: { compared: 100, agreement: 0.99, meanAbsDiff: 0.001, maxAbsDiff: 0.01 } };
  }
  activeSplit() {
    return this.split;
  }
  async revert(model: string, version?: string): Promise<string | undefined> {
    this.calls.push(`revert ${model} ${version ?? ''}`);
    return version;
  }
  servedUri(model: string): string | undefined {
    return model === 'm' ? this.served : undefined;
  }
}

interface Server {
  ctx: ServerContext;
  inject: (method: string, url: string, payload?: unknown) => Promise<Json>;
  close(): Promise<void>;
}

async function openServer(uri: string, home: string, traffic: TrafficController): Promise<Server> {
  const config = resolveConfig({ backendStoreUri: uri, home }, {}, home);
  const store = await openStore(uri);
  const ctx: ServerContext = { config, store, artifacts: new LocalArtifactStore(config.artifactsDestination), logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [], traffic };
  const app = await buildApp(ctx, { plugins: ['native-api', 'releases'] });
  await app.ready();
  return {
    ctx,
    inject: async (method, url, payload) => {
      const res = await app.inject({ method: method as 'GET', url: `/api/v1${url}`, ...(payload !== undefined ? { payload: payload as object } : {}) });
      return { status: res.statusCode, ...(res.body ? (res.json() as Json) : {}) };
    },
    async close() {
      await app.close();
      for (const hook of ctx.onClose) await hook();
      await store.close();
    },
  };
}

async function until(s: Server, id: string, done: (r: Json) => boolean): Promise<Json> {
  for (let i = 0; i < 400; i++) {
    const r = await s.inject('GET', `/releases/${id}`);
    if (done(r)) return r;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`release ${id} did not get there`);
}

describe('release rollouts over live traffic', () => {
  const opened: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of opened.splice(0).reverse()) await close();
  });

  async function setUp(traffic: TrafficController): Promise<{ s: Server; uri: string; dir: string }> {
    const f = freshSqliteFile();
    opened.push(async () => f.drop());
    const s = await openServer(f.uri, f.dir, traffic);
    opened.push(() => s.close());
    await s.ctx.artifacts?.put('models/bc/model.onnx', ONNX);
    await s.inject('POST', '/models', { name: 'm' });
    for (let v = 0; v < 2; v++) await s.inject('POST', '/models/m/versions', { source: 'mlflow-artifacts:/models/bc' });
    await s.inject('PUT', '/models/m/aliases/champion', { version: '1' });
    return { s, uri: f.uri, dir: f.dir };
  }
  const canary = { kind: 'canary', steps: [10, 50, 100], interval: '20ms', checks: { maxP99Ratio: 1.5, minRequests: 20 } };

  it('walks a healthy canary through its steps, with an analysis per window, and promotes', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    const { s } = await setUp(traffic);
    const r = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: canary } });
    expect(r.status).toBe(201);
    const done = await until(s, r.id, (x) => x.state !== 'pending' && x.state !== 'gates' && x.state !== 'rolling_out');
    expect(done.state).toBe('promoted');
    expect(traffic.calls).toEqual(['start m models:/m/2 0.1 0', 'update m 0.5', 'update m 1', 'end m promote 60000']);
    expect(done.rollout.analyses.map((a: Json) => a.verdict)).toEqual(['pass', 'pass', 'pass']);
    expect(done.events.filter((e: Json) => e.type === 'step').map((e: Json) => e.details.weight)).toEqual([10, 50, 100]);
    expect((await s.inject('GET', '/models/m/aliases/champion')).version).toBe('2');
  });

  it('undoes a promotion it cannot record (aborted at that moment): serving and the alias go back to the champion', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    const { s } = await setUp(traffic);
    let id = '';
    // Another server (or a store fault) moves the release on between the swap and its record: as an abort would.
    traffic.onPromote = async () => {
      await s.ctx.store.db.updateTable('releases').set({ state: 'aborted', active: null }).where('id', '=', id).execute();
    };
    id = (await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: { ...canary, steps: [100] } } })).id as string;
    const done = await until(s, id, (x) => ['promoted', 'aborted', 'rolled_back'].includes(x.state));
    expect(done.state).toBe('aborted');
    expect((await s.inject('GET', '/models/m/aliases/champion')).version).toBe('1');
    expect(traffic.calls.slice(-2)).toEqual(['end m promote 60000', 'revert m 1']);
  });

  it('rolls a slow challenger back: traffic to the champion, alias unchanged, evidence kept, counter raised', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    // The second window breaches (p99 40 ms against the champion's 5 ms); failureLimit 0.
    traffic.window = (n) => (n === 0 ? {} : { latencyP99Ms: 40 });
    const { s } = await setUp(traffic);
    const counter = async (): Promise<number> => ((await getMetricsRegistry().getSingleMetric('slipway_release_rollbacks_total')?.get())?.values ?? []).filter((v) => v.labels.model === 'm').reduce((a, v) => a + v.value, 0);
    const before = await counter();
    const r = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: canary } });
    const done = await until(s, r.id, (x) => ['promoted', 'rolled_back', 'rejected'].includes(x.state));
    expect(done.state).toBe('rolled_back');
    expect(done.reason).toMatch(/step 2 \(50 %\): challenger p99 40 ms > 1\.5 × champion p99 5 ms/);
    expect(traffic.calls).toEqual(['start m models:/m/2 0.1 0', 'update m 0.5', 'end m rollback']);
    expect(done.rollout.analyses.at(-1)).toMatchObject({ verdict: 'breach', challenger: { p99Ms: 40 }, champion: { p99Ms: 5 } });
    expect((await s.inject('GET', '/models/m/aliases/champion')).version).toBe('1');
    expect(await counter()).toBe(before + 1);
  });

  it('treats windows with too few challenger requests as inconclusive, not as breaches', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    traffic.window = (n) => (n < 2 ? { requests: 3, errors: 3 } : {});
    const { s } = await setUp(traffic);
    const r = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: { ...canary, steps: [50, 100] } } });
    const done = await until(s, r.id, (x) => ['promoted', 'rolled_back'].includes(x.state));
    expect(done.state).toBe('promoted');
    expect(done.rollout.analyses.map((a: Json) => a.verdict)).toEqual(['inconclusive', 'inconclusive', 'pass', 'pass']);
  });

  it('at the 100 % step, where the champion answers nothing, compares latency with the champion of the last window it served', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    traffic.window = (n) => (n === 0 ? { latencyP99Ms: 6 } : { latencyP99Ms: 20 });
    traffic.championWindow = (n) => (n === 0 ? {} : { requests: 0, latencyP50Ms: null, latencyP99Ms: null, scores: [] });
    const { s } = await setUp(traffic);
    const r = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: { ...canary, steps: [50, 100] } } });
    const done = await until(s, r.id, (x) => ['promoted', 'rolled_back'].includes(x.state));
    expect(done.state).toBe('rolled_back');
    expect(done.reason).toMatch(/challenger p99 20 ms > 1\.5 × champion p99 5 ms/);
    expect(done.rollout.analyses.at(-1).champion).toMatchObject({ fromEarlierWindow: true, p99Ms: 5 });
  });

  it('with maxP50Ratio, a challenger whose median is slower breaches although the p99s moved together', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    traffic.window = () => ({ latencyP50Ms: 9, latencyP99Ms: 6 });
    const { s } = await setUp(traffic);
    const strategy = { ...canary, steps: [50, 100], checks: { ...canary.checks, maxP50Ratio: 2 } };
    const r = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy } });
    const done = await until(s, r.id, (x) => ['promoted', 'rolled_back'].includes(x.state));
    expect(done.state).toBe('rolled_back');
    expect(done.reason).toMatch(/challenger p50 9 ms > 2 × champion p50 2 ms/);
  });

  it('rolls back when the challenger gets too little traffic to judge for more than inconclusiveLimit analyses in a row', async () => {
    const traffic = new ScriptedTraffic('models:/m@champion');
    traffic.window = () => ({ requests: 2 });
    const { s } = await setUp(traffic);
    const r = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: { ...canary, steps: [50, 100], inconclusiveLimit: 2 } } });
    const done = await until(s, r.id, (x) => ['promoted', 'rolled_back'].includes(x.state));
    expect(done.state).toBe('rolled_back');
    expect(done.reason).toMatch(/too little traffic to judge: 3 analyses in a row were inconclusive .* > inconclusiveLimit 2/);
    expect(done.rollout.analyses.map((a: Json) => a.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(traffic.calls.at(-1)).toBe('end m rollback');
  });

  it('after a restart mid-rollout, rolls back by default and resumes at the recorded step when asked', async () => {
    const first = new ScriptedTraffic('models:/m@champion');
    const { s, uri, dir } = await setUp(first);
    const slow = { ...canary, interval: '10m' };
    const a = await s.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: slow } });
    await until(s, a.id, (x) => x.state === 'rolling_out' && x.rollout !== undefined);
    await s.close();
    opened.splice(opened.length - 1, 1);

    const second = new ScriptedTraffic('models:/m@champion');
    const s2 = await openServer(uri, dir, second);
    opened.push(() => s2.close());
    const after = await until(s2, a.id, (x) => x.state !== 'rolling_out');
    expect(after.state).toBe('rolled_back');
    expect(after.reason).toMatch(/server restarted during the rollout \(step 1, 10 %\)/);
    expect(second.calls).toEqual([]);

    const b = await s2.inject('POST', '/releases', { model: 'm', version: '2', environment: 'champion', policy: { strategy: slow, onRestart: 'resume' } });
    await until(s2, b.id, (x) => x.state === 'rolling_out' && x.rollout !== undefined);
    await s2.close();
    opened.splice(opened.length - 1, 1);
    const third = new ScriptedTraffic('models:/m@champion');
    const s3 = await openServer(uri, dir, third);
    opened.push(() => s3.close());
    await until(s3, b.id, (x) => x.events.filter((e: Json) => e.type === 'step').length === 2);
    expect(third.calls).toEqual(['start m models:/m/2 0.1 0']);
    expect((await s3.inject('GET', `/releases/${b.id}`)).state).toBe('rolling_out');
    // Aborting puts the traffic back on the champion.
    expect((await s3.inject('POST', `/releases/${b.id}/abort`, { by: 'ops' })).state).toBe('aborted');
    expect(third.calls.at(-1)).toBe('end m rollback');
  });
});

describe('score PSI', () => {
  it('bins by the champion\'s deciles (numpy reference: 8.096687980924232)', () => {
    const champion = Array.from({ length: 100 }, (_, i) => i);
    expect(scorePsi(champion, Array(50).fill(5))).toBeCloseTo(8.096687980924232, 12);
    expect(scorePsi(champion, champion)).toBe(0);
    expect(scorePsi(champion, [1, 2])).toBeNull();
  });

  it('compares probabilities by the class they predict, so a challenger with the same answers and another calibration is not a shift', () => {
    // The breast-cancer MLP answers 1e-30 or 1 - 1e-7; a logistic regression on the same rows 0.01 or 0.99.
    const champion = [...Array<number>(30).fill(1e-30), ...Array<number>(70).fill(1 - 1e-7)];
    const sameAnswers = [...Array<number>(30).fill(0.01), ...Array<number>(70).fill(0.99)];
    expect(scorePsi(champion, sameAnswers)).toBeLessThan(0.001);
    // The classes swapped: 70 % negative where the champion says 30 %.
    const swapped = [...Array<number>(70).fill(0.01), ...Array<number>(30).fill(0.99)];
    expect(scorePsi(champion, swapped)).toBeGreaterThan(0.25);
  });
});
