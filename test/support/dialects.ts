/**
 * The backends every repository contract test runs against: a fresh SQLite file
 * and a fresh PostgreSQL database on the local server (dropped afterwards).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type OpenStoreOptions, type Store } from '../../src/store/store.js';

/** Where the test PostgreSQL server lives. @default postgresql://postgres@127.0.0.1:5432 */
export const PG_SERVER = process.env.SLIPWAY_TEST_PG ?? 'postgresql://postgres@127.0.0.1:5432';

/** A backend to run a contract test on. */
export interface TestDialect {
  name: 'sqlite' | 'postgres';
  /** Opens a fresh, migrated, empty store; `dispose` closes and removes it. */
  open(opts?: OpenStoreOptions): Promise<{ store: Store; uri: string; dispose(): Promise<void> }>;
}

/** Creates a fresh PostgreSQL database and returns its URI and a function that drops it. */
export async function freshPostgresDatabase(): Promise<{ uri: string; drop(): Promise<void> }> {
  const name = `slipway_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    uri: `${PG_SERVER}/${name}`,
    async drop() {
      const c = new pg.Client({ connectionString: `${PG_SERVER}/postgres` });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

/** A fresh SQLite file URI in a temporary folder and a function that removes it. */
export function freshSqliteFile(): { uri: string; dir: string; drop(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-test-'));
  return { uri: `sqlite:///${join(dir, 'slipway.db')}`, dir, drop: () => rmSync(dir, { recursive: true, force: true }) };
}

export const DIALECTS: TestDialect[] = [
  {
    name: 'sqlite',
    async open(opts) {
      const f = freshSqliteFile();
      const store = await openStore(f.uri, opts);
      return { store, uri: f.uri, dispose: async () => { await store.close(); f.drop(); } };
    },
  },
  {
    name: 'postgres',
    async open(opts) {
      const d = await freshPostgresDatabase();
      const store = await openStore(d.uri, opts);
      return { store, uri: d.uri, dispose: async () => { await store.close(); await d.drop(); } };
    },
  },
];
