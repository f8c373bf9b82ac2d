/**
 * Opens the metadata store named by a URI and applies pending migrations.
 * `sqlite:///path.db` (the embedded default) or `postgresql://user@host/db`.
 */
import type Sqlite from 'better-sqlite3';
import { Kysely, Migrator, type MigrationResult } from 'kysely';
import type pg from 'pg';
import { SlipwayError } from '../core/errors.js';
import { systemClock, type Clock } from '../core/clock.js';
import { redactUri } from '../core/redact-uri.js';
import { migrationProvider } from './migrations/index.js';
import { createPostgresDialect } from './postgres/postgres-dialect.js';
import type { Database } from './schema.js';
import { createSqliteDialect, sqliteFileFromUri } from './sqlite/sqlite-dialect.js';

/** An open metadata store. */
export interface Store {
  db: Kysely<Database>;
  dialect: 'sqlite' | 'postgres';
  /** The raw better-sqlite3 handle, for hot paths that bypass the query builder. */
  sqlite?: Sqlite.Database;
  /** The raw pg pool. */
  pool?: pg.Pool;
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
}

/** Opens and migrates the store at `uri`. */
export async function openStore(uri: string, opts: OpenStoreOptions = {}): Promise<Store> {
  let store: Omit<Store, 'migrations'>;
  if (uri.startsWith('sqlite:')) {
    const { raw, dialect } = createSqliteDialect(sqliteFileFromUri(uri));
    const db = new Kysely<Database>({ dialect });
    store = { db, dialect: 'sqlite', sqlite: raw, close: () => db.destroy() };
  } else if (uri.startsWith('postgresql:') || uri.startsWith('postgres:')) {
    const { raw, dialect } = createPostgresDialect(uri, opts.maxConnections);
    const db = new Kysely<Database>({ dialect });
    store = { db, dialect: 'postgres', pool: raw, close: () => db.destroy() };
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
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    await store.close();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new SlipwayError('UNAVAILABLE', `Could not migrate the metadata store${failed ? ` (migration ${failed})` : ''}: ${(error as Error).message}`);
  }
  return { ...store, migrations: results ?? [] };
}
