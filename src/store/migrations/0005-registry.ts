import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/** Indexes for the registry's searches: versions by run, models and versions by tag. */
export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  // search_model_versions "run_id = …" / "run_id IN (…)", and lineage from a run to its versions.
  await db.schema.createIndex('model_versions_run_id').on('model_versions').column('run_id').execute();
  // "tags.k = 'v'" filters on both searches.
  await db.schema.createIndex('model_version_tags_key_value').on('model_version_tags').columns(['key', 'value']).execute();
  await db.schema.createIndex('registered_model_tags_key_value').on('registered_model_tags').columns(['key', 'value']).execute();
}
