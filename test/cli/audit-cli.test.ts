import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Sqlite from 'better-sqlite3';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendAuditEvent } from '../../src/audit/audit-trail.js';
import { openStore } from '../../src/store/store.js';
import { freshSqliteFile } from '../support/dialects.js';
import { runCli, storeNote } from '../support/cli.js';

describe('slipway audit (built CLI)', () => {
  const f = freshSqliteFile();
  const env = { SLIPWAY_HOME: f.dir };
  const dbFile = join(f.dir, 'slipway.db');

  beforeAll(async () => {
    const store = await openStore(`sqlite:///${dbFile}`);
    await store.db.transaction().execute(async (trx) => {
      await appendAuditEvent(trx, 'sqlite', { action: 'experiment.create', entityType: 'experiment', entityId: '1', change: { name: 'fraud' }, time: 1_700_000_000_000, requestId: 'req-1' });
      await appendAuditEvent(trx, 'sqlite', { action: 'run.create', entityType: 'run', entityId: 'r1', change: { experiment_id: '1' }, time: 1_700_000_001_000 });
      await appendAuditEvent(trx, 'sqlite', { action: 'run.update', entityType: 'run', entityId: 'r1', change: { status: 'FINISHED' }, time: 1_700_000_002_000, actor: 'alice' });
    });
    await store.close();
  });
  afterAll(() => f.drop());

  it('lists events as a table and as JSON, with filters', async () => {
    const table = await runCli(['audit', 'log'], env);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^SEQ\s+TIME\s+ACTOR\s+ACTION\s+ENTITY/);
    expect(table.stdout).toContain('experiment.create');
    expect(table.stdout).toContain('2023-11-14 22:13:20Z');

    const json = await runCli(['audit', 'log', '--entity-type', 'run', '--json'], env);
    expect(json.code).toBe(0);
    const events = JSON.parse(json.stdout) as Array<{ seq: number; action: string; actor: string }>;
    expect(events.map((e) => e.action)).toEqual(['run.create', 'run.update']);
    expect(events[1]?.actor).toBe('alice');

    const paged = await runCli(['audit', 'log', '--after', '1', '--limit', '1', '--json'], env);
    expect((JSON.parse(paged.stdout) as Array<{ seq: number }>).map((e) => e.seq)).toEqual([2]);
    expect(paged.stderr).toBe(`${storeNote(env)}note: more events follow; continue with --after 2\n`);
  });

  it('verifies an intact chain with exit 0', async () => {
    const ok = await runCli(['audit', 'verify'], env);
    expect(ok).toMatchObject({ code: 0, stderr: storeNote(env) });
    expect(ok.stdout).toContain('3 audit events verified');
  });

  it('prints the head and checks it with --expect-head (value or file); a wrong head exits 1', async () => {
    const head = await runCli(['audit', 'head'], env);
    expect(head.code).toBe(0);
    expect(head.stdout).toMatch(/^3:[0-9a-f]{64}\n$/);
    const ok = await runCli(['audit', 'verify', '--expect-head', head.stdout.trim(), '--json'], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, checkpoints: 1, unauthenticated: 3 });
    const file = join(f.dir, 'head.txt');
    writeFileSync(file, `1:${'0'.repeat(64)}\n`);
    const wrong = await runCli(['audit', 'verify', '--expect-head', file], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/checkpoint-mismatch\s+seq 1\s+Event 1 has a different hash than the expected head/);
    const beyond = await runCli(['audit', 'verify', '--expect-head', `9:${'a'.repeat(64)}`, '--json'], env);
    expect(beyond.code).toBe(1);
    expect((JSON.parse(beyond.stdout) as { problems: Array<{ kind: string }> }).problems.map((p) => p.kind)).toEqual(['truncated']);
    const bad = await runCli(['audit', 'verify', '--expect-head', 'nonsense'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--expect-head must be SEQ:HASH');
  });

  it('rotates the audit key: the old one moves to the keyring, both are owner-only', async () => {
    const first = await runCli(['audit', 'rotate-key', '--json'], env);
    expect(first.code).toBe(0);
    const second = JSON.parse((await runCli(['audit', 'rotate-key', '--json'], env)).stdout) as { retired: string; active: string };
    expect(second.retired).toBe((JSON.parse(first.stdout) as { active: string }).active);
    expect(statSync(join(f.dir, 'audit.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(f.dir, 'audit-keys', `${second.retired}.key`)).mode & 0o777).toBe(0o600);
    chmodSync(join(f.dir, 'audit.key'), 0o644);
    const refused = await runCli(['audit', 'verify'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('run `chmod 600');
    chmodSync(join(f.dir, 'audit.key'), 0o600);
  });

  it('rejects bad flags with exit 2 and a message naming the problem', async () => {
    const unknown = await runCli(['audit', 'log', '--bogus'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--bogus'");
    const badLimit = await runCli(['audit', 'log', '--limit', 'ten'], env);
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toContain('--limit must be a positive integer');
    const badUri = await runCli(['audit', 'verify', '--backend-store-uri', 'mysql://x'], env);
    expect(badUri.code).toBe(2);
    expect(badUri.stderr).toMatch(/^error: Unsupported backend store URI 'mysql:\/\/x'/);
  });

  it('reports an altered and a deleted event with exit 1 after the file is tampered with', async () => {
    const raw = new Sqlite(dbFile);
    raw.prepare("update audit_events set actor = 'mallory' where seq = 2").run();
    raw.close();
    const altered = await runCli(['audit', 'verify'], env);
    expect(altered.code).toBe(1);
    expect(altered.stdout).toMatch(/altered\s+seq 2\s+Event 2 does not match its hash/);
    expect(altered.stderr).toContain('failed verification: 1 problem(s) in 3 events');

    const raw2 = new Sqlite(dbFile);
    raw2.prepare("update audit_events set actor = 'anonymous' where seq = 2").run();
    raw2.prepare('delete from audit_events where seq = 1').run();
    raw2.close();
    const json = await runCli(['audit', 'verify', '--json'], env);
    expect(json.code).toBe(1);
    const result = JSON.parse(json.stdout) as { ok: boolean; problems: Array<{ kind: string; seq: number }> };
    expect(result.ok).toBe(false);
    expect(result.problems.map((p) => p.kind)).toContain('missing');
  });
});

describe('slipway audit on PostgreSQL (built CLI)', () => {
  it('verifies the chain of a PostgreSQL store named by --backend-store-uri and reports tampering', async () => {
    const { freshPostgresDatabase } = await import('../support/dialects.js');
    const { sql } = await import('kysely');
    const pg = await freshPostgresDatabase();
    try {
      const store = await openStore(pg.uri);
      await store.db.transaction().execute(async (trx) => {
        await appendAuditEvent(trx, 'postgres', { action: 'registered_model.create', entityType: 'registered_model', entityId: 'fraud', change: {}, time: 1 });
        await appendAuditEvent(trx, 'postgres', { action: 'registered_model.set_alias', entityType: 'registered_model', entityId: 'fraud', change: { alias: 'champion' }, time: 2 });
      });
      const ok = await runCli(['audit', 'verify', '--backend-store-uri', pg.uri]);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('2 audit events verified');
      await sql`update audit_events set time = 3 where seq = 1`.execute(store.db);
      await store.close();
      const bad = await runCli(['audit', 'verify', '--backend-store-uri', pg.uri, '--json']);
      expect(bad.code).toBe(1);
      expect((JSON.parse(bad.stdout) as { problems: Array<{ seq: number; kind: string }> }).problems).toEqual([expect.objectContaining({ seq: 1, kind: 'altered' })]);
    } finally {
      await pg.drop();
    }
  });
});
