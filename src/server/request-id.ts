/**
 * Request ids: a caller's `x-request-id` is honoured when it is a sane token,
 * otherwise one is generated. Handlers read it as `request.id` (audit events carry it).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header read and echoed. */
export const REQUEST_ID_HEADER = 'x-request-id';

// Printable ASCII without spaces, bounded: a request id ends up in logs and audit rows.
const ACCEPTABLE = /^[A-Za-z0-9._:/+=@-]{1,128}$/;

/** Returns the caller's request id when acceptable, else a fresh UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  if (typeof given === 'string' && ACCEPTABLE.test(given)) return given;
  return randomUUID();
}
