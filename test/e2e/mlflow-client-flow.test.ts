/**
 * Drives a real server process over HTTP the way the MLflow Python client 2.x does
 * for a typical workflow: set_experiment, start_run, log_param(s)/metric(s)/batch,
 * set_tag, log_input, log_artifacts, log_model, register_model (polling for READY),
 * aliases, stage transition, searches, metric history and artifact downloads.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../support/dialects.js';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from './server-process.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

// The same workflow on the embedded default and on PostgreSQL.
const BACKENDS = [
  { name: 'sqlite', open: async () => ({ args: [] as string[], drop: async () => {} }) },
  {
    name: 'postgres',
    open: async () => {
      const db = await freshPostgresDatabase();
      return { args: ['--backend-store-uri', db.uri], drop: db.drop };
    },
  },
];

describe.each(BACKENDS)('MLflow client workflow over real HTTP ($name)', (backend) => {
  let home: string;
  let server: ServerProcess;
  let api: string;
  let dropStore: () => Promise<void>;

  // The client sends GET fields in the query string (lists as repeated keys) and everything else as JSON.
  async function mlflow(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    let url = `${api}${path}`;
    const init: RequestInit = { method };
    if (method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(fields)) for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
      url += `?${q}`;
    } else {
      init.headers = { 'content-type': 'application/json' };
      init.body = JSON.stringify(fields);
    }
    const res = await fetch(url, init);
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  // Wire JSON is checked field by field below; a full type per response would only restate the assertions.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function ok(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, fields: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const res = await mlflow(method, path, fields);
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBe(200);
    return res.body;
  }

  beforeAll(async () => {
    home = freshHome();
    const store = await backend.open();
    dropStore = store.drop;
    server = await startServerProcess(home, store.args);
    api = `${server.url}/api/2.0`;
  });

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await dropStore();
    removeHome(home);
  });

  it('tracks a run, logs a model, registers it and finds it again', async () => {
    // mlflow.set_experiment("flow"): get-by-name answers RESOURCE_DOES_NOT_EXIST, then create.
    const absent = await mlflow('GET', '/mlflow/experiments/get-by-name', { experiment_name: 'flow' });
    expect(absent.status).toBe(404);
    expect(absent.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    const { experiment_id: expId } = await ok('POST', '/mlflow/experiments/create', { name: 'flow' });
    expect(typeof expId).toBe('string');
    const { experiment } = await ok('GET', '/mlflow/experiments/get-by-name', { experiment_name: 'flow' });
    expect(experiment.artifact_location).toBe(`mlflow-artifacts:/${expId}`);

    // mlflow.start_run()
    const { run } = await ok('POST', '/mlflow/runs/create', { experiment_id: expId, start_time: Date.now(), run_name: 'first', tags: [{ key: 'mlflow.user', value: 'ada' }, { key: 'mlflow.source.name', value: 'train.py' }] });
    const runId: string = run.info.run_id;
    expect(run.info.run_uuid).toBe(runId);
    expect(run.info.artifact_uri).toBe(`mlflow-artifacts:/${expId}/${runId}/artifacts`);

    // log_param, log_metric (several steps), log_batch, set_tag, log_input
    await ok('POST', '/mlflow/runs/log-parameter', { run_id: runId, key: 'lr', value: '0.01' });
    for (let step = 0; step < 5; step++) await ok('POST', '/mlflow/runs/log-metric', { run_id: runId, key: 'loss', value: 1 / (step + 1), timestamp: 1_700_000_000_000 + step, step });
    await ok('POST', '/mlflow/runs/log-batch', {
      run_id: runId,
      metrics: [{ key: 'acc', value: 0.93, timestamp: 1_700_000_000_100, step: 0 }],
      params: [{ key: 'layers', value: '2' }, { key: 'model', value: 'mlp' }],
      tags: [{ key: 'team', value: 'risk' }],
    });
    await ok('POST', '/mlflow/runs/set-tag', { run_id: runId, key: 'mlflow.note.content', value: 'baseline' });
    await ok('POST', '/mlflow/runs/log-inputs', {
      run_id: runId,
      datasets: [{ dataset: { name: 'breast_cancer_train', digest: 'abc123', source_type: 'local', source: '{"uri": "breast_cancer_train.csv"}', schema: '{"mlflow_colspec": []}', profile: '{"num_rows": 455}' }, tags: [{ key: 'mlflow.data.context', value: 'training' }] }],
    });

    // log_artifacts / log_model: the client uploads the model folder through the proxy, then posts log-model.
    const onnx = readFileSync(join(FIXTURES, 'breast_cancer_mlp.onnx'));
    const root = `${expId}/${runId}/artifacts`;
    const files: Array<[string, string | Buffer, string]> = [
      ['model/MLmodel', `artifact_path: model\nflavors:\n  onnx:\n    onnx_version: 1.15.0\n    data: model.onnx\nrun_id: ${runId}\n`, 'text/plain'],
      ['model/model.onnx', onnx, 'application/octet-stream'],
      ['model/requirements.txt', 'onnxruntime\n', 'text/plain'],
      ['model/conda.yaml', 'name: env\n', 'application/x-yaml'],
      ['eval/metrics.json', '{"auc": 0.99}', 'application/json'],
    ];
    for (const [path, body, type] of files) {
      const res = await fetch(`${api}/mlflow-artifacts/artifacts/${root}/${path}`, { method: 'PUT', headers: { 'content-type': type }, body });
      expect(res.status, path).toBe(200);
    }
    const listed = await ok('GET', '/mlflow/artifacts/list', { run_id: runId, path: 'model' });
    expect(listed.root_uri).toBe(run.info.artifact_uri);
    expect(listed.files.map((f: { path: string }) => f.path)).toEqual(['model/MLmodel', 'model/conda.yaml', 'model/model.onnx', 'model/requirements.txt']);
    expect(listed.files.find((f: { path: string }) => f.path === 'model/model.onnx').file_size).toBe(onnx.length);
    const top = await ok('GET', '/mlflow-artifacts/artifacts', { path: root });
    expect(top.files).toEqual([{ path: 'eval', is_dir: true }, { path: 'model', is_dir: true }]);
    const downloaded = Buffer.from(await (await fetch(`${api}/mlflow-artifacts/artifacts/${root}/model/model.onnx`)).arrayBuffer());
    expect(downloaded.equals(onnx)).toBe(true);
    await ok('POST', '/mlflow/runs/log-model', {
      run_id: runId,
      model_json: JSON.stringify({ artifact_path: 'model', run_id: runId, utc_time_created: '2026-01-01 00:00:00.000000', flavors: { onnx: { data: 'model.onnx' } } }),
    });
    await ok('POST', '/mlflow/runs/update', { run_id: runId, status: 'FINISHED', end_time: Date.now() });

    // register_model("runs:/<run>/model", "flow-model"): create the model, create the version, poll until READY.
    const created = await ok('POST', '/mlflow/registered-models/create', { name: 'flow-model' });
    expect(created.registered_model.name).toBe('flow-model');
    const { model_version: mv } = await ok('POST', '/mlflow/model-versions/create', { name: 'flow-model', source: `runs:/${runId}/model`, run_id: runId });
    expect(mv.version).toBe('1');
    let status = mv.status as string;
    for (let i = 0; i < 50 && status !== 'READY'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await ok('GET', '/mlflow/model-versions/get', { name: 'flow-model', version: '1' })).model_version.status;
    }
    expect(status).toBe('READY');
    const uri = await ok('GET', '/mlflow/model-versions/get-download-uri', { name: 'flow-model', version: '1' });
    // MLflow 2.12 answers the source as registered; the files are still read from the run's artifacts below.
    expect(uri.artifact_uri).toBe(`runs:/${runId}/model`);
    // pyfunc.load_model downloads the version's files.
    const viaVersion = Buffer.from(await (await fetch(`${server.url}/model-versions/get-artifact?name=flow-model&version=1&path=model.onnx`)).arrayBuffer());
    expect(viaVersion.equals(onnx)).toBe(true);

    // Aliases and stages.
    await ok('POST', '/mlflow/registered-models/alias', { name: 'flow-model', alias: 'champion', version: '1' });
    const byAlias = await ok('GET', '/mlflow/registered-models/alias', { name: 'flow-model', alias: 'champion' });
    expect(byAlias.model_version).toMatchObject({ name: 'flow-model', version: '1', aliases: ['champion'] });
    const unknownAlias = await mlflow('GET', '/mlflow/registered-models/alias', { name: 'flow-model', alias: 'nobody' });
    expect(unknownAlias.status).toBe(400);
    expect(unknownAlias.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    const staged = await ok('POST', '/mlflow/model-versions/transition-stage', { name: 'flow-model', version: '1', stage: 'Production', archive_existing_versions: false });
    expect(staged.model_version.current_stage).toBe('Production');

    // Searches and metric history.
    const found = await ok('POST', '/mlflow/runs/search', { experiment_ids: [expId], filter: "metrics.acc > 0.5 and params.lr = '0.01' and tags.team = 'risk'", order_by: ['metrics.acc DESC'], max_results: 10 });
    expect(found.runs).toHaveLength(1);
    expect(found.runs[0].info.run_id).toBe(runId);
    expect(found.runs[0].info.status).toBe('FINISHED');
    const params = Object.fromEntries(found.runs[0].data.params.map((p: { key: string; value: string }) => [p.key, p.value]));
    expect(params).toEqual({ lr: '0.01', layers: '2', model: 'mlp' });
    expect(found.runs[0].inputs.dataset_inputs[0].dataset.name).toBe('breast_cancer_train');
    const none = await ok('POST', '/mlflow/runs/search', { experiment_ids: [expId], filter: 'metrics.acc > 0.99' });
    expect(none.runs ?? []).toEqual([]);
    const models = await ok('GET', '/mlflow/registered-models/search', { filter: "name = 'flow-model'" });
    expect(models.registered_models[0]).toMatchObject({ name: 'flow-model', aliases: [{ alias: 'champion', version: '1' }] });
    const versions = await ok('GET', '/mlflow/model-versions/search', { filter: "name = 'flow-model'" });
    expect(versions.model_versions.map((v: { version: string; run_id: string }) => [v.version, v.run_id])).toEqual([['1', runId]]);
    const hist = await ok('GET', '/mlflow/metrics/get-history', { run_id: runId, metric_key: 'loss' });
    expect(hist.metrics.map((m: { step: number; value: number }) => [m.step, m.value])).toEqual([0, 1, 2, 3, 4].map((s) => [s, 1 / (s + 1)]));
    const fetched = await ok('GET', '/mlflow/runs/get', { run_id: runId });
    const tags = Object.fromEntries(fetched.run.data.tags.map((t: { key: string; value: string }) => [t.key, t.value]));
    expect(tags['mlflow.note.content']).toBe('baseline');
    expect(JSON.parse(tags['mlflow.log-model.history'])).toEqual([expect.objectContaining({ artifact_path: 'model', run_id: runId })]);
  }, 60_000);

  it('answers client mistakes in MLflow format without crashing the process', async () => {
    const bad = await fetch(`${api}/mlflow/runs/log-batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"run_id": ' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as Record<string, unknown>).error_code).toBe('MALFORMED_REQUEST');
    const missing = await mlflow('GET', '/mlflow/runs/get', { run_id: 'does-not-exist' });
    expect(missing.status).toBe(404);
    expect(missing.body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    const tooMany = await mlflow('POST', '/mlflow/runs/log-batch', { run_id: 'x', metrics: Array.from({ length: 1001 }, (_, i) => ({ key: 'm', value: 1, timestamp: 1, step: i })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    const endpoint = await mlflow('GET', '/mlflow/no-such-endpoint');
    expect(endpoint.status).toBe(404);
    expect(endpoint.body.error_code).toBe('ENDPOINT_NOT_FOUND');
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
