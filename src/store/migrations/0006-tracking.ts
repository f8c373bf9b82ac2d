import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Indexes for search_runs: a covering (key, is_nan, value, run_uuid) index lets the
 * order_by metric drive the scan without touching the table; covering (run_uuid, key, …)
 * indexes answer each filter's EXISTS lookup from the index alone. The core (key, value)
 * indexes are prefixes of the new ones, so they go to keep ingest cheap.
 */
export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema.createIndex('latest_metrics_key_order').on('latest_metrics').columns(['key', 'is_nan', 'value', 'run_uuid']).execute();
  await db.schema.createIndex('latest_metrics_run_key_value').on('latest_metrics').columns(['run_uuid', 'key', 'is_nan', 'value']).execute();
  await db.schema.createIndex('params_key_value_run').on('params').columns(['key', 'value', 'run_uuid']).execute();
  await db.schema.createIndex('tags_key_value_run').on('tags').columns(['key', 'value', 'run_uuid']).execute();
  for (const index of ['latest_metrics_key_value', 'params_key_value', 'tags_key_value']) await db.schema.dropIndex(index).execute();
}
