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

  it('gives the head as the last event, and verify checks heads kept outside against it', async () => {
    const head = await t.app.inject({ url: '/api/v1/audit/head' });
    expect(head.statusCode).toBe(200);
    const last = ((await t.app.inject({ url: '/api/v1/audit/events?after=4' })).json() as { events: Array<{ seq: number; hash: string }> }).events.at(-1);
    expect(head.json()).toEqual({ seq: 5, hash: last?.hash });
    const { seq, hash } = head.json() as { seq: number; hash: string };

    const good = (await t.app.inject({ url: `/api/v1/audit/verify?expectHead=${seq}:${hash}` })).json();
    expect(good).toMatchObject({ ok: true, checkpoints: 1, head: { seq, hash }, problems: [] });
    const wrong = `${seq}:${'0'.repeat(64)}`;
    const rewritten = (await t.app.inject({ url: `/api/v1/audit/verify?expectHead=${wrong}&expectHead=${seq}:${hash}` })).json();
    expect(rewritten).toMatchObject({ ok: false, checkpoints: 2, problems: [expect.objectContaining({ seq, kind: 'checkpoint-mismatch', message: expect.stringContaining('the expected head') })] });
    const truncated = (await t.app.inject({ url: `/api/v1/audit/verify?expectHead=${seq + 3}:${hash}` })).json();
    expect(truncated).toMatchObject({ ok: false, problems: [expect.objectContaining({ kind: 'truncated', message: expect.stringContaining(`ends at seq ${seq}`) })] });

    for (const bad of ['5', `5:${'A'.repeat(64)}`, `x:${hash}`, `5:${hash.slice(1)}`, '']) {
      const res = await t.app.inject({ url: `/api/v1/audit/verify?expectHead=${encodeURIComponent(bad)}` });
      if (bad === '') {
        // An empty value is no head at all.
        expect(res.json()).toMatchObject({ ok: true, checkpoints: 0 });
        continue;
      }
      expect(res.statusCode, bad).toBe(400);
      expect(res.json(), bad).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining("query parameter 'expectHead.0': must be SEQ:HASH") } });
    }
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

describe.each(DIALECTS)('native audit API on an empty trail on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
  });
  afterAll(() => t.close());

  it('answers 404 for the head of an empty trail, and verify reports an expected head as truncated', async () => {
    const res = await t.app.inject({ url: '/api/v1/audit/head' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('The audit trail is empty') } });
    const verified = (await t.app.inject({ url: `/api/v1/audit/verify?expectHead=3:${'a'.repeat(64)}` })).json();
    expect(verified).toMatchObject({ ok: false, checked: 0, head: null, problems: [expect.objectContaining({ kind: 'truncated', message: expect.stringContaining('is empty') })] });
  });
});
