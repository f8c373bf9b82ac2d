/**
 * Versioned migrations, applied in name order on start. Each domain that needs
 * tables adds a file here (0001 core, 0002 monitoring, 0003 load tests, 0004 serving).
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import * as core from './0001-core.js';
import * as monitoring from './0002-monitoring.js';
import * as registry from './0005-registry.js';
import * as tracking from './0006-tracking.js';
import * as auditAuthentication from './0007-audit-authentication.js';
import * as releases from './0008-releases.js';
import * as alertActions from './0009-alert-actions.js';
import * as access from './0010-access.js';
import * as datasets from './0011-datasets.js';
import * as jobLeases from './0012-job-leases.js';
import * as traffic from './0013-traffic.js';

/** What a migration may know about where it runs. */
export interface MigrationContext {
  dialect: 'sqlite' | 'postgres';
  /** Artifact location prefix for the Default experiment, e.g. `mlflow-artifacts:`. */
  defaultArtifactRoot: string;
  now: number;
}

type MigrationModule = { up(db: Kysely<unknown>, ctx: MigrationContext): Promise<void> };

const MIGRATIONS: Record<string, MigrationModule> = {
  '0001-core': core,
  '0002-monitoring': monitoring,
  '0005-registry': registry,
  '0006-tracking': tracking,
  '0007-audit-authentication': auditAuthentication,
  '0008-releases': releases,
  '0009-alert-actions': alertActions,
  '0010-access': access,
  '0011-datasets': datasets,
  '0012-job-leases': jobLeases,
  '0013-traffic': traffic,
};

/** A Kysely migration provider that passes the dialect to each migration. */
export function migrationProvider(ctx: MigrationContext): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, mod] of Object.entries(MIGRATIONS)) out[name] = { up: (db) => mod.up(db, ctx) };
      return out;
    },
  };
}
