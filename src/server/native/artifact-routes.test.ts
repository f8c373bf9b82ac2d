import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalArtifactStore } from '../../artifacts/local-artifact-store.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';

const ONNX = readFileSync(new URL('../../../test/fixtures/breast_cancer_mlp.onnx', import.meta.url));
/** A JSON bodyLimit far below the uploads below, to show uploads are not held to it. */
const JSON_BODY_LIMIT = 64 * 1024;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Sends a request with the path exactly as written (no client-side normalisation of '..' or '%2e'). */
function rawRequest(port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((done, fail) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end(body);
  });
}

/** Announces `announced` bytes, sends `sent` of them, then drops the connection: a client that dies mid-upload. */
function abortedUpload(port: number, path: string, announced: number, sent: number): Promise<void> {
  return new Promise((done) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'PUT', path, headers: { 'content-length': announced, 'content-type': 'application/octet-stream' } });
    req.on('error', () => done());
    req.on('close', () => done());
    req.write(randomBytes(sent), () => setTimeout(() => req.destroy(), 100));
  });
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

describe.each(DIALECTS)('native artifact API on $name', (dialect) => {
  let t: TestApp;
  let port: number;
  let runId: string;
  beforeAll(async () => {
    t = await openTestApp(dialect, undefined, { bodyLimit: JSON_BODY_LIMIT });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
    runId = (await t.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { runName: 'artifacts' } })).json().info.runId as string;
  });
  afterAll(() => t.close());

  const runUrl = (path: string) => `/api/v1/runs/${runId}/artifacts/${path}`;

  it("uploads a run's files, lists them relative to the run's root, downloads them with length and ETag, and audits each upload", async () => {
    const put = await t.app.inject({ method: 'PUT', url: runUrl('model/model.onnx'), payload: ONNX, headers: { 'content-type': 'application/octet-stream', 'x-request-id': 'upload-1' } });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual({ path: 'model/model.onnx', size: ONNX.length, sha256: sha256(ONNX) });
    // A JSON file sent as application/json is stored as sent, never parsed (this one is not even valid JSON).
    const notJson = '{"threshold": 0.5,';
    const json = await t.app.inject({ method: 'PUT', url: runUrl('model/config.json'), payload: notJson, headers: { 'content-type': 'application/json' } });
    expect(json.statusCode).toBe(200);
    await t.app.inject({ method: 'PUT', url: runUrl('notes.txt'), payload: 'hello', headers: { 'content-type': 'text/plain' } });

    const run = (await t.app.inject({ url: `/api/v1/runs/${runId}` })).json() as { info: { artifactUri: string } };
    const root = (await t.app.inject({ url: `/api/v1/runs/${runId}/artifacts` })).json();
    expect(root).toEqual({ rootUri: run.info.artifactUri, files: [{ path: 'model', isDir: true }, { path: 'notes.txt', isDir: false, size: 5 }] });
    const sub = (await t.app.inject({ url: `/api/v1/runs/${runId}/artifacts?path=model` })).json();
    expect(sub.files).toEqual([
      { path: 'model/config.json', isDir: false, size: notJson.length },
      { path: 'model/model.onnx', isDir: false, size: ONNX.length },
    ]);
    expect((await t.app.inject({ url: `/api/v1/runs/${runId}/artifacts?path=no/such/folder` })).json()).toEqual({ rootUri: run.info.artifactUri, files: [] });

    const got = await t.app.inject({ url: runUrl('model/model.onnx') });
    expect(got.statusCode).toBe(200);
    expect(got.rawPayload.equals(ONNX)).toBe(true);
    expect(got.headers['content-type']).toBe('application/octet-stream');
    expect(got.headers['content-length']).toBe(String(ONNX.length));
    expect(got.headers.etag).toBe(`"${sha256(ONNX)}"`);
    expect(got.headers['content-disposition']).toBe("attachment; filename*=UTF-8''model.onnx");
    expect((await t.app.inject({ url: runUrl('model/config.json') })).body).toBe(notJson);

    const events = (await t.app.inject({ url: '/api/v1/audit/events?action=artifact.put&limit=1000' })).json() as { events: Array<{ entityType: string; entityId: string; requestId: string }> };
    const stored = run.info.artifactUri.replace(/^mlflow-artifacts:\/*/, '');
    expect(events.events).toContainEqual(expect.objectContaining({ entityType: 'artifact', entityId: `${stored}/model/model.onnx`, requestId: 'upload-1' }));
  });

  it('streams an upload far above the JSON bodyLimit over real HTTP, and the JSON routes keep their limit', async () => {
    const size = 6 * 1024 * 1024 + 123;
    const data = randomBytes(size);
    async function* chunks() {
      for (let at = 0; at < size; at += 256 * 1024) yield data.subarray(at, Math.min(size, at + 256 * 1024));
    }
    const res = await fetch(`http://127.0.0.1:${port}${runUrl('data/big.bin')}`, { method: 'PUT', body: ReadableStream.from(chunks()), duplex: 'half', headers: { 'content-type': 'application/octet-stream' } } as RequestInit);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: 'data/big.bin', size, sha256: sha256(data) });
    const down = await fetch(`http://127.0.0.1:${port}${runUrl('data/big.bin')}`);
    expect(down.headers.get('content-length')).toBe(String(size));
    expect(Buffer.from(await down.arrayBuffer()).equals(data)).toBe(true);

    const tooBig = await t.app.inject({ method: 'POST', url: `/api/v1/runs/${runId}/log`, payload: { params: { p: 'x'.repeat(JSON_BODY_LIMIT) } } });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json()).toMatchObject({ error: { code: 'PAYLOAD_TOO_LARGE' } });
  });

  it('keeps nothing of an upload the client abandons, and the file it was replacing stays whole', async () => {
    const artifacts = t.ctx.artifacts as LocalArtifactStore;
    const before = Buffer.from('version 1');
    expect((await t.app.inject({ method: 'PUT', url: runUrl('partial/kept.bin'), payload: before })).statusCode).toBe(200);
    await abortedUpload(port, runUrl('partial/kept.bin'), 4 * 1024 * 1024, 512 * 1024);
    await abortedUpload(port, runUrl('partial/new.bin'), 4 * 1024 * 1024, 512 * 1024);
    await abortedUpload(port, '/api/v1/artifacts/models/abandoned/model.onnx', 4 * 1024 * 1024, 512 * 1024);
    // The server removes the temp files once it gives up on the connection (at most 5 s after a client's FIN).
    expect(await until(() => readdirSync(join(artifacts.root, 'tmp')).length === 0, 10_000)).toBe(true);
    const listed = (await t.app.inject({ url: `/api/v1/runs/${runId}/artifacts?path=partial` })).json() as { files: Array<{ path: string; size: number }> };
    expect(listed.files).toEqual([{ path: 'partial/kept.bin', isDir: false, size: before.length }]);
    expect((await t.app.inject({ url: runUrl('partial/kept.bin') })).rawPayload.equals(before)).toBe(true);
    expect((await t.app.inject({ url: runUrl('partial/new.bin') })).statusCode).toBe(404);
    expect((await t.app.inject({ url: '/api/v1/artifacts/models/abandoned/model.onnx' })).statusCode).toBe(404);
  });

  it('stores a model file at the store level and registers it with its ONNX signature, as a file registered from the command line', async () => {
    const path = `models/${randomBytes(8).toString('hex')}/model.onnx`;
    const put = await t.app.inject({ method: 'PUT', url: `/api/v1/artifacts/${path}`, payload: ONNX, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.statusCode).toBe(200);
    const stored = put.json() as { path: string; size: number; sha256: string; uri: string };
    expect(stored).toEqual({ path, size: ONNX.length, sha256: sha256(ONNX), uri: `mlflow-artifacts:/${path}` });
    const got = await t.app.inject({ url: `/api/v1/artifacts/${path}` });
    expect(got.rawPayload.equals(ONNX)).toBe(true);
    expect(got.headers.etag).toBe(`"${stored.sha256}"`);

    // The command line stores the file straight into the artifact store and registers mlflow-artifacts:/<path>.
    await t.ctx.artifacts?.put('models/direct/model.onnx', ONNX);
    await t.app.inject({ method: 'POST', url: '/api/v1/models', payload: { name: 'uploaded' } });
    const viaApi = (await t.app.inject({ method: 'POST', url: '/api/v1/models/uploaded/versions', payload: { source: stored.uri } })).json() as { status: string; source: string; signature: { format: string; path: string; inputs: unknown[]; outputs: unknown[] } };
    const direct = (await t.app.inject({ method: 'POST', url: '/api/v1/models/uploaded/versions', payload: { source: 'mlflow-artifacts:/models/direct/model.onnx' } })).json() as typeof viaApi;
    expect(viaApi.status).toBe('READY');
    expect(viaApi.source).toBe(stored.uri);
    expect(viaApi.signature).toMatchObject({ format: 'onnx', path, inputs: [{ name: 'features', type: 'float32', shape: [expect.anything(), 30] }] });
    expect({ ...viaApi.signature, path: undefined }).toEqual({ ...direct.signature, path: undefined });
  });

  it('answers unknown and deleted runs, missing files and bad ids with catalogued errors', async () => {
    const unknown = '0123456789abcdef0123456789abcdef';
    for (const [method, url] of [['GET', `/api/v1/runs/${unknown}/artifacts`], ['GET', `/api/v1/runs/${unknown}/artifacts/a.txt`], ['PUT', `/api/v1/runs/${unknown}/artifacts/a.txt`]] as const) {
      const res = await t.app.inject({ method, url, ...(method === 'PUT' ? { payload: 'x' } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json(), `${method} ${url}`).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining(unknown) } });
    }
    const missing = await t.app.inject({ url: runUrl('model/absent.onnx') });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining("'model/absent.onnx'") } });
    const missingInStore = await t.app.inject({ url: '/api/v1/artifacts/models/none/model.onnx' });
    expect(missingInStore.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('models/none/model.onnx') } });
    const badId = await t.app.inject({ method: 'PUT', url: '/api/v1/runs/not-a-run/artifacts/a.txt', payload: 'x' });
    expect(badId.statusCode).toBe(400);
    expect(badId.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining("path parameter 'runId'") } });

    const doomed = (await t.app.inject({ method: 'POST', url: '/api/v1/runs', payload: {} })).json().info.runId as string;
    await t.app.inject({ method: 'PUT', url: `/api/v1/runs/${doomed}/artifacts/before.txt`, payload: 'kept' });
    await t.app.inject({ method: 'DELETE', url: `/api/v1/runs/${doomed}` });
    const refused = await t.app.inject({ method: 'PUT', url: `/api/v1/runs/${doomed}/artifacts/after.txt`, payload: 'x' });
    expect(refused.statusCode).toBe(404);
    expect(refused.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringMatching(new RegExp(`${doomed} is deleted; restore it`)) } });
    // What a deleted run already holds can still be read, as the run itself can.
    expect((await t.app.inject({ url: `/api/v1/runs/${doomed}/artifacts/before.txt` })).body).toBe('kept');
  });

  it('refuses paths that climb out, are absolute or are encoded to hide either, and writes nothing outside the store', async () => {
    const artifacts = t.ctx.artifacts as LocalArtifactStore;
    const outside = join(artifacts.root, '..', 'secret.txt');
    writeFileSync(outside, 'top secret');
    const tails = ['../secret.txt', '..%2fsecret.txt', '%2e%2e/%2e%2e/secret.txt', 'a/../../secret.txt', '%2Fetc%2Fpasswd', '/etc/passwd', '%252e%252e/secret.txt', 'a%00b', 'a\\..\\b'];
    for (const base of [`/api/v1/runs/${runId}/artifacts/`, '/api/v1/artifacts/']) {
      for (const tail of tails) {
        for (const method of ['GET', 'PUT']) {
          const res = await rawRequest(port, method, base + tail, method === 'PUT' ? Buffer.from('written outside') : undefined);
          const where = `${method} ${base}${tail}`;
          expect(res.status, where).toBe(400);
          expect(JSON.parse(res.body.toString()), where).toMatchObject({ error: { code: expect.stringMatching(/^(PATH_NOT_ALLOWED|MALFORMED_REQUEST)$/), message: expect.any(String) } });
          expect(res.body.toString(), where).not.toContain('top secret');
        }
      }
    }
    for (const dir of ['..', '../..', '/etc', '%2e%2e', 'a/../..']) {
      const res = await rawRequest(port, 'GET', `/api/v1/runs/${runId}/artifacts?path=${encodeURIComponent(dir)}`);
      expect(res.status, dir).toBe(400);
      expect(JSON.parse(res.body.toString()), dir).toMatchObject({ error: { code: 'PATH_NOT_ALLOWED', message: expect.stringContaining('is not allowed') } });
    }
    expect(readFileSync(outside, 'utf8')).toBe('top secret');
  });
});
