import { afterEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { DIALECTS } from '../../test/support/dialects.js';
import type { Store } from '../store/store.js';
import { appendAuditEvent, eventHash, listAuditEvents, verifyAuditTrail } from './audit-trail.js';

for (const dialect of DIALECTS) {
  describe(`audit trail on ${dialect.name}`, () => {
    let dispose: (() => Promise<void>) | undefined;
    afterEach(async () => {
      await dispose?.();
      dispose = undefined;
    });

    async function withEvents(n: number): Promise<Store> {
      const opened = await dialect.open();
      dispose = opened.dispose;
      for (let i = 0; i < n; i++) {
        await opened.store.db.transaction().execute((trx) =>
          appendAuditEvent(trx, opened.store.dialect, { action: 'run.create', entityType: 'run', entityId: `r${i}`, change: { i }, time: 1000 + i }),
        );
      }
      return opened.store;
    }

    it('chains events and verifies an untouched trail', async () => {
      const store = await withEvents(5);
      const events = await listAuditEvents(store.db);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(events[0]?.actor).toBe('anonymous');
      expect(events[1]?.prev_hash).toBe(events[0]?.hash);
      expect(await verifyAuditTrail(store.db)).toMatchObject({ ok: true, checked: 5, unauthenticated: 5, problems: [] });
    });

    it('reports an altered event', async () => {
      const store = await withEvents(4);
      await store.db.updateTable('audit_events').set({ entity_id: 'forged' }).where('seq', '=', 2).execute();
      const v = await verifyAuditTrail(store.db);
      expect(v.ok).toBe(false);
      expect(v.problems).toContainEqual(expect.objectContaining({ seq: 2, kind: 'altered' }));
    });

    it('reports a deleted event', async () => {
      const store = await withEvents(4);
      await store.db.deleteFrom('audit_events').where('seq', '=', 3).execute();
      const v = await verifyAuditTrail(store.db);
      expect(v.problems).toContainEqual(expect.objectContaining({ seq: 3, kind: 'missing' }));
    });

    it('reports an event inserted by renumbering the ones after it', async () => {
      const store = await withEvents(3);
      await sql`update audit_events set seq = seq + 10 where seq >= 2`.execute(store.db);
      await sql`update audit_events set seq = seq - 9 where seq >= 12`.execute(store.db);
      const first = (await listAuditEvents(store.db))[0]!;
      const forged = { seq: 2, time: 1, actor: 'mallory', action: 'run.delete', entity_type: 'run', entity_id: 'x', request_id: null, change_digest: 'd', prev_hash: first.hash };
      await store.db.insertInto('audit_events').values({ ...forged, hash: eventHash(forged) }).execute();
      const v = await verifyAuditTrail(store.db);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.seq)).toEqual([3, 4]);
    });

    it('reports a self-consistent forged event that replaced a real one', async () => {
      const store = await withEvents(3);
      const first = (await listAuditEvents(store.db))[0]!;
      await store.db.deleteFrom('audit_events').where('seq', '=', 2).execute();
      const forged = { seq: 2, time: 1, actor: 'mallory', action: 'run.delete', entity_type: 'run', entity_id: 'x', request_id: null, change_digest: 'd', prev_hash: first.hash };
      await store.db.insertInto('audit_events').values({ ...forged, hash: eventHash(forged) }).execute();
      const v = await verifyAuditTrail(store.db);
      expect(v.problems).toEqual([expect.objectContaining({ seq: 3, kind: 'inserted' })]);
    });

    it('keeps the chain linear under concurrent appenders', async () => {
      const opened = await dialect.open();
      dispose = opened.dispose;
      const { store } = opened;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.db.transaction().execute((trx) => appendAuditEvent(trx, store.dialect, { action: 'x', entityType: 'run', entityId: `r${i}`, change: i, time: i })),
        ),
      );
      const v = await verifyAuditTrail(store.db);
      expect(v).toMatchObject({ ok: true, checked: 20 });
    });
  });
}
