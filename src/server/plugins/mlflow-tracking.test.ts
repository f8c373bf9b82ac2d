import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { listAuditEvents } from '../../audit/audit-trail.js';
import type { Store } from '../../store/store.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';

const API = '/api/2.0/mlflow';

describe('MLflow tracking REST API', () => {
  let app: FastifyInstance;
  let store: Store;
  let close: () => Promise<void>;

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    store = opened.store;
    const home = mkdtempSync(join(tmpdir(), 'slipway-mlflow-'));
    const config = resolveConfig({ backendStoreUri: opened.uri, home }, {}, home);
    const ctx: ServerContext = { config, store, logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [] };
    app = await buildApp(ctx);
    await app.ready();
    close = async () => {
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  const post = (path: string, payload: unknown, prefix = API) => app.inject({ method: 'POST', url: `${prefix}${path}`, payload: payload as object });
  const get = (path: string, query: string) => app.inject({ method: 'GET', url: `${API}${path}?${query}` });

  async function newRun(extra: Record<string, unknown> = {}): Promise<string> {
    const res = await post('/runs/create', { experiment_id: '0', ...extra });
    expect(res.statusCode).toBe(200);
    return (res.json() as { run: { info: { run_id: string } } }).run.info.run_id;
  }

  it('creates and reads experiments the way the MLflow client does', async () => {
    const created = await post('/experiments/create', { name: 'wire', tags: [{ key: 'a', value: 'b' }] });
    expect(created.statusCode).toBe(200);
    const id = (created.json() as { experiment_id: string }).experiment_id;
    expect(typeof id).toBe('string');
    const byName = await get('/experiments/get-by-name', 'experiment_name=wire');
    expect(byName.json()).toEqual({
      experiment: {
        experiment_id: id,
        name: 'wire',
        artifact_location: `mlflow-artifacts:/${id}`,
        lifecycle_stage: 'active',
        last_update_time: expect.any(Number),
        creation_time: expect.any(Number),
        tags: [{ key: 'a', value: 'b' }],
      },
    });
    const again = await post('/experiments/create', { name: 'wire' });
    expect(again.statusCode).toBe(400);
    expect(again.json()).toEqual({ error_code: 'RESOURCE_ALREADY_EXISTS', message: 'Experiment(name=wire) already exists.' });
    const missing = await get('/experiments/get-by-name', 'experiment_name=nope');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
    expect((await get('/experiments/get', `experiment_id=${id}`)).json()).toMatchObject({ experiment: { name: 'wire' } });
    expect((await post('/experiments/update', { experiment_id: id, new_name: 'wire2' })).json()).toEqual({});
    expect((await post('/experiments/set-experiment-tag', { experiment_id: id, key: 'c', value: 'd' })).statusCode).toBe(200);
    const search = await post('/experiments/search', { filter: "name = 'wire2'", max_results: 10 });
    expect((search.json() as { experiments: Array<{ name: string }> }).experiments.map((e) => e.name)).toEqual(['wire2']);
    const searchGet = await app.inject({ method: 'GET', url: `${API}/experiments/search?max_results=1&order_by=name%20ASC` });
    expect(searchGet.json()).toMatchObject({ experiments: [{ name: 'Default' }], next_page_token: expect.any(String) });
    expect((await post('/experiments/delete', { experiment_id: id })).statusCode).toBe(200);
    expect((await post('/experiments/restore', { experiment_id: id })).statusCode).toBe(200);
    const ajax = await app.inject({ method: 'GET', url: `/ajax-api/2.0/mlflow/experiments/get?experiment_id=0` });
    expect(ajax.json()).toMatchObject({ experiment: { experiment_id: '0', name: 'Default' } });
  });

  it('runs: create, log, get, update, search, history — shaped as MLflow protos', async () => {
    const created = await post('/runs/create', { experiment_id: '0', start_time: '1700000000000', tags: [{ key: 'mlflow.user', value: 'ada' }] });
    const run = (created.json() as { run: { info: Record<string, unknown>; data: Record<string, unknown> } }).run;
    expect(run.info).toMatchObject({ run_uuid: run.info.run_id, experiment_id: '0', user_id: 'ada', status: 'RUNNING', start_time: 1700000000000, lifecycle_stage: 'active' });
    expect(run.info).not.toHaveProperty('end_time');
    const runId = run.info.run_id as string;
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    expect((await post('/runs/log-metric', { run_id: runId, key: 'loss', value: 0.5, timestamp: 1, step: 1 })).json()).toEqual({});
    expect((await post('/runs/log-metric', { run_uuid: runId, key: 'odd', value: 'NaN', timestamp: '2' })).statusCode).toBe(200);
    expect((await post('/runs/log-parameter', { run_id: runId, key: 'lr', value: '0.1' })).statusCode).toBe(200);
    expect((await post('/runs/set-tag', { run_id: runId, key: 'team', value: 'ml' })).statusCode).toBe(200);
    const batch = await post('/runs/log-batch', {
      run_id: runId,
      metrics: [{ key: 'acc', value: 0.9, timestamp: 5, step: 2 }, { key: 'inf', value: 'Infinity', timestamp: 5 }],
      params: [{ key: 'depth', value: '4' }],
      tags: [{ key: 'mlflow.runName', value: 'wire-run' }],
    });
    expect(batch.statusCode).toBe(200);
    expect(batch.json()).toEqual({});
    const got = (await get('/runs/get', `run_id=${runId}`)).json() as { run: { info: { run_name: string }; data: { metrics: unknown[]; params: unknown[] } } };
    expect(got.run.info.run_name).toBe('wire-run');
    expect(got.run.data.metrics).toEqual([
      { key: 'acc', value: 0.9, timestamp: 5, step: 2 },
      { key: 'inf', value: 'Infinity', timestamp: 5, step: 0 },
      { key: 'loss', value: 0.5, timestamp: 1, step: 1 },
      { key: 'odd', value: 'NaN', timestamp: 2, step: 0 },
    ]);
    expect(got.run.data.params).toEqual([{ key: 'depth', value: '4' }, { key: 'lr', value: '0.1' }]);
    const updated = await post('/runs/update', { run_id: runId, status: 'FINISHED', end_time: 1700000000500 });
    expect(updated.json()).toMatchObject({ run_info: { status: 'FINISHED', end_time: 1700000000500 } });
    const history = await get('/metrics/get-history', `run_id=${runId}&metric_key=loss`);
    expect(history.json()).toEqual({ metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 1 }] });
    const bulk = await get('/metrics/get-history-bulk-interval', `run_ids=${runId}&run_ids=${runId}&metric_key=loss`);
    expect(bulk.json()).toEqual({ metrics: [{ key: 'loss', value: 0.5, timestamp: 1, step: 1, run_id: runId }] });
    const search = await post('/runs/search', { experiment_ids: ['0'], filter: "metrics.acc > 0.5 and params.depth = '4' and tags.team = 'ml'", order_by: ['metrics.acc DESC'], max_results: 5 });
    expect((search.json() as { runs: Array<{ info: { run_id: string } }> }).runs.map((r) => r.info.run_id)).toEqual([runId]);
    const none = await post('/runs/search', { experiment_ids: ['0'], filter: "params.depth = 'zzz'" });
    expect(none.json()).toEqual({});
    expect((await post('/runs/log-model', { run_id: runId, model_json: '{"artifact_path":"model"}' })).statusCode).toBe(200);
    const inputs = await post('/runs/log-inputs', { run_id: runId, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset: { name: 'd', digest: 'x1', source_type: 'local', source: 's' } }] });
    expect(inputs.statusCode).toBe(200);
    const withInputs = (await get('/runs/get', `run_id=${runId}`)).json() as { run: { inputs: unknown } };
    expect(withInputs.run.inputs).toEqual({ dataset_inputs: [{ tags: [{ key: 'mlflow.data.context', value: 'train' }], dataset: { name: 'd', digest: 'x1', source_type: 'local', source: 's' } }] });
    expect((await post('/runs/delete-tag', { run_id: runId, key: 'team' })).statusCode).toBe(200);
    expect((await post('/runs/delete', { run_id: runId })).statusCode).toBe(200);
    const refused = await post('/runs/log-metric', { run_id: runId, key: 'x', value: 1, timestamp: 1 });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: `The run ${runId} must be in the 'active' state. Current state is deleted.` });
    expect((await post('/runs/restore', { run_id: runId })).statusCode).toBe(200);
    const events = await listAuditEvents(store.db, { entityId: runId });
    expect(events.map((e) => e.action)).toEqual([
      'run.create', 'run.log_metrics', 'run.log_param', 'run.set_tag', 'run.log_batch', 'run.update',
      'run.log_model', 'run.log_inputs', 'run.delete_tag', 'run.delete', 'run.restore',
    ]);
  });

  it('answers bad input with MLflow errors and the right status, never a 500', async () => {
    const runId = await newRun();
    const cases: Array<[string, unknown, number, string, RegExp?]> = [
      ['/runs/log-metric', { run_id: runId, key: 'm', value: 'abc', timestamp: 1 }, 400, 'INVALID_PARAMETER_VALUE', /must be a number/],
      ['/runs/log-metric', { run_id: runId, key: 'm', value: 1 }, 400, 'INVALID_PARAMETER_VALUE', /timestamp/],
      ['/runs/log-metric', { run_id: runId, key: 'm', value: 1, timestamp: 1.5 }, 400, 'INVALID_PARAMETER_VALUE', /integer/],
      ['/runs/log-metric', { key: 'm', value: 1, timestamp: 1 }, 400, 'INVALID_PARAMETER_VALUE', /run_id/],
      ['/runs/log-metric', { run_id: 'f'.repeat(32), key: 'm', value: 1, timestamp: 1 }, 404, 'RESOURCE_DOES_NOT_EXIST', /not found/],
      ['/runs/log-parameter', { run_id: runId, key: 'p', value: 'x'.repeat(6001) }, 400, 'INVALID_PARAMETER_VALUE', /length limit of 6000/],
      ['/runs/set-tag', { run_id: runId, key: 't', value: 'x'.repeat(5001) }, 400, 'INVALID_PARAMETER_VALUE', /length limit of 5000/],
      ['/runs/set-tag', { run_id: runId, key: 5, value: 'x' }, 400, 'INVALID_PARAMETER_VALUE', /'key'/],
      ['/runs/log-batch', { run_id: runId, metrics: Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: i, timestamp: i })) }, 400, 'INVALID_PARAMETER_VALUE', /at most 1000 metrics/],
      ['/runs/log-batch', { run_id: runId, params: Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: 'v' })) }, 400, 'INVALID_PARAMETER_VALUE', /at most 100 params/],
      ['/runs/log-batch', { run_id: runId, tags: Array.from({ length: 101 }, (_, i) => ({ key: `t${i}`, value: 'v' })) }, 400, 'INVALID_PARAMETER_VALUE', /at most 100 tags/],
      ['/runs/log-batch', { run_id: runId, metrics: 'nope' }, 400, 'INVALID_PARAMETER_VALUE', /metrics/],
      ['/runs/log-batch', { run_id: runId, metrics: [null] }, 400, 'INVALID_PARAMETER_VALUE', /not an object/],
      ['/runs/log-batch', { run_id: runId, metrics: [{ key: 'bad key!', value: 1, timestamp: 1 }] }, 400, 'INVALID_PARAMETER_VALUE', /Invalid metric name/],
      ['/runs/update', { run_id: runId, status: 'DONE' }, 400, 'INVALID_PARAMETER_VALUE', /status/],
      ['/runs/create', { experiment_id: '123456' }, 404, 'RESOURCE_DOES_NOT_EXIST'],
      ['/runs/create', { experiment_id: 7 }, 400, 'INVALID_PARAMETER_VALUE', /must be a string/],
      ['/experiments/create', {}, 400, 'INVALID_PARAMETER_VALUE', /'name'/],
      ['/experiments/create', { name: 'x', tags: 'nope' }, 400, 'INVALID_PARAMETER_VALUE', /tags/],
      ['/runs/search', { experiment_ids: ['0'], filter: 'metrics.a >' }, 400, 'INVALID_PARAMETER_VALUE', /expected a value/],
      ['/runs/search', { experiment_ids: ['0'], max_results: 'many' }, 400, 'INVALID_PARAMETER_VALUE', /max_results/],
      ['/runs/search', { experiment_ids: ['0'], order_by: ['metrics.a SIDEWAYS'] }, 400, 'INVALID_PARAMETER_VALUE', /order_by/],
      ['/runs/search', { experiment_ids: ['0'], page_token: 'garbage!!' }, 400, 'INVALID_PARAMETER_VALUE', /page token/],
      ['/runs/log-model', { run_id: runId, model_json: '{' }, 400, 'INVALID_PARAMETER_VALUE', /model_json/],
      ['/runs/log-inputs', { run_id: runId, datasets: [{ dataset: { name: 'd' } }] }, 400, 'INVALID_PARAMETER_VALUE', /digest/],
    ];
    for (const [path, body, status, code, message] of cases) {
      const res = await post(path, body);
      expect({ path, body: JSON.stringify(body).slice(0, 80), status: res.statusCode }).toEqual({ path, body: JSON.stringify(body).slice(0, 80), status });
      const json = res.json() as { error_code: string; message: string };
      expect(json.error_code).toBe(code);
      if (message) expect(json.message).toMatch(message);
    }
    const malformed = await app.inject({ method: 'POST', url: `${API}/runs/log-batch`, headers: { 'content-type': 'application/json' }, payload: '{"run_id": ' });
    expect(malformed.statusCode).toBe(400);
    expect((malformed.json() as { error_code: string }).error_code).toBe('MALFORMED_REQUEST');
    const arrayBody = await app.inject({ method: 'POST', url: `${API}/runs/create`, headers: { 'content-type': 'application/json' }, payload: '[1,2]' });
    expect(arrayBody.statusCode).toBe(400);
    const noRun = await get('/runs/get', 'run_id=' + 'a'.repeat(32));
    expect(noRun.statusCode).toBe(404);
    expect(noRun.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Run with id=${'a'.repeat(32)} not found` });
    const badHistory = await get('/metrics/get-history', `run_id=${runId}`);
    expect(badHistory.statusCode).toBe(400);
  });

  it('parallel log-batch requests lose nothing', async () => {
    const runId = await newRun();
    const requests = Array.from({ length: 20 }, (_, b) =>
      post('/runs/log-batch', { run_id: runId, metrics: Array.from({ length: 50 }, (_, i) => ({ key: 'm', value: i, timestamp: b, step: b * 50 + i })) }),
    );
    const responses = await Promise.all(requests);
    expect(responses.every((r) => r.statusCode === 200)).toBe(true);
    const history = (await get('/metrics/get-history', `run_id=${runId}&metric_key=m`)).json() as { metrics: Array<{ step: number }> };
    expect(history.metrics).toHaveLength(1000);
    expect(new Set(history.metrics.map((m) => m.step)).size).toBe(1000);
  });
});
