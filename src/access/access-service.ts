/**
 * The access domain: local users, their API tokens, MLflow's per-object permissions, and the
 * two decisions the server makes on every request — who is calling (`authenticate`) and may
 * they do this (`authorize`). Verified credentials and each user's permissions are cached in
 * memory so a request with known credentials costs microseconds; every change made through
 * this service drops what it invalidates at once, and entries expire after `cacheTtlMs`, which
 * bounds how long a change made by another server process on the same store goes unseen.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { appendAuditEvent } from '../audit/audit-trail.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SlipwayError, errors } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { AccessTokenTable, AccessUserTable, Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { PERMISSIONS, type AccessDenied, type Permission, type Principal, type Requirement } from './access-types.js';
import { CredentialCache } from './credential-cache.js';
import { FailureLimiter } from './failure-limiter.js';
import { burnVerification, hashPassword, verifyPassword } from './password-hash.js';

type Trx = Transaction<Database>;

/** Rights a user may hold besides permissions on objects. */
export const ACCESS_RIGHTS = ['monitoring'] as const;
/** A right besides object permissions: `monitoring` lets a user read inference logs and monitoring data of models they may read. */
export type AccessRight = (typeof ACCESS_RIGHTS)[number];

/** The kinds of object permissions are kept for. */
export type ObjectKind = 'experiment' | 'registered_model';

/** A user as the API shows it (never the password hash). */
export interface User {
  /** MLflow's integer user id. */
  id: number;
  username: string;
  isAdmin: boolean;
  rights: AccessRight[];
  createdTime: number;
  updatedTime: number;
}

/** An API token without its secret. */
export interface ApiToken {
  id: string;
  username: string;
  name: string;
  createdTime: number;
  /** Epoch ms after which the token is refused; null: never. */
  expiresTime: number | null;
  revokedTime: number | null;
  /** When the token last authenticated a request (written at most once a minute per token). */
  lastUsedTime: number | null;
}

/** A token just created: the only time its secret is shown. */
export interface CreatedToken extends ApiToken {
  /** `slw_` followed by 32 random bytes in base64url; only its sha256 is stored. */
  secret: string;
}

/** One stored permission of a user on an object. */
export interface PermissionGrant {
  kind: ObjectKind;
  /** The experiment id or the registered model's name. */
  objectId: string;
  username: string;
  permission: Permission;
}

/** Who makes a change and in which request, for the audit trail. */
export interface AccessMutation {
  /** @default "anonymous" */
  actor?: string;
  requestId?: string;
}

/** What `authorize` asks the server instead of reading other domains' tables itself. */
export interface AuthorizationLookups {
  /** The experiment id of a run, or undefined when the run does not exist (the route then answers 404). */
  experimentOfRun(runId: string): Promise<string | undefined>;
}

/**
 * Which objects of a kind a principal may read: all of them, only the listed ones, or all
 * except the listed ones (default permission READ with some NO_PERMISSIONS rows).
 */
export type ReadableObjects = 'all' | string[] | { except: string[] };

/** How to build an `AccessService`. */
export interface AccessServiceOptions {
  store: Store;
  /** The permission of a user on an object without a row for them (MLflow's `default_permission`). @default "READ" */
  defaultPermission?: Permission;
  /** How many verified credentials to keep. @default 10000 */
  cacheEntries?: number;
  /** How long a verified credential or a user's loaded permissions stay valid, in ms. @default 60000 */
  cacheTtlMs?: number;
  /** Failed sign-ins allowed per client and per username within `failureWindowMs`. @default 10 */
  maxFailures?: number;
  /** @default 60000 */
  failureWindowMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** The result of `ensureAdmin`. */
export interface AdminBootstrap {
  /** True when this call created the admin user. */
  created: boolean;
  username: string;
  /** The generated one-time password, only when one was generated: print it once, never log it. */
  generatedPassword?: string;
}

/** Longest `Authorization` header accepted. */
export const MAX_AUTHORIZATION_BYTES = 8 * 1024;
/** The prefix of every token secret. */
export const TOKEN_PREFIX = 'slw_';
const TOKEN_SECRET_LENGTH = TOKEN_PREFIX.length + 43;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const TOKEN_TOUCH_INTERVAL_MS = 60_000;
const BOOTSTRAP_ADMIN = 'admin';

const RANK: Record<Permission, number> = { NO_PERMISSIONS: 0, READ: 1, EDIT: 2, MANAGE: 3 };

const INVALID_CREDENTIALS = 'Invalid credentials: the username, password or token was not accepted.';
const MISSING_CREDENTIALS = 'Authentication required: send HTTP Basic credentials (username and password or token) or "Authorization: Bearer <token>".';
const MALFORMED = 'Malformed Authorization header: expected "Basic <base64 of username:password>" or "Bearer <token>".';

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function deny(message: string, retryAfterSeconds?: number): AccessDenied {
  return retryAfterSeconds ? { status: 401, message, retryAfterSeconds } : { status: 401, message };
}

/** True when `value` is an `AccessDenied` rather than a principal or a decision. */
export function isAccessDenied(value: unknown): value is AccessDenied {
  return typeof value === 'object' && value !== null && 'status' in value && 'message' in value && !('username' in value);
}

/** Checks and returns a permission level named on input. */
export function parsePermission(value: unknown, field = 'permission'): Permission {
  if (typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value)) return value as Permission;
  throw new SlipwayError('INVALID_ARGUMENT', `Invalid ${field} '${String(value)}': use one of ${PERMISSIONS.join(', ')}.`, { field, value });
}

function validateUsername(username: unknown): string {
  if (typeof username !== 'string' || username === '') throw errors.missing('username');
  if (!USERNAME.test(username)) {
    throw errors.invalid(`Invalid username '${username.slice(0, 140)}': use 1 to 128 letters, digits and . _ @ + - , starting with a letter or digit.`, { field: 'username' });
  }
  if (username === 'anonymous') throw errors.invalid("The username 'anonymous' is reserved for requests without credentials.", { field: 'username' });
  return username;
}

function validatePassword(password: unknown): string {
  if (typeof password !== 'string' || password === '') throw errors.missing('password');
  if (password.length < MIN_PASSWORD) throw errors.invalid(`The password is too short: use at least ${MIN_PASSWORD} characters.`, { field: 'password' });
  if (password.length > MAX_PASSWORD) throw errors.invalid(`The password is too long: use at most ${MAX_PASSWORD} characters.`, { field: 'password' });
  if (password.startsWith(TOKEN_PREFIX)) throw errors.invalid(`A password may not start with '${TOKEN_PREFIX}', which marks API tokens.`, { field: 'password' });
  return password;
}

function parseRights(text: string): AccessRight[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((r): r is AccessRight => (ACCESS_RIGHTS as readonly string[]).includes(r as string)) : [];
  } catch {
    return [];
  }
}

function toUser(row: AccessUserTable): User {
  return { id: Number(row.id), username: row.username, isAdmin: Number(row.is_admin) === 1, rights: parseRights(row.rights), createdTime: Number(row.created_time), updatedTime: Number(row.updated_time) };
}

function toToken(row: AccessTokenTable): ApiToken {
  const num = (v: number | null) => (v == null ? null : Number(v));
  return { id: row.id, username: row.username, name: row.name, createdTime: Number(row.created_time), expiresTime: num(row.expires_time), revokedTime: num(row.revoked_time), lastUsedTime: num(row.last_used_time) };
}

interface LoadedPermissions {
  experiments: Map<string, Permission>;
  models: Map<string, Permission>;
  rights: AccessRight[];
  expires: number;
}

type Verified = { ok: true; principal: Principal; expires: number } | { ok: false; entityType: string; entityId: string };

/**
 * A change to what an access service remembers: a user's or token's verified credentials forgotten,
 * a user's permissions to load again, or one failed sign-in of a key at a time (epoch ms).
 */
export interface AccessNotice {
  kind: 'user' | 'token' | 'permissions' | 'failure';
  key: string;
  time?: number;
}

/** Users, tokens, permissions and the per-request authentication and authorisation decisions. */
export class AccessService {
  /** The permission of a user on an object without a row for them. */
  readonly defaultPermission: Permission;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly ttlMs: number;
  private readonly credentials: CredentialCache;
  private readonly limiter: FailureLimiter;
  private readonly permissions = new PermissionCache();
  private readonly inFlight = new Map<string, Promise<Principal | AccessDenied>>();
  private readonly touched = new Map<string, number>();
  private readonly noticeListeners = new Set<(notice: AccessNotice) => void>();

  /** @param opts the store and the knobs; the server builds one per store. */
  constructor(opts: AccessServiceOptions) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    this.defaultPermission = opts.defaultPermission === undefined ? 'READ' : parsePermission(opts.defaultPermission, 'default permission');
    this.ttlMs = opts.cacheTtlMs ?? 60_000;
    this.credentials = new CredentialCache(opts.cacheEntries ?? 10_000);
    this.limiter = new FailureLimiter({ maxFailures: opts.maxFailures ?? 10, windowMs: opts.failureWindowMs ?? 60_000 });
  }

  // ---------------------------------------------------------------- users

  /** Creates a user. Only admins may call this through the APIs. */
  async createUser(input: { username: string; password: string; isAdmin?: boolean }, ctx: AccessMutation = {}): Promise<User> {
    const username = validateUsername(input.username);
    const passwordHash = await hashPassword(validatePassword(input.password));
    const now = this.clock.now();
    return this.mutate(async (trx) => {
      if (this.store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(7419001)`.execute(trx);
      const existing = await trx.selectFrom('access_users').select('username').where('username', '=', username).executeTakeFirst();
      if (existing) throw errors.exists(`User '${username}' already exists.`, { username });
      const max = await trx.selectFrom('access_users').select((eb) => eb.fn.max('id').as('max')).executeTakeFirst();
      const row: AccessUserTable = { username, id: Number(max?.max ?? 0) + 1, password_hash: passwordHash, is_admin: input.isAdmin ? 1 : 0, rights: '[]', created_time: now, updated_time: now };
      await trx.insertInto('access_users').values(row).execute();
      await this.audit(trx, ctx, 'user.create', 'user', username, { username, isAdmin: !!input.isAdmin });
      return toUser(row);
    });
  }

  /** A user by name; NOT_FOUND when there is none. */
  async getUser(username: string): Promise<User> {
    const row = await this.store.db.selectFrom('access_users').selectAll().where('username', '=', String(username)).executeTakeFirst();
    if (!row) throw errors.notFound(`User '${username}' does not exist.`, { username });
    return toUser(row);
  }

  /** Every user, by name. */
  async listUsers(): Promise<User[]> {
    return (await this.store.db.selectFrom('access_users').selectAll().orderBy('username').execute()).map(toUser);
  }

  /** Sets a user's password; their cached credentials stop working at once (tokens stay valid). */
  async updatePassword(username: string, password: string, ctx: AccessMutation = {}): Promise<User> {
    const passwordHash = await hashPassword(validatePassword(password));
    const user = await this.updateUser(username, ctx, 'user.update_password', { password_hash: passwordHash }, {});
    this.forgetUser(username);
    return user;
  }

  /** Makes a user an admin or not; refuses to remove the last admin. */
  async setAdmin(username: string, isAdmin: boolean, ctx: AccessMutation = {}): Promise<User> {
    const user = await this.updateUser(username, ctx, 'user.update_admin', { is_admin: isAdmin ? 1 : 0 }, { isAdmin }, async (trx, row) => {
      if (!isAdmin && Number(row.is_admin) === 1) await this.refuseLastAdmin(trx, username, 'take admin rights from');
    });
    this.forgetUser(username);
    return user;
  }

  /** Sets a user's rights besides object permissions (e.g. `monitoring`). */
  async setRights(username: string, rights: readonly string[], ctx: AccessMutation = {}): Promise<User> {
    for (const r of rights) {
      if (!(ACCESS_RIGHTS as readonly string[]).includes(r)) throw errors.invalid(`Unknown right '${r}': use ${ACCESS_RIGHTS.join(', ')}.`, { field: 'rights', value: r });
    }
    const unique = [...new Set(rights)].sort();
    const user = await this.updateUser(username, ctx, 'user.update_rights', { rights: JSON.stringify(unique) }, { rights: unique });
    this.forgetPermissions(username);
    return user;
  }

  /** Deletes a user with their tokens and permissions; refuses to delete the last admin. */
  async deleteUser(username: string, ctx: AccessMutation = {}): Promise<void> {
    await this.mutate(async (trx) => {
      const row = await trx.selectFrom('access_users').selectAll().where('username', '=', username).executeTakeFirst();
      if (!row) throw errors.notFound(`User '${username}' does not exist.`, { username });
      if (Number(row.is_admin) === 1) await this.refuseLastAdmin(trx, username, 'delete');
      await trx.deleteFrom('access_tokens').where('username', '=', username).execute();
      await trx.deleteFrom('access_experiment_permissions').where('username', '=', username).execute();
      await trx.deleteFrom('access_model_permissions').where('username', '=', username).execute();
      await trx.deleteFrom('access_users').where('username', '=', username).execute();
      await this.audit(trx, ctx, 'user.delete', 'user', username, { username });
    });
    this.forgetUser(username);
    this.forgetPermissions(username);
  }

  /**
   * Creates the first admin, `admin`, when the store has no admin yet: with `passwordFromEnv`
   * (SLIPWAY_ADMIN_PASSWORD) or a generated one-time password returned for the server to print once.
   */
  async ensureAdmin(passwordFromEnv?: string): Promise<AdminBootstrap> {
    const admin = await this.store.db.selectFrom('access_users').select('username').where('is_admin', '=', 1).limit(1).executeTakeFirst();
    if (admin) return { created: false, username: admin.username };
    const generated = passwordFromEnv ? undefined : randomBytes(18).toString('base64url');
    try {
      await this.createUser({ username: BOOTSTRAP_ADMIN, password: passwordFromEnv ?? generated!, isAdmin: true }, { actor: 'system' });
    } catch (err) {
      if (err instanceof SlipwayError && err.code === 'ALREADY_EXISTS') {
        // A non-admin took the name: make it admin only with the operator's explicit password.
        throw new SlipwayError('INVALID_STATE', `A user named '${BOOTSTRAP_ADMIN}' exists but no user is an admin; make one an admin with 'slipway users set-admin' against the store.`);
      }
      throw err;
    }
    return generated ? { created: true, username: BOOTSTRAP_ADMIN, generatedPassword: generated } : { created: true, username: BOOTSTRAP_ADMIN };
  }

  // ---------------------------------------------------------------- tokens

  /** Creates an API token for a user; the result holds the secret, which is never shown again. */
  async createToken(username: string, input: { name: string; expiresTime?: number | null }, ctx: AccessMutation = {}): Promise<CreatedToken> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (name === '') throw errors.missing('name');
    if (name.length > 200) throw errors.invalid('The token name is too long: use at most 200 characters.', { field: 'name' });
    const now = this.clock.now();
    const expires = input.expiresTime ?? null;
    if (expires !== null && (!Number.isSafeInteger(expires) || expires <= now)) {
      throw errors.invalid(`The token's expiry ${String(expires)} is not a time in the future (epoch milliseconds).`, { field: 'expiresTime' });
    }
    const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row: AccessTokenTable = { id: randomBytes(8).toString('hex'), username, name, secret_sha256: sha256(secret), created_time: now, expires_time: expires, revoked_time: null, last_used_time: null };
    await this.mutate(async (trx) => {
      const user = await trx.selectFrom('access_users').select('username').where('username', '=', username).executeTakeFirst();
      if (!user) throw errors.notFound(`User '${username}' does not exist.`, { username });
      await trx.insertInto('access_tokens').values(row).execute();
      await this.audit(trx, ctx, 'token.create', 'token', row.id, { id: row.id, username, name, expires });
    });
    return { ...toToken(row), secret };
  }

  /** Tokens of one user, or of everyone without `username`; newest first, never with secrets. */
  async listTokens(username?: string): Promise<ApiToken[]> {
    let q = this.store.db.selectFrom('access_tokens').selectAll();
    if (username !== undefined) q = q.where('username', '=', username);
    return (await q.orderBy('created_time', 'desc').orderBy('id').execute()).map(toToken);
  }

  /** One token by id; NOT_FOUND when there is none. */
  async getToken(id: string): Promise<ApiToken> {
    const row = await this.store.db.selectFrom('access_tokens').selectAll().where('id', '=', String(id)).executeTakeFirst();
    if (!row) throw errors.notFound(`Token '${id}' does not exist.`, { id });
    return toToken(row);
  }

  /** Revokes a token: it stops authenticating at once. Revoking a revoked token changes nothing. */
  async revokeToken(id: string, ctx: AccessMutation = {}): Promise<ApiToken> {
    const now = this.clock.now();
    const token = await this.mutate(async (trx) => {
      const row = await trx.selectFrom('access_tokens').selectAll().where('id', '=', String(id)).executeTakeFirst();
      if (!row) throw errors.notFound(`Token '${id}' does not exist.`, { id });
      if (row.revoked_time != null) return toToken(row);
      await trx.updateTable('access_tokens').set({ revoked_time: now }).where('id', '=', id).execute();
      await this.audit(trx, ctx, 'token.revoke', 'token', id, { id, username: row.username });
      return toToken({ ...row, revoked_time: now });
    });
    this.forgetToken(id);
    return token;
  }

  // ---------------------------------------------------------------- permissions

  /** The stored permission of a user on an object; NOT_FOUND when there is no row. */
  async getPermission(kind: ObjectKind, objectId: string, username: string): Promise<PermissionGrant> {
    const row = await this.permissionRow(this.store.db, kind, objectId, username);
    if (!row) throw errors.notFound(`User '${username}' has no permission on ${kind === 'experiment' ? 'experiment' : 'registered model'} '${objectId}'.`, { kind, objectId, username });
    return { kind, objectId, username, permission: row };
  }

  /** Stored permissions, filtered by user and/or object. */
  async listPermissions(filter: { username?: string; kind?: ObjectKind; objectId?: string } = {}): Promise<PermissionGrant[]> {
    const out: PermissionGrant[] = [];
    if (filter.kind !== 'registered_model') {
      let q = this.store.db.selectFrom('access_experiment_permissions').selectAll();
      if (filter.username !== undefined) q = q.where('username', '=', filter.username);
      if (filter.objectId !== undefined) q = q.where('experiment_id', '=', filter.objectId);
      for (const r of await q.orderBy('experiment_id').orderBy('username').execute()) out.push({ kind: 'experiment', objectId: r.experiment_id, username: r.username, permission: r.permission as Permission });
    }
    if (filter.kind !== 'experiment') {
      let q = this.store.db.selectFrom('access_model_permissions').selectAll();
      if (filter.username !== undefined) q = q.where('username', '=', filter.username);
      if (filter.objectId !== undefined) q = q.where('name', '=', filter.objectId);
      for (const r of await q.orderBy('name').orderBy('username').execute()) out.push({ kind: 'registered_model', objectId: r.name, username: r.username, permission: r.permission as Permission });
    }
    return out;
  }

  /**
   * Stores a user's permission on an object. `mode` follows MLflow's API: `create` refuses an
   * existing row (ALREADY_EXISTS), `update` a missing one (NOT_FOUND), `set` does either.
   */
  async setPermission(grant: { kind: ObjectKind; objectId: string; username: string; permission: Permission }, ctx: AccessMutation = {}, mode: 'create' | 'update' | 'set' = 'set'): Promise<PermissionGrant> {
    const permission = parsePermission(grant.permission);
    const { kind, username } = grant;
    const objectId = String(grant.objectId ?? '');
    if (objectId === '') throw errors.missing(kind === 'experiment' ? 'experiment_id' : 'name');
    await this.mutate(async (trx) => {
      const user = await trx.selectFrom('access_users').select('username').where('username', '=', username).executeTakeFirst();
      if (!user) throw errors.notFound(`User '${username}' does not exist.`, { username });
      const existing = await this.permissionRow(trx, kind, objectId, username);
      const what = `${kind === 'experiment' ? 'experiment' : 'registered model'} '${objectId}'`;
      if (existing && mode === 'create') throw errors.exists(`User '${username}' already has a permission on ${what}; update it instead.`, { kind, objectId, username });
      if (!existing && mode === 'update') throw errors.notFound(`User '${username}' has no permission on ${what} to update.`, { kind, objectId, username });
      await this.writePermission(trx, kind, objectId, username, permission, !!existing);
      await this.audit(trx, ctx, 'permission.set', kind, objectId, { kind, objectId, username, permission });
    });
    this.forgetPermissions(username);
    return { kind, objectId, username, permission };
  }

  /** Deletes a user's permission on an object (they fall back to the default); NOT_FOUND when there is none. */
  async deletePermission(kind: ObjectKind, objectId: string, username: string, ctx: AccessMutation = {}): Promise<void> {
    await this.mutate(async (trx) => {
      if (!(await this.permissionRow(trx, kind, objectId, username))) {
        throw errors.notFound(`User '${username}' has no permission on ${kind === 'experiment' ? 'experiment' : 'registered model'} '${objectId}'.`, { kind, objectId, username });
      }
      if (kind === 'experiment') await trx.deleteFrom('access_experiment_permissions').where('experiment_id', '=', objectId).where('username', '=', username).execute();
      else await trx.deleteFrom('access_model_permissions').where('name', '=', objectId).where('username', '=', username).execute();
      await this.audit(trx, ctx, 'permission.delete', kind, objectId, { kind, objectId, username });
    });
    this.forgetPermissions(username);
  }

  /**
   * Gives the creator of an experiment or registered model MANAGE on it, as MLflow does; the
   * server calls it after a creation. Nothing happens for the anonymous principal (access off).
   */
  async grantCreator(principal: Principal, kind: ObjectKind, objectId: string, ctx: Omit<AccessMutation, 'actor'> = {}): Promise<void> {
    if (principal.via === 'anonymous') return;
    await this.mutate(async (trx) => {
      const existing = await this.permissionRow(trx, kind, objectId, principal.username);
      await this.writePermission(trx, kind, objectId, principal.username, 'MANAGE', !!existing);
      await this.audit(trx, { ...ctx, actor: principal.username }, 'permission.set', kind, objectId, { kind, objectId, username: principal.username, permission: 'MANAGE', creator: true });
    });
    this.forgetPermissions(principal.username);
  }

  /** Drops every permission on an object (the server calls it when it deletes a registered model for good). */
  async forgetObject(kind: ObjectKind, objectId: string, ctx: AccessMutation = {}): Promise<void> {
    const removed = await this.mutate(async (trx) => {
      const rows = kind === 'experiment'
        ? await trx.deleteFrom('access_experiment_permissions').where('experiment_id', '=', objectId).returning('username').execute()
        : await trx.deleteFrom('access_model_permissions').where('name', '=', objectId).returning('username').execute();
      if (rows.length > 0) await this.audit(trx, ctx, 'permission.delete', kind, objectId, { kind, objectId, all: true });
      return rows.map((r) => r.username);
    });
    for (const u of removed) this.forgetPermissions(u);
  }

  /** Moves the permissions of a renamed registered model to its new name. */
  async renameModel(oldName: string, newName: string, ctx: AccessMutation = {}): Promise<void> {
    const moved = await this.mutate(async (trx) => {
      const rows = await trx.updateTable('access_model_permissions').set({ name: newName }).where('name', '=', oldName).returning('username').execute();
      if (rows.length > 0) await this.audit(trx, ctx, 'permission.rename', 'registered_model', newName, { from: oldName, to: newName });
      return rows.map((r) => r.username);
    });
    for (const u of moved) this.forgetPermissions(u);
  }

  /** A user's effective permission on an object: their row, or the default. Admins have MANAGE. */
  async effectivePermission(principal: Principal, kind: ObjectKind, objectId: string): Promise<Permission> {
    if (principal.isAdmin) return 'MANAGE';
    return this.permissionIn(await this.loadPermissions(principal.username), kind, objectId);
  }

  // ---------------------------------------------------------------- per request

  /**
   * Who a request is from, given its `Authorization` header and a key for the client (its
   * address). Accepts `Basic base64(username:password)`, `Basic base64(username:token)` and
   * `Bearer token`. A refusal is always 401 and never says whether a user exists; after too many
   * failures from the client or for the username (10 a minute by default) even right credentials
   * are refused until `retryAfterSeconds` have passed, unless they are already in the cache.
   * Cached credentials and a missing header are answered synchronously (no promise), so the
   * server's inference fast route can stay synchronous.
   */
  authenticate(authorization: string | undefined, clientKey: string): Principal | AccessDenied | Promise<Principal | AccessDenied> {
    if (authorization === undefined || authorization === '') return deny(MISSING_CREDENTIALS);
    if (authorization.length > MAX_AUTHORIZATION_BYTES) return this.fail(clientKey, undefined, 'The Authorization header is longer than 8 KiB.', { ok: false, entityType: 'client', entityId: clientKey });
    const key = sha256(authorization);
    const now = this.clock.now();
    const hit = this.credentials.get(key, now);
    if (hit) {
      this.touchToken(hit.principal, now);
      return hit.principal;
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const work = this.verifyHeader(authorization, key, clientKey).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, work);
    return work;
  }

  /**
   * Whether `principal` may do what `requirement` says. Admins may do everything. A run whose
   * experiment `lookups` cannot find is allowed here, so the route answers 404 as MLflow does.
   * Answers synchronously when the principal's permissions are cached and no lookup is needed.
   */
  authorize(principal: Principal, requirement: Requirement, lookups?: AuthorizationLookups): boolean | AccessDenied | Promise<boolean | AccessDenied> {
    if (requirement.kind === 'public' || principal.isAdmin) return true;
    if (requirement.kind === 'authenticated') return principal.via !== 'anonymous' || this.forbid('Sign in first: this operation needs an authenticated user.');
    if (requirement.kind === 'admin') return this.forbid('Permission denied: this operation needs an admin.');
    const loaded = this.cachedPermissions(principal.username);
    if (loaded && requirement.kind !== 'run') return this.decide(requirement, loaded);
    return this.authorizeLoading(principal, requirement, lookups);
  }

  /** Experiment ids `principal` may read, for filtering lists and searches. */
  readableExperimentIds(principal: Principal): ReadableObjects | Promise<ReadableObjects> {
    if (principal.isAdmin) return 'all';
    const loaded = this.cachedPermissions(principal.username);
    return loaded ? this.readable(loaded.experiments) : this.loadPermissions(principal.username).then((l) => this.readable(l.experiments));
  }

  /** Registered model names `principal` may read, for filtering lists and searches. */
  readableModelNames(principal: Principal): ReadableObjects | Promise<ReadableObjects> {
    if (principal.isAdmin) return 'all';
    const loaded = this.cachedPermissions(principal.username);
    return loaded ? this.readable(loaded.models) : this.loadPermissions(principal.username).then((l) => this.readable(l.models));
  }

  // ---------------------------------------------------------------- internals

  private readable(rows: Map<string, Permission>): ReadableObjects {
    if (RANK[this.defaultPermission] >= RANK.READ) {
      const except = [...rows].filter(([, p]) => p === 'NO_PERMISSIONS').map(([id]) => id);
      return except.length === 0 ? 'all' : { except };
    }
    return [...rows].filter(([, p]) => RANK[p] >= RANK.READ).map(([id]) => id);
  }

  private forbid(message: string): AccessDenied {
    return { status: 403, message };
  }

  private async authorizeLoading(principal: Principal, requirement: Requirement, lookups?: AuthorizationLookups): Promise<boolean | AccessDenied> {
    const loaded = await this.loadPermissions(principal.username);
    if (requirement.kind === 'public' || requirement.kind === 'authenticated' || requirement.kind === 'admin') return this.authorize(principal, requirement, lookups);
    if (requirement.kind !== 'run') return this.decide(requirement, loaded);
    if (!lookups) return this.forbid(`Permission denied: the experiment of run '${requirement.runId}' could not be resolved.`);
    const experimentId = await lookups.experimentOfRun(requirement.runId);
    if (experimentId === undefined) return true;
    return this.atLeast(loaded, 'experiment', experimentId, requirement.level, `run '${requirement.runId}' (experiment ${experimentId})`);
  }

  private decide(requirement: Exclude<Requirement, { kind: 'public' | 'authenticated' | 'admin' | 'run' }>, loaded: LoadedPermissions): true | AccessDenied {
    switch (requirement.kind) {
      case 'experiment':
        return this.atLeast(loaded, 'experiment', requirement.experimentId, requirement.level);
      case 'registered_model':
        return this.atLeast(loaded, 'registered_model', requirement.name, requirement.level);
      case 'monitoring': {
        const have = this.permissionIn(loaded, 'registered_model', requirement.name);
        if (RANK[have] < RANK.READ) return this.atLeast(loaded, 'registered_model', requirement.name, 'READ');
        return loaded.rights.includes('monitoring') || have === 'MANAGE'
          || this.forbid(`Permission denied: reading inference logs and monitoring data of '${requirement.name}' needs the monitoring right or MANAGE on the model.`);
      }
      case 'release_approval':
        return this.atLeast(loaded, 'registered_model', requirement.name, 'MANAGE', `registered model '${requirement.name}' (approving releases to ${requirement.environment})`);
    }
  }

  private permissionIn(loaded: LoadedPermissions, kind: ObjectKind, objectId: string): Permission {
    return (kind === 'experiment' ? loaded.experiments : loaded.models).get(objectId) ?? this.defaultPermission;
  }

  private atLeast(loaded: LoadedPermissions, kind: ObjectKind, objectId: string, level: Permission, what?: string): true | AccessDenied {
    if (RANK[this.permissionIn(loaded, kind, objectId)] >= RANK[level]) return true;
    return this.forbid(`Permission denied: this operation needs ${level} on ${what ?? `${kind === 'experiment' ? 'experiment' : 'registered model'} '${objectId}'`}.`);
  }

  private cachedPermissions(username: string): LoadedPermissions | undefined {
    const cached = this.permissions.get(username);
    return cached && cached.expires > this.clock.now() ? cached : undefined;
  }

  private async loadPermissions(username: string): Promise<LoadedPermissions> {
    const cached = this.cachedPermissions(username);
    if (cached) return cached;
    const now = this.clock.now();
    const generation = this.permissions.generation;
    const [experiments, models, user] = await Promise.all([
      this.store.db.selectFrom('access_experiment_permissions').select(['experiment_id', 'permission']).where('username', '=', username).execute(),
      this.store.db.selectFrom('access_model_permissions').select(['name', 'permission']).where('username', '=', username).execute(),
      this.store.db.selectFrom('access_users').select('rights').where('username', '=', username).executeTakeFirst(),
    ]);
    const loaded: LoadedPermissions = {
      experiments: new Map(experiments.map((r) => [r.experiment_id, r.permission as Permission])),
      models: new Map(models.map((r) => [r.name, r.permission as Permission])),
      rights: user ? parseRights(user.rights) : [],
      expires: now + this.ttlMs,
    };
    // Bounded like the credential cache: a server with many users keeps the recent ones.
    // A change that cleared the cache during the reads may be missing from them: use them once, keep nothing.
    if (generation !== this.permissions.generation) return loaded;
    if (this.permissions.size >= 10_000) this.permissions.evictOldest();
    this.permissions.set(username, loaded);
    return loaded;
  }

  private async permissionRow(db: Trx | Store['db'], kind: ObjectKind, objectId: string, username: string): Promise<Permission | undefined> {
    const row = kind === 'experiment'
      ? await db.selectFrom('access_experiment_permissions').select('permission').where('experiment_id', '=', objectId).where('username', '=', username).executeTakeFirst()
      : await db.selectFrom('access_model_permissions').select('permission').where('name', '=', objectId).where('username', '=', username).executeTakeFirst();
    return row?.permission as Permission | undefined;
  }

  private async writePermission(trx: Trx, kind: ObjectKind, objectId: string, username: string, permission: Permission, exists: boolean): Promise<void> {
    if (kind === 'experiment') {
      if (exists) await trx.updateTable('access_experiment_permissions').set({ permission }).where('experiment_id', '=', objectId).where('username', '=', username).execute();
      else await trx.insertInto('access_experiment_permissions').values({ experiment_id: objectId, username, permission }).execute();
    } else if (exists) {
      await trx.updateTable('access_model_permissions').set({ permission }).where('name', '=', objectId).where('username', '=', username).execute();
    } else {
      await trx.insertInto('access_model_permissions').values({ name: objectId, username, permission }).execute();
    }
  }

  private async updateUser(
    username: string,
    ctx: AccessMutation,
    action: string,
    set: Partial<Pick<AccessUserTable, 'password_hash' | 'is_admin' | 'rights'>>,
    change: Record<string, unknown>,
    check?: (trx: Trx, row: AccessUserTable) => Promise<void>,
  ): Promise<User> {
    const now = this.clock.now();
    return this.mutate(async (trx) => {
      const row = await trx.selectFrom('access_users').selectAll().where('username', '=', String(username)).executeTakeFirst();
      if (!row) throw errors.notFound(`User '${username}' does not exist.`, { username });
      if (check) await check(trx, row);
      await trx.updateTable('access_users').set({ ...set, updated_time: now }).where('username', '=', username).execute();
      await this.audit(trx, ctx, action, 'user', username, { username, ...change });
      return toUser({ ...row, ...set, updated_time: now });
    });
  }

  private async refuseLastAdmin(trx: Trx, username: string, verb: string): Promise<void> {
    if (this.store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(7419001)`.execute(trx);
    const others = await trx.selectFrom('access_users').select('username').where('is_admin', '=', 1).where('username', '!=', username).limit(1).executeTakeFirst();
    if (!others) throw errors.state(`Cannot ${verb} '${username}': it is the last admin. Make another user an admin first.`, { username });
  }

  private mutate<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.store.db.transaction().execute(fn);
  }

  private async audit(trx: Trx, ctx: AccessMutation, action: string, entityType: string, entityId: string, change: unknown): Promise<void> {
    await appendAuditEvent(trx, this.store.dialect, { actor: ctx.actor ?? 'anonymous', requestId: ctx.requestId ?? null, action, entityType, entityId, change, time: this.clock.now() });
  }

  private async verifyHeader(authorization: string, key: string, clientKey: string): Promise<Principal | AccessDenied> {
    const space = authorization.indexOf(' ');
    const scheme = space > 0 ? authorization.slice(0, space).toLowerCase() : '';
    const value = space > 0 ? authorization.slice(space + 1).trim() : '';
    let username: string | undefined;
    let secret: string;
    if (scheme === 'basic' && /^[A-Za-z0-9+/]+={0,2}$/.test(value)) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return this.fail(clientKey, undefined, MALFORMED, { ok: false, entityType: 'client', entityId: clientKey });
      username = decoded.slice(0, colon);
      secret = decoded.slice(colon + 1);
    } else if (scheme === 'bearer' && value !== '' && !/\s/.test(value)) {
      secret = value;
    } else {
      return this.fail(clientKey, undefined, MALFORMED, { ok: false, entityType: 'client', entityId: clientKey });
    }

    const now = this.clock.now();
    const generation = this.credentials.generation;
    const retry = Math.max(this.limiter.retryAfterSeconds(`client:${clientKey}`, now), username !== undefined ? this.limiter.retryAfterSeconds(`user:${username}`, now) : 0);
    if (retry > 0) return deny(`Too many failed sign-in attempts; retry after ${retry} s.`, retry);

    const verified = username === undefined || secret.startsWith(TOKEN_PREFIX) ? await this.verifyToken(secret, username, now) : await this.verifyUserPassword(username, secret);
    if (!verified.ok) return this.fail(clientKey, username, INVALID_CREDENTIALS, verified);
    this.credentials.set(key, { principal: verified.principal, expires: verified.expires }, generation);
    this.touchToken(verified.principal, now);
    return verified.principal;
  }

  private async verifyUserPassword(username: string, password: string): Promise<Verified> {
    const failed: Verified = { ok: false, entityType: 'user', entityId: username.slice(0, 128) };
    if (password.length > MAX_PASSWORD || !USERNAME.test(username)) return failed;
    const row = await this.store.db.selectFrom('access_users').select(['password_hash', 'is_admin']).where('username', '=', username).executeTakeFirst();
    if (!row) {
      await burnVerification(password);
      return failed;
    }
    if (!(await verifyPassword(password, row.password_hash))) return failed;
    return { ok: true, principal: { username, isAdmin: Number(row.is_admin) === 1, via: 'password' }, expires: this.clock.now() + this.ttlMs };
  }

  private async verifyToken(secret: string, username: string | undefined, now: number): Promise<Verified> {
    const digest = sha256(secret);
    // The digest prefix names the attempt in the audit trail without being usable as the secret.
    const failed: Verified = { ok: false, entityType: 'token', entityId: `sha256:${digest.slice(0, 12)}` };
    if (secret.length !== TOKEN_SECRET_LENGTH || !secret.startsWith(TOKEN_PREFIX)) return failed;
    const row = await this.store.db
      .selectFrom('access_tokens')
      .innerJoin('access_users', 'access_users.username', 'access_tokens.username')
      .select(['access_tokens.id', 'access_tokens.username', 'access_tokens.expires_time', 'access_tokens.revoked_time', 'access_users.is_admin'])
      .where('access_tokens.secret_sha256', '=', digest)
      .executeTakeFirst();
    if (!row || row.revoked_time != null) return failed;
    const expires = row.expires_time == null ? null : Number(row.expires_time);
    if (expires !== null && expires <= now) return { ...failed, entityId: row.id };
    if (username !== undefined && username !== row.username) return failed;
    return {
      ok: true,
      principal: { username: row.username, isAdmin: Number(row.is_admin) === 1, via: 'token', tokenId: row.id },
      expires: Math.min(now + this.ttlMs, expires ?? Infinity),
    };
  }

  private async fail(clientKey: string, username: string | undefined, message: string, what: Verified & { ok: false }): Promise<AccessDenied> {
    const now = this.clock.now();
    // A client already refused is not audited again per attempt: a flood must not grow the trail.
    const already = this.limiter.retryAfterSeconds(`client:${clientKey}`, now);
    if (already > 0) return deny(`Too many failed sign-in attempts; retry after ${already} s.`, already);
    const clientLimited = this.recordFailure(`client:${clientKey}`, now);
    const userLimited = username !== undefined && USERNAME.test(username) ? this.recordFailure(`user:${username}`, now) : false;
    try {
      await this.mutate(async (trx) => {
        await this.audit(trx, { actor: `anonymous@${clientKey}` }, 'auth.failed', what.entityType, what.entityId, { clientKey, entity: what.entityId });
        if (clientLimited || userLimited) {
          await this.audit(trx, { actor: `anonymous@${clientKey}` }, 'auth.rate_limited', userLimited ? 'user' : 'client', userLimited ? username! : clientKey, { clientKey });
        }
      });
    } catch (err) {
      // A refusal must not turn into a 500 because the audit write failed; the log says why.
      this.logger.warn({ err: (err as Error).message }, 'could not audit a failed sign-in');
    }
    return deny(message);
  }

  /**
   * Calls `listener` with each change of this service's caches and failure counts, for processes that
   * share the store and must decide alike (the workers of one server): a revoked token or a changed
   * password stops working there at once, and failed sign-ins count toward one limit.
   */
  onNotice(listener: (notice: AccessNotice) => void): () => void {
    this.noticeListeners.add(listener);
    return () => void this.noticeListeners.delete(listener);
  }

  /** Applies a change another process announced with `onNotice` (without announcing it again). */
  applyNotice(notice: AccessNotice): void {
    if (notice.kind === 'user') this.credentials.forgetUser(notice.key);
    else if (notice.kind === 'token') this.credentials.forgetToken(notice.key);
    else if (notice.kind === 'permissions') this.permissions.delete(notice.key);
    else if (notice.kind === 'failure' && typeof notice.time === 'number') this.limiter.record(notice.key, notice.time);
  }

  private announce(notice: AccessNotice): void {
    for (const l of this.noticeListeners) l(notice);
  }

  private forgetUser(username: string): void {
    this.credentials.forgetUser(username);
    this.announce({ kind: 'user', key: username });
  }

  private forgetToken(id: string): void {
    this.credentials.forgetToken(id);
    this.announce({ kind: 'token', key: id });
  }

  private forgetPermissions(username: string): void {
    this.permissions.delete(username);
    this.announce({ kind: 'permissions', key: username });
  }

  private recordFailure(key: string, now: number): boolean {
    const limited = this.limiter.record(key, now);
    this.announce({ kind: 'failure', key, time: now });
    return limited;
  }

  private touchToken(principal: Principal, now: number): void {
    const id = principal.tokenId;
    if (id === undefined) return;
    const last = this.touched.get(id);
    if (last !== undefined && now - last < TOKEN_TOUCH_INTERVAL_MS) return;
    this.touched.set(id, now);
    this.store.db.updateTable('access_tokens').set({ last_used_time: now }).where('id', '=', id).execute().catch((err: unknown) => {
      this.logger.warn({ err: (err as Error).message, tokenId: id }, 'could not record when a token was last used');
    });
  }
}

/** Loaded permissions by user; every `delete` (a change to them) counts as a forget, as in the credential cache. */
class PermissionCache extends Map<string, LoadedPermissions> {
  generation = 0;

  override delete(username: string): boolean {
    this.generation++;
    return super.delete(username);
  }

  /** Drops the least recently loaded user to make room (not a change: the generation stays). */
  evictOldest(): void {
    const oldest = this.keys().next().value;
    if (oldest !== undefined) super.delete(oldest);
  }
}
