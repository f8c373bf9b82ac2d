/**
 * GET /api/v1/serving/stats on `slipway server`: empty while nothing is served, then the
 * cumulative counts by outcome and the latency histogram move with inference requests,
 * and the query is validated.
 */
import { mkdirSync, mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import type { ServingStats } from '../../client/schemas/serving.js';
import { fixture, holdout } from '../../../test/support/serving.js';
import { startServer, type StartedServer } from '../start-server.js';
import { mergeServingStats } from './serving-stats-routes.js';

const cancer = holdout('breast_cancer');
const root = mkdtempSync(join(tmpdir(), 'slipway-serving-stats-'));
const models = join(root, 'models');
mkdirSync(models);
copyFileSync(fixture('breast_cancer_mlp.onnx'), join(models, 'cancer.onnx'));

let server: StartedServer;
beforeAll(async () => {
  const home = join(root, 'home');
  mkdirSync(home);
  server = await startServer(resolveConfig({ home, port: 0 }, { SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS: models }, home), { logger: silentLogger });
}, 30_000);
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const stats = async (query = ''): Promise<ServingStats> => {
  const res = await server.app.inject({ method: 'GET', url: `/api/v1/serving/stats${query}` });
  expect(res.statusCode).toBe(200);
  return res.json<ServingStats>();
};
const infer = (model: string, data: unknown) => server.app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data }] } });

describe('GET /api/v1/serving/stats', () => {
  it('answers an empty list with the server time and uptime while nothing is served', async () => {
    const s = await stats();
    expect(s.models).toEqual([]);
    expect(Math.abs(s.time - Date.now())).toBeLessThan(5_000);
    expect(s.startedTime).toBeLessThanOrEqual(s.time);
    expect(s.uptimeMs).toBe(s.time - s.startedTime);
  });

  it('counts requests by outcome and fills the latency histogram as inference requests arrive', async () => {
    expect((await server.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', payload: { name: 'stats-cancer' } })).statusCode).toBe(200);
    const created = await server.app.inject({ method: 'POST', url: '/api/2.0/mlflow/model-versions/create', payload: { name: 'stats-cancer', source: `file://${join(models, 'cancer.onnx')}` } });
    expect(created.statusCode).toBe(200);
    for (let i = 0; i < 3; i++) expect((await infer('stats-cancer', cancer.rows[i])).statusCode).toBe(200);
    expect((await infer('stats-cancer', [1, 2, 3])).statusCode).toBe(400);

    const before = await stats();
    const m = before.models.find((x) => x.model === 'stats-cancer');
    expect(m).toMatchObject({ model: 'stats-cancer', state: 'READY', servedVersion: '1', reason: '', inFlight: 0, roles: [] });
    const v1 = m?.versions.find((v) => v.version === '1');
    expect(v1?.requests).toEqual({ total: 4, ok: 3, clientError: 1, serverError: 0, byStatus: { '200': 3, '400': 1 } });
    expect(v1?.queueDepth).toBe(0);
    const h = v1?.latency;
    expect(h?.count).toBe(3);
    expect(h?.counts).toHaveLength((h?.bounds.length ?? 0) + 1);
    expect(h?.counts.at(-1)).toBe(3);
    expect(h?.counts).toEqual([...(h?.counts ?? [])].sort((a, b) => a - b));
    expect(h?.sum).toBeGreaterThan(0);

    for (let i = 0; i < 5; i++) expect((await infer('stats-cancer', cancer.rows[i])).statusCode).toBe(200);
    const after = (await stats()).models.find((x) => x.model === 'stats-cancer')?.versions.find((v) => v.version === '1');
    expect(after?.requests.ok).toBe(8);
    expect(after?.latency?.count).toBe(8);
    expect(after?.latency?.sum).toBeGreaterThan(h?.sum ?? 0);
  });

  it('narrows to one model, and leaves out names that were only ever asked for', async () => {
    expect((await infer('never-registered', cancer.rows[0])).statusCode).toBe(404);
    const all = await stats();
    expect(all.models.map((m) => m.model)).not.toContain('never-registered');
    expect((await stats('?model=stats-cancer')).models.map((m) => m.model)).toEqual(['stats-cancer']);
    expect((await stats('?model=nothing-here')).models).toEqual([]);
  });

  it('refuses an empty model filter with 400 naming it', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/api/v1/serving/stats?model=' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toMatch(/query parameter 'model'/);
  });
});

describe('GET /api/v1/serving/stats with access control on', () => {
  let secured: StartedServer;
  const admin = `Basic ${Buffer.from('admin:admin-password-1').toString('base64')}`;
  const bob = `Basic ${Buffer.from('bob:bob-password-123').toString('base64')}`;
  const as = (authorization: string, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) =>
    secured.app.inject({ method, url, headers: { authorization }, ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
  beforeAll(async () => {
    const home = join(root, 'home-auth');
    mkdirSync(home);
    secured = await startServer(resolveConfig({ home, port: 0, auth: true }, { SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS: models, SLIPWAY_AUTH_DEFAULT_PERMISSION: 'NO_PERMISSIONS' }, home), {
      logger: silentLogger,
      adminPassword: 'admin-password-1',
    });
    for (const name of ['auth-open', 'auth-secret']) {
      expect((await as(admin, 'POST', '/api/2.0/mlflow/registered-models/create', { name })).statusCode).toBe(200);
      expect((await as(admin, 'POST', '/api/2.0/mlflow/model-versions/create', { name, source: `file://${join(models, 'cancer.onnx')}` })).statusCode).toBe(200);
      const res = await as(admin, 'POST', `/v2/models/${name}/infer`, { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[0] }] });
      expect(res.statusCode).toBe(200);
    }
    expect((await as(admin, 'POST', '/api/v1/users', { username: 'bob', password: 'bob-password-123' })).statusCode).toBe(201);
    expect((await as(admin, 'PUT', '/api/v1/permissions', { model: 'auth-open', username: 'bob', permission: 'READ' })).statusCode).toBeLessThan(300);
  }, 30_000);
  afterAll(() => secured?.close());

  it('shows a user only the models they may read, and nothing to a caller who is not signed in', async () => {
    const names = async (authorization: string) => (await as(authorization, 'GET', '/api/v1/serving/stats')).json<ServingStats>().models.map((m) => m.model);
    expect(await names(admin)).toEqual(expect.arrayContaining(['auth-open', 'auth-secret']));
    expect(await names(bob)).toEqual(['auth-open']);
    expect((await as(bob, 'GET', '/api/v1/serving/stats?model=auth-secret')).json<ServingStats>().models).toEqual([]);
    expect((await secured.app.inject({ method: 'GET', url: '/api/v1/serving/stats' })).statusCode).toBe(401);
  });
});

describe('the serving figures of several workers as one server', () => {
  const hist = (counts: number[], sum: number) => ({ bounds: [0.01, 0.1], counts, sum, count: counts.reduce((a, b) => a + b, 0) });
  const part = (startedTime: number, state: string, ok: number, errors: number, counts: number[]): ServingStats => ({
    time: startedTime + 1000,
    startedTime,
    uptimeMs: 1000,
    models: [
      {
        model: 'cancer',
        state,
        servedVersion: '2',
        reason: state === 'READY' ? '' : 'loading version 2',
        inFlight: 1,
        versions: [{ version: '2', requests: { total: ok + errors, ok, clientError: errors, serverError: 0, byStatus: { '200': ok, '400': errors } }, latency: hist(counts, ok / 100), queueDepth: 2, inFlightBatches: 1 }],
        roles: [{ version: '2', role: 'champion', requests: ok, errors: 0, latency: hist(counts, ok / 100) }],
      },
    ],
  });

  it('adds counts, histograms, queues and in-flight requests, and reports a worker that is not ready', () => {
    const merged = mergeServingStats([part(1000, 'READY', 10, 1, [6, 4, 0]), part(3000, 'LOADING', 5, 0, [1, 3, 1])]);
    expect(merged.startedTime).toBe(3000);
    expect(merged.uptimeMs).toBe(1000);
    const m = merged.models[0]!;
    expect(m).toMatchObject({ state: 'LOADING', reason: 'loading version 2', inFlight: 2 });
    expect(m.versions[0]).toMatchObject({ requests: { total: 16, ok: 15, clientError: 1, byStatus: { '200': 15, '400': 1 } }, queueDepth: 4, inFlightBatches: 2 });
    expect(m.versions[0]!.latency).toMatchObject({ counts: [7, 7, 1], count: 15 });
    expect(m.roles[0]).toMatchObject({ requests: 15, latency: { count: 15 } });
  });
});
