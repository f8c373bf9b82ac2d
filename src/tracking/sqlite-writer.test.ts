import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditTrail } from '../audit/audit-trail.js';
import type { Store } from '../store/store.js';
import { DIALECTS } from '../../test/support/dialects.js';
import { TrackingService } from './tracking-service.js';

describe('raw SQLite writes next to Kysely transactions on the same connection', () => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    ({ store, dispose } = await sqlite.open());
  });
  afterAll(async () => dispose());

  it('waits for an open transaction instead of nesting in it, so its rollback cannot undo an acknowledged write', async () => {
    const svc = new TrackingService(store);
    const { info } = await svc.createRun({});
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const doomed = store.db
      .transaction()
      .execute(async (trx) => {
        await trx.insertInto('experiment_tags').values({ experiment_id: 0, key: 'doomed', value: 'x' }).execute();
        entered();
        await held;
        throw new Error('roll back');
      })
      .catch((err: Error) => err.message);
    await inside;
    let logged = false;
    const write = svc.logMetric(info.runId, { key: 'kept', value: 1, timestamp: 1, step: 0 }).then(() => (logged = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(logged).toBe(false);
    release();
    expect(await doomed).toBe('roll back');
    await write;
    const run = await svc.getRun(info.runId);
    expect(run.data.metrics).toEqual([{ key: 'kept', value: 1, timestamp: 1, step: 0 }]);
    const doomedTag = await store.db.selectFrom('experiment_tags').selectAll().where('key', '=', 'doomed').execute();
    expect(doomedTag).toEqual([]);
    expect((await verifyAuditTrail(store.db)).ok).toBe(true);
  });
});
