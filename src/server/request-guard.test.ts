/**
 * Host and Origin checks (DNS rebinding, cross-site requests) over real HTTP on loopback:
 * a full Slipway server with a served model (Fastify routes and the V2 infer fast route),
 * and the guard alone in front of a plain node:http server for the listen-host choices.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { silentLogger } from '../core/logger.js';
import { createRequestGuard, type RequestGuardOptions } from './request-guard.js';
import { startServer, type StartedServer } from './start-server.js';

const fixtures = join(import.meta.dirname, '../../test/fixtures');
const MLP = readFileSync(join(fixtures, 'breast_cancer_mlp.onnx'));
const ROW = (readFileSync(join(fixtures, 'breast_cancer_holdout.csv'), 'utf8').split('\n')[1] ?? '').split(',').slice(0, 30).map(Number);
const V2_BODY = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: [ROW] }] });

async function send(base: string, path: string, opts: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<{ status: number; text: string }> {
  const res = await request(`${base}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}), headersTimeout: 10_000, bodyTimeout: 10_000 });
  return { status: res.statusCode, text: await res.body.text() };
}

describe('a Slipway server checks Host and Origin', () => {
  let server: StartedServer;
  let home: string;
  let own: string;
  const json = { 'content-type': 'application/json' };

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-guard-'));
    server = await startServer(resolveConfig({ home, port: 0 }, {}, home), { logger: silentLogger });
    own = server.url;
    await server.ctx.store.db
      .insertInto('runs')
      .values({ run_uuid: 'r1', name: 'train', experiment_id: 0, user_id: 'u', status: 'FINISHED', start_time: 1, end_time: 2, lifecycle_stage: 'active', artifact_uri: 'mlflow-artifacts:/0/r1/artifacts', deleted_time: null })
      .execute();
    await server.ctx.artifacts?.put('0/r1/artifacts/model/model.onnx', MLP);
    const mlflow = (path: string, body: object) => send(own, `/api/2.0/mlflow${path}`, { method: 'POST', headers: json, body: JSON.stringify(body) });
    await mlflow('/registered-models/create', { name: 'cancer' });
    await mlflow('/model-versions/create', { name: 'cancer', source: 'mlflow-artifacts:/0/r1/artifacts/model', run_id: 'r1' });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('serves loopback names and IP addresses with any port', async () => {
    const port = new URL(own).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', '[::1]:8080', '127.0.0.1', '10.1.2.3:5000']) {
      expect((await send(own, '/health', { headers: { host } })).status, host).toBe(200);
    }
  });

  it('refuses a foreign Host on a Fastify route with 403 in the route family\'s error shape', async () => {
    const native = await send(own, '/health', { headers: { host: 'evil.example' } });
    expect(native.status).toBe(403);
    expect(JSON.parse(native.text)).toMatchObject({ error: { code: 'PERMISSION_DENIED', message: expect.stringContaining("Host 'evil.example'") } });
    expect(native.text).toContain('SLIPWAY_ALLOWED_HOSTS');
    const mlflow = await send(own, '/api/2.0/mlflow/experiments/search', { method: 'POST', headers: { ...json, host: 'evil.example:5000' }, body: '{}' });
    expect(mlflow.status).toBe(403);
    expect(JSON.parse(mlflow.text)).toMatchObject({ error_code: 'PERMISSION_DENIED', message: expect.stringContaining("Host 'evil.example:5000'") });
  });

  it('refuses a foreign Host on the V2 infer fast route and serves the same request with its own Host', async () => {
    const path = '/v2/models/cancer/versions/1/infer';
    const ok = await send(own, path, { method: 'POST', headers: json, body: V2_BODY });
    expect(ok.status, ok.text).toBe(200);
    const refused = await send(own, path, { method: 'POST', headers: { ...json, host: 'evil.example' }, body: V2_BODY });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text)).toEqual({ error: expect.stringContaining("Host 'evil.example'") });
  });

  it('refuses a state-changing request from a foreign Origin, body-less ones included', async () => {
    const create = await send(own, '/api/2.0/mlflow/experiments/create', { method: 'POST', headers: { ...json, origin: 'http://evil.example' }, body: JSON.stringify({ name: 'from-evil' }) });
    expect(create.status).toBe(403);
    expect(JSON.parse(create.text)).toMatchObject({ error_code: 'PERMISSION_DENIED', message: expect.stringContaining("Origin 'http://evil.example'") });
    const unload = await send(own, '/v2/repository/models/cancer/unload', { method: 'POST', headers: { origin: 'http://evil.example' } });
    expect(unload.status).toBe(403);
    // Origin 'null' (sandboxed frames, file pages) is foreign too.
    expect((await send(own, '/api/2.0/mlflow/experiments/create', { method: 'POST', headers: { ...json, origin: 'null' }, body: JSON.stringify({ name: 'from-null' }) })).status).toBe(403);
    const search = await send(own, '/api/2.0/mlflow/experiments/get-by-name?experiment_name=from-evil', { headers: {} });
    expect(JSON.parse(search.text)).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
  });

  it('refuses simple cross-site requests without Origin that a browser marks with Sec-Fetch-Site', async () => {
    const form = await send(own, '/api/2.0/mlflow/experiments/delete', { method: 'POST', headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' }, body: '{"experiment_id":"0"}' });
    expect(form.status).toBe(403);
    expect(form.text).toContain('Sec-Fetch-Site: cross-site');
    const bodyless = await send(own, '/v2/repository/models/cancer/unload', { method: 'POST', headers: { 'sec-fetch-site': 'same-site' } });
    expect(bodyless.status).toBe(403);
  });

  it('accepts state-changing requests from its own origin', async () => {
    const res = await send(own, '/api/2.0/mlflow/experiments/create', { method: 'POST', headers: { ...json, origin: own, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ name: 'from-own-origin' }) });
    expect(res.status, res.text).toBe(200);
    const viaLocalhost = `http://localhost:${new URL(own).port}`;
    const res2 = await send(own, '/api/2.0/mlflow/experiments/create', { method: 'POST', headers: { ...json, host: new URL(viaLocalhost).host, origin: viaLocalhost }, body: JSON.stringify({ name: 'from-localhost' }) });
    expect(res2.status, res2.text).toBe(200);
  });

  it('accepts MLflow-style JSON requests and binary uploads without Origin, as MLflow, curl and tritonclient send them', async () => {
    const created = await send(own, '/api/2.0/mlflow/experiments/create', { method: 'POST', headers: { ...json, 'user-agent': 'mlflow-python-client/3.1.0' }, body: JSON.stringify({ name: 'from-python' }) });
    expect(created.status, created.text).toBe(200);
    const upload = await send(own, '/api/2.0/mlflow-artifacts/artifacts/0/r1/artifacts/notes.bin', { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([1, 2, 3]) });
    expect(upload.status, upload.text).toBe(200);
    // Node's fetch sends Sec-Fetch-Mode but neither Origin nor Sec-Fetch-Site.
    const viaFetch = await fetch(`${own}/api/2.0/mlflow/experiments/create`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'from-fetch' }) });
    expect(viaFetch.status).toBe(200);
  });
});

describe('Host and Origin options', () => {
  it('read from the environment and from slipway.yaml lists, flags winning', () => {
    const home = mkdtempSync(join(tmpdir(), 'slipway-guard-'));
    try {
      writeFileSync(join(home, 'slipway.yaml'), 'server:\n  allowedHosts:\n    - mlflow.example.com\n    - "*.models.example"\n  corsAllowedOrigins: [https://ui.example.com]\n  outboundAllowedHosts: [hooks.internal, 10.0.0.0/8]\n');
      const fromFile = resolveConfig({}, {}, home);
      expect(fromFile).toMatchObject({ allowedHosts: ['mlflow.example.com', '*.models.example'], corsAllowedOrigins: ['https://ui.example.com'], outboundAllowedHosts: ['hooks.internal', '10.0.0.0/8'] });
      expect(resolveConfig({}, { SLIPWAY_ALLOWED_HOSTS: 'a.example, b.example', SLIPWAY_CORS_ALLOWED_ORIGINS: 'https://x.example' }, home)).toMatchObject({ allowedHosts: ['a.example', 'b.example'], corsAllowedOrigins: ['https://x.example'] });
      expect(resolveConfig({ allowedHosts: 'c.example' }, { SLIPWAY_ALLOWED_HOSTS: 'a.example' }, home).allowedHosts).toEqual(['c.example']);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('the request guard on its own', () => {
  const servers: Server[] = [];
  async function guarded(options: RequestGuardOptions): Promise<string> {
    const guard = createRequestGuard(options);
    const s = createServer((req, res) => {
      if (!guard(req, res)) res.end('ok');
    });
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  }
  afterAll(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
  });

  it('answers any Host when listening on every interface without allowedHosts', async () => {
    for (const listenHost of ['0.0.0.0', '::']) {
      const base = await guarded({ listenHost, allowedHosts: [], corsAllowedOrigins: [] });
      expect((await send(base, '/', { headers: { host: 'slipway.cluster.local:5000' } })).status).toBe(200);
    }
  });

  it('answers only the configured names once allowedHosts is set, loopback names and IP addresses still', async () => {
    const base = await guarded({ listenHost: '0.0.0.0', allowedHosts: ['mlflow.example.com', '*.models.example', 'pinned.example:8443'], corsAllowedOrigins: [] });
    for (const host of ['mlflow.example.com', 'MLflow.Example.com:5000', 'a.models.example', 'pinned.example:8443', 'localhost:1', '192.168.1.9:5000']) {
      expect((await send(base, '/', { headers: { host } })).status, host).toBe(200);
    }
    for (const host of ['evil.example', 'models.example', 'pinned.example:9000', 'mlflow.example.com.evil.example']) {
      expect((await send(base, '/', { headers: { host } })).status, host).toBe(403);
    }
  });

  it('answers the listen host by name', async () => {
    const base = await guarded({ listenHost: 'slipway.internal', allowedHosts: [], corsAllowedOrigins: [] });
    expect((await send(base, '/', { headers: { host: 'slipway.internal:5000' } })).status).toBe(200);
    expect((await send(base, '/', { headers: { host: 'other.internal:5000' } })).status).toBe(403);
  });

  it('accepts the origins an operator allows', async () => {
    const base = await guarded({ listenHost: '127.0.0.1', allowedHosts: [], corsAllowedOrigins: ['https://ui.example.com/'] });
    expect((await send(base, '/', { method: 'POST', headers: { origin: 'https://ui.example.com', 'content-type': 'text/plain' }, body: 'x' })).status).toBe(200);
    expect((await send(base, '/', { method: 'DELETE', headers: { origin: 'https://other.example.com' } })).status).toBe(403);
    // Reading is not refused: without CORS headers the page cannot see the answer.
    expect((await send(base, '/', { headers: { origin: 'https://other.example.com' } })).status).toBe(200);
  });
});
