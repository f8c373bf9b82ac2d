import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Leases of background jobs that run in one server process at a time. `token` grows by one at
 * every change of holder and is never reset (a released lease keeps its row), so work fenced by
 * an old token is refused forever after.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('job_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('token', bigint, (c) => c.notNull())
    .addColumn('expires_at', bigint, (c) => c.notNull())
    .addColumn('backend_pid', 'integer')
    .addColumn('acquired_time', bigint, (c) => c.notNull())
    .execute();
}
