import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Audit authentication and state.
 * - `audit_events.key_id` / `mac`: the id of the key outside the database and the
 *   HMAC-SHA256 of the event hash under it (null on events written before).
 * - `audit_events.states`: canonical JSON of the entity-state digests the event vouches for.
 * - `audit_pending_metrics`: per run, the running digest of single-point metric writes
 *   not yet sealed into one `run.log_metrics` event (updated in the write's transaction).
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema.alterTable('audit_events').addColumn('key_id', 'text').execute();
  await db.schema.alterTable('audit_events').addColumn('mac', 'text').execute();
  await db.schema.alterTable('audit_events').addColumn('states', 'text').execute();
  await db.schema
    .createTable('audit_pending_metrics')
    .addColumn('run_uuid', 'text', (c) => c.primaryKey())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('count', bigint, (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('first_time', bigint, (c) => c.notNull())
    .addColumn('last_time', bigint, (c) => c.notNull())
    .execute();
}
