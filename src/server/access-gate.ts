/**
 * The access checks the node:http layer makes before Fastify: the security headers on
 * every answer, and for the V2 infer fast route a synchronous authentication and
 * authorization when the access domain answers from its cache. Kept free of the
 * domain services so `slipway serve` loads nothing more for it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessDenied, Principal } from '../access/access-types.js';
import type { AccessService } from '../access/access-service.js';
import { fastInferModel } from './access-requirements.js';
import { isMlflowPath } from './http-errors.js';

type Maybe<T> = T | Promise<T>;

/** What the server calls of the access domain's service (its results may come synchronously, from its caches). */
export type AccessEnforcer = Pick<AccessService, 'authenticate' | 'authorize' | 'readableExperimentIds' | 'readableModelNames' | 'grantCreator' | 'renameModel' | 'forgetObject'>;

/** Headers on every answer: no sniffing, no referrer, no framing, and a page may load nothing from anywhere. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};
const SECURITY_HEADER_LIST = Object.entries(SECURITY_HEADERS);

/** Sets the security headers on a node:http response (merged into whatever head is written later). */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of SECURITY_HEADER_LIST) res.setHeader(name, value);
}

/** Where the gate leaves the principal it authenticated, for Fastify's hooks. */
export const PRINCIPAL = Symbol('slipway.principal');
/** A request the gate has authenticated. */
export type Marked = IncomingMessage & { [PRINCIPAL]?: Principal };

/** True for the access domain's refusals. */
export function isDenied(x: unknown): x is AccessDenied {
  return typeof x === 'object' && x !== null && 'status' in x && ((x as AccessDenied).status === 401 || (x as AccessDenied).status === 403);
}
/** True for a result still to come. */
export function isPromise<T>(x: Maybe<T>): x is Promise<T> {
  return typeof (x as { then?: unknown } | null)?.then === 'function';
}

/** The 401 message. */
export const UNAUTHENTICATED_MESSAGE = 'Authentication required: send HTTP Basic credentials or a Bearer token.';
/** The 403 message when the domain gives none. */
export const FORBIDDEN_MESSAGE = 'Permission denied for this operation.';

/** The refusal body in the shape the path's clients read. */
export function refusalBody(url: string, status: 401 | 403, message: string): Record<string, unknown> {
  if (url.startsWith('/v2/') || url === '/v2' || url.startsWith('/v2?')) return { error: message };
  const code = status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED';
  if (isMlflowPath(url) || url.startsWith('/invocations') || url.startsWith('/models/') || url.startsWith('/get-artifact') || url.startsWith('//')) return { error_code: code, message };
  return { error: { code, message } };
}

/**
 * Headers of a 401 or 403 answer. `challenge: false` leaves out `WWW-Authenticate`: the web UI's
 * requests say `X-Requested-With: XMLHttpRequest`, and a Basic challenge would make the browser
 * open its own password dialog over the UI's login page.
 */
export function refusalHeaders(status: 401 | 403, unreadBody: boolean, retryAfterSeconds?: number, challenge = true): Record<string, string> {
  return {
    'content-type': 'application/json; charset=utf-8',
    ...(status === 401 && challenge ? { 'www-authenticate': 'Basic realm="slipway"' } : {}),
    // Sign-ins locked out after too many failures say when to come back.
    ...(retryAfterSeconds !== undefined ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) } : {}),
    // A body left unread would be taken for the next request: close instead.
    ...(unreadBody ? { connection: 'close' } : {}),
  };
}

/** The key failed logins are counted by, per client. */
export function clientKeyOf(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** Decides for the node:http layer: `answered` (refused here), `fast` (the fast route may answer), `slow` (Fastify must decide). */
export type GateVerdict = 'answered' | 'fast' | 'slow';

/**
 * The gate the node:http server runs before the fast routes: V2 infer requests are
 * authenticated and authorized here when the access domain answers synchronously
 * (cached credentials); otherwise Fastify's hooks decide with their full machinery.
 */
export function accessGate(access: Pick<AccessEnforcer, 'authenticate' | 'authorize'>): (req: IncomingMessage, res: ServerResponse) => GateVerdict {
  return (req, res) => {
    const url = req.url ?? '/';
    const model = fastInferModel(url);
    if (model === undefined) return 'slow';
    const who = access.authenticate(req.headers.authorization, clientKeyOf(req));
    if (isPromise(who)) return 'slow';
    if (isDenied(who)) return answer(res, url, 401, who.message, who.retryAfterSeconds);
    const ok = access.authorize(who, { kind: 'registered_model', name: model, level: 'READ' });
    if (isPromise(ok)) return 'slow';
    if (ok !== true) return answer(res, url, 403, isDenied(ok) ? ok.message : FORBIDDEN_MESSAGE);
    (req as Marked)[PRINCIPAL] = who;
    return 'fast';
  };
}

function answer(res: ServerResponse, url: string, status: 401 | 403, message: string, retryAfterSeconds?: number): 'answered' {
  const text = JSON.stringify(refusalBody(url, status, message));
  res.writeHead(status, { ...refusalHeaders(status, true, retryAfterSeconds), 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return 'answered';
}

