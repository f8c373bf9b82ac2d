import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Tracking storage for speed.
 * - Metric history moves from one row per point to `metric_blocks`: one row per
 *   (run, key) per write with the points packed (see the tracking domain's
 *   metric-block-codec). Existing points are carried over, one block each.
 * - Indexes for search_runs: a covering (key, is_nan, value, run_uuid) index lets the
 *   order_by metric drive the scan; covering (run_uuid, key, …) indexes answer each
 *   filter's EXISTS lookup from the index alone. The core (key, value) indexes are
 *   prefixes of the new ones, so they go to keep ingest cheap.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const pg = ctx.dialect === 'postgres';
  await db.schema
    .createTable('metric_blocks')
    .addColumn('block_id', pg ? 'bigint' : 'integer', (c) => (pg ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey()))
    .addColumn('run_uuid', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('min_step', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('max_step', pg ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('points', pg ? 'bytea' : 'blob', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('metric_blocks_run_key').on('metric_blocks').columns(['run_uuid', 'key', 'block_id']).execute();

  const old = await sql<{ run_uuid: string; key: string; value: number; is_nan: number | boolean; timestamp: number; step: number }>`
    select run_uuid, key, value, is_nan, timestamp, step from metrics`.execute(db);
  for (const r of old.rows) {
    // Layout 0x01: one raw (value, timestamp, step) float64 triple.
    const points = Buffer.allocUnsafe(25);
    points[0] = 0x01;
    points.writeDoubleLE(r.is_nan ? NaN : Number(r.value), 1);
    points.writeDoubleLE(Number(r.timestamp), 9);
    points.writeDoubleLE(Number(r.step), 17);
    await sql`insert into metric_blocks (run_uuid, key, count, min_step, max_step, points)
      values (${r.run_uuid}, ${r.key}, 1, ${Number(r.step)}, ${Number(r.step)}, ${points})`.execute(db);
  }
  await db.schema.dropTable('metrics').execute();

  await db.schema.createIndex('latest_metrics_key_order').on('latest_metrics').columns(['key', 'is_nan', 'value', 'run_uuid']).execute();
  await db.schema.createIndex('latest_metrics_run_key_value').on('latest_metrics').columns(['run_uuid', 'key', 'is_nan', 'value']).execute();
  await db.schema.createIndex('params_key_value_run').on('params').columns(['key', 'value', 'run_uuid']).execute();
  await db.schema.createIndex('tags_key_value_run').on('tags').columns(['key', 'value', 'run_uuid']).execute();
  for (const index of ['latest_metrics_key_value', 'params_key_value', 'tags_key_value']) await db.schema.dropIndex(index).execute();
}
