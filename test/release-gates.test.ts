/**
 * Gates deciding real model files through the HTTP API: the holdout uploaded to the artifact
 * store under releases/holdouts/, then an incompatible, a worse, a slow and a fine candidate
 * each stopped (or passed) by the gate that should decide it. Also what creation refuses
 * before writing anything: a bad label, metric or SLO.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { DIALECTS } from './support/dialects.js';
import { fixture } from './support/serving.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const sqlite = DIALECTS.find((d) => d.name === 'sqlite') as (typeof DIALECTS)[number];
const TERMINAL = ['promoted', 'rejected', 'rolled_back', 'aborted'];
const HOLDOUT = 'releases/holdouts/cancer.csv';

let t: TestApp;
let pool: Pool;

async function api(method: string, path: string, body?: unknown, raw?: Buffer): Promise<Json> {
  const headers = { 'content-type': raw ? 'application/octet-stream' : 'application/json' };
  const res = await pool.request({ method: method as 'GET', path: `/api/v1${path}`, headers, ...(raw ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.body.text();
  return { ...(text ? (JSON.parse(text) as Json) : {}), http: res.statusCode };
}

async function settled(id: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const r = await api('GET', `/releases/${id}`);
    if (TERMINAL.includes(r.state)) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`release ${id} did not settle`);
}

/** Versions of `gated`: 1 the champion, 2 incompatible, 3 worse, 4 slow, 5 fine. */
const FILES = ['breast_cancer_mlp.onnx', 'release/cancer_incompatible.onnx', 'release/cancer_worse.onnx', 'release/cancer_slow.onnx', 'release/cancer_good.onnx'];

beforeAll(async () => {
  t = await openTestApp(sqlite);
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  pool = new Pool(url, { connections: 8 });
  for (const [i, f] of FILES.entries()) expect((await api('PUT', `/artifacts/models/gated/v${i + 1}/model.onnx`, undefined, readFileSync(fixture(f)))).http).toBe(200);
  expect((await api('PUT', `/artifacts/${HOLDOUT}`, undefined, readFileSync(fixture('breast_cancer_holdout.csv')))).http).toBe(200);
  await api('POST', '/models', { name: 'gated' });
  for (let i = 1; i <= FILES.length; i++) expect((await api('POST', '/models/gated/versions', { source: `mlflow-artifacts:/models/gated/v${i}` })).http).toBe(201);
  await api('PUT', '/models/gated/aliases/champion', { version: '1' });
});
afterAll(async () => {
  await pool?.close();
  await t?.close();
});

const policy = {
  holdout: HOLDOUT,
  label: 'target',
  gates: [
    { kind: 'signature' },
    { kind: 'evaluation', metrics: ['accuracy >= champion - 0.02'] },
    // The candidate and the champion in one run, 2 s each: the slow model's median is several times the champion's (its own cost is ~12 ms a call).
    { kind: 'loadtest', slo: ['p50 <= champion * 3', 'error_rate < 0.01'], rate: 150, duration: '2s' },
  ],
};

describe('the four candidates, each decided by the right gate', () => {
  const cases = [
    { version: '2', what: 'incompatible', state: 'rejected', gate: 'signature' },
    { version: '3', what: 'worse', state: 'rejected', gate: 'evaluation' },
    { version: '4', what: 'slow', state: 'rejected', gate: 'loadtest' },
    { version: '5', what: 'fine', state: 'promoted', gate: undefined },
  ];
  for (const c of cases) {
    it(`${c.what} (version ${c.version}) → ${c.state}${c.gate ? ` by the ${c.gate} gate` : ''}`, async () => {
      const r = await api('POST', '/releases', { model: 'gated', version: c.version, environment: 'champion', policy });
      expect(r.http, JSON.stringify(r)).toBe(201);
      const done = await settled(r.id);
      expect(done.state, done.reason).toBe(c.state);
      const verdicts = Object.fromEntries(done.gates.map((g: Json) => [g.name, g.verdict]));
      if (c.gate) {
        expect(verdicts[c.gate]).toBe('fail');
        expect(done.reason).toMatch(new RegExp(`Gate '${c.gate}' failed`));
        // The gates after the deciding one never ran.
        const order = ['signature', 'evaluation', 'loadtest'];
        for (const later of order.slice(order.indexOf(c.gate) + 1)) expect(verdicts[later]).toBe('pending');
        for (const earlier of order.slice(0, order.indexOf(c.gate))) expect(verdicts[earlier]).toBe('pass');
        expect((await api('GET', '/models/gated/aliases/champion')).version).toBe('1');
      } else {
        expect(verdicts).toEqual({ signature: 'pass', evaluation: 'pass', loadtest: 'pass' });
        expect((await api('GET', '/models/gated/aliases/champion')).version).toBe('5');
      }
    }, 20_000);
  }
});

describe('creation refuses bad gate input and writes nothing', () => {
  async function refused(p: Json): Promise<Json> {
    const before = (await api('GET', '/releases?model=gated')).releases.length as number;
    const r = await api('POST', '/releases', { model: 'gated', version: '5', environment: 'canary-env', policy: p });
    expect(r.http).toBe(400);
    expect(r.error.code).toBe('INVALID_ARGUMENT');
    expect((await api('GET', '/releases?model=gated')).releases.length).toBe(before);
    return r.error as Json;
  }

  it('an evaluation gate without a label anywhere, naming the gate', async () => {
    const r = await refused({ holdout: HOLDOUT, gates: [{ kind: 'evaluation', name: 'quality-bar', metrics: ['accuracy >= 0.9'] }] });
    expect(r.message).toMatch(/Gate 'quality-bar' \(evaluation\) needs the label column/);
  });

  it('a label column the holdout does not have, naming the column, the file and its columns', async () => {
    const r = await refused({ holdout: HOLDOUT, label: 'diagnosis', gates: [{ kind: 'evaluation', metrics: ['accuracy >= 0.9'] }] });
    expect(r.message).toMatch(/label column 'diagnosis', but holdout 'releases\/holdouts\/cancer\.csv' has no such column; its columns: mean_radius, mean_texture, .*worst_fractal_dimension, target\./);
  });

  it('a label checked in a JSON-lines holdout from its first line', async () => {
    expect((await api('PUT', '/artifacts/releases/holdouts/rows.jsonl', undefined, Buffer.from('{"a":1,"y":0}\n{"a":2,"y":1}\n'))).http).toBe(200);
    const r = await refused({ holdout: 'releases/holdouts/rows.jsonl', label: 'target', gates: [{ kind: 'evaluation', metrics: ['accuracy >= 0.9'] }] });
    expect(r.message).toMatch(/its columns: a, y\./);
  });

  it('an unknown metric, listing the known ones', async () => {
    const r = await refused({ holdout: HOLDOUT, label: 'target', gates: [{ kind: 'evaluation', metrics: ['accuracy >= 0.9', 'acuracy >= 0.9'] }] });
    expect(r.message).toMatch(/Gate 'evaluation' \(evaluation\): Unknown metric 'acuracy'.*known metrics: accuracy, .*rmse/);
  });

  it('SLO text that does not read', async () => {
    const r = await refused({ gates: [{ kind: 'loadtest', slo: ['p99 < fast'] }] });
    expect(r.message).toMatch(/Gate 'loadtest' \(loadtest\): .*'p99 < fast'/);
    const rel = await refused({ gates: [{ kind: 'loadtest', slo: ['p99 <= champion ** 2'] }] });
    expect(rel.message).toMatch(/Invalid SLO 'p99 <= champion \*\* 2'/);
  });
});
