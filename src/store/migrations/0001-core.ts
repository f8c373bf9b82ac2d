import { sql, type Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/** Tracking, registry and audit tables. */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  const double = ctx.dialect === 'postgres' ? 'double precision' : 'real';

  await db.schema
    .createTable('experiments')
    .addColumn('experiment_id', 'integer', (c) => (ctx.dialect === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement()))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('artifact_location', 'text', (c) => c.notNull())
    .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
    .addColumn('creation_time', bigint, (c) => c.notNull())
    .addColumn('last_update_time', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('experiment_tags')
    .addColumn('experiment_id', 'integer', (c) => c.notNull().references('experiments.experiment_id'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('experiment_tags_pk', ['experiment_id', 'key'])
    .execute();

  await db.schema
    .createTable('runs')
    .addColumn('run_uuid', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('experiment_id', 'integer', (c) => c.notNull().references('experiments.experiment_id'))
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('start_time', bigint, (c) => c.notNull())
    .addColumn('end_time', bigint)
    .addColumn('lifecycle_stage', 'text', (c) => c.notNull())
    .addColumn('artifact_uri', 'text', (c) => c.notNull())
    .addColumn('deleted_time', bigint)
    .execute();
  await db.schema.createIndex('runs_experiment_start').on('runs').columns(['experiment_id', 'start_time']).execute();

  for (const table of ['params', 'tags'] as const) {
    await db.schema
      .createTable(table)
      .addColumn('run_uuid', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint(`${table}_pk`, ['run_uuid', 'key'])
      .execute();
    await db.schema.createIndex(`${table}_key_value`).on(table).columns(['key', 'value']).execute();
  }

  await db.schema
    .createTable('metrics')
    .addColumn('run_uuid', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', double, (c) => c.notNull())
    .addColumn('is_nan', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('timestamp', bigint, (c) => c.notNull())
    .addColumn('step', bigint, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('metrics_run_key_step').on('metrics').columns(['run_uuid', 'key', 'step']).execute();

  await db.schema
    .createTable('latest_metrics')
    .addColumn('run_uuid', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', double, (c) => c.notNull())
    .addColumn('is_nan', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('timestamp', bigint, (c) => c.notNull())
    .addColumn('step', bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('latest_metrics_pk', ['run_uuid', 'key'])
    .execute();
  await db.schema.createIndex('latest_metrics_key_value').on('latest_metrics').columns(['key', 'value']).execute();

  await db.schema
    .createTable('datasets')
    .addColumn('dataset_uuid', 'text', (c) => c.primaryKey())
    .addColumn('experiment_id', 'integer', (c) => c.notNull().references('experiments.experiment_id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('source_type', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('schema', 'text')
    .addColumn('profile', 'text')
    .addUniqueConstraint('datasets_experiment_name_digest', ['experiment_id', 'name', 'digest'])
    .execute();

  await db.schema
    .createTable('inputs')
    .addColumn('input_uuid', 'text', (c) => c.primaryKey())
    .addColumn('source_type', 'text', (c) => c.notNull())
    .addColumn('source_id', 'text', (c) => c.notNull())
    .addColumn('destination_type', 'text', (c) => c.notNull())
    .addColumn('destination_id', 'text', (c) => c.notNull())
    .addUniqueConstraint('inputs_source_destination', ['source_type', 'source_id', 'destination_type', 'destination_id'])
    .execute();
  await db.schema.createIndex('inputs_destination').on('inputs').columns(['destination_type', 'destination_id']).execute();

  await db.schema
    .createTable('input_tags')
    .addColumn('input_uuid', 'text', (c) => c.notNull().references('inputs.input_uuid'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('input_tags_pk', ['input_uuid', 'name'])
    .execute();

  await db.schema
    .createTable('registered_models')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('creation_time', bigint, (c) => c.notNull())
    .addColumn('last_updated_time', bigint, (c) => c.notNull())
    .addColumn('description', 'text')
    .execute();

  await db.schema
    .createTable('registered_model_tags')
    .addColumn('name', 'text', (c) => c.notNull().references('registered_models.name').onDelete('cascade').onUpdate('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('registered_model_tags_pk', ['name', 'key'])
    .execute();

  await db.schema
    .createTable('model_versions')
    .addColumn('name', 'text', (c) => c.notNull().references('registered_models.name').onDelete('cascade').onUpdate('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('creation_time', bigint, (c) => c.notNull())
    .addColumn('last_updated_time', bigint, (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('user_id', 'text')
    .addColumn('current_stage', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('run_id', 'text')
    .addColumn('run_link', 'text')
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_message', 'text')
    .addColumn('storage_location', 'text')
    .addColumn('signature', 'text')
    .addPrimaryKeyConstraint('model_versions_pk', ['name', 'version'])
    .execute();

  await db.schema
    .createTable('model_version_tags')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('model_version_tags_pk', ['name', 'version', 'key'])
    .addForeignKeyConstraint('model_version_tags_fk', ['name', 'version'], 'model_versions', ['name', 'version'], (fk) => fk.onDelete('cascade').onUpdate('cascade'))
    .execute();

  await db.schema
    .createTable('registered_model_aliases')
    .addColumn('name', 'text', (c) => c.notNull().references('registered_models.name').onDelete('cascade').onUpdate('cascade'))
    .addColumn('alias', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('registered_model_aliases_pk', ['name', 'alias'])
    .execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('seq', bigint, (c) => c.primaryKey())
    .addColumn('time', bigint, (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('entity_type', 'text', (c) => c.notNull())
    .addColumn('entity_id', 'text', (c) => c.notNull())
    .addColumn('request_id', 'text')
    .addColumn('change_digest', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();

  // The Default experiment always exists with id 0, as MLflow clients expect.
  await sql`insert into experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
    values (0, 'Default', ${ctx.defaultArtifactRoot + '/0'}, 'active', ${ctx.now}, ${ctx.now})`.execute(db);
}
