import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { ADMIN_PASSWORD, basicAuth, openAuthApp, type AuthApp } from '../native/access-api.test-support.js';

for (const dialect of DIALECTS) {
  describe(`MLflow auth API on ${dialect.name}`, () => {
    let t: AuthApp;
    const admin = basicAuth('admin', ADMIN_PASSWORD);
    const alice = basicAuth('alice', 'alice-password');
    const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, auth: string | undefined, payload?: Record<string, unknown>) =>
      t.app.inject({ method, url: method === 'GET' && payload ? `${url}?${new URLSearchParams(payload as Record<string, string>)}` : url, headers: auth ? { authorization: auth } : {}, ...(method !== 'GET' && payload ? { payload } : {}) });

    beforeAll(async () => {
      t = await openAuthApp(dialect);
    });
    afterAll(async () => t.close());

    it('creates and gets users in MLflow shapes', async () => {
      const created = await call('POST', '/api/2.0/mlflow/users/create', admin, { username: 'alice', password: 'alice-password' });
      expect(created.statusCode).toBe(200);
      expect(created.json()).toEqual({ user: { id: 2, username: 'alice', is_admin: false, experiment_permissions: [], registered_model_permissions: [] } });
      const again = await call('POST', '/api/2.0/mlflow/users/create', admin, { username: 'alice', password: 'alice-password' });
      expect(again.statusCode).toBe(400);
      expect(again.json()).toMatchObject({ error_code: 'RESOURCE_ALREADY_EXISTS', message: "User 'alice' already exists." });
      const self = await call('GET', '/api/2.0/mlflow/users/get', alice, { username: 'alice' });
      expect(self.json()).toMatchObject({ user: { username: 'alice', is_admin: false } });
      const missing = await call('GET', '/api/2.0/mlflow/users/get', admin, { username: 'nobody' });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });
      const noField = await call('POST', '/api/2.0/mlflow/users/create', admin, { username: 'bob' });
      expect(noField.statusCode).toBe(400);
      expect(noField.json()).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE', message: "Missing value for required parameter 'password'." });
    });

    it('lets only admins manage users; a user changes their own password only', async () => {
      expect((await call('POST', '/api/2.0/mlflow/users/create', alice, { username: 'mallory', password: 'mallory-password' })).json()).toMatchObject({ error_code: 'PERMISSION_DENIED' });
      expect((await call('GET', '/api/2.0/mlflow/users/get', alice, { username: 'admin' })).statusCode).toBe(403);
      expect((await call('PATCH', '/api/2.0/mlflow/users/update-admin', alice, { username: 'alice', is_admin: true })).statusCode).toBe(403);
      expect((await call('PATCH', '/api/2.0/mlflow/users/update-password', alice, { username: 'admin', password: 'taken-over-pw' })).statusCode).toBe(403);
      expect((await call('POST', '/api/2.0/mlflow/users/create', undefined, { username: 'x', password: 'xxxxxxxxxx' })).statusCode).toBe(401);

      const changed = await call('PATCH', '/api/2.0/mlflow/users/update-password', alice, { username: 'alice', password: 'alice-password-2' });
      expect(changed.statusCode).toBe(200);
      expect(changed.json()).toEqual({});
      expect((await call('GET', '/api/2.0/mlflow/users/get', alice, { username: 'alice' })).statusCode).toBe(401);
      const alice2 = basicAuth('alice', 'alice-password-2');
      expect((await call('GET', '/api/2.0/mlflow/users/get', alice2, { username: 'alice' })).statusCode).toBe(200);

      expect((await call('PATCH', '/api/2.0/mlflow/users/update-admin', admin, { username: 'alice', is_admin: true })).json()).toEqual({});
      expect((await call('GET', '/api/2.0/mlflow/users/get', alice2, { username: 'admin' })).statusCode).toBe(200);
      await call('PATCH', '/api/2.0/mlflow/users/update-admin', admin, { username: 'alice', is_admin: false });
      await call('PATCH', '/api/2.0/mlflow/users/update-password', admin, { username: 'alice', password: 'alice-password' });
    });

    it('manages experiment and registered-model permissions with MLflow bodies and errors', async () => {
      const exp = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/experiments/create', headers: { authorization: admin }, payload: { name: 'perm-exp' } });
      const experimentId = exp.json().experiment_id as string;
      await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', headers: { authorization: admin }, payload: { name: 'perm-model' } });

      const created = await call('POST', '/api/2.0/mlflow/experiments/permissions/create', admin, { experiment_id: experimentId, username: 'alice', permission: 'EDIT' });
      expect(created.json()).toEqual({ experiment_permission: { experiment_id: experimentId, user_id: 2, permission: 'EDIT' } });
      expect((await call('POST', '/api/2.0/mlflow/experiments/permissions/create', admin, { experiment_id: experimentId, username: 'alice', permission: 'EDIT' })).json()).toMatchObject({ error_code: 'RESOURCE_ALREADY_EXISTS' });
      expect((await call('GET', '/api/2.0/mlflow/experiments/permissions/get', admin, { experiment_id: experimentId, username: 'alice' })).json()).toEqual(created.json());
      expect((await call('PATCH', '/api/2.0/mlflow/experiments/permissions/update', admin, { experiment_id: experimentId, username: 'alice', permission: 'MANAGE' })).json()).toEqual({});
      const bad = await call('PATCH', '/api/2.0/mlflow/experiments/permissions/update', admin, { experiment_id: experimentId, username: 'alice', permission: 'OWNER' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().message).toMatch(/Invalid permission 'OWNER'/);
      const noExperiment = await call('POST', '/api/2.0/mlflow/experiments/permissions/create', admin, { experiment_id: '999999', username: 'alice', permission: 'READ' });
      expect(noExperiment.statusCode).toBe(404);

      // With MANAGE on the experiment, alice manages its permissions herself, as in MLflow.
      await call('POST', '/api/2.0/mlflow/users/create', admin, { username: 'bob', password: 'bob-password' });
      expect((await call('POST', '/api/2.0/mlflow/experiments/permissions/create', alice, { experiment_id: experimentId, username: 'bob', permission: 'READ' })).statusCode).toBe(200);
      const user = await call('GET', '/api/2.0/mlflow/users/get', admin, { username: 'alice' });
      expect(user.json().user.experiment_permissions).toEqual([{ experiment_id: experimentId, user_id: 2, permission: 'MANAGE' }]);

      // Registered models: alice has the default READ, so she may not manage its permissions.
      expect((await call('POST', '/api/2.0/mlflow/registered-models/permissions/create', alice, { name: 'perm-model', username: 'bob', permission: 'EDIT' })).statusCode).toBe(403);
      const rm = await call('POST', '/api/2.0/mlflow/registered-models/permissions/create', admin, { name: 'perm-model', username: 'bob', permission: 'EDIT' });
      expect(rm.json()).toEqual({ registered_model_permission: { name: 'perm-model', user_id: 3, permission: 'EDIT' } });
      expect((await call('DELETE', '/api/2.0/mlflow/registered-models/permissions/delete', admin, { name: 'perm-model', username: 'bob' })).json()).toEqual({});
      const gone = await call('GET', '/api/2.0/mlflow/registered-models/permissions/get', admin, { name: 'perm-model', username: 'bob' });
      expect(gone.statusCode).toBe(404);
      expect(gone.json()).toMatchObject({ error_code: 'RESOURCE_DOES_NOT_EXIST' });

      expect((await call('DELETE', '/api/2.0/mlflow/users/delete', admin, { username: 'bob' })).json()).toEqual({});
      expect((await call('GET', '/api/2.0/mlflow/users/get', admin, { username: 'bob' })).statusCode).toBe(404);
    });

    it('accepts a token as the Basic password (MLFLOW_TRACKING_PASSWORD) and as Bearer (MLFLOW_TRACKING_TOKEN)', async () => {
      const token = await t.access.createToken('alice', { name: 'mlflow' });
      const res = await call('GET', '/api/2.0/mlflow/users/get', basicAuth('alice', token.secret), { username: 'alice' });
      expect(res.statusCode).toBe(200);
      const bearer = await call('GET', '/api/2.0/mlflow/users/get', `Bearer ${token.secret}`, { username: 'alice' });
      expect(bearer.statusCode).toBe(200);
    });
  });
}

describe('sign-in lockout over HTTP', () => {
  let t: AuthApp;
  beforeAll(async () => {
    t = await openAuthApp(DIALECTS[0]!);
  });
  afterAll(async () => t.close());

  it('tells a locked-out client when to come back with Retry-After, in the MLflow body shape', async () => {
    const wrong = { authorization: basicAuth('admin', 'not-the-password') };
    const answers = [];
    for (let i = 0; i < 12; i++) answers.push(await t.app.inject({ method: 'GET', url: '/api/2.0/mlflow/experiments/search?max_results=1', headers: wrong }));
    expect(answers.every((a) => a.statusCode === 401)).toBe(true);
    expect(answers[0]!.headers['retry-after']).toBeUndefined();
    const locked = answers.at(-1)!;
    expect(Number(locked.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(locked.json()).toEqual({ error_code: 'UNAUTHENTICATED', message: expect.stringMatching(/Too many failed sign-in attempts; retry after \d+ s/) });
  });
});
