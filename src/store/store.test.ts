import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { openStore } from './store.js';

for (const dialect of DIALECTS) {
  describe(`store on ${dialect.name}`, () => {
    let dispose: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await dispose?.();
      dispose = undefined;
    });

    it('applies migrations and creates the Default experiment 0', async () => {
      const opened = await dialect.open();
      dispose = opened.dispose;
      expect(opened.store.migrations.map((m) => [m.migrationName, m.status])).toContainEqual(['0001-core', 'Success']);
      const exp = await opened.store.db.selectFrom('experiments').selectAll().where('experiment_id', '=', 0).executeTakeFirstOrThrow();
      expect(exp.name).toBe('Default');
      expect(exp.artifact_location).toBe('mlflow-artifacts:/0');
    });

    it('reopening an existing store applies nothing twice', async () => {
      const opened = await dialect.open();
      dispose = opened.dispose;
      const again = await openStore(opened.uri);
      expect(again.migrations).toEqual([]);
      await again.close();
    });
  });
}

describe('openStore', () => {
  it('rejects an unsupported URI with a message naming it', async () => {
    await expect(openStore('mysql://x')).rejects.toThrow(/Unsupported backend store URI 'mysql:\/\/x'/);
  });

  it('names an unsupported URI without its password', async () => {
    const err = (await openStore('mysql://u:S3cretPW@h/db').catch((e: unknown) => e)) as Error & { details?: unknown };
    expect(err.message).toContain("'mysql://u:***@h/db'");
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain('S3cretPW');
  });
});

describe('opening a new store from several processes at once', () => {
  it('migrates it once: every opener succeeds (SQLite and PostgreSQL)', async () => {
    const { freshSqliteFile, freshPostgresDatabase } = await import('../../test/support/dialects.js');
    const file = freshSqliteFile();
    const database = await freshPostgresDatabase();
    try {
      for (const uri of [file.uri, database.uri]) {
        // Separate connections, as the workers of one server or replicas have; their migrations interleave at every await.
        const stores = await Promise.all(Array.from({ length: 4 }, () => openStore(uri)));
        try {
          const ran = stores.map((s) => s.migrations.filter((m) => m.status === 'Success').length);
          // Between them, each migration ran once; the others found it done.
          expect(ran.reduce((a, b) => a + b, 0)).toBe(Math.max(...ran));
          const experiments = await stores[0]?.db.selectFrom('experiments').select('name').execute();
          expect(experiments?.map((e) => e.name)).toEqual(['Default']);
        } finally {
          for (const s of stores) await s.close();
        }
      }
    } finally {
      file.drop();
      await database.drop();
    }
  }, 60_000);
});
