/**
 * The one place errors become HTTP responses. MLflow routes answer in MLflow's
 * shape (`{"error_code", "message"}`) so the official client understands them;
 * every other route answers `{"error": {"code", "message", "details"}}`.
 */
import { ERROR_CATALOGUE, SlipwayError, isSlipwayError, type ErrorCode } from '../core/errors.js';
import { lockErrorOf } from '../store/sqlite/sqlite-lock.js';
import { clientErrorOf, databaseUnavailableOf } from '../store/store-errors.js';

/** True for paths the MLflow client calls (REST API, ajax API and the artifacts proxy). */
export function isMlflowPath(url: string): boolean {
  return url.startsWith('/api/2.0/') || url.startsWith('/ajax-api/2.0/');
}

/** An error ready to send: status, catalogued code and a message safe to show. */
export interface HttpError {
  status: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  /** True when the cause is a server fault that must be logged. */
  internal: boolean;
}

// Fastify's own error codes for client mistakes, mapped to our catalogue with a message naming the problem.
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'MALFORMED_REQUEST', message: 'The Content-Length header does not match the body received.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'MALFORMED_REQUEST', message: 'The request body is empty but Content-Type is application/json.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'MALFORMED_REQUEST', message: 'The request body is not valid JSON.' },
  FST_ERR_VALIDATION: { code: 'INVALID_ARGUMENT' },
  FST_ERR_NOT_FOUND: { code: 'ENDPOINT_NOT_FOUND' },
  FST_ERR_BAD_URL: { code: 'MALFORMED_REQUEST', message: 'The request path is not valid percent-encoded UTF-8.' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'LIMIT_EXCEEDED', message: 'A path segment is longer than this server accepts.' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'MALFORMED_REQUEST' },
};

const BY_STATUS: Record<number, ErrorCode> = {
  400: 'MALFORMED_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'ENDPOINT_NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
};

/** What the request carried, for messages that name the problem. */
export interface ErrorHints {
  contentType?: string;
  bodyLimit?: number;
}

function fastifyMessage(code: string, fallback: string, hints: ErrorHints): string {
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return `Content-Type '${hints.contentType ?? '(none)'}' is not accepted here; send application/json.`;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' && hints.bodyLimit !== undefined) return `The request body is larger than the limit of ${hints.bodyLimit} bytes.`;
  return fallback;
}

/** Translates any thrown value into the response to send. */
export function toHttpError(err: unknown, requestId: string, hints: ErrorHints = {}): HttpError {
  if (isSlipwayError(err)) {
    const internal = err.status >= 500 && err.code !== 'NOT_IMPLEMENTED' && err.status !== 503 && err.status !== 504;
    return { status: err.status, code: err.code, message: err.message, details: err.details, internal };
  }
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown; name?: unknown; issues?: unknown } | null;
  if (e && e.name === 'ZodError' && Array.isArray(e.issues)) {
    const issues = (e.issues as Array<{ path?: unknown[]; message?: string }>).map((i) => ({ path: (i.path ?? []).map(String).join('.'), message: i.message ?? '' }));
    const text = issues.map((i) => (i.path ? `'${i.path}': ${i.message}` : i.message)).join('; ');
    return { status: 400, code: 'INVALID_ARGUMENT', message: `Invalid request: ${text}.`, details: { issues }, internal: false };
  }
  const stored = clientErrorOf(err);
  if (stored) return { status: stored.status, code: stored.code, message: stored.message, internal: false };
  // A lock that outlasted the retries (or hit a raw statement): 503 with Retry-After, not a fault.
  const locked = lockErrorOf(err);
  if (locked) return { status: locked.status, code: locked.code, message: locked.message, details: locked.details, internal: false };
  // The database out of reach (a restart, a failover): 503 with Retry-After, not a fault of this server.
  const away = databaseUnavailableOf(err);
  if (away) return { status: away.status, code: away.code, message: away.message, details: away.details, internal: false };
  const known = typeof e?.code === 'string' ? FASTIFY_ERRORS[e.code] : undefined;
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (known) {
    const spec = ERROR_CATALOGUE[known.code];
    const message = known.message ?? fastifyMessage(e?.code as string, String(e?.message ?? spec.description), hints);
    return { status: spec.status, code: known.code, message, internal: false };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return { status, code: BY_STATUS[status] ?? 'INVALID_ARGUMENT', message: String(e?.message ?? 'Bad request.'), internal: false };
  }
  // Anything else is our fault: log it, never leak its text (it may hold paths or SQL).
  return { status: 500, code: 'INTERNAL', message: `Internal server error (request id ${requestId}); the server log has details.`, internal: true };
}

/** The response body for an error, in the shape the caller's API expects. */
export function errorBody(error: HttpError, mlflow: boolean): Record<string, unknown> {
  if (mlflow) return { error_code: ERROR_CATALOGUE[error.code].mlflowCode, message: error.message };
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

/** The error for a request no route matches. */
export function endpointNotFound(method: string, url: string): SlipwayError {
  const path = url.split('?')[0] ?? url;
  return new SlipwayError('ENDPOINT_NOT_FOUND', `No endpoint ${method} ${path}.`, { method, path });
}
