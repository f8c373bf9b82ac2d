/**
 * The tamper-evident audit trail. Every mutation appends one event in the same
 * transaction as the change; each event's hash covers its fields and the previous
 * event's hash, so altering, inserting or deleting an event breaks the chain.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type Sqlite from 'better-sqlite3';
import { canonicalJson } from '../core/canonical-json.js';
import type { AuditEventTable, Database } from '../store/schema.js';

/** The hash the first event links to. */
export const GENESIS_HASH = '0'.repeat(64);

/** Who did what to which entity; `change` is digested, not stored. */
export interface AuditInput {
  actor?: string;
  action: string;
  entityType: string;
  entityId: string;
  requestId?: string | null;
  change: unknown;
  time: number;
}

/** A stored audit event. */
export type AuditEvent = AuditEventTable;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash of an event given its fields (without `hash`). */
export function eventHash(e: Omit<AuditEvent, 'hash'>): string {
  return sha256(
    canonicalJson({
      seq: e.seq,
      time: e.time,
      actor: e.actor,
      action: e.action,
      entity_type: e.entity_type,
      entity_id: e.entity_id,
      request_id: e.request_id,
      change_digest: e.change_digest,
      prev_hash: e.prev_hash,
    }),
  );
}

function buildEvent(input: AuditInput, last: { seq: number; hash: string } | undefined): AuditEvent {
  const base = {
    seq: (last?.seq ?? 0) + 1,
    time: input.time,
    actor: input.actor ?? 'anonymous',
    action: input.action,
    entity_type: input.entityType,
    entity_id: input.entityId,
    request_id: input.requestId ?? null,
    change_digest: sha256(canonicalJson(input.change ?? null)),
    prev_hash: last?.hash ?? GENESIS_HASH,
  };
  return { ...base, hash: eventHash(base) };
}

/**
 * Appends an event inside the caller's transaction. On PostgreSQL a transaction-scoped
 * advisory lock serialises appenders so the chain never forks; SQLite serialises writers itself.
 */
export async function appendAuditEvent(trx: Transaction<Database> | Kysely<Database>, dialect: 'sqlite' | 'postgres', input: AuditInput): Promise<AuditEvent> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(7419001)`.execute(trx);
  const last = await trx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const event = buildEvent(input, last);
  await trx.insertInto('audit_events').values(event).execute();
  return event;
}

const lastStatements = new WeakMap<Sqlite.Database, { last: Sqlite.Statement; insert: Sqlite.Statement }>();

/** Synchronous append for raw better-sqlite3 hot paths; call inside `raw.transaction(...)`. */
export function appendAuditEventSync(raw: Sqlite.Database, input: AuditInput): AuditEvent {
  let st = lastStatements.get(raw);
  if (!st) {
    st = {
      last: raw.prepare('select seq, hash from audit_events order by seq desc limit 1'),
      insert: raw.prepare(
        'insert into audit_events (seq, time, actor, action, entity_type, entity_id, request_id, change_digest, prev_hash, hash) values (@seq, @time, @actor, @action, @entity_type, @entity_id, @request_id, @change_digest, @prev_hash, @hash)',
      ),
    };
    lastStatements.set(raw, st);
  }
  const event = buildEvent(input, st.last.get() as { seq: number; hash: string } | undefined);
  st.insert.run(event);
  return event;
}

/** One problem found by `verifyAuditTrail`. */
export interface AuditProblem {
  seq: number;
  kind: 'altered' | 'missing' | 'inserted' | 'broken-link';
  message: string;
}

/** The result of checking the whole chain. */
export interface AuditVerification {
  ok: boolean;
  checked: number;
  problems: AuditProblem[];
}

/** Walks the chain in order and reports every altered, missing (deleted) or inserted event. */
export async function verifyAuditTrail(db: Kysely<Database>, pageSize = 5000): Promise<AuditVerification> {
  const problems: AuditProblem[] = [];
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  for (let after = 0; ; ) {
    const page = await db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(pageSize).execute();
    for (const e of page) {
      checked++;
      if (e.seq !== expectedSeq) {
        problems.push({ seq: expectedSeq, kind: 'missing', message: `Events ${expectedSeq}..${e.seq - 1} are missing (deleted).` });
      }
      const recomputed = eventHash(e);
      if (recomputed !== e.hash) {
        problems.push({ seq: e.seq, kind: 'altered', message: `Event ${e.seq} does not match its hash: its fields were altered.` });
      } else if (e.prev_hash !== prevHash && e.seq === expectedSeq) {
        problems.push({ seq: e.seq, kind: 'inserted', message: `Event ${e.seq} does not link to event ${e.seq - 1}: an event was inserted or replaced before it.` });
      } else if (e.prev_hash !== prevHash) {
        problems.push({ seq: e.seq, kind: 'broken-link', message: `Event ${e.seq} links to a hash that is not the previous event's.` });
      }
      prevHash = e.hash;
      expectedSeq = e.seq + 1;
    }
    if (page.length < pageSize) break;
    after = (page[page.length - 1] as AuditEvent).seq;
  }
  return { ok: problems.length === 0, checked, problems };
}

/** Filters for listing audit events. */
export interface AuditQuery {
  entityType?: string;
  entityId?: string;
  action?: string;
  actor?: string;
  /** Only events with seq greater than this. */
  after?: number;
  limit?: number;
}

/** Lists events, oldest first. */
export async function listAuditEvents(db: Kysely<Database>, q: AuditQuery = {}): Promise<AuditEvent[]> {
  let query = db.selectFrom('audit_events').selectAll();
  if (q.entityType) query = query.where('entity_type', '=', q.entityType);
  if (q.entityId) query = query.where('entity_id', '=', q.entityId);
  if (q.action) query = query.where('action', '=', q.action);
  if (q.actor) query = query.where('actor', '=', q.actor);
  if (q.after !== undefined) query = query.where('seq', '>', q.after);
  return query.orderBy('seq').limit(q.limit ?? 1000).execute();
}
