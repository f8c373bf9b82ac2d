/**
 * Registered dataset versions over real stores (SQLite file and PostgreSQL): registering content
 * (idempotent by digest), listing and paging, bad input, a version logged as a run's training
 * input and the model version registered from that run (dataset lineage, model lineage, MLflow's
 * get-run), the monitoring reference taken from the training data, and deletion of a used version.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from './support/dialects.js';
import { readCsv } from '../src/monitoring/readers/csv-reader.js';
import { profileTable } from '../src/monitoring/profile/dataset-profile.js';
import { schemaOfTable } from '../src/data/dataset-schema.js';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FIXTURES = join(import.meta.dirname, 'fixtures');
const CSV_FILE = join(FIXTURES, 'breast_cancer_train.csv');
const CSV = readFileSync(CSV_FILE);
const ONNX = readFileSync(join(FIXTURES, 'breast_cancer_mlp.onnx'));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

describe.each(DIALECTS)('registered dataset versions on $name', (dialect) => {
  let t: TestApp;
  let table: Json;
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    t.app.inject({ method, url: url.startsWith('/api/') ? url : `/api/v1${url}`, ...(payload !== undefined ? { payload: payload as object } : {}) });

  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.ctx.artifacts?.put('models/cancer/v1/model.onnx', ONNX);
    const csv = await readCsv(CSV_FILE);
    table = { schema: schemaOfTable(csv), profile: profileTable(csv).toJSON() };
  });
  afterAll(async () => t?.close());

  const trainBody = () => ({ digest: sha(CSV), kind: 'file', files: 1, bytes: CSV.length, source: 'git:3f2a9c1:data/train.csv', description: 'Training split', ...table });

  it('registers a table as version 1 with its schema and profile, and the same content again answers 200 with that version', async () => {
    const first = await call('POST', '/datasets/cancer-train/versions', trainBody());
    expect(first.statusCode).toBe(201);
    const v = first.json() as Json;
    expect(v).toMatchObject({ name: 'cancer-train', version: 1, uri: 'slipway-dataset:/cancer-train/1', digest: sha(CSV), kind: 'file', files: 1, bytes: CSV.length, hasProfile: true, created: true, createdBy: 'anonymous' });
    expect(v.rows).toBe(CSV.toString().trim().split('\n').length - 1);
    expect(v.schema.columns[0]).toEqual({ name: 'mean_radius', type: 'double', required: true });

    const again = await call('POST', '/datasets/cancer-train/versions', { ...trainBody(), description: 'said twice' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ version: 1, created: false, description: 'Training split' });

    const detail = (await call('GET', '/datasets/cancer-train/versions/1')).json() as Json;
    expect(detail.profile.format).toBe('slipway-profile/1');
    expect(detail.profile.columns.map((c: Json) => c.name)).toEqual(v.schema.columns.map((c: Json) => c.name));
  });

  it('gives new content the next number, lists names with their newest version, and pages', async () => {
    const v2 = await call('POST', '/datasets/cancer-train/versions', { digest: sha('second'), kind: 'folder', files: 3, bytes: 1200, source: 'data/train/' });
    expect(v2.statusCode).toBe(201);
    expect(v2.json()).toMatchObject({ version: 2, kind: 'folder', hasProfile: false, schema: null, rows: null });
    expect((await call('POST', '/datasets/aaa-first/versions', { digest: sha('a'), kind: 'file', files: 1, bytes: 1, source: 'a.csv' })).statusCode).toBe(201);

    const latest = (await call('GET', '/datasets/cancer-train/versions/latest')).json() as Json;
    expect(latest.version).toBe(2);
    const versions = (await call('GET', '/datasets/cancer-train/versions')).json() as Json;
    expect(versions.versions.map((x: Json) => x.version)).toEqual([2, 1]);
    expect(versions.versions[0].profile).toBeUndefined();

    const page1 = (await call('GET', '/datasets?maxResults=1')).json() as Json;
    expect(page1.datasets).toHaveLength(1);
    expect(page1.datasets[0]).toMatchObject({ name: 'aaa-first', versions: 1, latest: { version: 1 } });
    const page2 = (await call('GET', `/datasets?maxResults=1&pageToken=${page1.nextPageToken}`)).json() as Json;
    expect(page2.datasets[0]).toMatchObject({ name: 'cancer-train', versions: 2, latest: { version: 2 } });
    expect(page2.nextPageToken).toBeUndefined();
  });

  it('answers bad input with 400, unknown names and versions with 404, and a digest registered as other content with 409', async () => {
    const bad = await call('POST', '/datasets/cancer-train/versions', { ...trainBody(), digest: 'abc123' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/digest.*sha256/);
    expect((await call('POST', '/datasets/a@b/versions', trainBody())).statusCode).toBe(400);
    expect((await call('POST', `/datasets/${encodeURIComponent('a/b')}/versions`, trainBody())).statusCode).toBe(400);
    expect((await call('POST', '/datasets/x/versions', { ...trainBody(), kind: 'file', files: 2 })).json().error.message).toMatch(/1 file/);
    expect((await call('POST', '/datasets/x/versions', { ...trainBody(), profile: { format: 'nope' } })).statusCode).toBe(400);
    expect((await call('POST', '/datasets/x/versions', { ...trainBody(), runId: '0'.repeat(32) })).statusCode).toBe(404);

    const conflict = await call('POST', '/datasets/cancer-train/versions', { ...trainBody(), bytes: 5 });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error.message).toMatch(/version 1 holds digest/);

    const noName = await call('GET', '/datasets/nothing-here/versions/latest');
    expect(noName.statusCode).toBe(404);
    expect(noName.json().error.message).toBe("Dataset 'nothing-here' has no registered version.");
    expect((await call('GET', '/datasets/cancer-train/versions/9')).json().error.message).toBe("Dataset 'cancer-train' has no version 9.");
    expect((await call('GET', '/datasets/cancer-train/versions/0')).statusCode).toBe(400);
    expect((await call('GET', '/datasets/nothing-here/versions')).statusCode).toBe(404);
  });

  it('links a run to a version as its training input, and follows it to the model version and its monitoring reference', async () => {
    const exp = (await call('POST', '/experiments', { name: 'cancer' })).json() as Json;
    const run = (await call('POST', '/runs', { experimentId: exp.experimentId, runName: 'mlp' })).json() as Json;
    const runId = run.info.runId as string;
    const logged = await call('POST', '/datasets/cancer-train/versions/1/inputs', { runId, context: 'training' });
    expect(logged.statusCode).toBe(201);

    // What the MLflow client's get_run(...).inputs reads.
    const mlflowRun = (await call('GET', `/api/2.0/mlflow/runs/get?run_id=${runId}`)).json() as Json;
    const input = mlflowRun.run.inputs.dataset_inputs[0];
    expect(input.dataset).toMatchObject({ name: 'cancer-train', digest: sha(CSV).slice(0, 36), source_type: 'slipway', source: '{"uri":"slipway-dataset:/cancer-train/1"}' });
    expect(JSON.parse(input.dataset.schema).mlflow_colspec[0]).toEqual({ type: 'double', name: 'mean_radius', required: true });
    expect(JSON.parse(input.dataset.profile)).toMatchObject({ num_files: 1, num_bytes: CSV.length });
    expect(input.tags).toEqual([{ key: 'mlflow.data.context', value: 'training' }]);

    expect((await call('POST', '/models', { name: 'cancer' })).statusCode).toBe(201);
    expect((await call('POST', '/models/cancer/versions', { source: 'mlflow-artifacts:/models/cancer/v1', runId })).statusCode).toBe(201);

    const lineage = (await call('GET', '/datasets/cancer-train/versions/1/lineage')).json() as Json;
    expect(lineage.runs).toEqual([expect.objectContaining({ runId, runName: 'mlp', context: 'training' })]);
    expect(lineage.modelVersions).toEqual([expect.objectContaining({ name: 'cancer', version: '1', runId })]);
    expect((await call('GET', '/datasets/cancer-train/versions/2/lineage')).json()).toMatchObject({ runs: [], modelVersions: [] });

    const modelLineage = (await call('GET', '/models/cancer/versions/1/lineage')).json() as Json;
    expect(modelLineage.run.datasets[0]).toMatchObject({ name: 'cancer-train', context: 'training', datasetVersion: { name: 'cancer-train', version: 1 } });

    const ref = await call('PUT', '/api/v1/monitoring/models/cancer/versions/1/reference', { fromTrainingData: true });
    expect(ref.statusCode).toBe(201);
    expect(ref.json()).toMatchObject({ model: 'cancer', version: '1', rows: (await call('GET', '/datasets/cancer-train/versions/1')).json().rows, source: 'dataset:cancer-train@1' });
    const stored = (await call('GET', '/api/v1/monitoring/models/cancer/versions/1/reference')).json() as Json;
    expect(stored.source).toBe('dataset:cancer-train@1');

    // A version without a stored profile cannot be a reference; a model version from no run has no training data.
    const noProfile = await call('PUT', '/api/v1/monitoring/models/cancer/versions/1/reference', { dataset: { name: 'cancer-train', version: 2 } });
    expect(noProfile.statusCode).toBe(400);
    expect(noProfile.json().error.message).toMatch(/no stored profile/);
    expect((await call('POST', '/models/cancer/versions', { source: 'mlflow-artifacts:/models/cancer/v1' })).statusCode).toBe(201);
    const noRun = await call('PUT', '/api/v1/monitoring/models/cancer/versions/2/reference', { fromTrainingData: true });
    expect(noRun.statusCode).toBe(404);
    expect(noRun.json().error.message).toMatch(/not registered from a run/);
  });

  it('refuses to delete a version runs used unless forced, audits both, and never gives its number again', async () => {
    const refused = await call('DELETE', '/datasets/cancer-train/versions/1');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toMatch(/is an input of 1 run/);
    expect((await call('DELETE', '/datasets/cancer-train/versions/2')).statusCode).toBe(204);
    expect((await call('DELETE', '/datasets/cancer-train/versions/1?force=true')).statusCode).toBe(204);
    expect((await call('GET', '/datasets/cancer-train/versions/1')).statusCode).toBe(404);
    const again = await call('POST', '/datasets/cancer-train/versions', trainBody());
    expect(again.statusCode).toBe(201);
    expect(again.json().version).toBe(3);

    // The model's lineage still lists the input, but no longer as a registered version (version 1 is gone).
    const modelLineage = (await call('GET', '/models/cancer/versions/1/lineage')).json() as Json;
    expect(modelLineage.run.datasets[0].datasetVersion).toBeUndefined();

    const events = (await call('GET', '/audit/events?entityType=dataset_version&limit=1000')).json() as Json;
    const actions = events.events.filter((e: Json) => e.entityType === 'dataset_version').map((e: Json) => `${e.action} ${e.entityId}`);
    expect(actions).toEqual(['dataset.register cancer-train/1', 'dataset.register cancer-train/2', 'dataset.register aaa-first/1', 'dataset.delete cancer-train/2', 'dataset.delete cancer-train/1', 'dataset.register cancer-train/3']);
  });

  it('describes every dataset route in the OpenAPI document', async () => {
    const doc = (await call('GET', '/openapi.json')).json() as Json;
    expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/v1/datasets')).sort()).toEqual([
      '/api/v1/datasets',
      '/api/v1/datasets/{name}/versions',
      '/api/v1/datasets/{name}/versions/{version}',
      '/api/v1/datasets/{name}/versions/{version}/inputs',
      '/api/v1/datasets/{name}/versions/{version}/lineage',
    ]);
    expect(doc.paths['/api/v1/datasets/{name}/versions'].post.operationId).toBe('registerDatasetVersion');
  });
});
