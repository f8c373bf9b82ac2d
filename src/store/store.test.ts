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
