/**
 * Access control for `slipway serve`: inference needs READ on the served registered model,
 * health answers anyone. Two ways to decide: with the embedded store the access domain's
 * `AccessService` decides as on `slipway server`; following a server (`--server URL`) each
 * caller's credentials are checked by asking that server once — a GET of the model's registry
 * entry with the caller's Authorization header, where 200 means READ — and the verdict is kept
 * for a TTL (60 s), so a token revoked on the server stops working here within that time.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { MAX_AUTHORIZATION_BYTES } from '../access/access-service.js';
import type { AccessDenied, Principal, Requirement } from '../access/access-types.js';
import { clientKeyOf, isDenied, isPromise, refusalBody, refusalHeaders, FORBIDDEN_MESSAGE, UNAUTHENTICATED_MESSAGE, type Marked, PRINCIPAL } from './access-gate.js';
import { requirementsOf, type RequirementLookups } from './access-requirements.js';

type Maybe<T> = T | Promise<T>;

/** What `slipway serve` asks of whoever decides access: the two calls of the access domain's service. */
export interface ServeAccess {
  authenticate(authorization: string | undefined, clientKey: string): Maybe<Principal | AccessDenied>;
  authorize(principal: Principal, requirement: Requirement): Maybe<boolean | AccessDenied>;
}

/**
 * Wraps an access decider so the served name (`--name`) is checked as the registered model it
 * serves: a model served as `fraud` from `models:/fraud-detector@champion` needs READ on `fraud-detector`.
 */
export function servedAs(access: ServeAccess, servedName: string, registeredName: string): ServeAccess {
  return {
    authenticate: (authorization, clientKey) => access.authenticate(authorization, clientKey),
    authorize: (principal, requirement) =>
      access.authorize(principal, requirement.kind === 'registered_model' && requirement.name === servedName ? { ...requirement, name: registeredName } : requirement),
  };
}

/** How to build a `RemoteAccessVerifier`. */
export interface RemoteAccessVerifierOptions {
  /** The server's base URL. */
  url: string;
  /** The registered model whose registry entry a caller must be able to read. */
  model: string;
  /** How long a verdict is kept, in ms. @default 60000 */
  ttlMs?: number;
  /** How long a refusal is kept, in ms, so a caller retrying bad credentials does not reach the server each time. @default 10000 */
  refusalTtlMs?: number;
  /** How many verdicts to keep (least recently used go first). @default 10000 */
  maxEntries?: number;
  /** Longest wait for the server's answer, in ms. @default 5000 */
  timeoutMs?: number;
  /** @default Date.now */
  now?: () => number;
}

interface Verdict {
  principal: Principal;
  /** True when the server let the caller read the model. */
  read: boolean;
  /** Set when the server refused the credentials themselves. */
  denied?: AccessDenied;
  expires: number;
}

const UNREACHABLE = 'Cannot verify the credentials: the Slipway server this process follows did not answer; try again.';

/**
 * Access decisions for a `slipway serve` that follows a server: each distinct Authorization
 * header is verified once by the server and its verdict cached (keyed by the header's sha256, the
 * header itself is not kept). Only READ on the served model can be verified this way; anything
 * else (the repository API, which needs an admin) is refused.
 */
export class RemoteAccessVerifier implements ServeAccess {
  private readonly url: string;
  private readonly model: string;
  private readonly ttlMs: number;
  private readonly refusalTtlMs: number;
  private readonly maxEntries: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly verdicts = new Map<string, Verdict>();
  private readonly inFlight = new Map<string, Promise<Principal | AccessDenied>>();
  private readonly readers = new WeakSet<Principal>();

  /** @param opts the server, the model and the cache's knobs. */
  constructor(opts: RemoteAccessVerifierOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.model = opts.model;
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.refusalTtlMs = opts.refusalTtlMs ?? 10_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** The caller's principal from the cache (synchronously), or after asking the server. */
  authenticate(authorization: string | undefined, _clientKey: string): Maybe<Principal | AccessDenied> {
    if (authorization === undefined || authorization === '') return { status: 401, message: UNAUTHENTICATED_MESSAGE };
    if (authorization.length > MAX_AUTHORIZATION_BYTES) return { status: 401, message: 'The Authorization header is longer than 8 KiB.' };
    const key = createHash('sha256').update(authorization).digest('hex');
    const hit = this.verdicts.get(key);
    if (hit) {
      this.verdicts.delete(key);
      if (hit.expires > this.now()) {
        this.verdicts.set(key, hit);
        return hit.denied ?? hit.principal;
      }
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const work = this.verify(authorization, key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, work);
    return work;
  }

  /** READ on the served model as the server answered it; nothing else can be verified from here. */
  authorize(principal: Principal, requirement: Requirement): boolean | AccessDenied {
    if (requirement.kind === 'public') return true;
    if (requirement.kind === 'authenticated') return principal.via !== 'anonymous';
    if (requirement.kind === 'registered_model' && requirement.level === 'READ' && requirement.name === this.model) {
      return this.readers.has(principal) || { status: 403, message: `Permission denied: this operation needs READ on registered model '${this.model}'.` };
    }
    return { status: 403, message: 'Permission denied: this operation needs an admin, which a serve process following a server cannot verify.' };
  }

  /** How many verdicts are cached. */
  get size(): number {
    return this.verdicts.size;
  }

  private async verify(authorization: string, key: string): Promise<Principal | AccessDenied> {
    let status: number;
    try {
      const res = await fetch(`${this.url}/api/2.0/mlflow/registered-models/get?name=${encodeURIComponent(this.model)}`, {
        headers: { authorization },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.arrayBuffer();
      status = res.status;
    } catch {
      // Not cached: the next request asks again.
      return { status: 401, message: UNREACHABLE };
    }
    if (status >= 500 || status === 429) return { status: 401, message: UNREACHABLE };
    const now = this.now();
    const principal: Principal = { username: usernameOf(authorization) ?? `token:${key.slice(0, 12)}`, isAdmin: false, via: 'token' };
    let verdict: Verdict;
    if (status === 200) {
      this.readers.add(principal);
      verdict = { principal, read: true, expires: now + this.ttlMs };
    } else if (status === 401) {
      verdict = { principal, read: false, denied: { status: 401, message: 'Invalid credentials: the username, password or token was not accepted.' }, expires: now + this.refusalTtlMs };
    } else {
      // 403, or 404 (a server hides what a caller may not read): valid credentials without READ.
      verdict = { principal, read: false, expires: now + this.refusalTtlMs };
    }
    this.verdicts.set(key, verdict);
    while (this.verdicts.size > this.maxEntries) this.verdicts.delete(this.verdicts.keys().next().value as string);
    return verdict.denied ?? principal;
  }
}

/** The username of a Basic header, for the principal's name; undefined for a Bearer token. */
function usernameOf(authorization: string): string | undefined {
  if (!/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon > 0 ? decoded.slice(0, colon) : undefined;
}

/**
 * Installs the checks on serve's Fastify app: 401 before any body is read, 403 without READ
 * on the model. Requests the node:http gate already let through (cached credentials on the V2
 * infer route) are not checked again.
 */
export function installServeAccess(app: FastifyInstance, access: ServeAccess, servedModelNames: () => readonly string[]): void {
  const lookups: RequirementLookups = {
    experimentIdByName: async () => undefined,
    releaseTarget: async () => undefined,
    servedModelNames,
  };
  app.addHook('onRequest', async (request, reply) => {
    if ((request.raw as Marked)[PRINCIPAL]) return;
    const routePath = request.routeOptions.url;
    // Unknown paths answer their 404 without credentials, as they would on `slipway server`.
    if (routePath === undefined) return;
    const parts = { params: (request.params ?? {}) as Record<string, string | undefined>, query: (request.query ?? {}) as Record<string, unknown>, body: undefined };
    const requirements = await requirementsOf(request.method, routePath, parts, lookups);
    if (requirements.every((r) => r.kind === 'public')) return;
    const refuse = (status: 401 | 403, message: string, retryAfterSeconds?: number) => {
      for (const [k, v] of Object.entries(refusalHeaders(status, !request.raw.complete, retryAfterSeconds))) reply.header(k, v);
      return reply.code(status).send(refusalBody(request.url, status, message));
    };
    const who = await access.authenticate(request.headers.authorization, clientKeyOf(request.raw));
    if (isDenied(who)) return refuse(who.status, who.message || UNAUTHENTICATED_MESSAGE, who.retryAfterSeconds);
    for (const requirement of requirements) {
      const verdict = access.authorize(who, requirement);
      const decided = isPromise(verdict) ? await verdict : verdict;
      if (decided !== true) return refuse(isDenied(decided) ? decided.status : 403, isDenied(decided) ? decided.message : FORBIDDEN_MESSAGE);
    }
  });
}
