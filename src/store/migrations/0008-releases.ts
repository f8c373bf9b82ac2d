import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Releases: one row per release (its policy, gate evidence, approvals and rollout as JSON),
 * its history in `release_events`, and the release policies stored per model and environment.
 * `active` is 1 while a release is not finished and NULL once it is: both backends treat NULLs
 * as distinct in a unique index, so the index on (model_name, active) lets the database itself
 * refuse a second active release of a model, whatever the race.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('releases')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('model_name', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('champion_version', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('gates', 'text', (c) => c.notNull())
    .addColumn('approvals', 'text', (c) => c.notNull())
    .addColumn('rollout', 'text')
    .addColumn('active', 'smallint')
    .addColumn('created_time', bigint, (c) => c.notNull())
    .addColumn('updated_time', bigint, (c) => c.notNull())
    .addColumn('ended_time', bigint)
    .execute();
  await db.schema.createIndex('releases_one_active').on('releases').columns(['model_name', 'active']).unique().execute();
  await db.schema.createIndex('releases_created').on('releases').columns(['created_time', 'id']).execute();
  await db.schema.createIndex('releases_model_created').on('releases').columns(['model_name', 'created_time']).execute();

  await db.schema
    .createTable('release_events')
    .addColumn('release_id', 'text', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('time', bigint, (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('from_state', 'text')
    .addColumn('to_state', 'text')
    .addColumn('actor', 'text')
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('details', 'text')
    .addPrimaryKeyConstraint('release_events_pk', ['release_id', 'seq'])
    .execute();

  await db.schema
    .createTable('release_policies')
    .addColumn('model_name', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('updated_time', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('release_policies_pk', ['model_name', 'environment'])
    .execute();
}
