import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';

describe.each(DIALECTS)('native experiments and runs API on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
  });
  afterAll(() => t.close());

  const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => t.app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });

  it('creates, finds, renames, tags, deletes and restores experiments', async () => {
    const created = await call('POST', '/api/v1/experiments', { name: 'fraud', tags: { team: 'risk' } });
    expect(created.statusCode).toBe(201);
    const exp = created.json() as { experimentId: string; name: string; tags: unknown[]; lifecycleStage: string };
    expect(exp).toMatchObject({ name: 'fraud', lifecycleStage: 'active', tags: [{ key: 'team', value: 'risk' }] });

    expect((await call('GET', `/api/v1/experiments/${exp.experimentId}`)).json()).toMatchObject({ name: 'fraud' });
    expect((await call('GET', '/api/v1/experiments/by-name/fraud')).json()).toMatchObject({ experimentId: exp.experimentId });

    const renamed = await call('PATCH', `/api/v1/experiments/${exp.experimentId}`, { name: 'fraud-v2', tags: [{ key: 'owner', value: 'ana' }] });
    expect(renamed.json()).toMatchObject({ name: 'fraud-v2', tags: expect.arrayContaining([{ key: 'owner', value: 'ana' }]) });

    const list = (await call('GET', '/api/v1/experiments?orderBy=name%20ASC')).json() as { experiments: Array<{ name: string }> };
    expect(list.experiments.map((e) => e.name)).toEqual(['Default', 'fraud-v2']);

    expect((await call('DELETE', `/api/v1/experiments/${exp.experimentId}`)).statusCode).toBe(204);
    const active = (await call('GET', '/api/v1/experiments')).json() as { experiments: Array<{ name: string }> };
    expect(active.experiments.map((e) => e.name)).toEqual(['Default']);
    const deleted = (await call('GET', '/api/v1/experiments?view=DELETED_ONLY')).json() as { experiments: Array<{ name: string }> };
    expect(deleted.experiments.map((e) => e.name)).toEqual(['fraud-v2']);
    expect((await call('POST', `/api/v1/experiments/${exp.experimentId}/restore`)).json()).toMatchObject({ lifecycleStage: 'active' });
  });

  it('creates runs, logs in one call, searches with a filter and reads metric history', async () => {
    const exp = (await call('POST', '/api/v1/experiments', { name: 'search' })).json() as { experimentId: string };
    const runIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call('POST', '/api/v1/runs', { experimentId: exp.experimentId, runName: `run-${i}`, startTime: 1_000 + i });
      expect(res.statusCode).toBe(201);
      const runId = (res.json() as { info: { runId: string } }).info.runId;
      runIds.push(runId);
      const logged = await call('POST', `/api/v1/runs/${runId}/log`, {
        metrics: [
          { key: 'auc', value: 0.5 + i / 10, step: 0, timestamp: 10 },
          { key: 'auc', value: 0.6 + i / 10, step: 1, timestamp: 20 },
          { key: 'loss', value: 'NaN', step: 0 },
        ],
        params: { model: i === 1 ? 'tree' : 'mlp' },
        tags: [{ key: 'owner', value: 'ana' }],
      });
      expect(logged.statusCode).toBe(204);
    }
    const found = await call('POST', '/api/v1/runs/search', { experimentIds: [exp.experimentId], filter: "metrics.auc > 0.65 and params.model = 'mlp'", orderBy: ['metrics.auc DESC'] });
    expect(found.statusCode).toBe(200);
    const runs = (found.json() as { runs: Array<{ info: { runName: string }; data: { metrics: Array<{ key: string; value: unknown }>; params: unknown[] } }> }).runs;
    expect(runs.map((r) => r.info.runName)).toEqual(['run-2']);
    expect(runs[0]?.data.metrics).toEqual(expect.arrayContaining([expect.objectContaining({ key: 'auc', value: 0.8, step: 1 }), expect.objectContaining({ key: 'loss', value: 'NaN' })]));
    expect(runs[0]?.data.params).toEqual([{ key: 'model', value: 'mlp' }]);

    const everywhere = (await call('POST', '/api/v1/runs/search', { filter: "tags.owner = 'ana'", maxResults: 2 })).json() as { runs: unknown[]; nextPageToken?: string };
    expect(everywhere.runs).toHaveLength(2);
    expect(everywhere.nextPageToken).toBeTypeOf('string');

    const history = (await call('GET', `/api/v1/runs/${runIds[0]}/metrics/auc/history`)).json() as { metrics: Array<{ step: number; value: number }> };
    expect(history.metrics.map((m) => [m.step, m.value])).toEqual([[0, 0.5], [1, 0.6]]);

    const finished = await call('PATCH', `/api/v1/runs/${runIds[0]}`, { status: 'FINISHED', endTime: 5_000 });
    expect(finished.json()).toMatchObject({ info: { status: 'FINISHED', endTime: 5_000 } });
    expect((await call('DELETE', `/api/v1/runs/${runIds[0]}`)).statusCode).toBe(204);
    expect((await call('GET', `/api/v1/runs/${runIds[0]}`)).json()).toMatchObject({ info: { lifecycleStage: 'deleted' } });
    expect((await call('POST', `/api/v1/runs/${runIds[0]}/restore`)).json()).toMatchObject({ info: { lifecycleStage: 'active' } });
  });

  it('sees runs logged through the MLflow REST API', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/create', payload: { experiment_id: '0', run_name: 'from-mlflow', start_time: 1_000 } });
    expect(created.statusCode).toBe(200);
    const runId = (created.json() as { run: { info: { run_id: string } } }).run.info.run_id;
    await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/runs/log-metric', payload: { run_id: runId, key: 'rmse', value: 0.25, timestamp: 2_000, step: 3 } });
    const native = (await call('GET', `/api/v1/runs/${runId}`)).json() as { info: { runName: string }; data: { metrics: unknown[] } };
    expect(native.info.runName).toBe('from-mlflow');
    expect(native.data.metrics).toEqual([{ key: 'rmse', value: 0.25, timestamp: 2_000, step: 3 }]);
  });

  it('answers bad input and unknown ids with clear errors and the right status', async () => {
    const cases: Array<[string, string, unknown, number, string, RegExp]> = [
      ['GET', '/api/v1/experiments/424242', undefined, 404, 'NOT_FOUND', /424242/],
      ['GET', '/api/v1/experiments/abc', undefined, 400, 'INVALID_ARGUMENT', /path parameter 'experimentId': must be a numeric experiment id/],
      ['GET', '/api/v1/runs/0123456789abcdef0123456789abcdef', undefined, 404, 'NOT_FOUND', /0123456789abcdef0123456789abcdef/],
      ['GET', '/api/v1/runs/not-a-run', undefined, 400, 'INVALID_ARGUMENT', /path parameter 'runId'/],
      ['POST', '/api/v1/experiments', { name: 42 }, 400, 'INVALID_ARGUMENT', /request body field 'name'/],
      ['POST', '/api/v1/experiments', {}, 400, 'MISSING_ARGUMENT', /'name'/],
      ['POST', '/api/v1/runs/search', { filter: 'metrics.auc >>> 1' }, 400, 'INVALID_ARGUMENT', /auc|filter/i],
      ['POST', '/api/v1/runs/search', { maxResults: 0 }, 400, 'INVALID_ARGUMENT', /maxResults/],
      ['PATCH', '/api/v1/experiments/0', {}, 400, 'INVALID_ARGUMENT', /at least one of name, tags/],
      ['POST', '/api/v1/experiments', ['fraud'], 400, 'INVALID_ARGUMENT', /expected object, received array/],
      ['POST', '/api/v1/runs', { experimentID: '0' }, 400, 'INVALID_ARGUMENT', /Unrecognized key: "experimentID"/],
    ];
    for (const [method, url, payload, status, code, message] of cases) {
      const res = await call(method as 'GET', url, payload);
      expect(res.statusCode, `${method} ${url}`).toBe(status);
      const body = res.json() as { error: { code: string; message: string } };
      expect(body.error.code, `${method} ${url}`).toBe(code);
      expect(body.error.message, `${method} ${url}`).toMatch(message);
    }
    const run = (await call('POST', '/api/v1/runs', {})).json() as { info: { runId: string; experimentId: string } };
    expect(run.info.experimentId).toBe('0');
    const tooMany = await call('POST', `/api/v1/runs/${run.info.runId}/log`, { metrics: Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: i })) });
    expect(tooMany.statusCode).toBe(400);
    expect((tooMany.json() as { error: { message: string } }).error.message).toContain('at most 1000 metrics per call');
    const longParam = await call('POST', `/api/v1/runs/${run.info.runId}/log`, { params: { p: 'x'.repeat(6001) } });
    expect(longParam.statusCode).toBe(400);
  });
});
