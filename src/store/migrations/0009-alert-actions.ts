import type { Kysely } from 'kysely';
import type { MigrationContext } from './index.js';

/**
 * Alert actions: what the server does when an alert rule fires, besides notifying —
 * `monitoring_alert_rules.action` holds the action as JSON (`{"kind":"rollback",…}` or
 * `{"kind":"command",…}`), null for a rule that only notifies.
 */
export async function up(db: Kysely<unknown>, _ctx: MigrationContext): Promise<void> {
  await db.schema.alterTable('monitoring_alert_rules').addColumn('action', 'text').execute();
}
