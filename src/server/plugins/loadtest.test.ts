/**
 * Load tests end to end on a real Slipway server (SQLite, local artifacts,
 * onnxruntime): a registered champion is served, load-tested through V2 and MLflow
 * from the CSV fixture, recorded as a tracking run, and used as a baseline; plus
 * the HTTP API and its answers to bad input.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { runLoadTest } from '../../loadtest/index.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures');
const MLP = readFileSync(join(fixtures, 'breast_cancer_mlp.onnx'));
const CSV = join(fixtures, 'breast_cancer_holdout.csv');

describe('load tests against a Slipway server', () => {
  let t: TestApp;
  let server: string;
  const mlflow = async (path: string, payload: Record<string, unknown>) => (await t.app.inject({ method: 'POST', url: `/api/2.0/mlflow${path}`, payload })).json() as Record<string, unknown>;

  beforeAll(async () => {
    t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    await t.ctx.store.db
      .insertInto('runs')
      .values({ run_uuid: 'r1', name: 'train', experiment_id: 0, user_id: 'u', status: 'FINISHED', start_time: 1, end_time: 2, lifecycle_stage: 'active', artifact_uri: 'mlflow-artifacts:/0/r1/artifacts', deleted_time: null })
      .execute();
    await t.ctx.artifacts?.put('0/r1/artifacts/model/model.onnx', MLP);
    await mlflow('/registered-models/create', { name: 'cancer' });
    await mlflow('/model-versions/create', { name: 'cancer', source: 'mlflow-artifacts:/0/r1/artifacts/model', run_id: 'r1' });
    await mlflow('/registered-models/alias', { name: 'cancer', alias: 'champion', version: '1' });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    server = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => t?.close());

  it('load-tests the champion over V2 from CSV rows, records the run and compares the next test with it', async () => {
    const first = await runLoadTest({ target: 'models:/cancer@champion', server, data: CSV, rowsPerRequest: 8, rate: 50, duration: '1s', warmup: '300ms', workers: 1, lateTolerance: '250ms', thresholds: ['error_rate<1%', 'p99<2s'], record: true });
    expect(first.target).toMatchObject({ protocol: 'v2', url: `${server}/v2/models/cancer/versions/1/infer`, model: { name: 'cancer', version: '1', alias: 'champion' } });
    expect(first.errorRate).toBe(0);
    expect(first.requests.ok).toBeGreaterThanOrEqual(45);
    expect(first.passed).toBe(true);
    expect(first.recordedRun?.runId).toBeTruthy();

    const runId = first.recordedRun?.runId as string;
    const run = (await (await request(`${server}/api/2.0/mlflow/runs/get?run_id=${runId}`)).body.json()) as { run: { data: { metrics: Array<{ key: string; value: number }>; tags: Array<{ key: string; value: string }>; params: Array<{ key: string; value: string }> }; info: { status: string } } };
    expect(run.run.info.status).toBe('FINISHED');
    expect(run.run.data.metrics.find((m) => m.key === 'latency_p99_ms')?.value).toBeCloseTo(first.latencyMs.p99, 3);
    expect(run.run.data.tags).toEqual(expect.arrayContaining([{ key: 'slipway.model.name', value: 'cancer' }, { key: 'slipway.model.version', value: '1' }]));
    expect(run.run.data.params).toEqual(expect.arrayContaining([{ key: 'mode', value: 'open' }, { key: 'rows_per_request', value: '8' }]));
    const listed = (await (await request(`${server}/api/2.0/mlflow/artifacts/list?run_id=${runId}`)).body.json()) as { files?: Array<{ path: string }> };
    expect(listed.files?.map((f) => f.path).sort()).toEqual(['loadtest-report.html', 'loadtest.json']);

    // Against itself with a generous tolerance the comparison holds; with an impossible one it fails.
    const again = await runLoadTest({ target: 'models:/cancer@champion', server, data: CSV, rowsPerRequest: 8, rate: 50, duration: '1s', workers: 1, lateTolerance: '250ms', baseline: 'models:/cancer@champion', baselineTolerance: { p99: 100, throughput: 0.5 } });
    expect(again.baseline?.baseline.source).toContain(runId);
    expect(again.baseline?.baseline.p99Ms).toBeCloseTo(first.latencyMs.p99, 3);
    expect(again.baseline?.passed).toBe(true);
    const strict = await runLoadTest({ target: 'models:/cancer@champion', server, data: CSV, rate: 20, duration: '500ms', workers: 1, lateTolerance: '250ms', baseline: 'models:/cancer@champion', baselineTolerance: { p99: 0, throughput: 0 } });
    expect(strict.baseline?.passed).toBe(false);
    expect(strict.passed).toBe(false);
    expect(strict.failures.join(' ')).toContain('throughput');
  });

  it('lists recorded load tests through GET /api/v1/loadtests', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/loadtests?model=cancer&version=1' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { loadtests: Array<{ model: { name: string; version: string }; passed: boolean; metrics: Record<string, number> }> };
    expect(body.loadtests.length).toBeGreaterThanOrEqual(1);
    expect(body.loadtests[0]).toMatchObject({ model: { name: 'cancer', version: '1', alias: 'champion' }, passed: true });
    expect(body.loadtests[0]?.metrics.latency_p99_ms).toBeGreaterThan(0);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/loadtests?model=nobody' })).json()).toEqual({ loadtests: [] });
    const bad = await t.app.inject({ method: 'GET', url: '/api/v1/loadtests?max_results=0' });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('max_results');
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/loadtests?colour=red' })).body).toContain("Unknown query parameter 'colour'");
  });

  it('load-tests MLflow /invocations with dataframe_split bodies', async () => {
    const r = await runLoadTest({ target: 'models:/cancer@champion', server, protocol: 'mlflow', data: CSV, rowsPerRequest: 4, mode: 'closed', clients: 2, duration: '500ms', workers: 1 });
    expect(r.target.url).toBe(`${server}/models/cancer/invocations`);
    expect(r.requests.completed).toBeGreaterThan(5);
    expect(r.errorRate).toBe(0);
  });

  it('refuses to test another version than the alias names', async () => {
    await mlflow('/model-versions/create', { name: 'cancer', source: 'mlflow-artifacts:/0/r1/artifacts/model', run_id: 'r1' });
    await mlflow('/registered-models/alias', { name: 'cancer', alias: 'challenger', version: '2' });
    for (const protocol of ['v2', 'mlflow'] as const) {
      await expect(runLoadTest({ target: 'models:/cancer@challenger', server, protocol, data: CSV, rate: 5, duration: '200ms', workers: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining("version '2'") });
    }
  });

  it('says which baseline is missing', async () => {
    await expect(runLoadTest({ target: `${server}/health`, rate: 5, duration: '200ms', workers: 1, server, baseline: 'models:/nobody@champion' })).rejects.toThrow('models:/nobody@champion does not exist');
  });

  it('runs a load test through POST /api/v1/loadtests and answers the result document', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/loadtests', payload: { target: `${server}/health`, rate: 20, duration: '500ms', workers: 1, lateTolerance: '250ms', thresholds: ['error_rate<1%'] } });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { kind: string; passed: boolean; requests: { ok: number } };
    expect(body.kind).toBe('slipway.loadtest');
    expect(body.requests.ok).toBeGreaterThanOrEqual(9);
    expect(body.passed).toBe(true);
  });

  it('refuses a baseline file path over the HTTP API, so callers cannot make the server read its own files', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/loadtests', payload: { target: `${server}/health`, rate: 20, duration: '500ms', baseline: '/etc/passwd' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'INVALID_ARGUMENT', message: "The HTTP API takes a 'baseline' of the form models:/NAME@ALIAS or models:/NAME/VERSION, not a result file path; compare with a file from the CLI." });
  });

  it('runs inline rows against the served model through the HTTP API', async () => {
    const header = readFileSync(CSV, 'utf8').split('\n')[0]?.split(',') ?? [];
    const values = readFileSync(CSV, 'utf8').split('\n')[1]?.split(',').map(Number) ?? [];
    const row = Object.fromEntries(header.map((h, i) => [h, values[i]]));
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/loadtests', payload: { target: 'models:/cancer@champion', rows: [row], rate: 10, duration: '300ms', workers: 1 } });
    expect(res.statusCode).toBe(200);
    expect((res.json() as { errorRate: number }).errorRate).toBe(0);
  });

  it.each([
    [{ rate: 10, duration: '1s' }, 400, "'target'"],
    // Thresholds are read when the test starts, after the target check: name a target this server may test.
    [{ target: 'models:/cancer@champion', rate: 10, duration: '1s', thresholds: ['p99<<1ms'] }, 400, "Invalid threshold 'p99<<1ms'"],
    [{ target: 'http://127.0.0.1:1/', rate: 'lots', duration: '1s' }, 400, "rate 'lots'"],
    [{ target: 'http://127.0.0.1:1/', rate: 10, duration: '2h' }, 400, 'at most 10 minutes'],
    [{ target: 'http://127.0.0.1:1/', rate: 10, duration: '1s', data: '/etc/passwd' }, 400, "inline 'rows'"],
    [{ target: 'http://127.0.0.1:1/', clients: 0, duration: '1s' }, 400, "'clients'"],
    [[1, 2], 400, 'JSON object'],
  ])('answers bad input %j with %i naming the problem', async (payload, status, text) => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/loadtests', payload: payload as object });
    expect(res.statusCode).toBe(status);
    expect(res.body).toContain(text);
  });

  it('runs a capacity search through the HTTP API and reports the highest rate that held', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/loadtests/capacity', payload: { target: `${server}/health`, startRate: 10, stepRate: 10, maxRate: 20, stepDuration: '300ms', workers: 1, lateTolerance: '250ms', thresholds: ['error_rate<1%'] } });
    expect(res.statusCode).toBe(200);
    const body = res.json() as { maxSustainableRate: number; steps: unknown[] };
    expect(body.maxSustainableRate).toBe(20);
    expect(body.steps).toHaveLength(2);
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/loadtests/capacity', payload: { target: `${server}/health`, startRate: 10, stepRate: 10, maxRate: 20, thresholds: [] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('at least one threshold');
  });
});
