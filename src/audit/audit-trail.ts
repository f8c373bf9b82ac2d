/**
 * The tamper-evident audit trail. Every mutation appends one event in the same
 * transaction as the change; each event's hash covers its fields and the previous
 * event's hash, so altering, inserting or deleting an event breaks the chain.
 * Events are also authenticated with a key kept outside the database (HMAC-SHA256
 * over the hash), signed checkpoints of the head go to a file outside the database,
 * and events carry digests of the entity states they leave behind, so tampering by
 * someone who can write only to the database shows in `verifyAuditTrail`.
 */
import { createHash } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type Sqlite from 'better-sqlite3';
import { canonicalJson } from '../core/canonical-json.js';
import { systemClock, type Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { AuditEventTable, AuditPendingMetricTable, Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { appendCheckpoint, checkpointAuthentic, readCheckpoints, signCheckpoint, type AuditCheckpoint } from './audit-checkpoints.js';
import { AuditKeyring, macOf, sameMac, type AuditKeyPaths } from './audit-keyring.js';
import { compareStates, type EntityStates } from './audit-state.js';

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
  /** Digests of the entity states after the change, which verification compares with the rows. */
  states?: EntityStates;
}

/** A stored audit event. */
export type AuditEvent = AuditEventTable;

type Db = Transaction<Database> | Kysely<Database>;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The hash of an event given its fields (without `hash`, `key_id` and `mac`). */
export function eventHash(e: Omit<AuditEvent, 'hash'>): string {
  return sha256(
    canonicalJson({
      seq: Number(e.seq),
      time: Number(e.time),
      actor: e.actor,
      action: e.action,
      entity_type: e.entity_type,
      entity_id: e.entity_id,
      request_id: e.request_id,
      change_digest: e.change_digest,
      prev_hash: e.prev_hash,
      // Absent (not null) on events written before states existed, so their hashes stay valid.
      ...(e.states != null ? { states: e.states } : {}),
    }),
  );
}

function eventMacText(keyId: string, hash: string): string {
  return `slipway-audit-event\n${keyId}\n${hash}`;
}

// ---- the trail attached to a store: keys, checkpoints, sealing of metric points ----

/** Where the audit keys and checkpoints live and how often the head is checkpointed. */
export interface AuditTrailOptions extends AuditKeyPaths {
  /** Append-only file of signed heads. */
  checkpointFile: string;
  /** Longest time between an append and the checkpoint (and metric seal) that covers it, in ms. @default 5000 */
  checkpointIntervalMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** A trail attached to an open store. */
export interface AuditTrail {
  readonly keyring: AuditKeyring;
  readonly checkpointFile: string;
  /** Seals pending metric points into events and checkpoints the head now. */
  flush(): Promise<void>;
  /** Flushes, stops the timer and detaches from the store. */
  close(): Promise<void>;
}

interface Attachment {
  trail: AuditTrail;
  noteAppend(): void;
}

// Kysely hands each transaction a new executor that shares the instance's dialect adapter,
// so the adapter identifies the store from inside a transaction; the raw handle does for SQLite.
const attachments = new WeakMap<object, Attachment>();

function attachmentOf(db: Db): Attachment | undefined {
  return attachments.get(db.getExecutor().adapter);
}

/** Events appended since the last checkpoint before one is written without waiting for the timer. */
const CHECKPOINT_EVERY_EVENTS = 1000;

/**
 * Attaches the audit keys and checkpoint file to a store: events appended through it are
 * signed, and the head is checkpointed after appends (at most `checkpointIntervalMs` later,
 * after every 1000 events, and on `close`). Loads the keyring now; an insecure key file throws.
 */
export function attachAuditTrail(store: Store, opts: AuditTrailOptions): AuditTrail {
  const keyring = AuditKeyring.load(opts);
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? silentLogger;
  const intervalMs = opts.checkpointIntervalMs ?? 5000;
  const existing = readCheckpoints(opts.checkpointFile).checkpoints;
  let lastSeq = existing.reduce((m, c) => Math.max(m, c.seq), 0);
  // Ticks stay active for two intervals after an append, so a transaction that commits after
  // the first tick read the head is still covered. A store only read writes no checkpoint.
  let activeUntil = 0;
  let appended = false;
  let sinceCheckpoint = 0;
  let running: Promise<void> | undefined;
  let closed = false;

  async function flushNow(): Promise<void> {
    await sealPendingMetrics(store.db, store.dialect, clock.now());
    const head = await store.db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    if (!head || Number(head.seq) <= lastSeq) return;
    const checkpoint = signCheckpoint(keyring.signingKey(), { seq: Number(head.seq), hash: head.hash }, clock.now());
    appendCheckpoint(opts.checkpointFile, checkpoint);
    lastSeq = checkpoint.seq;
  }
  function flush(): Promise<void> {
    // One flush at a time; a caller arriving during one waits for it and runs another.
    const next = (running ?? Promise.resolve()).then(flushNow, flushNow);
    // The caller gets the failure through `next`; the chain that orders flushes must never reject,
    // or a failed flush (the database unreachable at a tick) is an unhandled rejection that ends the process.
    const settled: Promise<void> = next.then(
      () => {
        if (running === settled) running = undefined;
      },
      () => {
        if (running === settled) running = undefined;
      },
    );
    running = settled;
    return next;
  }
  const timer = setInterval(() => {
    if (Date.now() > activeUntil) return;
    flush().catch((err: unknown) => logger.error({ err }, 'audit checkpoint failed'));
  }, intervalMs);
  timer.unref();

  const trail: AuditTrail = {
    keyring,
    checkpointFile: opts.checkpointFile,
    flush,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      try {
        if (appended) await flush();
      } finally {
        attachments.delete(store.db.getExecutor().adapter);
        if (store.sqlite) attachments.delete(store.sqlite);
      }
    },
  };
  const attachment: Attachment = {
    trail,
    noteAppend() {
      appended = true;
      activeUntil = Date.now() + 2 * intervalMs;
      if (++sinceCheckpoint >= CHECKPOINT_EVERY_EVENTS) {
        sinceCheckpoint = 0;
        setImmediate(() => void flush().catch((err: unknown) => logger.error({ err }, 'audit checkpoint failed')));
      }
    },
  };
  attachments.set(store.db.getExecutor().adapter, attachment);
  if (store.sqlite) attachments.set(store.sqlite, attachment);
  return trail;
}

/** The trail attached to this store, if any. */
export function attachedAuditTrail(db: Kysely<Database>): AuditTrail | undefined {
  return attachmentOf(db)?.trail;
}

function buildEvent(input: AuditInput, last: { seq: number; hash: string } | undefined, attachment: Attachment | undefined): AuditEvent {
  const base = {
    seq: Number(last?.seq ?? 0) + 1,
    time: input.time,
    actor: input.actor ?? 'anonymous',
    action: input.action,
    entity_type: input.entityType,
    entity_id: input.entityId,
    request_id: input.requestId ?? null,
    change_digest: sha256(canonicalJson(input.change ?? null)),
    prev_hash: last?.hash ?? GENESIS_HASH,
    states: input.states && Object.keys(input.states).length > 0 ? canonicalJson(input.states) : null,
  };
  const hash = eventHash(base);
  if (!attachment) return { ...base, hash, key_id: null, mac: null };
  const key = attachment.trail.keyring.signingKey();
  attachment.noteAppend();
  return { ...base, hash, key_id: key.id, mac: macOf(key, eventMacText(key.id, hash)) };
}

/**
 * Appends an event inside the caller's transaction. On PostgreSQL a transaction-scoped
 * advisory lock serialises appenders so the chain never forks; SQLite serialises writers itself.
 */
export async function appendAuditEvent(trx: Db, dialect: 'sqlite' | 'postgres', input: AuditInput): Promise<AuditEvent> {
  if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(7419001)`.execute(trx);
  if (sealsPendingFirst(input)) {
    const pending = (await trx.deleteFrom('audit_pending_metrics').where('run_uuid', '=', input.entityId).returningAll().execute()) as PendingRow[];
    for (const row of pending) await appendAuditEvent(trx, dialect, sealInput(row, input.time));
  }
  const last = await trx.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  const event = buildEvent(input, last, attachmentOf(trx));
  await trx.insertInto('audit_events').values(event).execute();
  return event;
}

interface SyncStatements {
  last: Sqlite.Statement;
  insert: Sqlite.Statement;
  pendingGet: Sqlite.Statement;
  pendingPut: Sqlite.Statement;
  pendingDelete: Sqlite.Statement;
}

const syncStatements = new WeakMap<Sqlite.Database, SyncStatements>();

function statementsOf(raw: Sqlite.Database): SyncStatements {
  let st = syncStatements.get(raw);
  if (!st) {
    st = {
      last: raw.prepare('select seq, hash from audit_events order by seq desc limit 1'),
      insert: raw.prepare(
        'insert into audit_events (seq, time, actor, action, entity_type, entity_id, request_id, change_digest, prev_hash, hash, key_id, mac, states) values (@seq, @time, @actor, @action, @entity_type, @entity_id, @request_id, @change_digest, @prev_hash, @hash, @key_id, @mac, @states)',
      ),
      pendingGet: raw.prepare('select run_uuid, actor, count, digest, first_time, last_time from audit_pending_metrics where run_uuid = ?'),
      pendingPut: raw.prepare(
        'insert into audit_pending_metrics (run_uuid, actor, count, digest, first_time, last_time) values (@run_uuid, @actor, @count, @digest, @first_time, @last_time) on conflict (run_uuid) do update set actor = excluded.actor, count = excluded.count, digest = excluded.digest, first_time = excluded.first_time, last_time = excluded.last_time',
      ),
      pendingDelete: raw.prepare('delete from audit_pending_metrics where run_uuid = ?'),
    };
    syncStatements.set(raw, st);
  }
  return st;
}

/** Synchronous append for raw better-sqlite3 hot paths; call inside `raw.transaction(...)`. */
export function appendAuditEventSync(raw: Sqlite.Database, input: AuditInput): AuditEvent {
  const st = statementsOf(raw);
  if (sealsPendingFirst(input)) {
    const pending = st.pendingGet.get(input.entityId) as PendingRow | undefined;
    if (pending) {
      st.pendingDelete.run(input.entityId);
      appendAuditEventSync(raw, sealInput(pending, input.time));
    }
  }
  const event = buildEvent(input, st.last.get() as { seq: number; hash: string } | undefined, attachments.get(raw));
  st.insert.run(event);
  return event;
}

// ---- metric points: one event per batch, not per point ----

/** Single-point metric writes (log-metric calls) to one run, recorded together. */
export interface MetricPointsInput {
  actor?: string;
  runId: string;
  points: ReadonlyArray<{ key: string; value: number; timestamp: number; step: number }>;
  time: number;
}

/** A run's pending points are sealed into one event once they reach this many. */
export const METRIC_SEAL_POINTS = 1000;

type PendingRow = AuditPendingMetricTable;

// A run's other changes seal its pending points first, so the trail keeps their order.
function sealsPendingFirst(input: AuditInput): boolean {
  return input.entityType === 'run' && input.action !== SEALED_METRICS_ACTION;
}

const SEALED_METRICS_ACTION = 'run.log_metrics';

function foldPoints(digest: string, points: MetricPointsInput['points']): string {
  const h = createHash('sha256').update(digest);
  for (const p of points) h.update(`\n${p.key}\u0000${p.value}\u0000${p.timestamp}\u0000${p.step}`);
  return h.digest('hex');
}

function sealInput(row: PendingRow, time: number): AuditInput {
  return {
    actor: row.actor,
    action: SEALED_METRICS_ACTION,
    entityType: 'run',
    entityId: row.run_uuid,
    change: { count: Number(row.count), sha256: row.digest, first_time: Number(row.first_time), last_time: Number(row.last_time) },
    time,
  };
}

// The next pending state for a run, and the row to seal first (another actor's points) or now (full).
function nextPending(cur: PendingRow | undefined, input: MetricPointsInput): { seal: PendingRow[]; keep: PendingRow | undefined } {
  const actor = input.actor ?? 'anonymous';
  const seal: PendingRow[] = [];
  let base = cur;
  if (base && base.actor !== actor) {
    seal.push(base);
    base = undefined;
  }
  const row: PendingRow = {
    run_uuid: input.runId,
    actor,
    count: Number(base?.count ?? 0) + input.points.length,
    digest: foldPoints(base?.digest ?? GENESIS_HASH, input.points),
    first_time: Number(base?.first_time ?? input.time),
    last_time: input.time,
  };
  if (row.count >= METRIC_SEAL_POINTS) return { seal: [...seal, row], keep: undefined };
  return { seal, keep: row };
}

/**
 * Records single-point metric writes in the run's pending digest inside the caller's
 * better-sqlite3 transaction; every 1000 points (and on the trail's timer) they become
 * one `run.log_metrics` event with their count and digest.
 */
export function recordMetricPointsSync(raw: Sqlite.Database, input: MetricPointsInput): void {
  const st = statementsOf(raw);
  const { seal, keep } = nextPending(st.pendingGet.get(input.runId) as PendingRow | undefined, input);
  for (const row of seal) appendAuditEventSync(raw, sealInput(row, input.time));
  if (keep) st.pendingPut.run(keep);
  else st.pendingDelete.run(input.runId);
  attachments.get(raw)?.noteAppend();
}

/** `recordMetricPointsSync` through Kysely, inside the caller's transaction. */
export async function recordMetricPoints(trx: Db, dialect: 'sqlite' | 'postgres', input: MetricPointsInput): Promise<void> {
  const cur = await trx
    .selectFrom('audit_pending_metrics')
    .selectAll()
    .where('run_uuid', '=', input.runId)
    .$if(dialect === 'postgres', (q) => q.forUpdate())
    .executeTakeFirst();
  const { seal, keep } = nextPending(cur as PendingRow | undefined, input);
  for (const row of seal) await appendAuditEvent(trx, dialect, sealInput(row, input.time));
  if (keep) {
    await trx
      .insertInto('audit_pending_metrics')
      .values(keep)
      .onConflict((oc) => oc.column('run_uuid').doUpdateSet({ actor: keep.actor, count: keep.count, digest: keep.digest, first_time: keep.first_time, last_time: keep.last_time }))
      .execute();
  } else {
    await trx.deleteFrom('audit_pending_metrics').where('run_uuid', '=', input.runId).execute();
  }
  attachmentOf(trx)?.noteAppend();
}

/** Seals every run's pending metric points into one event each; returns how many events it wrote. */
export async function sealPendingMetrics(db: Kysely<Database>, dialect: 'sqlite' | 'postgres', time: number): Promise<number> {
  const any = await db.selectFrom('audit_pending_metrics').select('run_uuid').limit(1).executeTakeFirst();
  if (!any) return 0;
  return db.transaction().execute(async (trx) => {
    // Deleting first takes the write lock up front and claims exactly the rows this seal covers.
    const rows = (await trx.deleteFrom('audit_pending_metrics').returningAll().execute()) as PendingRow[];
    rows.sort((a, b) => (a.run_uuid < b.run_uuid ? -1 : a.run_uuid > b.run_uuid ? 1 : 0));
    for (const row of rows) await appendAuditEvent(trx, dialect, sealInput(row, time));
    return rows.length;
  });
}

// ---- verification ----

/** The kinds of problem verification reports. */
export type AuditProblemKind =
  | 'altered'
  | 'missing'
  | 'inserted'
  | 'broken-link'
  | 'forged'
  | 'unauthenticated'
  | 'unknown-key'
  | 'truncated'
  | 'checkpoint-mismatch'
  | 'state-mismatch';

/** One problem found by `verifyAuditTrail`. */
export interface AuditProblem {
  seq: number;
  kind: AuditProblemKind;
  message: string;
}

/** The result of checking the whole chain. */
export interface AuditVerification {
  ok: boolean;
  checked: number;
  /** Events with a valid MAC. */
  authenticated: number;
  /** Events without a MAC (written before audit keys existed, or without a key attached). */
  unauthenticated: number;
  /** The last event, or null for an empty trail. */
  head: { seq: number; hash: string } | null;
  /** Checkpoints read from the checkpoint file and heads given by the caller that were checked. */
  checkpoints: number;
  /** Registered models and params compared with the state the events describe; `unchecked` had no state event. */
  states: { checked: number; unchecked: number };
  /** Single-point metric writes not yet sealed into an event. */
  pendingMetricPoints: number;
  problems: AuditProblem[];
}

/** What to verify against besides the chain itself. */
export interface VerifyOptions {
  /** Keys for the MACs; default: the trail attached to the store, else none. */
  keyring?: AuditKeyring;
  /** Checkpoint file; default: the attached trail's. */
  checkpointFile?: string;
  /** Heads kept outside Slipway (`slipway audit head`), each checked like a checkpoint. */
  expectHeads?: Array<{ seq: number; hash: string }>;
  pageSize?: number;
}

interface HeadClaim {
  seq: number;
  hash: string;
  what: string;
}

/**
 * Walks the chain in order and reports altered, missing, inserted, unauthenticated or forged
 * events; checks the checkpoints and expected heads; compares registry and param rows with
 * the states the events describe.
 */
export async function verifyAuditTrail(db: Kysely<Database>, opts: VerifyOptions = {}): Promise<AuditVerification> {
  const attached = attachedAuditTrail(db);
  const keyring = opts.keyring ?? attached?.keyring;
  const checkpointFile = opts.checkpointFile ?? attached?.checkpointFile;
  const pageSize = opts.pageSize ?? 5000;
  const problems: AuditProblem[] = [];

  const claims: HeadClaim[] = [];
  if (checkpointFile) {
    const { checkpoints, malformed } = readCheckpoints(checkpointFile);
    if (malformed > 0) problems.push({ seq: 0, kind: 'checkpoint-mismatch', message: `${malformed} line(s) of ${checkpointFile} are not checkpoints.` });
    for (const c of checkpoints) {
      const authentic = keyring ? checkpointAuthentic(keyring, c) : undefined;
      if (authentic === false) {
        problems.push({ seq: c.seq, kind: 'checkpoint-mismatch', message: `The checkpoint for seq ${c.seq} in ${checkpointFile} has an invalid MAC.` });
        continue;
      }
      claims.push({ seq: c.seq, hash: c.hash, what: `the checkpoint of ${new Date(c.time).toISOString()}` });
    }
  }
  for (const h of opts.expectHeads ?? []) claims.push({ seq: h.seq, hash: h.hash, what: 'the expected head' });
  const wantedSeqs = new Set(claims.map((c) => c.seq));
  const hashAt = new Map<number, string>();

  const expected = new Map<string, { digest: string | null; seq: number }>();
  const unknownKeys = new Map<string, { first: number; count: number }>();
  let prevHash = GENESIS_HASH;
  let expectedSeq = 1;
  let checked = 0;
  let authenticated = 0;
  let unauthenticated = 0;
  let firstAuthenticated: number | undefined;
  let head: { seq: number; hash: string } | null = null;
  for (let after = 0; ; ) {
    const page = await db.selectFrom('audit_events').selectAll().where('seq', '>', after).orderBy('seq').limit(pageSize).execute();
    for (const row of page) {
      const e = { ...row, seq: Number(row.seq), time: Number(row.time) };
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

      if (e.mac == null || e.key_id == null) {
        unauthenticated++;
        if (firstAuthenticated !== undefined) {
          problems.push({ seq: e.seq, kind: 'unauthenticated', message: `Event ${e.seq} has no MAC although event ${firstAuthenticated} and later ones do: it was forged or its MAC stripped.` });
        }
      } else {
        firstAuthenticated ??= e.seq;
        const key = keyring?.key(e.key_id);
        if (!key) {
          const u = unknownKeys.get(e.key_id) ?? { first: e.seq, count: 0 };
          u.count++;
          unknownKeys.set(e.key_id, u);
        } else if (!sameMac(e.mac, macOf(key, eventMacText(e.key_id, e.hash)))) {
          problems.push({ seq: e.seq, kind: 'forged', message: `Event ${e.seq} has an invalid MAC: it was written or re-hashed without the audit key.` });
        } else {
          authenticated++;
        }
      }

      if (e.states) {
        try {
          for (const [k, v] of Object.entries(JSON.parse(e.states) as EntityStates)) expected.set(k, { digest: v, seq: e.seq });
        } catch {
          // An unparsable states field also fails its hash or MAC, reported above.
        }
      }
      if (wantedSeqs.has(e.seq)) hashAt.set(e.seq, e.hash);
      prevHash = e.hash;
      expectedSeq = e.seq + 1;
      head = { seq: e.seq, hash: e.hash };
    }
    if (page.length < pageSize) break;
    after = Number((page[page.length - 1] as AuditEvent).seq);
  }

  for (const [keyId, u] of unknownKeys) {
    problems.push({
      seq: u.first,
      kind: 'unknown-key',
      message: `${u.count} event(s) from seq ${u.first} are signed with key '${keyId}', which is not in the keyring: restore that key file to check them.`,
    });
  }
  let truncatedReported = false;
  for (const c of claims.sort((a, b) => b.seq - a.seq)) {
    if (!head || c.seq > head.seq) {
      if (!truncatedReported) {
        problems.push({
          seq: c.seq,
          kind: 'truncated',
          message: `The chain ${head ? `ends at seq ${head.seq}` : 'is empty'}, but ${c.what} recorded seq ${c.seq}: the newest events were deleted.`,
        });
      }
      truncatedReported = true;
      continue;
    }
    const have = hashAt.get(c.seq);
    if (have !== c.hash) {
      problems.push({ seq: c.seq, kind: 'checkpoint-mismatch', message: `Event ${c.seq} ${have ? 'has a different hash than' : 'is missing, but is recorded in'} ${c.what}: the chain was rewritten.` });
    }
  }

  const states = await compareStates(db, expected, checked > 0 && unauthenticated === 0);
  for (const d of states.differences) problems.push({ seq: d.seq ?? 0, kind: 'state-mismatch', message: d.message });
  const pending = await db.selectFrom('audit_pending_metrics').select((eb) => eb.fn.sum<number | string | null>('count').as('n')).executeTakeFirst();

  return {
    ok: problems.length === 0,
    checked,
    authenticated,
    unauthenticated,
    head,
    checkpoints: claims.length,
    states: { checked: states.checked, unchecked: states.unchecked },
    pendingMetricPoints: Number(pending?.n ?? 0),
    problems,
  };
}

export type { AuditCheckpoint };

/** Filters for listing audit events. */
export interface AuditQuery {
  entityType?: string;
  entityId?: string;
  action?: string;
  actor?: string;
  /** Only events with seq greater than this. */
  after?: number;
  /** Only events committed at or after this time (epoch ms). */
  since?: number;
  /** Only events committed before this time (epoch ms). */
  until?: number;
  limit?: number;
}

/** The last event's seq and hash (what `slipway audit head` prints), or undefined for an empty trail. */
export async function auditHead(db: Kysely<Database>): Promise<{ seq: number; hash: string } | undefined> {
  const row = await db.selectFrom('audit_events').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
  return row ? { seq: Number(row.seq), hash: row.hash } : undefined;
}

/** Lists events, oldest first. */
export async function listAuditEvents(db: Kysely<Database>, q: AuditQuery = {}): Promise<AuditEvent[]> {
  let query = db.selectFrom('audit_events').selectAll();
  if (q.entityType) query = query.where('entity_type', '=', q.entityType);
  if (q.entityId) query = query.where('entity_id', '=', q.entityId);
  if (q.action) query = query.where('action', '=', q.action);
  if (q.actor) query = query.where('actor', '=', q.actor);
  if (q.after !== undefined) query = query.where('seq', '>', q.after);
  if (q.since !== undefined) query = query.where('time', '>=', q.since);
  if (q.until !== undefined) query = query.where('time', '<', q.until);
  return query.orderBy('seq').limit(q.limit ?? 1000).execute();
}
