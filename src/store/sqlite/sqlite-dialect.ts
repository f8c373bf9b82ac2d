import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import type { SqliteDialect } from 'kysely';
import { ensureDirSync } from '../../core/ensure-dir.js';
import { LockAwareSqliteDialect, type SqliteWriteTurn } from './sqlite-driver.js';
import { SQLITE_BUSY_TIMEOUT_MS } from './sqlite-lock.js';

/** Opens a SQLite file in WAL mode and returns the raw handle and its Kysely dialect. */
export function createSqliteDialect(file: string, writeTurn?: SqliteWriteTurn): { raw: Sqlite.Database; dialect: SqliteDialect } {
  if (file !== ':memory:') ensureDirSync(dirname(file));
  const raw = new Sqlite(file);
  raw.pragma('journal_mode = WAL');
  // NORMAL in WAL mode survives a process crash (kill -9) with every commit intact;
  // only an OS crash or power loss can roll back the last transactions.
  raw.pragma('synchronous = NORMAL');
  raw.pragma('foreign_keys = ON');
  // Short, because the wait blocks the event loop; longer waits are asynchronous retries (sqlite-lock.ts).
  raw.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  raw.pragma('cache_size = -65536');
  return { raw, dialect: new LockAwareSqliteDialect(raw, writeTurn) };
}

/** `sqlite:///abs/path.db` or `sqlite://rel.db` → file path; `sqlite://:memory:` → ':memory:'. */
export function sqliteFileFromUri(uri: string): string {
  const rest = uri.replace(/^sqlite:\/\//, '');
  if (rest === ':memory:' || rest === '/:memory:') return ':memory:';
  return rest.startsWith('/') ? rest : rest;
}
