/**
 * Every request the UI makes goes through here: the server's JSON APIs under /api/v1 (and
 * the V2 protocol's repository index), with the signed-in user's token, and errors turned
 * into `ApiError` with the server's code and message for the page to show.
 */
import { clearSession, sessionToken } from './session';

/** An answer that was not 2xx, with the server's catalogued code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Seconds the server asks the client to wait (its Retry-After header), when it sent one. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type QueryValue = string | number | boolean | undefined | null | readonly (string | number)[];

/** A query string from values; undefined and null are left out, arrays repeat the key. */
export function queryString(query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, String(item));
    else params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `?${qs}` : '';
}

/** Listeners told when the server refuses the session (401), so the app can show the login page. */
const unauthenticated = new Set<() => void>();
/** Calls `listener` whenever a request is refused for want of credentials; returns the unsubscribe. */
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticated.add(listener);
  return () => unauthenticated.delete(listener);
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const token = sessionToken();
  // Without a Basic challenge in the answer the browser's own password dialog stays closed.
  return { accept: 'application/json', 'x-requested-with': 'XMLHttpRequest', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

async function errorOf(res: Response): Promise<ApiError> {
  let code = `HTTP_${res.status}`;
  let message = `${res.status} ${res.statusText}`.trim();
  let details: Record<string, unknown> | undefined;
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown; error_code?: string; message?: string };
    if (body.error && typeof body.error === 'object') {
      const e = body.error as { code?: string; message?: string; details?: Record<string, unknown> };
      code = e.code ?? code;
      message = e.message ?? message;
      details = e.details;
    } else if (typeof body.error === 'string') message = body.error;
    else if (body.error_code) {
      code = body.error_code;
      message = body.message ?? message;
    }
  } catch {
    if (text.trim()) message = text.trim().slice(0, 500);
  }
  const retryAfter = Number(res.headers.get('retry-after') ?? Number.NaN);
  return new ApiError(res.status, code, message, details, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined);
}

/** Sends a request and returns the raw answer when it is 2xx; throws ApiError otherwise. */
export async function request(method: string, path: string, opts: { query?: Record<string, QueryValue>; body?: unknown; signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<Response> {
  // A name that is '.' or '..' (a model, an alias, an artifact path) would be resolved away by the URL parser, and the
  // request would reach another route than the one the user asked for: DELETE …/aliases/.. is DELETE on the model.
  if (/\/\.\.?(?=\/|$)/.test(path)) {
    throw new ApiError(0, 'INVALID_ARGUMENT', `A name '.' or '..' cannot be sent in a URL path (${path}): the browser would read it as a folder step and send the request elsewhere, so it was not sent. Use the MLflow API, which takes names in the body.`);
  }
  let res: Response;
  try {
    res = await fetch(`${path}${queryString(opts.query)}`, {
      method,
      headers: headers({ ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers }),
      body: opts.body === undefined ? null : JSON.stringify(opts.body),
      signal: opts.signal ?? null,
      // Only the session's own token authenticates: no cookies, and no password the browser may have cached
      // from its own Basic dialog (it would outlive signing out of the UI).
      credentials: 'omit',
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'UNREACHABLE', 'The Slipway server cannot be reached: it may be stopped or restarting. The page retries when you reload it.');
  }
  if (res.status === 401) {
    clearSession();
    for (const listener of unauthenticated) listener();
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** GET a JSON document. */
export async function getJson<T>(path: string, query?: Record<string, QueryValue>, signal?: AbortSignal): Promise<T> {
  return (await (await request('GET', path, { ...(query ? { query } : {}), ...(signal ? { signal } : {}) })).json()) as T;
}

/** POST (or another method) with a JSON body; the JSON answer, or undefined for 204. */
export async function sendJson<T>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown, query?: Record<string, QueryValue>): Promise<T> {
  const res = await request(method, path, { ...(body !== undefined ? { body } : {}), ...(query ? { query } : {}) });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** GET a text document (artifacts, reports), at most `maxBytes` of it. */
export async function getText(path: string, maxBytes = 1024 * 1024): Promise<{ text: string; truncated: boolean; contentType: string }> {
  const res = await request('GET', path, { headers: { accept: '*/*' } });
  const buf = await res.arrayBuffer();
  const truncated = buf.byteLength > maxBytes;
  return { text: new TextDecoder().decode(truncated ? buf.slice(0, maxBytes) : buf), truncated, contentType: res.headers.get('content-type') ?? '' };
}

/** GET a binary document as a Blob (images to preview, files to download with the session's token). */
export async function getBlob(path: string): Promise<Blob> {
  const res = await request('GET', path, { headers: { accept: '*/*' } });
  return await res.blob();
}

/** A path under the native API with its segments encoded: api('models', name, 'versions'). */
export function api(...segments: Array<string | number>): string {
  return `/api/v1/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
}
