import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { openStore, type Store } from '../../store/store.js';
import { buildApp } from '../app.js';

/** Sends a request with the path exactly as written (no client-side normalisation of '..' or '%2e'). */
function rawRequest(port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body ? { 'content-length': Buffer.byteLength(body) } : {} }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

const RUN = 'abcdef0123456789abcdef0123456789';

describe('MLflow artifact routes', () => {
  let home: string;
  let store: Store;
  let app: FastifyInstance;
  let port: number;
  let artifacts: LocalArtifactStore;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-artifact-routes-'));
    const config = resolveConfig({ home }, {}, home);
    store = await openStore(config.backendStoreUri);
    artifacts = new LocalArtifactStore(config.artifactsDestination);
    const now = Date.now();
    await store.db
      .insertInto('runs')
      .values({ run_uuid: RUN, name: 'r', experiment_id: 0, user_id: 'u', status: 'RUNNING', start_time: now, end_time: null, lifecycle_stage: 'active', artifact_uri: `mlflow-artifacts:/0/${RUN}/artifacts`, deleted_time: null })
      .execute();
    await store.db
      .insertInto('runs')
      .values({ run_uuid: 'elsewhere', name: 'e', experiment_id: 0, user_id: 'u', status: 'RUNNING', start_time: now, end_time: null, lifecycle_stage: 'active', artifact_uri: 's3://bucket/x', deleted_time: null })
      .execute();
    await store.db.insertInto('registered_models').values({ name: 'clf', creation_time: now, last_updated_time: now, description: null }).execute();
    await store.db
      .insertInto('model_versions')
      .values({ name: 'clf', version: 1, creation_time: now, last_updated_time: now, description: null, user_id: null, current_stage: 'None', source: `runs:/${RUN}/model`, run_id: RUN, run_link: null, status: 'READY', status_message: null, storage_location: `mlflow-artifacts:/0/${RUN}/artifacts/model`, signature: null })
      .execute();
    app = await buildApp({ config, store, logger: silentLogger, clock: { now: () => Date.now() }, artifacts, inferenceObservers: [], onClose: [] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await app.close();
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  const proxy = (path: string) => `/api/2.0/mlflow-artifacts/artifacts/${path}`;

  it('uploads with any content type, downloads the same bytes, and audits the upload', async () => {
    const json = '{"not": "parsed"}';
    const put = await app.inject({ method: 'PUT', url: proxy(`0/${RUN}/artifacts/model/MLmodel`), headers: { 'content-type': 'application/json' }, payload: json });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({});
    const bin = Buffer.from([0, 1, 2, 255]);
    expect((await app.inject({ method: 'PUT', url: proxy(`0/${RUN}/artifacts/model/model.onnx`), payload: bin, headers: { 'content-type': 'application/octet-stream' } })).statusCode).toBe(200);
    expect((await app.inject({ method: 'PUT', url: proxy(`0/${RUN}/artifacts/notes.txt`), payload: 'hello', headers: { 'content-type': 'text/plain' } })).statusCode).toBe(200);

    const get = await app.inject({ method: 'GET', url: proxy(`0/${RUN}/artifacts/model/MLmodel`) });
    expect(get.statusCode).toBe(200);
    expect(get.body).toBe(json);
    expect(get.headers['content-type']).toBe('application/octet-stream');
    expect(get.headers.etag).toBe(`"${createHash('sha256').update(json).digest('hex')}"`);
    expect((await app.inject({ method: 'GET', url: proxy(`0/${RUN}/artifacts/model/model.onnx`) })).rawPayload).toEqual(bin);

    const events = await store.db.selectFrom('audit_events').selectAll().where('action', '=', 'artifact.put').execute();
    expect(events.map((e) => e.entity_id)).toContain(`0/${RUN}/artifacts/model/MLmodel`);
  });

  it('streams a large upload and download over real HTTP', async () => {
    const size = 32 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 3);
    let left = size / chunk.length;
    const body = Readable.from((function* () { while (left-- > 0) yield chunk; })());
    const res = await fetch(`http://127.0.0.1:${port}${proxy('big/blob.bin')}`, { method: 'PUT', body: Readable.toWeb(body) as ReadableStream, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    const down = await fetch(`http://127.0.0.1:${port}${proxy('big/blob.bin')}`);
    expect(down.headers.get('content-length')).toBe(String(size));
    let received = 0;
    for await (const c of down.body as unknown as AsyncIterable<Uint8Array>) received += c.length;
    expect(received).toBe(size);
  });

  it('lists a directory with basenames, sizes for files only, and {} when empty', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/2.0/mlflow-artifacts/artifacts?path=0/${RUN}/artifacts` });
    expect(res.json()).toEqual({ files: [{ path: 'model', is_dir: true }, { path: 'notes.txt', is_dir: false, file_size: 5 }] });
    const sub = await app.inject({ method: 'GET', url: `/ajax-api/2.0/mlflow-artifacts/artifacts?path=0/${RUN}/artifacts/model` });
    expect(sub.json()).toEqual({ files: [{ path: 'MLmodel', is_dir: false, file_size: 17 }, { path: 'model.onnx', is_dir: false, file_size: 4 }] });
    expect((await app.inject({ method: 'GET', url: '/api/2.0/mlflow-artifacts/artifacts?path=no/such/dir' })).json()).toEqual({});
    const root = await app.inject({ method: 'GET', url: '/api/2.0/mlflow-artifacts/artifacts' });
    expect(root.json().files.map((f: { path: string }) => f.path)).toEqual(['0', 'big']);
  });

  it('lists a run’s artifacts relative to its root, with root_uri', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/2.0/mlflow/artifacts/list?run_id=${RUN}` });
    expect(res.json()).toEqual({
      root_uri: `mlflow-artifacts:/0/${RUN}/artifacts`,
      files: [{ path: 'model', is_dir: true }, { path: 'notes.txt', is_dir: false, file_size: 5 }],
    });
    const sub = await app.inject({ method: 'GET', url: `/ajax-api/2.0/mlflow/artifacts/list?run_uuid=${RUN}&path=model` });
    expect(sub.json().files).toEqual([{ path: 'model/MLmodel', is_dir: false, file_size: 17 }, { path: 'model/model.onnx', is_dir: false, file_size: 4 }]);
    expect((await app.inject({ method: 'GET', url: `/api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=empty` })).json()).toEqual({ root_uri: `mlflow-artifacts:/0/${RUN}/artifacts` });
  });

  it('answers run listing mistakes in MLflow format', async () => {
    const missing = await app.inject({ method: 'GET', url: '/api/2.0/mlflow/artifacts/list' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: "Missing value for required parameter 'run_id'." });
    const unknown = await app.inject({ method: 'GET', url: '/api/2.0/mlflow/artifacts/list?run_id=nope' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Run with id=nope not found' });
    const traversal = await app.inject({ method: 'GET', url: `/api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=../../..` });
    expect(traversal.statusCode).toBe(400);
    expect(traversal.json()).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' });
    const foreign = await app.inject({ method: 'GET', url: '/api/2.0/mlflow/artifacts/list?run_id=elsewhere' });
    expect(foreign.statusCode).toBe(501);
    expect(foreign.json().error_code).toBe('NOT_IMPLEMENTED');
  });

  it('downloads through get-artifact for runs and model versions', async () => {
    const run = await app.inject({ method: 'GET', url: `/get-artifact?run_uuid=${RUN}&path=notes.txt` });
    expect(run.statusCode).toBe(200);
    expect(run.body).toBe('hello');
    const version = await app.inject({ method: 'GET', url: '/model-versions/get-artifact?name=clf&version=1&path=MLmodel' });
    expect(version.body).toBe('{"not": "parsed"}');
    const noVersion = await app.inject({ method: 'GET', url: '/model-versions/get-artifact?name=clf&version=9&path=MLmodel' });
    expect(noVersion.statusCode).toBe(404);
    const badVersion = await app.inject({ method: 'GET', url: '/model-versions/get-artifact?name=clf&version=x&path=MLmodel' });
    expect(badVersion.statusCode).toBe(400);
    const escape = await app.inject({ method: 'GET', url: '/model-versions/get-artifact?name=clf&version=1&path=../../../../slipway.db' });
    expect(escape.statusCode).toBe(400);
    expect(escape.json()).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' });
  });

  it("reads '.' as the folder itself in listings and downloads, as MLflow does, and still refuses '..'", async () => {
    const listed = await rawRequest(port, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=.`);
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.body)).toEqual({
      root_uri: `mlflow-artifacts:/0/${RUN}/artifacts`,
      files: [{ path: 'model', is_dir: true }, { path: 'notes.txt', is_dir: false, file_size: 5 }],
    });
    // download_artifacts(artifact_path='.') through the proxy: the run's root asked for as '<root>/.'.
    const proxied = await rawRequest(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=0%2F${RUN}%2Fartifacts%2F.`);
    expect(proxied.status).toBe(200);
    expect(JSON.parse(proxied.body)).toEqual({ files: [{ path: 'model', is_dir: true }, { path: 'notes.txt', is_dir: false, file_size: 5 }] });
    const sub = await rawRequest(port, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=./model/.`);
    expect(JSON.parse(sub.body).files.map((f: { path: string }) => f.path)).toEqual(['model/MLmodel', 'model/model.onnx']);
    const file = await rawRequest(port, 'GET', `/get-artifact?run_id=${RUN}&path=./notes.txt`);
    expect(file).toEqual({ status: 200, body: 'hello' });
    for (const path of ['..', './..', 'model/../..']) {
      const refused = await rawRequest(port, 'GET', `/api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=${encodeURIComponent(path)}`);
      expect(refused.status).toBe(400);
      expect(JSON.parse(refused.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' });
    }
    const root = await rawRequest(port, 'DELETE', proxy('.'));
    expect(root.status).toBe(400);
    expect(JSON.parse(root.body).message).toBe("Artifact path '.' is not allowed: it names no file.");
  });

  it("answers a path MLflow refuses with MLflow's exact error on every artifact route, the UI downloads and their doubled slash included", async () => {
    const invalid = { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' };
    for (const url of [
      `/api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=..%2Fpath`,
      `/ajax-api/2.0/mlflow/artifacts/list?run_id=${RUN}&path=%252e%252e%2Fpath`,
      `/get-artifact?run_id=${RUN}&path=..%2Fpath`,
      `/get-artifact?run_id=no-such-run&path=%2Fetc%2Fpasswd`,
      `/ajax-api/2.0/mlflow/get-artifact?run_id=${RUN}&path=file%3A%2F%2F%2Fetc%2Fpasswd`,
      '/model-versions/get-artifact?name=model&version=1&path=..%2Fpath',
      '//model-versions/get-artifact?name=model&version=1&path=..%2Fpath',
      `//get-artifact?run_id=${RUN}&path=notes.txt%23..`,
      '/api/2.0/mlflow-artifacts/artifacts?path=..%2F..',
      '/api/2.0/mlflow-artifacts/artifacts/a/..%252f..%252fslipway.db',
    ]) {
      const res = await rawRequest(port, 'GET', url);
      expect({ url, status: res.status, body: JSON.parse(res.body) }).toEqual({ url, status: 400, body: invalid });
    }
    // Where Slipway is stricter than MLflow, its own words say why, still in MLflow's shape.
    const nul = await rawRequest(port, 'GET', `/get-artifact?run_id=${RUN}&path=a%00b`);
    expect(nul.status).toBe(400);
    expect(JSON.parse(nul.body)).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: "Artifact path 'a\\x00b' is not allowed: it contains a NUL or control character." });
    // The UI downloads answer every error in MLflow's shape, not the native one.
    const absent = await rawRequest(port, 'GET', `/get-artifact?run_id=${RUN}&path=none.txt`);
    expect(absent.status).toBe(404);
    expect(JSON.parse(absent.body)).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: `Artifact '0/${RUN}/artifacts/none.txt' does not exist.` });
    const doubled = await rawRequest(port, 'GET', '//model-versions/get-artifact?name=clf&version=1&path=MLmodel');
    expect(doubled).toEqual({ status: 200, body: '{"not": "parsed"}' });
  });

  it('declines multipart upload so the MLflow client falls back to a single PUT', async () => {
    for (const op of ['create', 'complete', 'abort']) {
      const res = await app.inject({ method: 'POST', url: `/api/2.0/mlflow-artifacts/mpu/${op}/0/${RUN}/artifacts/big.bin`, payload: { path: 'big.bin', num_parts: 3 } });
      expect(res.statusCode).toBe(501);
      expect(res.json().error_code).toBe('NOT_IMPLEMENTED');
      expect(res.json().message.startsWith('Multipart upload is not supported for the current artifact repository')).toBe(true);
    }
    expect((await app.inject({ method: 'POST', url: '/api/2.0/mlflow-artifacts/mpu/explode/x' })).statusCode).toBe(404);
  });

  it('answers absent files with 404 and deletes files and folders', async () => {
    const absent = await app.inject({ method: 'GET', url: proxy('0/none.txt') });
    expect(absent.statusCode).toBe(404);
    expect(absent.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Artifact '0/none.txt' does not exist." });
    await app.inject({ method: 'PUT', url: proxy('tmpdir/a.txt'), payload: 'a', headers: { 'content-type': 'text/plain' } });
    await app.inject({ method: 'PUT', url: proxy('tmpdir/sub/b.txt'), payload: 'b', headers: { 'content-type': 'text/plain' } });
    expect((await app.inject({ method: 'DELETE', url: proxy('tmpdir/a.txt') })).json()).toEqual({});
    expect((await app.inject({ method: 'GET', url: proxy('tmpdir/a.txt') })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: proxy('tmpdir') })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/2.0/mlflow-artifacts/artifacts?path=tmpdir' })).json()).toEqual({});
  });

  it.each([
    '../escape.txt',
    '..%2fescape.txt',
    '%2e%2e/escape.txt',
    '%2E%2E%2Fescape.txt',
    '%252e%252e/escape.txt',
    '%25252e%25252e%25252fescape.txt',
    'a/%2e%2e/%2e%2e/escape.txt',
    '..%5cescape.txt',
    '%5c..%5cescape.txt',
    'a/..%00/escape.txt',
    '%2fetc%2fescape.txt',
    '/abs/escape.txt',
    'a//escape.txt',
  ])('refuses the traversal %s through real HTTP', async (tail) => {
    const put = await rawRequest(port, 'PUT', `/api/2.0/mlflow-artifacts/artifacts/${tail}`, 'pwned');
    expect([400, 404]).toContain(put.status);
    const get = await rawRequest(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts/${tail}`);
    expect([400, 404]).toContain(get.status);
    if (put.status === 400) expect(JSON.parse(put.body).error_code).toMatch(/INVALID_PARAMETER_VALUE|MALFORMED_REQUEST/);
    const listed = await rawRequest(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts?path=${tail}`);
    expect(listed.status).toBe(400);
    expect(existsSync(join(home, 'escape.txt'))).toBe(false);
    expect(existsSync(join(home, 'artifacts', 'escape.txt'))).toBe(false);
    expect(existsSync('/escape.txt')).toBe(false);
  });

  it('never writes or deletes through a link planted in the store', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'slipway-outside-'));
    try {
      writeFileSync(join(outside, 'victim.txt'), 'not yours');
      await artifacts.put('planted/keep.txt', Buffer.from('k'));
      symlinkSync(outside, join(artifacts.root, 'tree', 'planted', 'evil'));
      const put = await rawRequest(port, 'PUT', proxy('planted/evil/new.txt'), 'written outside');
      expect(put.status).toBe(500);
      expect(JSON.parse(put.body)).toMatchObject({ error_code: 'INTERNAL_ERROR', message: expect.stringContaining('symbolic link') });
      expect((await rawRequest(port, 'DELETE', proxy('planted/evil/victim.txt'))).status).toBe(500);
      expect(readdirSync(outside)).toEqual(['victim.txt']);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('sends each download with the size and ETag of the bytes it carries while the file is overwritten', async () => {
    const url = `http://127.0.0.1:${port}${proxy('race/model.bin')}`;
    // Versions of different sizes, so a mixed answer shows in the length as well as the digest.
    const versions = Array.from({ length: 8 }, (_, i) => Buffer.alloc(1024 * (i + 1), i));
    await fetch(url, { method: 'PUT', body: versions[0] });
    let writing = true;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; writing && i < 2000; i++) {
        const res = await fetch(url, { method: 'PUT', body: versions[(w + i) % versions.length], signal: AbortSignal.timeout(5000) }).catch(() => undefined);
        await res?.arrayBuffer().catch(() => undefined);
      }
    });
    let torn = 0;
    const deadline = Date.now() + 20_000;
    try {
      for (let i = 0; i < 100 && Date.now() < deadline; i++) {
        try {
          // A Content-Length larger than the bytes sent leaves the client waiting: that is torn too.
          const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
          const body = Buffer.from(await res.arrayBuffer());
          const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
          if (res.status !== 200 || res.headers.get('etag') !== etag || Number(res.headers.get('content-length')) !== body.length) torn++;
        } catch {
          torn++;
        }
      }
    } finally {
      writing = false;
      await Promise.allSettled(writers);
    }
    expect(torn).toBe(0);
  }, 60_000);

  it('never serves a file outside the store even if one sits next to it', async () => {
    writeFileSync(join(home, 'secret.txt'), 'top secret');
    for (const tail of ['../secret.txt', '..%2fsecret.txt', '%2e%2e%2fsecret.txt', '../../secret.txt', 'tree/../../secret.txt']) {
      const res = await rawRequest(port, 'GET', `/api/2.0/mlflow-artifacts/artifacts/${tail}`);
      expect(res.body).not.toContain('top secret');
      expect(res.status).toBeGreaterThanOrEqual(400);
    }
  });
});
