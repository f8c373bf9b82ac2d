import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Registered dataset versions: one row per (name, version) with the content's sha256 (a file's, or
 * a folder manifest's), its size, where it came from, and for tables its schema and profile as JSON.
 * The unique index on (name, digest) makes registering the same content twice answer the existing
 * version, whatever the race. `dataset_names` holds each name's last version number, so a deleted
 * version's number is never given again.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('dataset_names')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('last_version', 'integer', (c) => c.notNull())
    .addColumn('created_time', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('dataset_versions')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('files', bigint, (c) => c.notNull())
    .addColumn('bytes', bigint, (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('schema', 'text')
    .addColumn('profile', 'text')
    .addColumn('rows', bigint)
    .addColumn('description', 'text')
    .addColumn('run_id', 'text')
    .addColumn('created_time', bigint, (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('dataset_versions_pk', ['name', 'version'])
    .execute();
  await db.schema.createIndex('dataset_versions_name_digest').on('dataset_versions').columns(['name', 'digest']).unique().execute();
}
