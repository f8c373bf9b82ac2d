/**
 * Runs synchronous better-sqlite3 write transactions on the connection that Kysely
 * also uses. A raw transaction started while a Kysely transaction is open would
 * nest inside it (and share its fate), so it waits until the connection is idle.
 */
import type Sqlite from 'better-sqlite3';
import { SlipwayError } from '../core/errors.js';
import { retryWhileLocked } from '../store/sqlite/sqlite-lock.js';

/** How long a raw write waits for an open Kysely transaction on the same connection. */
const MAX_WAIT_MS = 30_000;

// The first waits yield one event-loop turn (transactions are usually a few awaits long);
// after that, poll every millisecond so a long transaction does not keep a core spinning.
function nextTurn(attempt: number): Promise<void> {
  return new Promise((resolve) => (attempt < 64 ? setImmediate(resolve) : setTimeout(resolve, 1)));
}

/**
 * Runs `fn` in one immediate transaction once no other transaction is open on `raw`;
 * while another process holds the database locked, the whole transaction is retried.
 */
export function writeSqlite<T>(raw: Sqlite.Database, fn: () => T): Promise<T> {
  return retryWhileLocked(() => writeWhenIdle(raw, fn));
}

async function writeWhenIdle<T>(raw: Sqlite.Database, fn: () => T): Promise<T> {
  if (raw.inTransaction) {
    const deadline = Date.now() + MAX_WAIT_MS;
    for (let attempt = 0; raw.inTransaction; attempt++) {
      if (Date.now() > deadline) throw new SlipwayError('UNAVAILABLE', 'The metadata store stayed busy with another transaction; retry the request.');
      await nextTurn(attempt);
    }
  }
  return raw.transaction(fn).immediate();
}
