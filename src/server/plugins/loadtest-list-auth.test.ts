/**
 * Listing recorded load tests with access control on: the list is read back through the
 * server's own tracking API as the caller, so it needs (and is limited by) the caller's
 * credentials — without them the route answered 401 to every signed-in user.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { ADMIN_PASSWORD, basicAuth, openAuthApp, type AuthApp } from '../native/access-api.test-support.js';

describe('GET /api/v1/loadtests with access control on', () => {
  let t: AuthApp;
  const admin = basicAuth('admin', ADMIN_PASSWORD);
  const mlflow = async (path: string, payload: Record<string, unknown>) => (await t.app.inject({ method: 'POST', url: `/api/2.0/mlflow${path}`, headers: { authorization: admin }, payload })).json() as Record<string, unknown>;

  beforeAll(async () => {
    t = await openAuthApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    // The route calls this server over HTTP, so it must listen.
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    expect((t.app.server.address() as AddressInfo).port).toBeGreaterThan(0);
    const { experiment_id } = (await mlflow('/experiments/create', { name: 'slipway-loadtests' })) as { experiment_id: string };
    const { run } = (await mlflow('/runs/create', { experiment_id, start_time: Date.now() })) as { run: { info: { run_id: string } } };
    for (const [key, value] of [['slipway.loadtest', 'true'], ['slipway.loadtest.passed', 'true'], ['slipway.model.name', 'cancer']]) await mlflow('/runs/set-tag', { run_id: run.info.run_id, key, value });
    await mlflow('/runs/log-metric', { run_id: run.info.run_id, key: 'latency_p99_ms', value: 12.5, timestamp: Date.now() });
  });
  afterAll(async () => t?.close());

  it("lists them with the caller's credentials, and still refuses a caller without any", async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/loadtests?model=cancer', headers: { authorization: admin } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ loadtests: [{ model: { name: 'cancer' }, passed: true, metrics: { latency_p99_ms: 12.5 } }] });
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/loadtests' })).statusCode).toBe(401);
  });
});
