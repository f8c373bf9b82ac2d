/**
 * Monitoring data with access control on: a report over stored windows or over a model
 * version's reference reads that model's monitoring data, so it needs what reading the
 * windows or the reference directly needs (the monitoring right or MANAGE on the model);
 * the list of monitored models is an administrator's; bad model URIs and times out of a
 * date's range are a 400.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { attachReference, profileTable, tableFromRows } from '../../monitoring/index.js';
import { startServer, type StartedServer } from '../start-server.js';

const API = '/api/v1/monitoring';
const root = mkdtempSync(join(tmpdir(), 'slipway-monitoring-access-'));
const admin = `Basic ${Buffer.from('admin:admin-password-1').toString('base64')}`;
const bob = `Basic ${Buffer.from('bob:bob-password-123').toString('base64')}`;
const rows = (n: number, shift: number): Array<{ a: number; b: number }> => Array.from({ length: n }, (_, i) => ({ a: ((i * 37) % 101) / 101, b: ((i * 53) % 97) / 97 + shift }));

let server: StartedServer;
const starts: Record<string, number> = {};
const as = (authorization: string | undefined, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
  server.app.inject({ method, url, headers: authorization ? { authorization } : {}, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });

beforeAll(async () => {
  const home = join(root, 'home');
  mkdirSync(home);
  server = await startServer(resolveConfig({ home, port: 0, auth: true }, { SLIPWAY_AUTH_DEFAULT_PERMISSION: 'NO_PERMISSIONS' }, home), { logger: silentLogger, adminPassword: 'admin-password-1' });
  expect((await as(admin, 'POST', '/api/v1/users', { username: 'bob', password: 'bob-password-123' })).statusCode).toBe(201);
  for (const model of ['open', 'secret']) {
    expect((await as(admin, 'POST', '/api/2.0/mlflow/registered-models/create', { name: model })).statusCode).toBe(200);
    await attachReference(server.ctx.store, model, '1', profileTable(tableFromRows(rows(200, 0), 'reference')), 'holdout', { time: Date.now() });
    const current = rows(100, 2);
    for (const o of server.ctx.inferenceObservers) {
      o.observe({ model, version: '1', requestId: `r-${model}`, time: Date.now(), latencyMs: 1, rows: current.length, inputs: Float32Array.from(current.flatMap((r) => [r.a, r.b])), columns: ['a', 'b'] });
    }
  }
  expect((await as(admin, 'POST', `${API}/windows/flush`)).statusCode).toBe(200);
  for (const model of ['open', 'secret']) {
    const listed = (await as(admin, 'GET', `${API}/models/${model}/windows`)).json() as { windows: Array<{ windowStart: number }> };
    starts[model] = (listed.windows[0] as { windowStart: number }).windowStart;
  }
  // MANAGE on 'open' carries the monitoring of it; nothing on 'secret'.
  expect((await as(admin, 'PUT', '/api/v1/permissions', { model: 'open', username: 'bob', permission: 'MANAGE' })).statusCode).toBeLessThan(300);
}, 30_000);
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('monitoring data with access control on', () => {
  it('reports over the windows of a model the caller may monitor, and refuses those of another', async () => {
    const mine = await as(bob, 'POST', `${API}/reports`, { reference: { rows: rows(50, 0) }, current: { windows: { model: 'open' } } });
    expect(mine.statusCode).toBe(200);
    const theirs = await as(bob, 'POST', `${API}/reports?format=html`, { reference: { rows: rows(50, 0) }, current: { windows: { model: 'secret' } } });
    expect(theirs.statusCode).toBe(403);
    expect(theirs.body).not.toContain('secret version 1');
    const asReference = await as(bob, 'POST', `${API}/reports`, { reference: { windows: { model: 'secret', version: '1' } }, current: { rows: rows(50, 0) } });
    expect(asReference.statusCode).toBe(403);
    expect((await as(admin, 'POST', `${API}/reports`, { reference: { rows: rows(50, 0) }, current: { windows: { model: 'secret' } } })).statusCode).toBe(200);
  });

  it("refuses a report over another model's reference profile as reading the reference does", async () => {
    expect((await as(bob, 'GET', `${API}/models/secret/versions/1/reference`)).statusCode).toBe(403);
    const res = await as(bob, 'POST', `${API}/reports`, { reference: { model: 'models:/secret/1' }, current: { rows: rows(50, 0) } });
    expect(res.statusCode).toBe(403);
  });

  it('keeps the monitored-model list and the windows of other models from a user', async () => {
    expect((await as(bob, 'GET', `${API}/models`)).statusCode).toBe(403);
    expect((await as(bob, 'GET', `${API}/models/secret/windows/${starts.secret}`)).statusCode).toBe(403);
    expect((await as(bob, 'GET', `${API}/models/open/windows/${starts.open}`)).statusCode).toBe(200);
    // A caller who is not signed in learns nothing but that signing in is needed.
    for (const [method, url, payload] of [
      ['POST', `${API}/reports`, { reference: { rows: rows(50, 0) }, current: { windows: { model: 'open' } } }],
      ['GET', `${API}/models`, undefined],
      ['GET', `${API}/models/open/windows/${starts.open}`, undefined],
      ['GET', `${API}/models/nobody/windows/1`, undefined],
    ] as const) {
      const res = await as(undefined, method, url, payload);
      expect(res.statusCode, url).toBe(401);
      expect(res.body, url).not.toMatch(/open|nobody|windowStart/);
    }
    const health = (await as(undefined, 'GET', '/api/v1/health')).json() as Record<string, unknown>;
    expect(health.auth).toBe(true);
    expect(JSON.stringify(health)).not.toMatch(/open|secret|bob/);
  });

  it('answers times beyond what a date can hold with 400 naming the field, not 500', async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['GET', `${API}/models/open/windows/9007199254740991`, undefined, /'windowStart' must be epoch milliseconds/],
      ['POST', `${API}/reports`, { reference: { rows: rows(50, 0) }, current: { windows: { model: 'open', from: 1e300 } } }, /'current\.windows\.from' must be epoch milliseconds/],
      ['POST', `${API}/reports`, { reference: { rows: rows(50, 0) }, current: { windows: { model: 'open', to: 8.7e15 } } }, /'current\.windows\.to' must be epoch milliseconds/],
      ['GET', `${API}/models/open/windows?from=1e300`, undefined, /'from' must be epoch milliseconds/],
    ];
    for (const [method, url, payload, message] of cases) {
      const res = await as(admin, method as 'GET' | 'POST', url, payload);
      expect(res.statusCode, url).toBe(400);
      expect((res.json() as { error: { message: string } }).error.message, url).toMatch(message);
    }
  });

  it('escapes column names and sources in an HTML report', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    const data = (shift: number) => rows(50, shift).map((r) => ({ [evil]: r.a, b: r.b }));
    const res = await as(admin, 'POST', `${API}/reports?format=html`, { reference: { rows: data(0) }, current: { rows: data(1) } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(res.body).not.toContain(evil);
  });

  it('answers a model URI that is not valid percent-encoding with 400, not 500', async () => {
    const res = await as(admin, 'POST', `${API}/reports`, { reference: { model: 'models:/%E0%A4/1' }, current: { rows: rows(50, 0) } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/'model' must be models:\/NAME@ALIAS or models:\/NAME\/VERSION/);
  });
});
