import { Kysely, Migrator } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { freshPostgresDatabase, freshSqliteFile } from '../../../test/support/dialects.js';
import { TrackingService } from '../../tracking/tracking-service.js';
import { createPostgresDialect } from '../postgres/postgres-dialect.js';
import type { Database } from '../schema.js';
import { createSqliteDialect, sqliteFileFromUri } from '../sqlite/sqlite-dialect.js';
import { openStore } from '../store.js';
import { migrationProvider } from './index.js';

const BACKENDS = [
  {
    name: 'sqlite',
    async fresh() {
      const f = freshSqliteFile();
      return { uri: f.uri, dialect: createSqliteDialect(sqliteFileFromUri(f.uri)).dialect, drop: async () => f.drop() };
    },
  },
  {
    name: 'postgres',
    async fresh() {
      const d = await freshPostgresDatabase();
      return { uri: d.uri, dialect: createPostgresDialect(d.uri).dialect, drop: d.drop };
    },
  },
] as const;

for (const backend of BACKENDS) {
  describe(`migration 0006 on ${backend.name}`, () => {
    let cleanup: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    it('carries metric points logged before it into history blocks, NaN included', async () => {
      const fresh = await backend.fresh();
      const db = new Kysely<Database>({ dialect: fresh.dialect });
      const dialectName = backend.name;
      const migrator = new Migrator({ db, provider: migrationProvider({ dialect: dialectName, defaultArtifactRoot: 'mlflow-artifacts:', now: 1 }) });
      expect((await migrator.migrateTo('0001-core')).error).toBeUndefined();
      const runId = 'ab'.repeat(16);
      await db
        .insertInto('runs')
        .values({ run_uuid: runId, name: 'old', experiment_id: 0, user_id: '', status: 'RUNNING', start_time: 1, end_time: null, lifecycle_stage: 'active', artifact_uri: 'x', deleted_time: null })
        .execute();
      const legacy = db as unknown as Kysely<{ metrics: { run_uuid: string; key: string; value: number; is_nan: number; timestamp: number; step: number } }>;
      await legacy
        .insertInto('metrics')
        .values([
          { run_uuid: runId, key: 'loss', value: 0.5, is_nan: 0, timestamp: 10, step: 1 },
          { run_uuid: runId, key: 'loss', value: 0, is_nan: 1, timestamp: 20, step: 2 },
          { run_uuid: runId, key: 'loss', value: 0.9, is_nan: 0, timestamp: 5, step: 0 },
        ])
        .execute();
      await db.destroy();

      const store = await openStore(fresh.uri);
      cleanup = async () => {
        await store.close();
        await fresh.drop();
      };
      expect(store.migrations.map((m) => m.migrationName)).toContain('0006-tracking');
      const history = await new TrackingService(store).getMetricHistory({ runId, metricKey: 'loss' });
      expect(history.metrics.map((m) => [m.step, m.timestamp, m.value])).toEqual([
        [0, 5, 0.9],
        [1, 10, 0.5],
        [2, 20, NaN],
      ]);
    });
  });
}
