/**
 * The feedback loop between monitoring and releases on the full server app: an alert rule on a
 * live-window figure fires and rolls its model back or runs a command, recorded under
 * `alert:<rule>`; an automatic canary rollback is announced to the webhooks of the model's alert
 * rules (a receiver on 127.0.0.1, allowed by the outbound policy).
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { DIALECTS } from './support/dialects.js';
import { fixture, holdout } from './support/serving.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const sqlite = DIALECTS.find((d) => d.name === 'sqlite') as (typeof DIALECTS)[number];
const cancer = holdout('breast_cancer');
const TERMINAL = ['promoted', 'rejected', 'rolled_back', 'aborted'];

let t: TestApp;
let pool: Pool;
let receiver: Server;
let hookUrl: string;
const received: Json[] = [];

async function api(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await pool.request({ method: method as 'GET', path: `/api/v1${path}`, ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.body.text();
  return { ...(text ? (JSON.parse(text) as Json) : {}), http: res.statusCode };
}

async function register(model: string, second: string): Promise<void> {
  for (const [v, f] of [[1, 'breast_cancer_mlp.onnx'], [2, second]] as const) await t.ctx.artifacts?.put(`models/${model}/v${v}/model.onnx`, readFileSync(fixture(f)));
  await api('POST', '/models', { name: model });
  for (const v of [1, 2]) expect((await api('POST', `/models/${model}/versions`, { source: `mlflow-artifacts:/models/${model}/v${v}` })).http).toBe(201);
  await api('PUT', `/models/${model}/aliases/champion`, { version: '1' });
}

async function infer(model: string, i: number): Promise<{ status: number; version: string }> {
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[i % cancer.rows.length] }] });
  const res = await pool.request({ method: 'POST', path: `/v2/models/${model}/infer`, body, headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, version: res.statusCode === 200 ? (JSON.parse(text) as Json).model_version : text };
}

async function settled(id: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const r = await api('GET', `/releases/${id}`);
    if (TERMINAL.includes(r.state)) return r;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`release ${id} did not settle`);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as Json);
      res.end('ok');
    });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  t = await openTestApp(sqlite, undefined, { outboundAllowedHosts: '127.0.0.1' });
  pool = new Pool(await t.app.listen({ host: '127.0.0.1', port: 0 }), { connections: 16 });
});
afterAll(async () => {
  await pool?.close();
  await t?.close();
  await new Promise((done) => receiver?.close(done));
});

describe('alert actions', () => {
  it('a firing rule rolls its model back and another runs its command, each recorded under alert:<rule>', async () => {
    await register('fb', 'release/cancer_good.onnx');
    const r = await api('POST', '/releases', { model: 'fb', version: '2', environment: 'champion' });
    expect((await settled(r.id)).state).toBe('promoted');
    for (let i = 0; i < 30; i++) expect((await infer('fb', i)).version).toBe('2');

    // Figures of the live window: any served row breaches, so both rules fire on the first evaluation.
    const rule = { model: 'fb', figure: 'rows', comparison: '>', threshold: 0, forWindows: 1 };
    expect((await api('POST', '/monitoring/alerts', { ...rule, name: 'fb-rollback', action: { kind: 'rollback' } })).http).toBe(201);
    expect((await api('POST', '/monitoring/alerts', { ...rule, name: 'fb-retrain', action: { kind: 'command', run: 'echo retraining fb; exit 3' } })).http).toBe(201);
    expect((await api('POST', '/monitoring/windows/flush', {})).http).toBe(200);
    const evaluated = await api('POST', '/monitoring/alerts/evaluate?model=fb', {});
    expect(evaluated.alerts.map((a: Json) => a.state)).toEqual(['firing', 'firing']);

    expect((await api('GET', '/models/fb/aliases/champion')).version).toBe('1');
    // Without a bake the old version loads again behind the alias move; serving swaps to it once ready.
    for (let i = 0; i < 100 && (await infer('fb', 1)).version !== '1'; i++) await new Promise((res) => setTimeout(res, 50));
    expect((await infer('fb', 1)).version).toBe('1');
    const history = (await api('GET', `/releases/${r.id}`)).events as Json[];
    const rollback = history.find((e) => e.type === 'rollback') as Json;
    expect(rollback).toMatchObject({ actor: 'alert:fb-rollback', details: { version: '1', previousVersion: '2' } });
    expect(rollback.message).toMatch(/alert 'fb-rollback' fired: rows \d+ > 0 for 1 window/);
    const command = history.find((e) => e.type === 'alert_action') as Json;
    expect(command).toMatchObject({ actor: 'alert:fb-retrain', details: { exitCode: 3 } });
    expect(command.details.stdoutTail).toBe('retraining fb\n');
    expect(command.message).toMatch(/exit(ed with)? status 3/);
    const audit = await api('GET', '/audit/events?actor=alert:fb-rollback');
    expect(audit.events.map((e: Json) => e.action)).toContain('release.rollback');
    expect((await api('GET', '/audit/events?actor=alert:fb-retrain')).events.map((e: Json) => e.action)).toEqual(['release.alert_action']);
  });
});

describe('rollback notifications', () => {
  it('announces an automatic canary rollback to the webhooks of the model’s alert rules', async () => {
    await register('noisy', 'release/cancer_slow.onnx');
    // A rule that never fires; its webhook is where the model's people listen.
    expect((await api('POST', '/monitoring/alerts', { name: 'noisy-watch', model: 'noisy', figure: 'rows', comparison: '>', threshold: 1e12, webhookUrl: hookUrl })).http).toBe(201);
    for (let i = 0; i < 100 && (await infer('noisy', 0)).status !== 200; i++) await new Promise((res) => setTimeout(res, 50));
    let stop = false;
    const failures: string[] = [];
    const clients = Array.from({ length: 8 }, async () => {
      for (let i = 0; !stop && i < 5000; i++) {
        const r = await infer('noisy', i);
        if (r.status !== 200) failures.push(r.version);
      }
    });
    const r = await api('POST', '/releases', {
      model: 'noisy',
      version: '2',
      environment: 'champion',
            // An absolute bound no real request meets: the first analysed window breaches, whatever the machine's load.
      policy: { strategy: { kind: 'canary', steps: [50, 100], interval: '300ms', checks: { maxP99Ms: 0.001, minRequests: 5 } } },
    });
    const done = await settled(r.id);
    stop = true;
    await Promise.all(clients);
    expect(done.state, done.reason).toBe('rolled_back');
    expect(failures).toEqual([]);
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      kind: 'release_rolled_back',
      dedupKey: `release:${r.id}:rolled_back`,
      release: { id: r.id, model: 'noisy', environment: 'champion', version: '2', championVersion: '1' },
      reason: done.reason,
      evidence: { verdict: 'breach', breaches: expect.arrayContaining([expect.stringMatching(/challenger p99 [\d.]+ ms > maxP99Ms 0\.001 ms/)]) },
    });
  });
});
