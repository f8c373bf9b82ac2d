import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import { resolveConfig } from '../config.js';
import { SlipwayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { openStore, type Store } from '../store/store.js';
import { buildApp } from './app.js';

const logged: Array<{ level: string; obj: unknown; msg?: string }> = [];
const capturingLogger: Logger = {
  debug: () => {},
  info: (obj, msg) => void logged.push({ level: 'info', obj, msg }),
  warn: (obj, msg) => void logged.push({ level: 'warn', obj, msg }),
  error: (obj, msg) => void logged.push({ level: 'error', obj, msg }),
};

describe('app infrastructure', () => {
  let home: string;
  let store: Store;
  let app: FastifyInstance;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-app-'));
    const config = { ...resolveConfig({ home }, {}, home), bodyLimit: 1024 };
    store = await openStore(config.backendStoreUri);
    app = await buildApp({ config, store, logger: capturingLogger, clock: { now: () => Date.now() }, artifacts: new LocalArtifactStore(config.artifactsDestination), inferenceObservers: [], onClose: [] });
    for (const prefix of ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow', '/api/v1']) {
      app.get(`${prefix}/test/missing`, async () => {
        throw new SlipwayError('NOT_FOUND', "Run 'abc' does not exist.", { runId: 'abc' });
      });
      app.get(`${prefix}/test/crash`, async () => {
        throw new Error('secret connection string postgres://user:pw@db');
      });
      app.post(`${prefix}/test/echo`, async (request) => ({ body: request.body ?? null, requestId: request.id }));
    }
    app.get('/api/v1/test/zod', async () => z.object({ n: z.number() }).parse({ n: 'x' }));
    app.get('/api/v1/test/overloaded', async () => {
      throw new SlipwayError('OVERLOADED', 'Queue full.', { retryAfterSeconds: 1.2 });
    });
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    await store.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('answers MLflow health with OK and native health with JSON status', async () => {
    const plain = await app.inject({ method: 'GET', url: '/health' });
    expect(plain.statusCode).toBe(200);
    expect(plain.body).toBe('OK');
    const json = await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ status: 'ok', version: '0.1.0', store: { backend: 'sqlite', status: 'ok' }, auth: false });
  });

  it('echoes a valid x-request-id, generates one otherwise, and hands it to handlers', async () => {
    const given = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'x-request-id': 'ci-build-42' }, payload: { a: 1 } });
    expect(given.headers['x-request-id']).toBe('ci-build-42');
    expect(given.json()).toEqual({ body: { a: 1 }, requestId: 'ci-build-42' });
    const generated = await app.inject({ method: 'POST', url: '/api/v1/test/echo', payload: {} });
    expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(generated.json().requestId).toBe(generated.headers['x-request-id']);
    const hostile = await app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'a b\tc' } });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const onError = await app.inject({ method: 'GET', url: '/api/v1/test/missing', headers: { 'x-request-id': 'trace-1' } });
    expect(onError.headers['x-request-id']).toBe('trace-1');
  });

  it('maps a SlipwayError to MLflow error bodies on MLflow paths', async () => {
    for (const prefix of ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow']) {
      const res = await app.inject({ method: 'GET', url: `${prefix}/test/missing` });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: "Run 'abc' does not exist." });
    }
  });

  it('maps a SlipwayError to the native error body elsewhere', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/test/missing' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: "Run 'abc' does not exist.", details: { runId: 'abc' } } });
  });

  it('names the JSON syntax problem in a 400 MALFORMED_REQUEST', async () => {
    const mlflow = await app.inject({ method: 'POST', url: '/api/2.0/mlflow/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"run_id": "x",' });
    expect(mlflow.statusCode).toBe(400);
    expect(mlflow.json().error_code).toBe('MALFORMED_REQUEST');
    expect(mlflow.json().message).toMatch(/^The request body is not valid JSON: .+/);
    const native = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: '{nope}' });
    expect(native.statusCode).toBe(400);
    expect(native.json().error.code).toBe('MALFORMED_REQUEST');
    expect(native.json().error.message).toMatch(/position|property name|token/i);
  });

  it('treats an empty JSON body as no body', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: '' });
    expect(res.statusCode).toBe(200);
    expect(res.json().body).toBeNull();
  });

  it('refuses prototype-poisoning keys', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: '{"a": {"__proto__": {"admin": true}}}' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toContain('__proto__');
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('answers a body over the limit with 413', async () => {
    const big = JSON.stringify({ value: 'x'.repeat(2048) });
    const mlflow = await app.inject({ method: 'POST', url: '/api/2.0/mlflow/test/echo', headers: { 'content-type': 'application/json' }, payload: big });
    expect(mlflow.statusCode).toBe(413);
    expect(mlflow.json().error_code).toBe('INVALID_PARAMETER_VALUE');
    const native = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'content-type': 'application/json' }, payload: big });
    expect(native.statusCode).toBe(413);
    expect(native.json().error).toEqual({ code: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than the limit of 1024 bytes.' });
  });

  it('answers an unsupported content type with 415', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/test/echo', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(res.json().error.message).toContain('application/xml');
  });

  it('answers unknown routes with 404 in the caller’s format', async () => {
    const mlflow = await app.inject({ method: 'GET', url: '/api/2.0/mlflow/no-such-thing?x=1' });
    expect(mlflow.statusCode).toBe(404);
    expect(mlflow.json()).toEqual({ error_code: 'ENDPOINT_NOT_FOUND', message: 'No endpoint GET /api/2.0/mlflow/no-such-thing.' });
    const native = await app.inject({ method: 'DELETE', url: '/api/v1/nowhere' });
    expect(native.statusCode).toBe(404);
    expect(native.json().error).toMatchObject({ code: 'ENDPOINT_NOT_FOUND', message: 'No endpoint DELETE /api/v1/nowhere.' });
  });

  it('answers an unexpected fault with 500, logging it without leaking it', async () => {
    logged.length = 0;
    const mlflow = await app.inject({ method: 'GET', url: '/api/2.0/mlflow/test/crash', headers: { 'x-request-id': 'fault-7' } });
    expect(mlflow.statusCode).toBe(500);
    expect(mlflow.json()).toEqual({ error_code: 'INTERNAL_ERROR', message: 'Internal server error (request id fault-7); the server log has details.' });
    const native = await app.inject({ method: 'GET', url: '/api/v1/test/crash', headers: { 'x-request-id': 'fault-8' } });
    expect(native.statusCode).toBe(500);
    expect(native.json()).toEqual({ error: { code: 'INTERNAL', message: 'Internal server error (request id fault-8); the server log has details.' } });
    expect(logged.filter((l) => l.level === 'error')).toHaveLength(2);
    expect(JSON.stringify((logged[0]?.obj as { err: Error }).err.message)).toContain('secret connection string');
  });

  it('maps a zod validation error to 400 naming the field', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/test/zod' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('INVALID_ARGUMENT');
    expect(res.json().error.message).toContain("'n'");
  });

  it('sets Retry-After when an error says when to retry', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/test/overloaded' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
  });

  it('writes an access log line per request when debug logging is on', async () => {
    const lines: unknown[] = [];
    const debugLogger: Logger & { isLevelEnabled(level: string): boolean } = { ...capturingLogger, debug: (obj) => void lines.push(obj), isLevelEnabled: () => true };
    const debugApp = await buildApp({ config: resolveConfig({ home }, {}, home), store, logger: debugLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [] });
    try {
      await debugApp.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'logged-1' } });
      expect(lines).toContainEqual(expect.objectContaining({ reqId: 'logged-1', method: 'GET', url: '/health', status: 200 }));
    } finally {
      await debugApp.close();
    }
  });
});
