import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { ADMIN_PASSWORD, basicAuth, openAuthApp, type AuthApp } from './access-api.test-support.js';

for (const dialect of DIALECTS) {
  describe(`native access API on ${dialect.name}`, () => {
    let t: AuthApp;
    const admin = basicAuth('admin', ADMIN_PASSWORD);
    const carol = basicAuth('carol', 'carol-password');
    const call = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, auth: string | undefined, payload?: Record<string, unknown>) =>
      t.app.inject({ method, url: `/api/v1${url}`, headers: auth ? { authorization: auth } : {}, ...(payload ? { payload } : {}) });

    beforeAll(async () => {
      t = await openAuthApp(dialect);
    });
    afterAll(async () => t.close());

    it('says in the public health answer that access control is on, to a caller without credentials', async () => {
      const health = await t.app.inject({ method: 'GET', url: '/api/v1/health' });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toMatchObject({ status: 'ok', auth: true });
    });

    it('lets admins create, list, update and delete users; others only read themselves', async () => {
      const created = await call('POST', '/users', admin, { username: 'carol', password: 'carol-password' });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ id: 2, username: 'carol', isAdmin: false, rights: [] });
      expect((await call('POST', '/users', admin, { username: 'dan', password: 'short' })).statusCode).toBe(400);
      expect((await call('GET', '/users', admin)).json().users.map((u: { username: string }) => u.username)).toEqual(['admin', 'carol']);
      expect((await call('GET', '/users', carol)).statusCode).toBe(403);
      expect((await call('GET', '/users/carol', carol)).json()).toMatchObject({ username: 'carol' });
      expect((await call('GET', '/users/admin', carol)).statusCode).toBe(403);
      expect((await call('PATCH', '/users/carol', carol, { isAdmin: true })).json()).toMatchObject({ error: { code: 'PERMISSION_DENIED' } });
      expect((await call('PATCH', '/users/carol', admin, { rights: ['monitoring'] })).json()).toMatchObject({ rights: ['monitoring'] });
      expect((await call('DELETE', '/users/admin', admin)).json()).toMatchObject({ error: { code: 'INVALID_STATE', message: expect.stringMatching(/last admin/) } });
    });

    it('lets a user create, list and revoke their own tokens; the secret is shown once and works at once', async () => {
      const created = await call('POST', '/tokens', carol, { name: 'ci', expiresInSeconds: 3600 });
      expect(created.statusCode).toBe(201);
      const token = created.json() as { id: string; secret: string; username: string; expiresTime: number };
      expect(token.username).toBe('carol');
      expect(token.expiresTime).toBeGreaterThan(Date.now());
      expect((await call('GET', '/users/carol', `Bearer ${token.secret}`)).statusCode).toBe(200);
      const listed = (await call('GET', '/tokens', carol)).json().tokens as Array<Record<string, unknown>>;
      expect(listed.map((x) => x.id)).toEqual([token.id]);
      expect(listed[0]).not.toHaveProperty('secret');
      expect((await call('POST', '/tokens', carol, { name: 'x', username: 'admin' })).statusCode).toBe(403);
      expect((await call('GET', '/tokens?all=true', carol)).statusCode).toBe(403);
      expect((await call('GET', '/tokens?all=true', admin)).json().tokens).toHaveLength(1);

      const adminToken = (await call('POST', '/tokens', admin, { name: 'ops' })).json() as { id: string };
      expect((await call('DELETE', `/tokens/${adminToken.id}`, carol)).statusCode).toBe(404);
      const revoked = await call('DELETE', `/tokens/${token.id}`, carol);
      expect(revoked.json()).toMatchObject({ id: token.id, revokedTime: expect.any(Number) });
      expect((await call('GET', '/users/carol', `Bearer ${token.secret}`)).statusCode).toBe(401);
    });

    it('sets, lists and deletes permissions; MANAGE on an object lets a user manage it', async () => {
      const model = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', headers: { authorization: carol }, payload: { name: 'carols-model' } });
      expect(model.statusCode).toBe(200);
      // Carol created the model, so the server gave her MANAGE on it; she may share it.
      await call('POST', '/users', admin, { username: 'dan', password: 'dan-password' });
      const set = await call('PUT', '/permissions', carol, { model: 'carols-model', username: 'dan', permission: 'EDIT' });
      expect(set.json()).toEqual({ kind: 'registered_model', objectId: 'carols-model', username: 'dan', permission: 'EDIT' });
      const list = await call('GET', '/permissions?model=carols-model', carol);
      expect(list.json()).toEqual({
        defaultPermission: 'READ',
        permissions: [
          { kind: 'registered_model', objectId: 'carols-model', username: 'carol', permission: 'MANAGE' },
          { kind: 'registered_model', objectId: 'carols-model', username: 'dan', permission: 'EDIT' },
        ],
      });
      expect((await call('PUT', '/permissions', basicAuth('dan', 'dan-password'), { model: 'carols-model', username: 'dan', permission: 'MANAGE' })).statusCode).toBe(403);
      expect((await call('PUT', '/permissions', admin, { model: 'no-such-model', username: 'dan', permission: 'READ' })).statusCode).toBe(404);
      expect((await call('PUT', '/permissions', admin, { model: 'carols-model', experimentId: '0', username: 'dan', permission: 'READ' })).statusCode).toBe(400);
      expect((await call('DELETE', '/permissions?model=carols-model&username=dan', carol)).statusCode).toBe(204);
      expect((await call('GET', '/permissions?username=dan', basicAuth('dan', 'dan-password'))).json().permissions).toEqual([]);
      expect((await call('GET', '/permissions', basicAuth('dan', 'dan-password'))).statusCode).toBe(403);
    });
  });
}
