import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Access control: local users (scrypt password hashes), their API tokens (only the sha256 of
 * each secret is kept), and MLflow's per-object permissions on experiments and registered models.
 * `access_users.id` is the integer MLflow's auth API shows; `username` is the key everything else uses.
 */
export async function up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> {
  const bigint = ctx.dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('access_users')
    .addColumn('username', 'text', (c) => c.primaryKey())
    .addColumn('id', 'integer', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('is_admin', 'smallint', (c) => c.notNull())
    .addColumn('rights', 'text', (c) => c.notNull())
    .addColumn('created_time', bigint, (c) => c.notNull())
    .addColumn('updated_time', bigint, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('secret_sha256', 'text', (c) => c.notNull().unique())
    .addColumn('created_time', bigint, (c) => c.notNull())
    .addColumn('expires_time', bigint)
    .addColumn('revoked_time', bigint)
    .addColumn('last_used_time', bigint)
    .execute();
  await db.schema.createIndex('access_tokens_user').on('access_tokens').columns(['username', 'created_time']).execute();

  await db.schema
    .createTable('access_experiment_permissions')
    .addColumn('experiment_id', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('permission', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_experiment_permissions_pk', ['experiment_id', 'username'])
    .execute();
  await db.schema.createIndex('access_experiment_permissions_user').on('access_experiment_permissions').columns(['username']).execute();

  await db.schema
    .createTable('access_model_permissions')
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('username', 'text', (c) => c.notNull())
    .addColumn('permission', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('access_model_permissions_pk', ['name', 'username'])
    .execute();
  await db.schema.createIndex('access_model_permissions_user').on('access_model_permissions').columns(['username']).execute();
}
