/**
 * On `slipway server`: readiness follows the registered models loaded at start, the
 * repository load/unload API is off unless --model-control explicit, and model files are
 * read (at registration for the signature, and at load) only inside the artifact store or
 * an allowed folder, symbolic links resolved. Real servers, real HTTP, real onnxruntime.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { fixture, holdout } from '../../../test/support/serving.js';
import { startServer, type StartedServer } from '../start-server.js';

const cancer = holdout('breast_cancer');
const root = mkdtempSync(join(tmpdir(), 'slipway-model-sources-'));
const allowed = join(root, 'allowed');
const outside = join(root, 'outside');
mkdirSync(allowed);
mkdirSync(outside);
copyFileSync(fixture('breast_cancer_mlp.onnx'), join(allowed, 'cancer.onnx'));
copyFileSync(fixture('breast_cancer_mlp.onnx'), join(outside, 'cancer.onnx'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let homes = 0;
async function start(env: NodeJS.ProcessEnv = {}): Promise<StartedServer> {
  const home = join(root, `home-${homes++}`);
  mkdirSync(home);
  return startServer(resolveConfig({ home, port: 0 }, env, home), { logger: silentLogger });
}

async function call(server: StartedServer, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${server.url}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

const createVersion = (server: StartedServer, name: string, source: string) => call(server, 'POST', '/api/2.0/mlflow/model-versions/create', { name, source });
const infer = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] };

/** Replaces the stored content of `path` in the store with a symbolic link to `target`. */
function pointBlobAt(store: LocalArtifactStore, path: string, target: string): void {
  // The tree entry is a relative link to objects/ab/cdef…; the blob it names becomes a link elsewhere.
  const link = readlinkSync(join(store.root, 'tree', ...path.split('/')));
  const blob = join(store.root, 'tree', ...path.split('/').slice(0, -1), link);
  unlinkSync(blob);
  symlinkSync(target, blob);
}

describe('slipway server with default settings', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await start();
  }, 30_000);
  afterAll(() => server?.close());

  it('is ready with zero registered models, and refuses the repository load/unload API naming the flag', async () => {
    expect(await call(server, 'GET', '/v2/health/ready')).toEqual({ status: 200, json: { ready: true } });
    const load = await call(server, 'POST', '/v2/repository/models/x/load', { parameters: { uri: '/nowhere/model.onnx' } });
    expect(load.status).toBe(403);
    expect(load.json.error).toMatch(/--model-control explicit/);
    expect((await call(server, 'POST', '/v2/repository/models/x/unload', {})).status).toBe(403);
    expect(await call(server, 'POST', '/v2/repository/index', {})).toEqual({ status: 200, json: [] as unknown as Record<string, unknown> });
    expect((await call(server, 'GET', '/v2/health/ready')).status).toBe(200);
  });

  it('refuses to register a version whose source is a local file outside the allowed folders, without reading it', async () => {
    await call(server, 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'passwd' });
    // The MLflow route answers as MLflow 2.12 does: a local source without a run is the client's mistake (400).
    const res = await createVersion(server, 'passwd', 'file:///etc/passwd');
    expect(res.status).toBe(400);
    expect(res.json.error_code).toBe('INVALID_PARAMETER_VALUE');
    expect(res.json.message).toMatch(/To use a local path as a model version source/);
    const outsideFile = await createVersion(server, 'passwd', join(outside, 'cancer.onnx'));
    expect(outsideFile.status).toBe(400);
    const native = await call(server, 'POST', '/api/v1/models/passwd/versions', { source: 'file:///etc/passwd' });
    expect(native.status).toBe(403);
    expect(JSON.stringify(native.json)).toMatch(/MODEL_SOURCE_NOT_ALLOWED/);
  });

  it('still registers sources it does not read (another store, a run) as MLflow does', async () => {
    await call(server, 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'remote' });
    expect((await createVersion(server, 'remote', 's3://bucket/model')).status).toBe(200);
  });

  it('refuses a stored model file that is a link leading out of the artifact store, at registration and at load', async () => {
    const store = server.ctx.artifacts as LocalArtifactStore;
    const model = readFileSync(fixture('breast_cancer_mlp.onnx'));
    await store.put('models/linked/v1/model.onnx', model);
    await call(server, 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'linked' });
    const good = await createVersion(server, 'linked', 'mlflow-artifacts:/models/linked/v1/model.onnx');
    expect(good.status).toBe(200);
    // Someone with access to the folder swaps the stored content for a link to a file elsewhere.
    await store.put('models/linked/v2/model.onnx', Buffer.concat([model, Buffer.from([0])]));
    pointBlobAt(store, 'models/linked/v2/model.onnx', join(outside, 'cancer.onnx'));
    const escaped = await createVersion(server, 'linked', 'mlflow-artifacts:/models/linked/v2/model.onnx');
    // The store itself refuses content that is a link: an integrity fault of the server's folder, not the caller's.
    expect(escaped.status).toBe(500);
    expect(escaped.json.message).toMatch(/is a symbolic link, not stored content/);
    // The version registered before the swap shares nothing with it; make its own content a link too.
    pointBlobAt(store, 'models/linked/v1/model.onnx', join(outside, 'cancer.onnx'));
    const served = await call(server, 'POST', '/v2/models/linked/infer', infer);
    expect(served.status).toBe(503);
    expect(served.json.error).toMatch(/is a symbolic link, not stored content/);
    expect((await call(server, 'GET', '/v2/health/ready')).status).toBe(200);
  });
});

describe('slipway server with an allowed folder and model control', () => {
  let server: StartedServer;
  beforeAll(async () => {
    server = await start({ SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS: allowed, SLIPWAY_MODEL_CONTROL: 'explicit' });
  }, 30_000);
  afterAll(() => server?.close());

  it('registers and serves a version whose source is a file in the allowed folder', async () => {
    await call(server, 'POST', '/api/2.0/mlflow/registered-models/create', { name: 'local' });
    const created = await createVersion(server, 'local', `file://${join(allowed, 'cancer.onnx')}`);
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ model_version: { status: 'READY' } });
    const served = await call(server, 'POST', '/v2/models/local/infer', infer);
    expect(served.status).toBe(200);
    expect(served.json.model_version).toBe('1');
  });

  it('stays ready when an ad-hoc load fails', async () => {
    const bad = await call(server, 'POST', '/v2/repository/models/x/load', { parameters: { uri: join(outside, 'cancer.onnx') } });
    expect(bad.status).toBe(403);
    const unknown = await call(server, 'POST', '/v2/repository/models/y/load', { parameters: { uri: 'models:/nothing/1' } });
    expect(unknown.status).toBeGreaterThanOrEqual(400);
    expect(await call(server, 'GET', '/v2/health/ready')).toEqual({ status: 200, json: { ready: true } });
  });
});
