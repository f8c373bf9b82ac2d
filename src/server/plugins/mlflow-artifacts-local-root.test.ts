/**
 * A server whose default artifact root is a local folder (`--default-artifact-root file:///… --no-serve-artifacts`,
 * as `mlflow server` runs for clients that write artifacts to disk themselves): where experiments and runs put
 * their artifacts, how the MLflow routes list and download them from that folder without following links, that
 * a location outside it is never read, and that a model logged there registers and serves. Real HTTP, on SQLite
 * and PostgreSQL.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { TrackingService } from '../../tracking/tracking-service.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { fixture, holdout } from '../../../test/support/serving.js';
import { buildApp } from '../app.js';
import type { ServerContext } from '../context.js';

/** The fields of the MLflow and native answers these tests read. */
interface Answer {
  experiment_id?: string;
  experiment?: { artifact_location: string };
  run?: { info: { run_id: string; artifact_uri: string } };
  root_uri?: string;
  files?: unknown[];
  error_code?: string;
  message?: string;
  model_version?: string;
}

describe.each(DIALECTS)('MLflow artifacts under a local default artifact root ($name)', (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-local-root-'));
  const root = join(dir, 'mlruns');
  const rootUri = pathToFileURL(root).href;
  const outside = join(dir, 'outside');
  let app: FastifyInstance;
  let base: string;
  let dispose: () => Promise<void>;

  async function call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<{ status: number; json: Answer; headers: Headers; text: string }> {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined ? {} : typeof body === 'string' ? { body } : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: Answer = {};
    try {
      json = JSON.parse(text) as Answer;
    } catch {
      // a file's bytes
    }
    return { status: res.status, json, headers: res.headers, text };
  }

  async function newRun(experimentName: string, artifactLocation?: string): Promise<{ experimentId: string; runId: string; artifactUri: string }> {
    const created = await call('POST', '/api/2.0/mlflow/experiments/create', { name: experimentName, ...(artifactLocation ? { artifact_location: artifactLocation } : {}) });
    expect(created.status).toBe(200);
    const experimentId = created.json.experiment_id as string;
    const run = await call('POST', '/api/2.0/mlflow/runs/create', { experiment_id: experimentId, start_time: 1 });
    expect(run.status).toBe(200);
    const info = run.json.run?.info as { run_id: string; artifact_uri: string };
    return { experimentId, runId: info.run_id, artifactUri: info.artifact_uri };
  }

  beforeAll(async () => {
    mkdirSync(outside);
    const config = resolveConfig({ home: join(dir, 'home'), defaultArtifactRoot: rootUri, serveArtifacts: false }, {}, dir);
    const opened = await dialect.open({ defaultArtifactRoot: config.defaultArtifactRoot });
    dispose = opened.dispose;
    const ctx: ServerContext = {
      config,
      store: opened.store,
      logger: silentLogger,
      clock: { now: () => Date.now() },
      artifacts: new LocalArtifactStore(config.artifactsDestination),
      tracking: new TrackingService(opened.store, { defaultArtifactRoot: config.defaultArtifactRoot }),
      inferenceObservers: [],
      onClose: [],
    };
    app = await buildApp(ctx);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await dispose?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the Default experiment, new experiments and their runs locations in the folder', async () => {
    const fallback = await call('GET', '/api/2.0/mlflow/experiments/get?experiment_id=0');
    expect(fallback.json.experiment?.artifact_location).toBe(`${rootUri}/0`);
    const { experimentId, runId, artifactUri } = await newRun('Art In Fact');
    const experiment = await call('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${experimentId}`);
    expect(experiment.json.experiment?.artifact_location).toBe(`${rootUri}/${experimentId}`);
    expect(artifactUri).toBe(`${rootUri}/${experimentId}/${runId}/artifacts`);
  });

  it('lists and downloads what a client wrote into a run’s folder, "." naming the folder itself', async () => {
    const { runId, artifactUri } = await newRun('written by the client');
    const folder = fileURLToPath(artifactUri);
    expect((await call('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}`)).json).toEqual({ root_uri: artifactUri });
    mkdirSync(join(folder, 'dir'), { recursive: true });
    writeFileSync(join(folder, 'my.file'), 'Hello, World!');
    writeFileSync(join(folder, 'dir', 'my.file'), 'Hello, dir!');
    const files = [{ path: 'dir', is_dir: true }, { path: 'my.file', is_dir: false, file_size: 13 }];
    expect((await call('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}`)).json).toEqual({ root_uri: artifactUri, files });
    expect((await call('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=.`)).json).toEqual({ root_uri: artifactUri, files });
    expect((await call('GET', `/ajax-api/2.0/mlflow/artifacts/list?run_id=${runId}&path=dir`)).json.files).toEqual([{ path: 'dir/my.file', is_dir: false, file_size: 11 }]);
    const download = await call('GET', `/get-artifact?run_id=${runId}&path=dir/my.file`);
    expect(download.status).toBe(200);
    expect(download.text).toBe('Hello, dir!');
    expect(download.headers.get('etag')).toMatch(/^W\/"11-\d+"$/);
    const absent = await call('GET', `/get-artifact?run_id=${runId}&path=none.txt`);
    expect(absent.status).toBe(404);
    expect(absent.json.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(absent.json.message).toMatch(/^Artifact '\d+\/[0-9a-f]{32}\/artifacts\/none\.txt' does not exist\.$/);
    const traversal = await call('GET', `/get-artifact?run_id=${runId}&path=..%2F..%2F..%2Fhome%2Fslipway.db`);
    expect(traversal).toMatchObject({ status: 400, json: { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' } });
  });

  it('never lists, reads or lists through a symbolic link planted in the folder', async () => {
    const { runId, artifactUri } = await newRun('with planted links');
    const folder = fileURLToPath(artifactUri);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'kept.txt'), 'kept');
    writeFileSync(join(outside, 'secret.txt'), 'top secret');
    symlinkSync(join(outside, 'secret.txt'), join(folder, 'leak.txt'));
    symlinkSync(outside, join(folder, 'evil'));
    const listed = await call('GET', `/api/2.0/mlflow/artifacts/list?run_id=${runId}`);
    expect(listed.json.files).toEqual([{ path: 'kept.txt', is_dir: false, file_size: 4 }]);
    for (const url of [`/get-artifact?run_id=${runId}&path=leak.txt`, `/get-artifact?run_id=${runId}&path=evil/secret.txt`, `/api/2.0/mlflow/artifacts/list?run_id=${runId}&path=evil`]) {
      const res = await call('GET', url);
      expect(res.status).toBe(400);
      expect(res.text).not.toContain('top secret');
      expect(res.json.error_code).toBe('INVALID_PARAMETER_VALUE');
      expect(res.json.message).toMatch(/goes through a symbolic link in the artifact folder .*; links there are never followed\.$/);
    }
  });

  it('stores a relative artifact_location against the working folder as MLflow does, and never reads a location outside the root', async () => {
    const relative = await newRun('relative location', 'my_location');
    const stored = await call('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${relative.experimentId}`);
    expect(stored.json.experiment?.artifact_location).toBe(resolve(process.cwd(), 'my_location'));
    expect(relative.artifactUri).toBe(`${resolve(process.cwd(), 'my_location')}/${relative.runId}/artifacts`);
    const relativeUri = await call('POST', '/api/2.0/mlflow/experiments/create', { name: 'relative file uri', artifact_location: 'file:rel/x' });
    const storedUri = await call('GET', `/api/2.0/mlflow/experiments/get?experiment_id=${relativeUri.json.experiment_id}`);
    expect(storedUri.json.experiment?.artifact_location).toBe(pathToFileURL(resolve(process.cwd(), 'rel/x')).href);

    // A location a client chose outside the root, with files in it: the server neither lists nor reads them.
    const elsewhere = await newRun('outside the root', outside);
    mkdirSync(join(outside, elsewhere.runId, 'artifacts'), { recursive: true });
    writeFileSync(join(outside, elsewhere.runId, 'artifacts', 'secret.txt'), 'top secret');
    for (const url of [`/api/2.0/mlflow/artifacts/list?run_id=${elsewhere.runId}`, `/get-artifact?run_id=${elsewhere.runId}&path=secret.txt`]) {
      const res = await call('GET', url);
      expect(res.status).toBe(501);
      expect(res.json).toEqual({
        error_code: 'NOT_IMPLEMENTED',
        message: `The artifacts of run ${elsewhere.runId} live at '${outside}/${elsewhere.runId}/artifacts', a local folder this server does not serve: the server reads and writes local artifacts only inside its --default-artifact-root folder ${root}.`,
      });
    }
  });

  it('turns the artifact proxy off, naming the setting and where artifacts go instead', async () => {
    for (const [method, url] of [
      ['PUT', '/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/a.txt'],
      ['GET', '/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/a.txt'],
      ['GET', '/ajax-api/2.0/mlflow-artifacts/artifacts?path=0'],
    ] as const) {
      const res = await call(method, url, method === 'PUT' ? 'data' : undefined);
      expect(res.status).toBe(501);
      expect(res.json).toEqual({
        error_code: 'NOT_IMPLEMENTED',
        message: `This server does not serve artifacts (--no-serve-artifacts): clients read and write them at the experiment's artifact location (new experiments: ${rootUri}/<experiment id>). Start it with --serve-artifacts to use ${url.startsWith('/ajax') ? '/ajax-api/2.0' : '/api/2.0'}/mlflow-artifacts/.`,
      });
    }
  });

  it('registers a model logged into a run’s folder, reads its signature there, serves it and downloads its files', async () => {
    const { runId, artifactUri } = await newRun('logged model');
    const model = join(fileURLToPath(artifactUri), 'model');
    mkdirSync(model, { recursive: true });
    copyFileSync(fixture('breast_cancer_mlp.onnx'), join(model, 'model.onnx'));
    expect((await call('POST', '/api/2.0/mlflow/registered-models/create', { name: 'local-root' })).status).toBe(200);
    const created = await call('POST', '/api/2.0/mlflow/model-versions/create', { name: 'local-root', source: `${artifactUri}/model`, run_id: runId });
    expect(created.status).toBe(200);
    const version = await call('GET', '/api/v1/models/local-root/versions/1');
    expect(version.status).toBe(200);
    expect(JSON.stringify(version.json)).toContain('"features"');
    const file = await call('GET', '/model-versions/get-artifact?name=local-root&version=1&path=model.onnx');
    expect(file.status).toBe(200);
    expect(Number(file.headers.get('content-length'))).toBeGreaterThan(1000);
    const cancer = holdout('breast_cancer');
    let served = await call('POST', '/v2/models/local-root/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] });
    // The model loads in the background after registration.
    for (let i = 0; i < 100 && served.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      served = await call('POST', '/v2/models/local-root/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] });
    }
    expect(served.status).toBe(200);
    expect(served.json.model_version).toBe('1');
  }, 30_000);
});
