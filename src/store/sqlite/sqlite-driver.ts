/**
 * Kysely's SQLite driver, made safe against a database locked by another process.
 * Transactions begin IMMEDIATE, so a transaction takes the write lock before doing any
 * work and can be retried whole; statements outside a transaction (the BEGIN included)
 * retry on a lock with `retryWhileLocked`, handing the connection to other queries
 * (reads keep answering) while they wait.
 */
import type Sqlite from 'better-sqlite3';
import { CompiledQuery, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver, type QueryResult } from 'kysely';
import { SQLITE_LOCK_WAIT_MS, databaseLockedError, retryWhileLocked } from './sqlite-lock.js';

/**
 * A turn to write, shared with the other processes that write the same file and take turns the
 * same way (the workers of one server): resolves with its release once it is this process's turn.
 * It replaces polling for SQLite's file lock among them by a queue, so a writer never sleeps
 * through a backoff while the file is free, and writers are served in order.
 */
export type SqliteWriteTurn = (waitMs: number) => Promise<() => void>;

/** Statements that write (Kysely's insert, update, delete and merge nodes; raw SQL by its first word). */
function writes(query: CompiledQuery): boolean {
  const kind = query.query.kind;
  if (kind === 'InsertQueryNode' || kind === 'UpdateQueryNode' || kind === 'DeleteQueryNode' || kind === 'MergeQueryNode') return true;
  if (kind !== 'RawNode') return false;
  return /^\s*(insert|update|delete|replace|create|drop|alter|vacuum|reindex)\b/i.test(query.sql);
}

class LockAwareSqliteDriver extends SqliteDriver {
  readonly #raw: Sqlite.Database;
  readonly #turn: SqliteWriteTurn | undefined;
  #connection: DatabaseConnection | undefined;
  /** This process's writers queue here first, so one of them at a time asks for the shared turn. */
  #localTurn: Promise<void> = Promise.resolve();
  /** The release of the turn the open transaction holds. */
  #held: (() => void) | undefined;

  constructor(raw: Sqlite.Database, turn?: SqliteWriteTurn) {
    super({ database: raw });
    this.#raw = raw;
    this.#turn = turn;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const inner = await super.acquireConnection();
    this.#connection ??= this.#wrap(inner);
    return this.#connection;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    // The turn is waited for without the connection, so this process's reads go on meanwhile.
    if (this.#turn) {
      super.releaseConnection();
      try {
        this.#held = await this.#takeTurn();
      } finally {
        await super.acquireConnection();
      }
    }
    try {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    } catch (err) {
      this.#giveTurnBack();
      throw err;
    }
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.commitTransaction(connection);
    } finally {
      this.#giveTurnBack();
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await super.rollbackTransaction(connection);
    } finally {
      this.#giveTurnBack();
    }
  }

  #giveTurnBack(): void {
    const held = this.#held;
    this.#held = undefined;
    held?.();
  }

  /** Waits for this process's turn among its own writers, then for the shared turn; the bound is the usual lock wait. */
  async #takeTurn(): Promise<() => void> {
    const turn = this.#turn as SqliteWriteTurn;
    const previous = this.#localTurn;
    let done!: () => void;
    this.#localTurn = new Promise<void>((r) => (done = r));
    await previous;
    try {
      const release = await turn(SQLITE_LOCK_WAIT_MS);
      return () => {
        release();
        done();
      };
    } catch {
      done();
      throw databaseLockedError();
    }
  }

  #wrap(inner: DatabaseConnection): DatabaseConnection {
    const raw = this.#raw;
    // While a statement waits, the single connection goes back to the queue, so reads run.
    const release = (): void => void super.releaseConnection();
    const reacquire = async (): Promise<void> => void (await super.acquireConnection());
    const takeTurn = this.#turn ? () => this.#takeTurn() : undefined;
    return {
      async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
        // Inside a transaction the write lock is already held (BEGIN IMMEDIATE); a retry would
        // repeat one statement of a unit that must be retried whole.
        if (raw.inTransaction) return inner.executeQuery<R>(query);
        if (!takeTurn || !writes(query)) return retryWhileLocked(() => inner.executeQuery<R>(query), { beforeWait: release, afterWait: reacquire });
        // A write outside a transaction takes its turn too, without holding the connection while it waits.
        release();
        let giveBack: () => void;
        try {
          giveBack = await takeTurn();
        } finally {
          await reacquire();
        }
        try {
          return await retryWhileLocked(() => inner.executeQuery<R>(query), { beforeWait: release, afterWait: reacquire });
        } finally {
          giveBack();
        }
      },
      streamQuery: <R>(query: CompiledQuery, chunkSize?: number) => inner.streamQuery<R>(query, chunkSize),
    };
  }
}

/** Kysely's SQLite dialect on a better-sqlite3 handle, with the lock-aware driver. */
export class LockAwareSqliteDialect extends SqliteDialect {
  readonly #raw: Sqlite.Database;
  readonly #turn: SqliteWriteTurn | undefined;

  constructor(raw: Sqlite.Database, turn?: SqliteWriteTurn) {
    super({ database: raw });
    this.#raw = raw;
    this.#turn = turn;
  }

  override createDriver(): Driver {
    return new LockAwareSqliteDriver(this.#raw, this.#turn);
  }
}
