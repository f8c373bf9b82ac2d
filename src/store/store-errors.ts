/**
 * Database errors that mean the caller's value cannot be stored or matched, not a
 * server fault. PostgreSQL raises them where SQLite accepts the value; both faces
 * (HTTP and CLI) turn them into a catalogued client error instead of a crash report.
 */
import { SlipwayError } from '../core/errors.js';

// SQLSTATE codes: character_not_in_repertoire, untranslatable_character, invalid_escape_sequence, numeric_value_out_of_range.
const MESSAGES: Record<string, string> = {
  '22021': 'A text value contains a character the metadata store cannot hold (such as the NUL character \\u0000); remove it and retry.',
  '22P05': 'A text value contains a character the metadata store cannot hold (such as the NUL character \\u0000); remove it and retry.',
  '22025': "A LIKE pattern ends with a backslash or escapes nothing; write '\\\\' to match a backslash.",
  // An id or version past the store's 32-bit columns names nothing that can exist.
  '22003': 'A numeric id or version is larger than the metadata store holds (at most 2147483647).',
};

/** The client error a database error stands for, or undefined when it is a genuine fault. */
export function clientErrorOf(err: unknown): SlipwayError | undefined {
  const e = err as { code?: unknown; name?: unknown } | null;
  // pg's DatabaseError is named 'error'; its code is the SQLSTATE.
  if (!e || e.name !== 'error' || typeof e.code !== 'string') return undefined;
  // query_canceled: the statement timeout, or a cancel sent for an abandoned request.
  if (e.code === '57014') {
    return new SlipwayError('DEADLINE_EXCEEDED', 'The query ran longer than the statement timeout (statementTimeout, SLIPWAY_STATEMENT_TIMEOUT) or its request was abandoned; narrow the search or raise the timeout.', { sqlstate: e.code });
  }
  const message = MESSAGES[e.code];
  return message === undefined ? undefined : new SlipwayError('INVALID_ARGUMENT', message, { sqlstate: e.code });
}

/** Errors of the network, not of a statement: the database server is down, restarting or out of reach. */
// Only refusals and unreachable hosts: a reset or broken pipe is as often a client that went away mid-request.
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH']);
// SQLSTATE admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections, and connection_exception's
// connection failures (08000, 08001, 08003, 08006); 08P01, a protocol violation, is a fault, not an outage.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);
// What node-postgres says when the server closes a connection or the pool cannot open one in time (plain Errors, no code).
const CONNECTION_MESSAGES = /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection terminated due to connection timeout)/;

/**
 * UNAVAILABLE (503, retry after a second) when the database cannot be reached right now — a
 * PostgreSQL restart, a failover, a full connection table — rather than a fault of this server:
 * clients and load balancers retry, and the pool reconnects by itself once it is back.
 */
export function databaseUnavailableOf(err: unknown): SlipwayError | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  const unreachable = CONNECTION_ERRNOS.has(code) || UNAVAILABLE_SQLSTATES.has(code) || (code === '' && CONNECTION_MESSAGES.test(message));
  if (!unreachable) return undefined;
  return new SlipwayError('UNAVAILABLE', 'The metadata store cannot be reached right now (it may be restarting); retry shortly.', { retryAfterSeconds: 1 });
}
