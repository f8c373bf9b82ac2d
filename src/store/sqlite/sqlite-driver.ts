/**
 * Kysely's SQLite driver, made safe against a database locked by another process.
 * Transactions begin IMMEDIATE, so a transaction takes the write lock before doing any
 * work and can be retried whole; statements outside a transaction (the BEGIN included)
 * retry on a lock with `retryWhileLocked`, handing the connection to other queries
 * (reads keep answering) while they wait.
 */
import type Sqlite from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import { retryWhileLocked } from './sqlite-lock.js';

class LockAwareSqliteDriver extends SqliteDriver {
  readonly #raw: Sqlite.Database;
  #connection: DatabaseConnection | undefined;

  constructor(raw: Sqlite.Database) {
    super({ database: raw });
    this.#raw = raw;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection();
    this.#connection ??= this.#wrap(inner);
    return this.#connection;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  #wrap(inner: DatabaseConnection): DatabaseConnection {
    const raw = this.#raw;
    // While a statement waits, the single connection goes back to the queue, so reads run.
    const release = (): void => void super.releaseConnection();
    const reacquire = async (): Promise<void> => void (await super.acquireConnection());
    return {
      executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        // Inside a transaction the write lock is already held (BEGIN IMMEDIATE); a retry would
        // repeat one statement of a unit that must be retried whole.
        if (raw.inTransaction) return inner.executeQuery<R>(query);
        return retryWhileLocked(() => inner.executeQuery<R>(query), { beforeWait: release, afterWait: reacquire });
      },
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) => inner.streamQuery<R>(query, chunkSize),
    };
  }
}

/** Kysely's SQLite dialect on a better-sqlite3 handle, with the lock-aware driver. */
export class LockAwareSqliteDialect extends SqliteDialect {
  readonly #raw: Sqlite.Database;

  constructor(raw: Sqlite.Database) {
    super({ database: raw });
    this.#raw = raw;
  }

  override createDriver(): Driver {
    return new LockAwareSqliteDriver(this.#raw);
  }
}
