import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { openTestApp, useTestApp, type TestApp } from './native/native-api.test-support.js';

// PostgreSQL cannot store the NUL character in text; a client sending one must hear so, not get a 500.
describe.each(DIALECTS)('text values with a NUL character on $name', (dialect) => {
  const t = useTestApp(dialect);

  it('answers 4xx naming the character, never 500, on every face', async () => {
    const runId = (await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: '0' } })).json().run.info.run_id as string;
    const attempts = [
      { method: 'POST' as const, url: '/api/2.0/mlflow/experiments/create', payload: { name: 'a\u0000b' } },
      { method: 'POST' as const, url: '/api/2.0/mlflow/runs/log-parameter', payload: { run_id: runId, key: 'p', value: 'a\u0000b' } },
      { method: 'GET' as const, url: '/api/2.0/mlflow/experiments/get-by-name?experiment_name=a%00b' },
      { method: 'POST' as const, url: '/api/v1/experiments', payload: { name: 'a\u0000b' } },
    ];
    for (const a of attempts) {
      const res = await t.app.inject(a);
      expect(res.statusCode, `${a.method} ${a.url}`).toBeLessThan(500);
      if (dialect.name === 'postgres') expect(res.body).toMatch(/NUL character/);
    }
    // The failed writes left nothing half-done behind.
    const params = (await t.app.inject({ url: `/api/2.0/mlflow/runs/get?run_id=${runId}` })).json().run.data.params as unknown[] | undefined;
    if (dialect.name === 'postgres') expect(params ?? []).toEqual([]);
  });
});

// Experiment ids and model versions are 32-bit columns on PostgreSQL; a larger number must not reach it as a 500.
describe.each(DIALECTS)('ids and versions past 2^31 on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.app.inject({ method: 'POST', url: '/api/v1/models', payload: { name: 'bc' } });
  });
  afterAll(async () => t.close());

  it('answers 4xx on every face, naming the limit on PostgreSQL', async () => {
    const big = '2147483648';
    const attempts = [
      { method: 'GET' as const, url: `/api/2.0/mlflow/experiments/get?experiment_id=${big}` },
      { method: 'POST' as const, url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: big } },
      { method: 'GET' as const, url: `/api/2.0/mlflow/model-versions/get?name=bc&version=${big}` },
      { method: 'POST' as const, url: '/api/2.0/mlflow/registered-models/alias', payload: { name: 'bc', alias: 'champion', version: big } },
      { method: 'GET' as const, url: `/api/v1/experiments/${big}` },
      { method: 'GET' as const, url: `/api/v1/models/bc/versions/${big}` },
      { method: 'PUT' as const, url: `/api/v1/monitoring/models/bc/versions/${big}/reference`, payload: { rows: [{ a: 1 }] } },
    ];
    for (const a of attempts) {
      const res = await t.app.inject(a);
      expect(res.statusCode, `${a.method} ${a.url}`).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, `${a.method} ${a.url}`).toBeLessThan(500);
      if (dialect.name === 'postgres') expect(res.body).toMatch(/at most 2147483647|does not exist|not found/i);
    }
  });
});

// PostgreSQL reads a backslash in LIKE as an escape; a pattern ending in one is the client's mistake, not a 500.
describe.each(DIALECTS)('LIKE patterns ending in a backslash on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
    // PostgreSQL only checks a pattern against rows, so there must be some.
    const runId = (await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: '0' } })).json().run.info.run_id as string;
    await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/log-parameter', payload: { run_id: runId, key: 'p', value: 'v' } });
    await t.app.inject({ method: 'POST', url: '/api/v1/models', payload: { name: 'bc' } });
  });
  afterAll(async () => t.close());

  it('answers 200 or a 400 that says how to match a backslash', async () => {
    const attempts = [
      { method: 'POST' as const, url: '/api/2.0/mlflow/runs/search', payload: { experiment_ids: ['0'], filter: "params.p LIKE '%\\'" } },
      { method: 'GET' as const, url: `/api/2.0/mlflow/registered-models/search?filter=${encodeURIComponent("name ILIKE '%\\'")}` },
      { method: 'GET' as const, url: `/api/v1/models?filter=${encodeURIComponent("name LIKE '%\\'")}` },
    ];
    for (const a of attempts) {
      const res = await t.app.inject(a);
      expect([200, 400], `${a.method} ${a.url}`).toContain(res.statusCode);
      if (res.statusCode === 400) expect(res.body).toContain('to match a backslash');
    }
  });
});

describe.each(DIALECTS)('a stage list repeated 70000 times on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', payload: { name: 'bc' } });
    await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/model-versions/create', payload: { name: 'bc', source: 'mlflow-artifacts:/m/model.onnx' } });
  });
  afterAll(async () => t.close());

  it('answers get-latest-versions with the one matching version', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/get-latest-versions', payload: { name: 'bc', stages: Array(70_000).fill('None') } });
    expect(res.statusCode).toBe(200);
    expect(res.json().model_versions.map((v: { version: string }) => v.version)).toEqual(['1']);
  });
});

describe.each(DIALECTS)('registry creates with 40000 tags on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.app.inject({ method: 'POST', url: '/api/v1/models', payload: { name: 'bc' } });
  });
  afterAll(async () => t.close());

  it('refuses them with the limit named, on both faces, and creates nothing', async () => {
    const list = Array.from({ length: 40_000 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const record = Object.fromEntries(list.map((x) => [x.key, x.value]));
    const attempts = [
      { url: '/api/2.0/mlflow/registered-models/create', payload: { name: 'many', tags: list } },
      { url: '/api/2.0/mlflow/model-versions/create', payload: { name: 'bc', source: 'mlflow-artifacts:/m/model.onnx', tags: list } },
      { url: '/api/v1/models', payload: { name: 'many', tags: record } },
      { url: '/api/v1/models/bc/versions', payload: { source: 'mlflow-artifacts:/m/model.onnx', tags: record } },
    ];
    for (const a of attempts) {
      const res = await t.app.inject({ method: 'POST', ...a });
      expect(res.statusCode, a.url).toBe(400);
      expect(res.body, a.url).toContain('At most 1000 tags may be set at creation. Got 40000 tags.');
    }
    expect((await t.app.inject({ url: '/api/v1/models/many' })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/api/v1/models/bc/versions' })).json().versions ?? []).toEqual([]);
  });
});

describe('log-inputs with thousands of datasets', () => {
  const t = useTestApp();

  it('refuses a call past the limit at once, naming it, and logs nothing', async () => {
    const runId = (await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: '0' } })).json().run.info.run_id as string;
    const dataset = (i: number) => ({ dataset: { name: `d${i}`, digest: `x${i}`, source_type: 'local', source: 's' } });
    const many = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/log-inputs', payload: { run_id: runId, datasets: Array.from({ length: 1001 }, (_, i) => dataset(i)) } });
    expect(many.statusCode).toBe(400);
    expect(many.json().message).toBe('A log-inputs request may hold at most 1000 datasets and 1000 input tags; got 1001 and 0. Split it into several requests.');
    const tags = Array.from({ length: 1001 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    const tagged = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/log-inputs', payload: { run_id: runId, datasets: [{ ...dataset(0), tags }] } });
    expect(tagged.statusCode).toBe(400);
    expect((await t.app.inject({ url: `/api/2.0/mlflow/runs/get?run_id=${runId}` })).json().run.inputs?.dataset_inputs ?? []).toEqual([]);
  });
});
