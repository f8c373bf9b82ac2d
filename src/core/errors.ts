/**
 * The error catalogue. Domain code throws `SlipwayError` with a catalogued code;
 * the faces translate it once: HTTP status in the server, exit code in the CLI,
 * MLflow `error_code` on the MLflow routes.
 */

/** One catalogued error: its HTTP status, its MLflow error code and what it means. */
export interface ErrorSpec {
  status: number;
  mlflowCode: string;
  description: string;
}

export const ERROR_CATALOGUE = {
  INVALID_ARGUMENT: { status: 400, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'A field has a wrong type, value or format.' },
  MISSING_ARGUMENT: { status: 400, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'A required field is missing.' },
  MALFORMED_REQUEST: { status: 400, mlflowCode: 'MALFORMED_REQUEST', description: 'The request body is not valid JSON or not of the expected shape.' },
  LIMIT_EXCEEDED: { status: 400, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'A batch or value is larger than the documented limit.' },
  PAYLOAD_TOO_LARGE: { status: 413, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'The request body is larger than the configured limit.' },
  NOT_FOUND: { status: 404, mlflowCode: 'RESOURCE_DOES_NOT_EXIST', description: 'The named resource does not exist.' },
  ENDPOINT_NOT_FOUND: { status: 404, mlflowCode: 'ENDPOINT_NOT_FOUND', description: 'No route matches the request method and path.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'The request Content-Type is not accepted by this endpoint.' },
  ALREADY_EXISTS: { status: 400, mlflowCode: 'RESOURCE_ALREADY_EXISTS', description: 'A resource with that name or id already exists.' },
  INVALID_STATE: { status: 400, mlflowCode: 'INVALID_STATE', description: 'The resource is in a state that does not allow the operation (e.g. a deleted run).' },
  CONFLICT: { status: 409, mlflowCode: 'INVALID_STATE', description: 'Another operation holds the resource (e.g. a model already has an active release); the message names it.' },
  PATH_NOT_ALLOWED: { status: 400, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'An artifact path escapes its root or contains forbidden characters.' },
  UNAUTHENTICATED: { status: 401, mlflowCode: 'UNAUTHENTICATED', description: 'No valid credentials were given.' },
  PERMISSION_DENIED: { status: 403, mlflowCode: 'PERMISSION_DENIED', description: 'The actor may not perform the operation.' },
  MODEL_CONTROL_DISABLED: { status: 403, mlflowCode: 'PERMISSION_DENIED', description: 'Loading or unloading models through the repository API is off; start the server with --model-control explicit.' },
  MODEL_SOURCE_NOT_ALLOWED: { status: 403, mlflowCode: 'PERMISSION_DENIED', description: 'A model file lies outside the artifact store and the folders allowed by --model-source-allowed-dirs.' },
  NOT_IMPLEMENTED: { status: 501, mlflowCode: 'NOT_IMPLEMENTED', description: 'The operation is not supported by this server.' },
  MODEL_NOT_READY: { status: 503, mlflowCode: 'TEMPORARILY_UNAVAILABLE', description: 'The model is loading or failed to load.' },
  OVERLOADED: { status: 503, mlflowCode: 'TEMPORARILY_UNAVAILABLE', description: 'The queue is full; retry after the Retry-After delay.' },
  DEADLINE_EXCEEDED: { status: 504, mlflowCode: 'DEADLINE_EXCEEDED', description: 'The request did not complete within its deadline.' },
  UNAVAILABLE: { status: 503, mlflowCode: 'TEMPORARILY_UNAVAILABLE', description: 'The server is shutting down or a dependency is unreachable.' },
  DATA_ERROR: { status: 400, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'A data file is unreadable, empty or does not match the expected schema.' },
  REFERENCE_DATA_MISSING: { status: 409, mlflowCode: 'INVALID_STATE', description: 'The model version has no reference data attached (needed to explain its predictions); the message says how to attach it.' },
  THRESHOLD_FAILED: { status: 422, mlflowCode: 'INVALID_PARAMETER_VALUE', description: 'A gate, SLO or quality threshold failed.' },
  INTEGRITY_ERROR: { status: 500, mlflowCode: 'INTERNAL_ERROR', description: 'Stored data failed an integrity check (e.g. the audit chain).' },
  INTERNAL: { status: 500, mlflowCode: 'INTERNAL_ERROR', description: 'An unexpected server fault; the log has details.' },
  INSUFFICIENT_STORAGE: { status: 507, mlflowCode: 'INTERNAL_ERROR', description: 'The artifact store has no space left for the upload; nothing of it was kept.' },
} as const satisfies Record<string, ErrorSpec>;

/** A catalogued error code. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The one error type domain code throws. */
export class SlipwayError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'SlipwayError';
    this.code = code;
    this.details = details;
  }

  /** HTTP status for this error. */
  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }

  /** MLflow `error_code` for this error. */
  get mlflowCode(): string {
    return ERROR_CATALOGUE[this.code].mlflowCode;
  }
}

/** True when `err` is a SlipwayError (also across module copies). */
export function isSlipwayError(err: unknown): err is SlipwayError {
  return err instanceof SlipwayError || (err instanceof Error && err.name === 'SlipwayError' && 'code' in err);
}

/** Shorthand constructors used across domains. */
export const errors = {
  invalid: (message: string, details?: Record<string, unknown>) => new SlipwayError('INVALID_ARGUMENT', message, details),
  missing: (field: string) => new SlipwayError('MISSING_ARGUMENT', `Missing value for required parameter '${field}'.`, { field }),
  notFound: (message: string, details?: Record<string, unknown>) => new SlipwayError('NOT_FOUND', message, details),
  exists: (message: string, details?: Record<string, unknown>) => new SlipwayError('ALREADY_EXISTS', message, details),
  state: (message: string, details?: Record<string, unknown>) => new SlipwayError('INVALID_STATE', message, details),
};
