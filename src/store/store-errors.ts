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
