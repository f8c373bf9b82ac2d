import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { listAuditEvents } from '../audit/audit-trail.js';
import type { Store } from '../store/store.js';
import { AccessService, isAccessDenied, type AuthorizationLookups } from './access-service.js';
import type { AccessDenied, Principal } from './access-types.js';
import { hashPassword, verifyPassword } from './password-hash.js';

const basic = (user: string, secret: string) => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
const noLookups: AuthorizationLookups = { experimentOfRun: async () => undefined };

describe('password hashing', () => {
  it('stores a self-describing scrypt string that verifies the password and nothing else', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false);
    expect(await verifyPassword('correct horse battery', 'scrypt$1$8$1$AAAA$BBBB')).toBe(false);
    expect(await hashPassword('correct horse battery')).not.toBe(stored);
  });
});

for (const dialect of DIALECTS) {
  describe(`access service on ${dialect.name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let now = 1_700_000_000_000;
    const clock = { now: () => now };
    let access: AccessService;

    beforeAll(async () => {
      ({ store, dispose } = await dialect.open());
      access = new AccessService({ store, clock, maxFailures: 3, failureWindowMs: 60_000 });
    });
    afterAll(async () => dispose());

    it('bootstraps one admin with a generated one-time password, once', async () => {
      const first = await access.ensureAdmin();
      expect(first).toMatchObject({ created: true, username: 'admin' });
      expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const p = await access.authenticate(basic('admin', first.generatedPassword!), '10.0.0.1');
      expect(p).toEqual({ username: 'admin', isAdmin: true, via: 'password' });
      expect(await access.ensureAdmin('another-password')).toEqual({ created: false, username: 'admin' });
    });

    it('creates, lists and refuses bad users with messages naming the problem', async () => {
      await access.createUser({ username: 'alice', password: 'alice-password' }, { actor: 'admin' });
      await expect(access.createUser({ username: 'alice', password: 'alice-password' })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(access.createUser({ username: 'bob', password: 'short' })).rejects.toThrow(/at least 8 characters/);
      await expect(access.createUser({ username: 'bad name', password: 'long enough pw' })).rejects.toThrow(/Invalid username 'bad name'/);
      await expect(access.createUser({ username: 'anonymous', password: 'long enough pw' })).rejects.toThrow(/reserved/);
      const users = await access.listUsers();
      expect(users.map((u) => [u.id, u.username, u.isAdmin])).toEqual([[1, 'admin', true], [2, 'alice', false]]);
      const events = await listAuditEvents(store.db, {});
      expect(events.some((e) => e.action === 'user.create' && e.entity_id === 'alice' && e.actor === 'admin')).toBe(true);
    });

    it('authenticates a password and refuses a wrong one or an unknown user with the same message', async () => {
      expect(await access.authenticate(basic('alice', 'alice-password'), 'c1')).toEqual({ username: 'alice', isAdmin: false, via: 'password' });
      const wrong = (await access.authenticate(basic('alice', 'alice-passwore'), 'c1')) as AccessDenied;
      const unknown = (await access.authenticate(basic('nobody', 'alice-password'), 'c1')) as AccessDenied;
      expect(wrong.status).toBe(401);
      expect(isAccessDenied(wrong)).toBe(true);
      expect(unknown).toEqual(wrong);
      expect(wrong.message).not.toMatch(/alice|nobody|exist/i);
      const failures = (await listAuditEvents(store.db, {})).filter((e) => e.action === 'auth.failed');
      expect(failures.map((e) => [e.actor, e.entity_type, e.entity_id])).toEqual([['anonymous@c1', 'user', 'alice'], ['anonymous@c1', 'user', 'nobody']]);
    });

    it('does not cache a sign-in that was being verified while the password changed, nor permissions read while they changed', async () => {
      await access.createUser({ username: 'racer', password: 'racer-password-1' });
      const old = basic('racer', 'racer-password-1');
      // The verification (scrypt) is under way when the password changes and clears the cache.
      const pending = access.authenticate(old, 'race');
      await access.updatePassword('racer', 'racer-password-2');
      await pending;
      expect(isAccessDenied(await access.authenticate(old, 'race'))).toBe(true);
      // Permissions: a grant that lands while they are being read is seen by the next check.
      const racer = { username: 'racer', isAdmin: false, via: 'password' as const };
      const reading = access.effectivePermission(racer, 'registered_model', 'raced');
      await access.setPermission({ kind: 'registered_model', objectId: 'raced', username: 'racer', permission: 'MANAGE' });
      await reading;
      expect(await access.effectivePermission(racer, 'registered_model', 'raced')).toBe('MANAGE');
    });

    it('answers cached credentials and cached permissions without a promise', async () => {
      const header = basic('alice', 'alice-password');
      await access.authenticate(header, 'c9');
      const principal = access.authenticate(header, 'c9');
      expect(principal).not.toBeInstanceOf(Promise);
      expect(principal).toMatchObject({ username: 'alice' });
      await access.authorize(principal as Principal, { kind: 'experiment', experimentId: '0', level: 'READ' }, noLookups);
      expect(access.authorize(principal as Principal, { kind: 'experiment', experimentId: '0', level: 'READ' }, noLookups)).toBe(true);
    });

    it('refuses missing, malformed and over-long headers with 401', async () => {
      expect(await access.authenticate(undefined, 'c2')).toMatchObject({ status: 401, message: expect.stringMatching(/Authentication required/) });
      for (const h of ['Basic', 'Basic !!!', 'Digest abc', `Basic ${Buffer.from('no-colon').toString('base64')}`, 'Bearer a b']) {
        expect(await access.authenticate(h, `c2-${h}`)).toMatchObject({ status: 401, message: expect.stringMatching(/Malformed Authorization header/) });
      }
      expect(await access.authenticate(`Bearer ${'x'.repeat(9000)}`, 'c2')).toMatchObject({ status: 401, message: expect.stringMatching(/longer than 8 KiB/) });
      expect(await access.authenticate(`Bearer slw_${'x'.repeat(4000)}`, 'c3')).toMatchObject({ status: 401 });
    });

    it('creates a token whose secret works once shown, as Bearer and as a Basic password, and is stored only hashed', async () => {
      const t = await access.createToken('alice', { name: 'laptop' }, { actor: 'alice' });
      expect(t.secret).toMatch(/^slw_[A-Za-z0-9_-]{43}$/);
      const stored = await store.db.selectFrom('access_tokens').selectAll().where('id', '=', t.id).executeTakeFirstOrThrow();
      expect(JSON.stringify(stored)).not.toContain(t.secret);
      expect(await access.authenticate(`Bearer ${t.secret}`, 'c4')).toEqual({ username: 'alice', isAdmin: false, via: 'token', tokenId: t.id });
      expect(await access.authenticate(basic('alice', t.secret), 'c4')).toMatchObject({ username: 'alice', via: 'token' });
      // Another user's name with alice's token is no valid pair.
      expect(await access.authenticate(basic('admin', t.secret), 'c5')).toMatchObject({ status: 401 });
      const listed = await access.listTokens('alice');
      expect(listed).toHaveLength(1);
      expect(listed[0]).not.toHaveProperty('secret');
      await waitFor(async () => (await access.getToken(t.id)).lastUsedTime === now);
    });

    it('refuses an expired token, even one cached while it was valid', async () => {
      const t = await access.createToken('alice', { name: 'short', expiresTime: now + 30_000 });
      expect(await access.authenticate(`Bearer ${t.secret}`, 'c6')).toMatchObject({ username: 'alice' });
      now += 31_000;
      expect(await access.authenticate(`Bearer ${t.secret}`, 'c6')).toMatchObject({ status: 401 });
      await expect(access.createToken('alice', { name: 'past', expiresTime: now - 1 })).rejects.toThrow(/not a time in the future/);
    });

    it('drops cached credentials on revoke, password change and user deletion', async () => {
      await access.createUser({ username: 'carol', password: 'carol-password' });
      const t = await access.createToken('carol', { name: 'ci' });
      const header = basic('carol', 'carol-password');
      expect(await access.authenticate(header, 'c7')).toMatchObject({ username: 'carol' });
      expect(await access.authenticate(`Bearer ${t.secret}`, 'c7')).toMatchObject({ username: 'carol' });

      await access.revokeToken(t.id, { actor: 'carol' });
      expect(await access.authenticate(`Bearer ${t.secret}`, 'c7')).toMatchObject({ status: 401 });
      expect((await access.getToken(t.id)).revokedTime).toBe(now);

      await access.updatePassword('carol', 'carol-new-password');
      expect(await access.authenticate(header, 'c8')).toMatchObject({ status: 401 });
      const fresh = basic('carol', 'carol-new-password');
      expect(await access.authenticate(fresh, 'c8')).toMatchObject({ username: 'carol' });

      await access.setAdmin('carol', true);
      expect(await access.authenticate(fresh, 'c8')).toMatchObject({ isAdmin: true });
      await access.deleteUser('carol');
      expect(await access.authenticate(fresh, 'c8')).toMatchObject({ status: 401 });
    });

    it('rate-limits failures per client and per username, with a retry hint, and lets them in again after the window', async () => {
      await access.createUser({ username: 'dave', password: 'dave-password' });
      for (let i = 0; i < 3; i++) expect(await access.authenticate(basic('dave', `wrong-${i}-pass`), 'attacker')).toMatchObject({ status: 401 });
      const limited = await access.authenticate(basic('dave', 'dave-password'), 'attacker');
      expect(limited).toMatchObject({ status: 401, retryAfterSeconds: 60, message: expect.stringMatching(/Too many failed sign-in attempts; retry after 60 s/) });
      // The username is limited too, from any client.
      expect(await access.authenticate(basic('dave', 'dave-password'), 'elsewhere')).toMatchObject({ retryAfterSeconds: 60 });
      const events = await listAuditEvents(store.db, {});
      expect(events.filter((e) => e.action === 'auth.rate_limited').map((e) => e.entity_id)).toEqual(['dave']);
      now += 61_000;
      expect(await access.authenticate(basic('dave', 'dave-password'), 'attacker')).toMatchObject({ username: 'dave' });
    });

    it('tells another service on the store what it forgot and who failed, so both decide alike (the workers of one server)', async () => {
      const one = new AccessService({ store, clock, maxFailures: 3, failureWindowMs: 60_000 });
      const other = new AccessService({ store, clock, maxFailures: 3, failureWindowMs: 60_000 });
      one.onNotice((n) => other.applyNotice(n));
      await one.createUser({ username: 'erin', password: 'erin-password' });
      const t = await one.createToken('erin', { name: 'ci' });
      // Verified (and cached) by the other service first.
      expect(await other.authenticate(`Bearer ${t.secret}`, 'e1')).toMatchObject({ username: 'erin' });
      expect(await other.authenticate(basic('erin', 'erin-password'), 'e1')).toMatchObject({ username: 'erin' });
      await one.revokeToken(t.id, { actor: 'erin' });
      expect(await other.authenticate(`Bearer ${t.secret}`, 'e1')).toMatchObject({ status: 401 });
      await one.updatePassword('erin', 'erin-new-password');
      expect(await other.authenticate(basic('erin', 'erin-password'), 'e1')).toMatchObject({ status: 401 });
      // Failures counted by one service limit the client in the other.
      for (let i = 0; i < 3; i++) expect(await one.authenticate(basic('nobody', `wrong-${i}-pass`), 'prowler')).toMatchObject({ status: 401 });
      expect(await other.authenticate(basic('erin', 'erin-new-password'), 'prowler')).toMatchObject({ status: 401, message: expect.stringMatching(/Too many failed sign-in attempts/) });
      expect(await other.authenticate(basic('erin', 'erin-new-password'), 'e2')).toMatchObject({ username: 'erin' });
      await one.deleteUser('erin');
    });

    it('decides permissions: rows, the default, admins, runs via lookups, monitoring and readable sets', async () => {
      await access.createUser({ username: 'erin', password: 'erin-password' });
      const erin: Principal = { username: 'erin', isAdmin: false, via: 'password' };
      const admin: Principal = { username: 'admin', isAdmin: true, via: 'password' };
      expect(await access.authorize(erin, { kind: 'experiment', experimentId: '7', level: 'READ' }, noLookups)).toBe(true);
      const denied = await access.authorize(erin, { kind: 'experiment', experimentId: '7', level: 'EDIT' }, noLookups);
      expect(denied).toEqual({ status: 403, message: "Permission denied: this operation needs EDIT on experiment '7'." });
      await expect(access.setPermission({ kind: 'experiment', objectId: '7', username: 'erin', permission: 'EDIT' }, {}, 'update')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await access.setPermission({ kind: 'experiment', objectId: '7', username: 'erin', permission: 'EDIT' }, { actor: 'admin' }, 'create');
      await expect(access.setPermission({ kind: 'experiment', objectId: '7', username: 'erin', permission: 'EDIT' }, {}, 'create')).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await expect(access.setPermission({ kind: 'experiment', objectId: '7', username: 'erin', permission: 'OWNER' as never })).rejects.toThrow(/Invalid permission 'OWNER'/);
      expect(await access.authorize(erin, { kind: 'experiment', experimentId: '7', level: 'EDIT' }, noLookups)).toBe(true);
      const runIn7: AuthorizationLookups = { experimentOfRun: async (id) => (id === 'r1' ? '7' : undefined) };
      expect(await access.authorize(erin, { kind: 'run', runId: 'r1', level: 'MANAGE' }, runIn7)).toMatchObject({ status: 403 });
      expect(await access.authorize(erin, { kind: 'run', runId: 'r1', level: 'EDIT' }, runIn7)).toBe(true);
      expect(await access.authorize(erin, { kind: 'admin' }, noLookups)).toMatchObject({ status: 403 });
      expect(await access.authorize(admin, { kind: 'admin' }, noLookups)).toBe(true);

      await access.setPermission({ kind: 'registered_model', objectId: 'secret-model', username: 'erin', permission: 'NO_PERMISSIONS' });
      expect(await access.authorize(erin, { kind: 'registered_model', name: 'secret-model', level: 'READ' }, noLookups)).toMatchObject({ status: 403 });
      expect(await access.readableModelNames(erin)).toEqual({ except: ['secret-model'] });
      expect(await access.readableExperimentIds(erin)).toBe('all');
      expect(await access.readableModelNames(admin)).toBe('all');

      expect(await access.authorize(erin, { kind: 'monitoring', name: 'open-model' }, noLookups)).toMatchObject({ status: 403 });
      await access.setRights('erin', ['monitoring']);
      expect(await access.authorize(erin, { kind: 'monitoring', name: 'open-model' }, noLookups)).toBe(true);
      expect(await access.authorize(erin, { kind: 'monitoring', name: 'secret-model' }, noLookups)).toMatchObject({ status: 403 });

      await access.grantCreator(erin, 'registered_model', 'erins-model');
      expect(await access.authorize(erin, { kind: 'release_approval', name: 'erins-model', environment: 'prod' }, noLookups)).toBe(true);
      expect(await access.getPermission('registered_model', 'erins-model', 'erin')).toMatchObject({ permission: 'MANAGE' });
      await access.renameModel('erins-model', 'erins-renamed');
      expect(await access.effectivePermission(erin, 'registered_model', 'erins-renamed')).toBe('MANAGE');
      await access.deletePermission('experiment', '7', 'erin');
      expect(await access.effectivePermission(erin, 'experiment', '7')).toBe('READ');
      const actions = (await listAuditEvents(store.db, {})).map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(['permission.set', 'permission.delete', 'permission.rename', 'user.update_rights']));
    });

    it('with default NO_PERMISSIONS lists only objects with a READ row', async () => {
      const strict = new AccessService({ store, clock, defaultPermission: 'NO_PERMISSIONS' });
      const erin: Principal = { username: 'erin', isAdmin: false, via: 'password' };
      await strict.setPermission({ kind: 'experiment', objectId: '9', username: 'erin', permission: 'READ' });
      expect(await strict.readableExperimentIds(erin)).toEqual(['9']);
      expect(await strict.authorize(erin, { kind: 'experiment', experimentId: '10', level: 'READ' }, noLookups)).toMatchObject({ status: 403 });
    });

    it('never removes the last admin', async () => {
      await expect(access.setAdmin('admin', false)).rejects.toThrow(/last admin/);
      await expect(access.deleteUser('admin')).rejects.toThrow(/last admin/);
      await expect(access.deleteUser('nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });
  });
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met within 2 s');
}

