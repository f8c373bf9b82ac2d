import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/** Monitoring: reference profiles per model version, live windows, predictions and late labels, alert rules and state. */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  const double = ctx.dialect === 'postgres' ? 'double precision' : 'real';

  await db.schema
    .createTable('monitoring_references')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('rows', bigint, (c) => c.notNull())
    .addColumn('source', 'text')
    .addColumn('created_time', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('monitoring_references_pk', ['model', 'version'])
    .execute();

  await db.schema
    .createTable('monitoring_windows')
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('window_start', bigint, (c) => c.notNull())
    .addColumn('window_end', bigint, (c) => c.notNull())
    .addColumn('rows', bigint, (c) => c.notNull())
    .addColumn('requests', bigint, (c) => c.notNull())
    .addColumn('dropped_rows', bigint, (c) => c.notNull())
    .addColumn('profile', 'text', (c) => c.notNull())
    .addColumn('figures', 'text', (c) => c.notNull())
    .addColumn('updated_time', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('monitoring_windows_pk', ['model', 'version', 'window_start'])
    .execute();

  await db.schema
    .createTable('monitoring_predictions')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('time', bigint, (c) => c.notNull())
    .addColumn('window_start', bigint, (c) => c.notNull())
    .addColumn('outputs', 'text', (c) => c.notNull())
    .addColumn('output_width', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('monitoring_predictions_window').on('monitoring_predictions').columns(['model', 'window_start']).execute();

  await db.schema
    .createTable('monitoring_ground_truth')
    .addColumn('request_id', 'text', (c) => c.primaryKey())
    .addColumn('labels', 'text', (c) => c.notNull())
    .addColumn('received_time', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('monitoring_alert_rules')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('figure', 'text', (c) => c.notNull())
    .addColumn('comparison', 'text', (c) => c.notNull())
    .addColumn('threshold', double, (c) => c.notNull())
    .addColumn('for_windows', 'integer', (c) => c.notNull())
    .addColumn('webhook_url', 'text')
    .addColumn('created_time', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('monitoring_alert_states')
    .addColumn('rule_id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('consecutive', 'integer', (c) => c.notNull())
    .addColumn('last_value', double)
    .addColumn('last_window', bigint)
    .addColumn('since', bigint)
    .addColumn('updated_time', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('monitoring_alert_events')
    .addColumn('dedup_key', 'text', (c) => c.primaryKey())
    .addColumn('rule_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('time', bigint, (c) => c.notNull())
    .addColumn('value', double)
    .addColumn('window_start', bigint)
    .addColumn('delivered', 'integer', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .execute();
  await db.schema.createIndex('monitoring_alert_events_rule').on('monitoring_alert_events').columns(['rule_id', 'time']).execute();
}
