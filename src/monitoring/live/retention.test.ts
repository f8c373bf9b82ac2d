import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openJobLeases } from '../../store/job-leases.js';
import type { Store } from '../../store/store.js';
import { pruneMonitoring } from './retention.js';

async function seed(store: Store): Promise<void> {
  const predictions = Array.from({ length: 12 }, (_, i) => ({ request_id: `r${i}`, model: 'm', version: '1', time: i < 8 ? 1000 + i : 10_000 + i, window_start: 0, outputs: '[1]', output_width: 1 }));
  await store.db.insertInto('monitoring_predictions').values(predictions).execute();
  await store.db.insertInto('monitoring_ground_truth').values([
    { request_id: 'r0', labels: '[1]', received_time: 2000 },
    { request_id: 'r9', labels: '[0]', received_time: 20_000 },
  ]).execute();
}

for (const dialect of DIALECTS) {
  describe(`monitoring retention (${dialect.name})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('deletes predictions and labels older than the cut-off and keeps the rest', async () => {
      const { store, dispose } = await dialect.open();
      cleanups.push(dispose);
      await seed(store);
      expect(await pruneMonitoring(store, 5000)).toEqual({ predictions: 8, labels: 1 });
      const left = (await store.db.selectFrom('monitoring_predictions').select('request_id').orderBy('request_id').execute()).map((r) => r.request_id);
      expect(left).toEqual(['r10', 'r11', 'r8', 'r9']);
      expect((await store.db.selectFrom('monitoring_ground_truth').select('request_id').execute()).map((r) => r.request_id)).toEqual(['r9']);
      expect(await pruneMonitoring(store, 5000)).toEqual({ predictions: 0, labels: 0 });
    });

    it('a pass under a lease that changed hands deletes nothing', async () => {
      const { store, dispose } = await dialect.open();
      cleanups.push(dispose);
      await seed(store);
      const a = await openJobLeases(store, { holder: 'a' });
      const b = await openJobLeases(store, { holder: 'b' });
      cleanups.push(() => a.close(), () => b.close());
      const ga = await a.acquire('monitoring.retention', 2000);
      if (!ga) throw new Error('no lease');
      await a.release(ga);
      expect(await b.acquire('monitoring.retention', 2000)).toBeDefined();
      await expect(pruneMonitoring(store, 5000, (work) => a.fenced(ga, work))).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await store.db.selectFrom('monitoring_predictions').select('request_id').execute()).length).toBe(12);
    });
  });
}
