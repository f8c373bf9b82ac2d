/**
 * Opens the metadata store named by a URI and applies pending migrations.
 * `sqlite:///path.db` (the embedded default) or `postgresql://user@host/db`.
 */
import type Sqlite from 'better-sqlite3';
import { Kysely, Migrator, sql, type MigrationResult, type RawBuilder } from 'kysely';
import type pg from 'pg';
import { SlipwayError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { redactUri } from '../core/redact-uri.js';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';
import { createSqliteDialect, sqliteFileFromUri } from './sqlite/sqlite-dialect.js';
import type { SqliteWriteTurn } from './sqlite/sqlite-driver.js';

/** An open metadata store. */
export interface Store {
  db: Kysely<Database>;
  dialect: 'sqlite' | 'postgres';
  /** The raw better-sqlite3 handle, for hot paths that bypass the query builder. */
  sqlite?: Sqlite.Database;
  /** The raw pg pool. */
  pool?: pg.Pool;
  /** Longest time one statement may run, in ms (0: no limit); see `withinDeadlineSql`. */
  statementTimeoutMs: number;
  /** Migration results of the last `openStore`. */
  migrations: MigrationResult[];
  close(): Promise<void>;
}

/** Options for opening a store. */
export interface OpenStoreOptions {
  /** Artifact location prefix for experiments created by migrations. @default "mlflow-artifacts:" */
  defaultArtifactRoot?: string;
  clock?: Clock;
  /** Largest pool size for PostgreSQL. @default 10 */
  maxConnections?: number;
  /** Longest time one statement may run, in ms; 0 turns the limit off. @default 30000 */
  statementTimeoutMs?: number;
  /** SQLite: turns to write shared with the other processes of one server (they queue instead of polling the file lock). */
  sqliteWriteTurn?: SqliteWriteTurn;
}

/** The SQLite function searches call per candidate row to stop at their deadline. */
const DEADLINE_FUNCTION = 'slipway_within_deadline';

/**
 * SQLite has no statement timeout and better-sqlite3 cannot interrupt a statement, so a
 * search's WHERE clause calls this function with its deadline (epoch ms) for every row it
 * considers; past the deadline the function throws, which stops the statement.
 */
function registerDeadlineFunction(raw: Sqlite.Database, timeoutMs: number): void {
  raw.function(DEADLINE_FUNCTION, { deterministic: false }, (deadline: unknown) => {
    if (Date.now() <= Number(deadline)) return 1;
    throw new SlipwayError('DEADLINE_EXCEEDED', `The query ran longer than the statement timeout of ${timeoutMs} ms; narrow the search or raise statementTimeout (SLIPWAY_STATEMENT_TIMEOUT, e.g. 2m).`, { timeoutMs });
  });
}

/**
 * A condition that is true until the store's statement timeout has passed since now. On
 * SQLite it stops the statement that evaluates it per row; PostgreSQL bounds every statement
 * itself (statement_timeout), so there it is plain `true`.
 */
export function withinDeadlineSql(store: Pick<Store, 'dialect' | 'statementTimeoutMs'>): RawBuilder<unknown> {
  if (store.dialect !== 'sqlite' || store.statementTimeoutMs <= 0) return sql`true`;
  return sql`${sql.raw(DEADLINE_FUNCTION)}(${Date.now() + store.statementTimeoutMs}) = 1`;
}

/**
 * Runs `run` on one connection and, on PostgreSQL, cancels its statement when `signal` aborts
 * (the client went away), so an abandoned search stops instead of running to its timeout.
 * SQLite statements run synchronously and cannot be abandoned midway; they end at their deadline.
 */
export async function runCancellable<T>(store: Store, signal: AbortSignal | undefined, run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const pool = store.pool;
  if (!signal || !pool) return run(store.db);
  return store.db.connection().execute(async (db) => {
    const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]?.pid;
    // From another connection: this one is busy running the statement to cancel.
    const cancel = (): void => void pool.query('select pg_cancel_backend($1)', [pid]).catch(() => {});
    signal.addEventListener('abort', cancel, { once: true });
    try {
      if (signal.aborted) throw new SlipwayError('DEADLINE_EXCEEDED', 'The request was abandoned before its query ran.');
      return await run(db);
    } finally {
      signal.removeEventListener('abort', cancel);
    }
  });
}

/** Opens and migrates the store at `uri`. */
export async function openStore(uri: string, opts: OpenStoreOptions = {}): Promise<Store> {
  let store: Omit<Store, 'migrations'>;
  const statementTimeoutMs = Math.max(0, opts.statementTimeoutMs ?? 30_000);
  if (uri.startsWith('sqlite:')) {
    const { raw, dialect } = createSqliteDialect(sqliteFileFromUri(uri), opts.sqliteWriteTurn);
    registerDeadlineFunction(raw, statementTimeoutMs);
    const db = new Kysely<Database>({ dialect });
    store = { db, dialect: 'sqlite', sqlite: raw, statementTimeoutMs, close: () => db.destroy() };
  } else if (uri.startsWith('postgresql:') || uri.startsWith('postgres:')) {
    // Loaded only for PostgreSQL: the driver costs every SQLite command line start-up tens of milliseconds.
    const { createPostgresDialect } = await import('./postgres/postgres-dialect.js');
    const { raw, dialect } = createPostgresDialect(uri, opts.maxConnections, statementTimeoutMs);
    const db = new Kysely<Database>({ dialect });
    store = { db, dialect: 'postgres', pool: raw, statementTimeoutMs, close: () => db.destroy() };
  } else {
    throw new SlipwayError('INVALID_ARGUMENT', `Unsupported backend store URI '${redactUri(uri)}': use sqlite:///path.db or postgresql://user@host/db.`);
  }
  const migrator = new Migrator({
    db: store.db,
    // Domains number their migrations independently; a store created before a
    // lower-numbered migration existed must still accept it.
    allowUnorderedMigrations: true,
    provider: migrationProvider({
      dialect: store.dialect,
      defaultArtifactRoot: opts.defaultArtifactRoot ?? 'mlflow-artifacts:',
      now: (opts.clock ?? systemClock).now(),
    }),
  });
  let { error, results } = await migrator.migrateToLatest();
  // Processes that open a new store at the same moment (the workers of one server, replicas) race to migrate it: on SQLite
  // the loser finds tables the winner just made. Once the winner is done there is nothing left to migrate, so try again.
  for (let attempt = 0; error && attempt < 5 && isMigrationRace(error); attempt++) {
    await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    ({ error, results } = await migrator.migrateToLatest());
  }
  if (error) {
    await store.close();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new SlipwayError('UNAVAILABLE', `Could not migrate the metadata store${failed ? ` (migration ${failed})` : ''}: ${(error as Error).message}`);
  }
  return { ...store, migrations: results ?? [] };
}

/** Errors of a migration that another process ran at the same moment. */
function isMigrationRace(err: unknown): boolean {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return /already exists|duplicate column name|UNIQUE constraint failed|database is locked|SQLITE_BUSY/i.test(message) || code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT' || code === '23505' || code === '42P07' || code === '42701';
}
