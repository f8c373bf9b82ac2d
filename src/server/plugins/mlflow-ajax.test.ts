/**
 * The MLflow UI's /ajax-api-only endpoints over real HTTP on both backends: get-history-bulk,
 * search-datasets, create-promptlab-run and upload-artifact (streamed, limited, audited).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEvents } from '../../audit/audit-trail.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';
import { MAX_UPLOAD_ARTIFACT_BYTES } from './mlflow-ajax.js';

const API = '/api/2.0/mlflow';
const AJAX = '/ajax-api/2.0/mlflow';

/** A POST whose body is sent in chunks without a Content-Length, and without a Content-Type. */
function chunkedPost(port: number, path: string, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
    });
    // The server may answer and close before the whole body is sent.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : fail(err)));
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe.each(DIALECTS)('MLflow ajax-only endpoints on $name', (dialect) => {
  let t: TestApp;
  let base: string;
  let port: number;

  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => t.close());

  async function send(method: 'GET' | 'POST', path: string, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${base}${path}`, body === undefined ? { method } : { method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const text = await res.text();
    return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  }

  async function newRun(experimentId = '0'): Promise<string> {
    return ((await send('POST', `${API}/runs/create`, { experiment_id: experimentId })).json.run as { info: { run_id: string } }).info.run_id;
  }

  it('get-history-bulk: runs in id order, points by timestamp, step and value, max_results over all runs', async () => {
    const [a, b] = [await newRun(), await newRun()].sort();
    const history = [
      { key: 'k', timestamp: 2, step: 3, value: 12.0 },
      { key: 'k', timestamp: 1, step: 3, value: 12.0 },
      { key: 'k', timestamp: 1, step: 3, value: 11.0 },
      { key: 'k', timestamp: 1, step: 2, value: 10.0 },
    ];
    for (const m of history) {
      await send('POST', `${API}/runs/log-metric`, { run_id: a, ...m });
      await send('POST', `${API}/runs/log-metric`, { run_id: b, ...m, value: m.value + 1 });
    }
    const ordered = [...history].reverse();
    const all = await send('GET', `${AJAX}/metrics/get-history-bulk?run_id=${b}&run_id=${a}&run_id=${'f'.repeat(32)}&metric_key=k`);
    expect(all).toEqual({ status: 200, json: { metrics: [...ordered.map((m) => ({ ...m, run_id: a })), ...ordered.map((m) => ({ ...m, value: m.value + 1, run_id: b }))] } });
    const two = await send('GET', `${AJAX}/metrics/get-history-bulk?run_id=${a}&run_id=${b}&metric_key=k&max_results=2`);
    expect(two.json).toEqual({ metrics: ordered.slice(0, 2).map((m) => ({ ...m, run_id: a })) });
    expect((await send('GET', `${AJAX}/metrics/get-history-bulk?run_id=${a}&metric_key=none`)).json).toEqual({ metrics: [] });
    // MLflow serves it under /ajax-api only.
    expect((await send('GET', `${API}/metrics/get-history-bulk?run_id=${a}&metric_key=k`)).status).toBe(404);
    const bad: Array<[string, string]> = [
      ['metric_key=key', 'GetMetricHistoryBulk request must specify at least one run_id.'],
      [`${Array.from({ length: 101 }, (_, i) => `run_id=id_${i}`).join('&')}&metric_key=key`, 'GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids.'],
      ['run_id=123', 'GetMetricHistoryBulk request must specify a metric_key.'],
      ['run_id=123&metric_key=k&max_results=many', "Invalid value many for parameter 'max_results' supplied: it must be an integer."],
    ];
    for (const [query, message] of bad) {
      expect(await send('GET', `${AJAX}/metrics/get-history-bulk?${query}`)).toEqual({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    }
  });

  it('search-datasets: one summary per experiment, dataset and context', async () => {
    const exp = (await send('POST', `${API}/experiments/create`, { name: `datasets-${dialect.name}` })).json.experiment_id as string;
    const run = await newRun(exp);
    const dataset = { name: 'name1', digest: 'digest1', source_type: 'local', source: 's' };
    await send('POST', `${API}/runs/log-inputs`, { run_id: run, datasets: [{ dataset, tags: [{ key: 'mlflow.data.context', value: 'training' }] }, { dataset: { ...dataset, name: 'name2' } }] });
    const other = await newRun(exp);
    await send('POST', `${API}/runs/log-inputs`, { run_id: other, datasets: [{ dataset, tags: [{ key: 'mlflow.data.context', value: 'training' }] }] });
    const res = await send('POST', `${AJAX}/experiments/search-datasets`, { experiment_ids: [exp, 'not-an-id'] });
    expect(res).toEqual({
      status: 200,
      json: {
        dataset_summaries: [
          { experiment_id: exp, name: 'name1', digest: 'digest1', context: 'training' },
          { experiment_id: exp, name: 'name2', digest: 'digest1', context: null },
        ],
      },
    });
    expect((await send('POST', `${AJAX}/experiments/search-datasets`, { experiment_ids: ['0'] })).json).toEqual({ dataset_summaries: [] });
    for (const [body, message] of [
      [{}, 'SearchDatasets request must specify at least one experiment_id.'],
      [{ experiment_ids: [] }, 'SearchDatasets request must specify at least one experiment_id.'],
      [{ experiment_ids: Array.from({ length: 21 }, (_, i) => String(i)) }, 'SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.'],
    ] as Array<[object, string]>) {
      expect(await send('POST', `${AJAX}/experiments/search-datasets`, body)).toEqual({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    }
  });

  it('create-promptlab-run: a finished run with its params, tags, logged model and evaluation table', async () => {
    const exp = (await send('POST', `${API}/experiments/create`, { name: `promptlab-${dialect.name}` })).json.experiment_id as string;
    const body = {
      experiment_id: exp,
      run_name: 'my_run_name',
      prompt_template: 'Say {{ word }}',
      prompt_parameters: [{ key: 'word', value: 'hi' }],
      model_route: 'my_route',
      model_parameters: [{ key: 'temperature', value: 0.1 }],
      model_input: 'Say hi',
      model_output: 'hi',
      model_output_parameters: [{ key: 'latency', value: '100' }],
      mlflow_version: '2.12.2',
      user_id: 'ada',
      start_time: 456,
    };
    const res = await send('POST', `${AJAX}/runs/create-promptlab-run`, body);
    expect(res.status).toBe(200);
    const run = res.json.run as { info: Record<string, unknown>; data: { params: unknown[]; tags: Array<{ key: string; value: string }> } };
    expect(run.info).toMatchObject({ run_name: 'my_run_name', experiment_id: exp, user_id: 'ada', status: 'FINISHED', start_time: 456, end_time: expect.any(Number) });
    expect(run.data.params).toEqual([
      { key: 'model_route', value: 'my_route' },
      { key: 'prompt_template', value: 'Say {{ word }}' },
      { key: 'temperature', value: '0.1' },
    ]);
    const tags = Object.fromEntries(run.data.tags.map((tag) => [tag.key, tag.value]));
    expect(tags['mlflow.loggedArtifacts']).toBe('[{"path": "eval_results_table.json", "type": "table"}]');
    expect(tags['mlflow.runSourceType']).toBe('PROMPT_ENGINEERING');
    expect(JSON.parse(tags['mlflow.log-model.history'] as string)).toEqual([
      { run_id: run.info.run_id, artifact_path: 'model', utc_time_created: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/), flavors: {}, model_uuid: expect.stringMatching(/^[0-9a-f]{32}$/), mlflow_version: '2.12.2' },
    ]);
    const table = await fetch(`${base}/get-artifact?run_id=${run.info.run_id as string}&path=eval_results_table.json`);
    expect(JSON.parse(await table.text())).toEqual({ columns: ['word', 'prompt', 'output', 'latency'], data: [['hi', 'Say hi', 'hi', '100']] });
    const params = await (await fetch(`${base}/get-artifact?run_id=${run.info.run_id as string}&path=model/parameters.yaml`)).text();
    expect(params).toContain('prompt_template: Say {{ word }}');
    const events = await listAuditEvents(t.ctx.store.db, { entityType: 'artifact' });
    expect(events.filter((e) => e.entity_id.includes(run.info.run_id as string)).map((e) => e.entity_id.split('/artifacts/')[1]).sort()).toEqual(['eval_results_table.json', 'model/MLmodel', 'model/parameters.yaml', 'model/requirements.txt']);

    const fields = ['experiment_id', 'prompt_template', 'prompt_parameters', 'model_route', 'model_input', 'mlflow_version'] as const;
    for (let i = 0; i < fields.length; i++) {
      const partial = Object.fromEntries(fields.slice(0, i).map((f) => [f, body[f]]));
      expect(await send('POST', `${AJAX}/runs/create-promptlab-run`, partial)).toEqual({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: `CreatePromptlabRun request must specify ${fields[i]}.` } });
    }
    const unknown = await send('POST', `${AJAX}/runs/create-promptlab-run`, { ...body, experiment_id: '123' });
    expect(unknown).toEqual({ status: 404, json: { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment with id=123 exists' } });
  });

  it('upload-artifact: streams the body into the run, audited; refuses what MLflow refuses, and traversal', async () => {
    const runId = await newRun();
    const upload = async (query: string, body?: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}${AJAX}/upload-artifact?${query}`, { method: 'POST', ...(body !== undefined ? { body } : {}), headers });
      const text = await res.text();
      return { status: res.status, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    };
    expect(await upload(`run_uuid=${runId}&path=dir/test.txt`, 'hello world')).toEqual({ status: 200, json: {} });
    const read = await fetch(`${base}/get-artifact?run_uuid=${runId}&path=dir/test.txt`);
    expect(await read.text()).toBe('hello world');
    // Whatever Content-Type the browser sends, the bytes are stored as sent.
    expect((await upload(`run_uuid=${runId}&path=data.json`, '{"a": 9.0}', { 'content-type': 'application/json' })).status).toBe(200);
    expect(await (await fetch(`${base}/get-artifact?run_uuid=${runId}&path=data.json`)).text()).toBe('{"a": 9.0}');
    const events = await listAuditEvents(t.ctx.store.db, { entityType: 'artifact' });
    expect(events.some((e) => e.action === 'artifact.put' && e.entity_id.endsWith(`${runId}/artifacts/dir/test.txt`))).toBe(true);

    const invalid = (message: string) => ({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message } });
    expect(await upload('', 'x')).toEqual(invalid('Request must specify run_uuid.'));
    expect(await upload(`run_uuid=${runId}`, 'x')).toEqual(invalid('Request must specify path.'));
    expect(await upload(`run_uuid=${runId}&path=`, 'x')).toEqual(invalid('Request must specify path.'));
    expect(await upload(`run_uuid=${runId}&path=test.txt`)).toEqual(invalid('Request must specify data.'));
    for (const path of ['../test.txt', 'a/../../b', '/etc/passwd', 'a%2f..%2fb']) {
      const res = await upload(`run_uuid=${runId}&path=${encodeURIComponent(path)}`, 'x');
      expect(res.status, path).toBe(400);
      expect(res.json.message, path).toMatch(/^Invalid path: /);
    }
    expect((await upload(`run_uuid=${'f'.repeat(32)}&path=a.txt`, 'x')).status).toBe(404);
    // Over MLflow's 10 MB limit: refused from Content-Length, or while streaming a chunked body; nothing is kept.
    const big = Buffer.alloc(MAX_UPLOAD_ARTIFACT_BYTES + 1, 7);
    expect(await upload(`run_uuid=${runId}&path=big.bin`, big.toString('latin1'))).toEqual(invalid('Artifact size is too large. Max size is 10MB.'));
    const chunked = await chunkedPost(port, `${AJAX}/upload-artifact?run_uuid=${runId}&path=big.bin`, [big.subarray(0, 6_000_000), big.subarray(6_000_000)]);
    expect(chunked.status).toBe(400);
    expect(JSON.parse(chunked.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Artifact size is too large. Max size is 10MB.' });
    expect((await fetch(`${base}/get-artifact?run_uuid=${runId}&path=big.bin`)).status).toBe(404);
    const small = await chunkedPost(port, `${AJAX}/upload-artifact?run_uuid=${runId}&path=chunked.txt`, [Buffer.from('hello '), Buffer.from('chunks')]);
    expect(small.status).toBe(200);
    expect(await (await fetch(`${base}/get-artifact?run_uuid=${runId}&path=chunked.txt`)).text()).toBe('hello chunks');
    // A deleted run takes no new artifacts.
    await send('POST', `${API}/runs/delete`, { run_id: runId });
    expect(await upload(`run_uuid=${runId}&path=late.txt`, 'x')).toEqual(invalid(`The run ${runId} must be in the 'active' state. Current state is deleted.`));
  });
});

describe.each(DIALECTS)('MLflow ajax-only endpoints under a local default artifact root on $name', (dialect) => {
  let t: TestApp;
  let base: string;
  let folder: string;

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'slipway-local-root-'));
    t = await openTestApp(dialect, { now: () => Date.now() }, { defaultArtifactRoot: `file://${folder}`, serveArtifacts: false });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await t.close();
    rmSync(folder, { recursive: true, force: true });
  });

  const post = async (path: string, body: object) => (await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } })).json() as Promise<Record<string, unknown>>;

  it('writes uploads and prompt-lab files into the run folder clients read, audited by URI', async () => {
    const exp = (await post(`${API}/experiments/create`, { name: 'local', artifact_location: `file://${folder}/local` })).experiment_id as string;
    const runId = ((await post(`${API}/runs/create`, { experiment_id: exp })).run as { info: { run_id: string } }).info.run_id;
    const res = await fetch(`${base}${AJAX}/upload-artifact?run_uuid=${runId}&path=notes/test.txt`, { method: 'POST', body: 'hello world' });
    expect(res.status).toBe(200);
    expect(readFileSync(join(folder, 'local', runId, 'artifacts', 'notes', 'test.txt'), 'utf8')).toBe('hello world');
    const uri = `file://${folder}/local/${runId}/artifacts/notes/test.txt`;
    expect((await listAuditEvents(t.ctx.store.db, { entityType: 'artifact', entityId: uri })).map((e) => e.action)).toEqual(['artifact.put']);

    const lab = await post(`${AJAX}/runs/create-promptlab-run`, {
      experiment_id: exp, prompt_template: 't', prompt_parameters: [{ key: 'p', value: 'v' }], model_route: 'r', model_input: 'i', mlflow_version: '2.12.2',
    });
    const labRun = (lab.run as { info: { run_id: string; status: string } }).info;
    expect(labRun.status).toBe('FINISHED');
    expect(existsSync(join(folder, 'local', labRun.run_id, 'artifacts', 'eval_results_table.json'))).toBe(true);
    expect(existsSync(join(folder, 'local', labRun.run_id, 'artifacts', 'model', 'MLmodel'))).toBe(true);
  });
});
