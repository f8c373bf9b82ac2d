import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { appendAuditEvent } from '../../audit/audit-trail.js';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';

describe.each(DIALECTS)('native audit API on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
    const { store } = t.ctx;
    await store.db.transaction().execute(async (trx) => {
      for (let i = 1; i <= 5; i++) {
        await appendAuditEvent(trx, store.dialect, { action: i % 2 ? 'run.create' : 'run.update', entityType: 'run', entityId: `r${i}`, change: { i }, time: 1_000 * i, requestId: `req-${i}` });
      }
    });
  });
  afterAll(() => t.close());

  it('pages through events with after/nextAfter and filters by action', async () => {
    const first = await t.app.inject({ method: 'GET', url: '/api/v1/audit/events?limit=2' });
    expect(first.statusCode).toBe(200);
    const page1 = first.json() as { events: Array<{ seq: number; entityId: string; requestId: string }>; nextAfter?: number };
    expect(page1.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(page1.events[0]).toMatchObject({ entityId: 'r1', requestId: 'req-1', actor: 'anonymous', entityType: 'run' });
    expect(page1.nextAfter).toBe(2);
    const rest = (await t.app.inject({ method: 'GET', url: `/api/v1/audit/events?after=${page1.nextAfter}&limit=10` })).json() as { events: Array<{ seq: number }>; nextAfter?: number };
    expect(rest.events.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(rest.nextAfter).toBeUndefined();
    const updates = (await t.app.inject({ method: 'GET', url: '/api/v1/audit/events?action=run.update' })).json() as { events: Array<{ entityId: string }> };
    expect(updates.events.map((e) => e.entityId)).toEqual(['r2', 'r4']);
  });

  it('verifies the chain and reports an altered event', async () => {
    const ok = await t.app.inject({ method: 'GET', url: '/api/v1/audit/verify' });
    expect(ok.json()).toMatchObject({ ok: true, checked: 5, unauthenticated: 5, problems: [] });
    await sql`update audit_events set entity_id = 'forged' where seq = 3`.execute(t.ctx.store.db);
    const bad = (await t.app.inject({ method: 'GET', url: '/api/v1/audit/verify' })).json() as { ok: boolean; problems: Array<{ seq: number; kind: string }> };
    expect(bad.ok).toBe(false);
    expect(bad.problems).toEqual([expect.objectContaining({ seq: 3, kind: 'altered' })]);
  });

  it('rejects bad paging values with 400 naming the parameter', async () => {
    for (const url of ['/api/v1/audit/events?limit=0', '/api/v1/audit/events?limit=abc', '/api/v1/audit/events?after=-1', '/api/v1/audit/events?limit=5000']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(400);
      const body = res.json() as { error: { code: string; message: string } };
      expect(body.error.code).toBe('INVALID_ARGUMENT');
      expect(body.error.message).toMatch(/query parameter '(limit|after)'/);
    }
  });
});
