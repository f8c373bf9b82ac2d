import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * The traffic of releases shared by every server process on one store: the split a release wants
 * for each model (written by the process that drives the release), the serving processes that
 * follow it (their heartbeats), and the figures of the running split they post, which the driving
 * process drains into its analysis. With replicas, any of them may take a serving process's poll or
 * post, so none of this can live in one process's memory.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('traffic_states')
    .addColumn('model', 'text', (c) => c.primaryKey())
    .addColumn('epoch', bigint, (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('split_id', 'text')
    .addColumn('updated_time', bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('traffic_agents')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('agent_id', 'text', (c) => c.notNull())
    .addColumn('info', 'text', (c) => c.notNull())
    .addColumn('last_seen', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('traffic_agents_pk', ['model', 'agent_id'])
    .execute();
  await db.schema
    .createTable('traffic_windows')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('split_id', 'text', (c) => c.notNull())
    .addColumn('stats', 'text', (c) => c.notNull())
    .addColumn('created_time', bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('traffic_windows_model').on('traffic_windows').columns(['model', 'split_id', 'created_time']).execute();
}
