/**
 * Waiting for a SQLite file that another connection holds locked. better-sqlite3 is
 * synchronous, so SQLite's own busy wait stalls the event loop: it is kept to a few
 * tens of milliseconds, and longer waits happen here, asynchronously, by retrying the
 * whole unit of work (a statement or an immediate transaction) with backoff. Past the
 * bound the caller gets a catalogued 503 that tells clients to retry.
 */
import type Sqlite from 'better-sqlite3';
import { SlipwayError, isSlipwayError } from '../../core/errors.js';

/** SQLite's own busy wait per attempt: the longest the event loop may stall on a lock. */
export const SQLITE_BUSY_TIMEOUT_MS = 20;

/** How long a unit of work keeps retrying a locked database before it answers 503. */
export const SQLITE_LOCK_WAIT_MS = 2000;

/** The Retry-After given to clients when the database stays locked. */
export const SQLITE_LOCKED_RETRY_AFTER_SECONDS = 1;

const FIRST_BACKOFF_MS = 5;
const MAX_BACKOFF_MS = 100;

/** True for better-sqlite3's SQLITE_BUSY and SQLITE_LOCKED errors (and their extended codes). */
export function isSqliteLockError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

/** The catalogued error for a database that stayed locked. */
export function databaseLockedError(): SlipwayError {
  return new SlipwayError(
    'UNAVAILABLE',
    `The metadata store (SQLite) is locked by another process or connection; retry in ${SQLITE_LOCKED_RETRY_AFTER_SECONDS} s.`,
    { retryAfterSeconds: SQLITE_LOCKED_RETRY_AFTER_SECONDS },
  );
}

/** The 503 a SQLite lock error stands for, or undefined for any other error. */
export function lockErrorOf(err: unknown): SlipwayError | undefined {
  return isSqliteLockError(err) ? databaseLockedError() : undefined;
}

/** Options for `retryWhileLocked`. */
export interface LockRetryOptions {
  /** Total time to keep retrying. @default SQLITE_LOCK_WAIT_MS */
  waitMs?: number;
  /** Runs before each wait (e.g. to let other users of the connection in) and after it. */
  beforeWait?: () => void;
  afterWait?: () => Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `attempt` until it does not fail on a lock, sleeping with jittered exponential
 * backoff in between; throws `databaseLockedError()` once `waitMs` has passed.
 * `attempt` must be all-or-nothing (a statement or a whole transaction).
 */
export async function retryWhileLocked<T>(attempt: () => T | Promise<T>, opts: LockRetryOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? SQLITE_LOCK_WAIT_MS);
  for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
    try {
      return await attempt();
    } catch (err) {
      if (!isSqliteLockError(err)) throw err;
      const left = deadline - Date.now();
      if (left <= 0) throw databaseLockedError();
      opts.beforeWait?.();
      // Jitter keeps two processes that collided from retrying in lockstep.
      await sleep(Math.min(left, backoff / 2 + Math.random() * backoff));
      await opts.afterWait?.();
    }
  }
}

/** How long a health check tries for the write lock before it reports the database locked. */
export const SQLITE_PROBE_WAIT_MS = 250;

/**
 * Whether this connection could take the write lock within `waitMs`: takes it and gives it
 * back at once. False means another process holds the database locked.
 */
export async function sqliteWriteLockAvailable(raw: Sqlite.Database, waitMs = SQLITE_PROBE_WAIT_MS): Promise<boolean> {
  try {
    await retryWhileLocked(() => {
      // Our own transactions begin IMMEDIATE, so an open one already holds the lock.
      if (raw.inTransaction) return;
      raw.exec('begin immediate');
      raw.exec('rollback');
    }, { waitMs });
    return true;
  } catch (err) {
    if (isSlipwayError(err) && err.code === 'UNAVAILABLE') return false;
    throw err;
  }
}
