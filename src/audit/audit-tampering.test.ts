import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { RegistryService } from '../registry/registry-service.js';
import type { Store } from '../store/store.js';
import { TrackingService } from '../tracking/tracking-service.js';
import { rotateAuditKey } from './audit-keyring.js';
import { appendAuditEvent, attachAuditTrail, eventHash, listAuditEvents, METRIC_SEAL_POINTS, verifyAuditTrail, type AuditTrailOptions } from './audit-trail.js';

for (const dialect of DIALECTS) {
  describe(`audit tampering on ${dialect.name}`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    function paths(home: string): AuditTrailOptions {
      return { keyFile: join(home, 'audit.key'), keyringDir: join(home, 'audit-keys'), checkpointFile: join(home, 'audit-checkpoints.jsonl'), checkpointIntervalMs: 60_000 };
    }

    /** A store with tracking and registry history written through the services with a trail attached, then closed (checkpointed). */
    async function history(): Promise<{ store: Store; opts: AuditTrailOptions; runId: string }> {
      const home = mkdtempSync(join(tmpdir(), 'slipway-audit-'));
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const opened = await dialect.open();
      cleanups.push(opened.dispose);
      const { store } = opened;
      const opts = paths(home);
      const trail = attachAuditTrail(store, opts);
      const tracking = new TrackingService(store);
      const registry = new RegistryService({ store });
      const run = await tracking.createRun({ experimentId: '0', runName: 'r' });
      const runId = run.info.runId;
      await tracking.logParam(runId, 'lr', '0.1');
      for (let i = 0; i < 5; i++) await tracking.logMetric(runId, { key: 'loss', value: 1 / (i + 1), timestamp: 1000 + i, step: i });
      await tracking.logBatch(runId, { metrics: [{ key: 'acc', value: 0.9, timestamp: 2000, step: 1 }], params: [{ key: 'depth', value: '6' }] });
      await registry.createRegisteredModel({ name: 'fraud' });
      await registry.createModelVersion({ name: 'fraud', source: 's3://bucket/models/fraud/1' });
      await registry.createModelVersion({ name: 'fraud', source: 's3://bucket/models/fraud/2' });
      await registry.setAlias('fraud', 'champion', 1);
      await registry.transitionStage('fraud', 2, 'Staging', false);
      await trail.close();
      return { store, opts, runId };
    }

    async function verifyWith(store: Store, opts: AuditTrailOptions, extra: Parameters<typeof verifyAuditTrail>[1] = {}) {
      const { AuditKeyring } = await import('./audit-keyring.js');
      return verifyAuditTrail(store.db, { keyring: AuditKeyring.load(opts), checkpointFile: opts.checkpointFile, ...extra });
    }

    it('verifies untouched history: every event authenticated, checkpoint and states matched', async () => {
      const { store, opts } = await history();
      const v = await verifyWith(store, opts);
      expect(v.problems).toEqual([]);
      expect(v).toMatchObject({ ok: true, unauthenticated: 0, checkpoints: 1, pendingMetricPoints: 0 });
      expect(v.authenticated).toBe(v.checked);
      expect(v.states.checked).toBeGreaterThanOrEqual(3);
      expect(statSync(opts.keyFile).mode & 0o777).toBe(0o600);
    });

    it('records single-point metric writes as one run.log_metrics event per batch', async () => {
      const { store } = await history();
      const events = await listAuditEvents(store.db);
      expect(events.filter((e) => e.action === 'run.log_metric')).toEqual([]);
      const sealed = events.filter((e) => e.action === 'run.log_metrics');
      expect(sealed).toHaveLength(1);
      // The run's next change (the log-batch) sealed the five points just before itself.
      const at = events.indexOf(sealed[0]!);
      expect(events[at + 1]?.action).toBe('run.log_batch');
    });

    it('seals a full batch of points in the transaction of the last one', async () => {
      const opened = await dialect.open();
      cleanups.push(opened.dispose);
      const tracking = new TrackingService(opened.store);
      const run = await tracking.createRun({ experimentId: '0' });
      for (let i = 0; i < METRIC_SEAL_POINTS + 3; i++) await tracking.logMetric(run.info.runId, { key: 'loss', value: i, timestamp: i, step: i });
      const events = await listAuditEvents(opened.store.db, { action: 'run.log_metrics' });
      expect(events).toHaveLength(1);
      expect((await verifyAuditTrail(opened.store.db)).pendingMetricPoints).toBe(3);
    });

    it('detects deleting the newest events', async () => {
      const { store, opts } = await history();
      await sql`delete from audit_events where seq = (select max(seq) from audit_events)`.execute(store.db);
      const v = await verifyWith(store, opts);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.kind)).toContain('truncated');
    });

    it('detects deleting every event', async () => {
      const { store, opts } = await history();
      await sql`delete from audit_events`.execute(store.db);
      const v = await verifyWith(store, opts);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.kind)).toContain('truncated');
    });

    it('detects an edit followed by re-hashing the chain', async () => {
      const { store, opts } = await history();
      await rehashFrom(store, 2, (e) => ({ ...e, actor: 'mallory' }), false);
      const v = await verifyWith(store, opts);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.kind)).toEqual(expect.arrayContaining(['forged', 'checkpoint-mismatch']));
    });

    it('detects re-hashing the chain with the MACs stripped', async () => {
      const { store, opts } = await history();
      await rehashFrom(store, 1, (e) => ({ ...e, actor: 'mallory' }), true);
      const v = await verifyWith(store, opts);
      expect(v.ok).toBe(false);
      expect(v.problems.map((p) => p.kind)).toContain('checkpoint-mismatch');
    });

    it('detects a forged append, with or without a made-up MAC', async () => {
      const { store, opts } = await history();
      const last = (await listAuditEvents(store.db, { limit: 10_000 })).pop()!;
      const forged = { seq: Number(last.seq) + 1, time: 5, actor: 'mallory', action: 'registered_model.delete', entity_type: 'registered_model', entity_id: 'fraud', request_id: null, change_digest: 'd', prev_hash: last.hash, states: null };
      const hash = eventHash(forged);
      await store.db.insertInto('audit_events').values({ ...forged, hash, key_id: last.key_id ?? null, mac: 'ab'.repeat(32) }).execute();
      const v = await verifyWith(store, opts);
      expect(v.problems).toEqual([expect.objectContaining({ seq: forged.seq, kind: 'forged' })]);

      await store.db.updateTable('audit_events').set({ key_id: null, mac: null }).where('seq', '=', forged.seq).execute();
      const stripped = await verifyWith(store, opts);
      expect(stripped.problems).toEqual([expect.objectContaining({ seq: forged.seq, kind: 'unauthenticated' })]);
    });

    it('detects an edited params.value', async () => {
      const { store, opts, runId } = await history();
      await sql`update params set value = '0.5' where run_uuid = ${runId} and key = 'lr'`.execute(store.db);
      const v = await verifyWith(store, opts);
      expect(v.problems).toEqual([expect.objectContaining({ kind: 'state-mismatch', message: expect.stringContaining("Param 'lr'") })]);
    });

    it('detects an edited model_versions.source, alias and stage', async () => {
      for (const edit of [
        sql`update model_versions set source = 's3://evil/model' where name = 'fraud' and version = 1`,
        sql`update registered_model_aliases set version = 2 where name = 'fraud' and alias = 'champion'`,
        sql`update model_versions set current_stage = 'Production' where name = 'fraud' and version = 2`,
      ]) {
        const { store, opts } = await history();
        await edit.execute(store.db);
        const v = await verifyWith(store, opts);
        expect(v.problems).toEqual([expect.objectContaining({ kind: 'state-mismatch', message: expect.stringContaining("Registered model 'fraud'") })]);
      }
    });

    it('detects a registered model inserted with SQL alone', async () => {
      const { store, opts } = await history();
      await sql`insert into registered_models (name, creation_time, last_updated_time) values ('shadow', 1, 1)`.execute(store.db);
      const v = await verifyWith(store, opts);
      expect(v.problems).toEqual([expect.objectContaining({ kind: 'state-mismatch', message: expect.stringContaining("'shadow' has no audit event") })]);
    });

    it('checks a head kept outside Slipway', async () => {
      const { store, opts } = await history();
      const events = await listAuditEvents(store.db, { limit: 10_000 });
      const head = events[events.length - 1]!;
      expect((await verifyWith(store, opts, { expectHeads: [{ seq: Number(head.seq), hash: head.hash }] })).ok).toBe(true);
      const other = await verifyWith(store, opts, { expectHeads: [{ seq: Number(head.seq), hash: 'f'.repeat(64) }] });
      expect(other.problems).toEqual([expect.objectContaining({ kind: 'checkpoint-mismatch', seq: Number(head.seq) })]);
      const later = await verifyWith(store, opts, { expectHeads: [{ seq: Number(head.seq) + 3, hash: 'f'.repeat(64) }] });
      expect(later.problems).toEqual([expect.objectContaining({ kind: 'truncated' })]);
    });

    it('keeps the process up when a flush fails (the database unreachable), and checkpoints once it is back', async () => {
      const opened = await dialect.open();
      cleanups.push(opened.dispose);
      const { store } = opened;
      const home = mkdtempSync(join(tmpdir(), 'slipway-audit-'));
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const trail = attachAuditTrail(store, paths(home));
      await store.db.transaction().execute((trx) => appendAuditEvent(trx, store.dialect, { action: 'run.create', entityType: 'run', entityId: 'r0', change: 0, time: 0 }));
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        await sql`alter table audit_pending_metrics rename to audit_pending_metrics_away`.execute(store.db);
        await expect(trail.flush()).rejects.toThrow(/audit_pending_metrics/);
        // Unhandled rejections are reported once the current macrotask ends.
        await new Promise((r) => setTimeout(r, 10));
        expect(unhandled).toEqual([]);
        await sql`alter table audit_pending_metrics_away rename to audit_pending_metrics`.execute(store.db);
        await trail.flush();
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
      await trail.close();
      expect(readFileSync(paths(home).checkpointFile, 'utf8').trim().split('\n')).toHaveLength(1);
    });

    it('still verifies events written before audit keys, and counts them', async () => {
      const opened = await dialect.open();
      cleanups.push(opened.dispose);
      const { store } = opened;
      for (let i = 0; i < 3; i++) await store.db.transaction().execute((trx) => appendAuditEvent(trx, store.dialect, { action: 'run.create', entityType: 'run', entityId: `r${i}`, change: i, time: i }));
      const home = mkdtempSync(join(tmpdir(), 'slipway-audit-'));
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const trail = attachAuditTrail(store, paths(home));
      await store.db.transaction().execute((trx) => appendAuditEvent(trx, store.dialect, { action: 'run.create', entityType: 'run', entityId: 'r3', change: 3, time: 3 }));
      await trail.close();
      const v = await verifyWith(store, paths(home));
      expect(v).toMatchObject({ ok: true, checked: 4, authenticated: 1, unauthenticated: 3 });
    });

    it('verifies events signed before a key rotation with the retired key', async () => {
      const { store, opts } = await history();
      const rotated = rotateAuditKey(opts);
      expect(rotated.retired).toBeDefined();
      const trail = attachAuditTrail(store, opts);
      await new RegistryService({ store }).setRegisteredModelTag('fraud', 'team', 'risk');
      await trail.close();
      const events = await listAuditEvents(store.db, { limit: 10_000 });
      expect(new Set(events.map((e) => e.key_id)).size).toBe(2);
      const v = await verifyWith(store, opts);
      expect(v.problems).toEqual([]);
      expect(v.authenticated).toBe(v.checked);
    });

    it('refuses a key file readable by others', async () => {
      const home = mkdtempSync(join(tmpdir(), 'slipway-audit-'));
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const opts = paths(home);
      writeFileSync(opts.keyFile, JSON.stringify({ id: 'k1', secret: Buffer.alloc(32, 7).toString('base64') }));
      chmodSync(opts.keyFile, 0o644);
      const opened = await dialect.open();
      cleanups.push(opened.dispose);
      expect(() => attachAuditTrail(opened.store, opts)).toThrow(/readable or writable by group or others \(mode 644\); run `chmod 600/);
    });

    it('keeps one linear, checkpointed chain when two stores append to one database', async () => {
      const home = mkdtempSync(join(tmpdir(), 'slipway-audit-'));
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const opened = await dialect.open();
      cleanups.push(opened.dispose);
      const { openStore } = await import('../store/store.js');
      const second = await openStore(opened.uri);
      cleanups.push(() => second.close());
      const opts = { ...paths(home), checkpointIntervalMs: 5 };
      const trails = [attachAuditTrail(opened.store, opts), attachAuditTrail(second, opts)];
      await Promise.all(
        [opened.store, second].flatMap((s, j) =>
          Array.from({ length: 10 }, (_, i) => s.db.transaction().execute((trx) => appendAuditEvent(trx, s.dialect, { action: 'x', entityType: 'run', entityId: `r${j}-${i}`, change: i, time: i }))),
        ),
      );
      await Promise.all(trails.map((t) => t.close()));
      const lines = readFileSync(opts.checkpointFile, 'utf8').trim().split('\n');
      expect(lines.every((l) => JSON.parse(l) !== null)).toBe(true);
      const v = await verifyWith(opened.store, opts);
      expect(v).toMatchObject({ ok: true, checked: 20, authenticated: 20 });
      expect(v.checkpoints).toBeGreaterThanOrEqual(1);
    });
  });
}

/** Rewrites events from `fromSeq` on with `edit` and recomputes every hash after it, as an attacker with SQL access would. */
async function rehashFrom(store: Store, fromSeq: number, edit: (e: Record<string, unknown>) => Record<string, unknown>, stripMacs: boolean): Promise<void> {
  const events = await listAuditEvents(store.db, { limit: 100_000 });
  let prev = events.find((e) => Number(e.seq) === fromSeq - 1)?.hash ?? '0'.repeat(64);
  for (const e of events) {
    if (Number(e.seq) < fromSeq) continue;
    const base = Number(e.seq) === fromSeq ? edit({ ...e }) : { ...e };
    const next = { ...base, prev_hash: prev } as typeof e;
    const hash = eventHash(next);
    await store.db
      .updateTable('audit_events')
      .set({ actor: next.actor, prev_hash: prev, hash, ...(stripMacs ? { key_id: null, mac: null } : {}) })
      .where('seq', '=', e.seq)
      .execute();
    prev = hash;
  }
}
