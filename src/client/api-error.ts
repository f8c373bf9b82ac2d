/** The error every SDK call throws when the server refuses a request or cannot be reached. */

/** A failed API call: the server's catalogued code, the HTTP status and its message. */
export class SlipwayApiError extends Error {
  /** Catalogued code such as NOT_FOUND or INVALID_ARGUMENT; UNAVAILABLE when the server was not reached. */
  readonly code: string;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** Structured context from the server (e.g. the invalid fields). */
  readonly details: Record<string, unknown> | undefined;
  /** The server's request id (x-request-id), to find the request in its log. */
  readonly requestId: string | undefined;

  constructor(code: string, status: number, message: string, details?: Record<string, unknown>, requestId?: string) {
    super(message);
    this.name = 'SlipwayApiError';
    this.code = code;
    this.status = status;
    this.details = details;
    this.requestId = requestId;
  }
}

/** True when `err` is a SlipwayApiError (also across bundled copies of the SDK). */
export function isSlipwayApiError(err: unknown): err is SlipwayApiError {
  return err instanceof SlipwayApiError || (err instanceof Error && err.name === 'SlipwayApiError' && 'code' in err && 'status' in err);
}

/** Builds the error for a non-2xx response from its body (native or MLflow shape). */
export function errorFromResponse(status: number, body: unknown, requestId: string | undefined): SlipwayApiError {
  const native = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (native && typeof native === 'object' && typeof native.code === 'string') {
    const details = native.details && typeof native.details === 'object' ? (native.details as Record<string, unknown>) : undefined;
    return new SlipwayApiError(native.code, status, String(native.message ?? native.code), details, requestId);
  }
  const mlflow = body as { error_code?: unknown; message?: unknown } | null;
  if (mlflow && typeof mlflow.error_code === 'string') return new SlipwayApiError(mlflow.error_code, status, String(mlflow.message ?? mlflow.error_code), undefined, requestId);
  const text = typeof body === 'string' && body.trim() !== '' ? body.trim().slice(0, 200) : `HTTP ${status}`;
  return new SlipwayApiError(`HTTP_${status}`, status, text, undefined, requestId);
}
