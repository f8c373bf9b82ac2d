/**
 * The write path for metrics, params and tags (log-metric, log-parameter, set-tag and
 * log-batch): one transaction per call with its audit event. History goes in as one
 * packed block per metric key and the latest value is upserted once per key. On SQLite
 * it runs raw prepared statements because ingest speed is a requirement; on PostgreSQL
 * it sends multi-row statements via Kysely.
 */
import type Sqlite from 'better-sqlite3';
import { sql, type Kysely, type Transaction } from 'kysely';
import { appendAuditEvent, appendAuditEventSync, recordMetricPoints, recordMetricPointsSync, type AuditInput, type MetricPointsInput } from '../audit/audit-trail.js';
import { errors } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { writeSqlite } from './sqlite-writer.js';
import type { MetricBlock } from './metric-block-codec.js';
import type { Metric, Param, Tag } from './tracking-types.js';

/** One validated write: everything lands together or nothing does. */
export interface IngestWrite {
  runId: string;
  metrics: Metric[];
  /** The same points packed per key (see metric-block-codec). */
  blocks: MetricBlock[];
  params: Param[];
  tags: Tag[];
  /** Set when a `mlflow.runName` tag renames the run. */
  runName?: string;
  /** The write's audit event, or single-point metric writes that are sealed into one event per batch. */
  audit: AuditInput | { metricPoints: MetricPointsInput };
}

const LATEST_UPSERT_CONFLICT = `on conflict (run_uuid, key) do update set value = excluded.value, is_nan = excluded.is_nan, timestamp = excluded.timestamp, step = excluded.step
  where excluded.step > latest_metrics.step
     or (excluded.step = latest_metrics.step and (excluded.timestamp > latest_metrics.timestamp
     or (excluded.timestamp = latest_metrics.timestamp and excluded.value > latest_metrics.value)))`;

/** The point that wins "latest" per MLflow: highest step, then timestamp, then value. */
function laterThan(a: Metric, b: Metric): boolean {
  if (a.step !== b.step) return a.step > b.step;
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp;
  return storable(a.value) > storable(b.value);
}

function storable(value: number): number {
  return Number.isNaN(value) ? 0 : value;
}

/** The latest point per key, sorted by key so concurrent writers lock rows in the same order. */
function latestPerKey(metrics: Metric[]): Metric[] {
  if (metrics.length === 1) return metrics;
  const best = new Map<string, Metric>();
  for (const m of metrics) {
    const cur = best.get(m.key);
    if (cur === undefined || laterThan(m, cur)) best.set(m.key, m);
  }
  return [...best.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function sortedByKey<T extends { key: string }>(list: T[]): T[] {
  return list.length < 2 ? list : [...list].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Throws MLflow's error when a param would change value. */
function paramChanged(runId: string, key: string, oldValue: string, newValue: string): Error {
  return errors.invalid(
    `Changing param values is not allowed. Param with key='${key}' was already logged with value='${oldValue}' for run ID='${runId}'. Attempted logging new value '${newValue}'.`,
    { key },
  );
}

function refuseInactive(runId: string, stage: string | undefined): void {
  if (stage === undefined) throw errors.notFound(`Run with id=${runId} not found`, { runId });
  if (stage !== 'active') throw errors.invalid(`The run ${runId} must be in the 'active' state. Current state is ${stage}.`, { runId });
}

interface SqliteStatements {
  runStage: Sqlite.Statement;
  paramGet: Sqlite.Statement;
  paramInsert: Sqlite.Statement;
  tagUpsert: Sqlite.Statement;
  rename: Sqlite.Statement;
  blockInsert: Sqlite.Statement;
  latestUpsert: Sqlite.Statement;
}

/** Writes metric points, params and tags for one run at a time. */
export class MetricIngest {
  private statements: SqliteStatements | undefined;

  constructor(private readonly store: Store) {}

  /** Applies one write in one transaction with its audit event. */
  async write(w: IngestWrite): Promise<void> {
    const raw = this.store.sqlite;
    if (raw) {
      await writeSqlite(raw, () => this.writeSqlite(raw, w));
      return;
    }
    await this.store.db.transaction().execute((trx) => this.writePostgres(trx, w));
  }

  private prepared(raw: Sqlite.Database): SqliteStatements {
    if (this.statements) return this.statements;
    this.statements = {
      runStage: raw.prepare('select lifecycle_stage from runs where run_uuid = ?').pluck(),
      paramGet: raw.prepare('select value from params where run_uuid = ? and key = ?').pluck(),
      paramInsert: raw.prepare('insert into params (run_uuid, key, value) values (?, ?, ?)'),
      tagUpsert: raw.prepare('insert into tags (run_uuid, key, value) values (?, ?, ?) on conflict (run_uuid, key) do update set value = excluded.value'),
      rename: raw.prepare('update runs set name = ? where run_uuid = ?'),
      blockInsert: raw.prepare('insert into metric_blocks (run_uuid, key, count, min_step, max_step, points) values (?, ?, ?, ?, ?, ?)'),
      latestUpsert: raw.prepare(`insert into latest_metrics (run_uuid, key, value, is_nan, timestamp, step) values (?, ?, ?, ?, ?, ?) ${LATEST_UPSERT_CONFLICT}`),
    };
    return this.statements;
  }

  private writeSqlite(raw: Sqlite.Database, w: IngestWrite): void {
    const st = this.prepared(raw);
    const runId = w.runId;
    refuseInactive(runId, st.runStage.get(runId) as string | undefined);
    for (const p of w.params) {
      const existing = st.paramGet.get(runId, p.key) as string | undefined;
      if (existing === undefined) st.paramInsert.run(runId, p.key, p.value);
      else if (existing !== p.value) throw paramChanged(runId, p.key, existing, p.value);
    }
    for (const t of w.tags) st.tagUpsert.run(runId, t.key, t.value);
    if (w.runName !== undefined) st.rename.run(w.runName, runId);

    for (const b of w.blocks) st.blockInsert.run(runId, b.key, b.count, b.minStep, b.maxStep, b.points);
    for (const m of latestPerKey(w.metrics)) {
      const nan = Number.isNaN(m.value);
      st.latestUpsert.run(runId, m.key, nan ? 0 : m.value, nan ? 1 : 0, m.timestamp, m.step);
    }
    if ('metricPoints' in w.audit) recordMetricPointsSync(raw, w.audit.metricPoints);
    else appendAuditEventSync(raw, w.audit);
  }

  private async writePostgres(trx: Transaction<Database>, w: IngestWrite): Promise<void> {
    const runId = w.runId;
    // FOR SHARE keeps a concurrent delete from slipping in between the check and the writes.
    const run = await trx.selectFrom('runs').select('lifecycle_stage').where('run_uuid', '=', runId).forShare().executeTakeFirst();
    refuseInactive(runId, run?.lifecycle_stage);
    if (w.params.length > 0) {
      await trx
        .insertInto('params')
        .values(sortedByKey(w.params).map((p) => ({ run_uuid: runId, key: p.key, value: p.value })))
        .onConflict((oc) => oc.columns(['run_uuid', 'key']).doNothing())
        .execute();
      const stored = await trx.selectFrom('params').select(['key', 'value']).where('run_uuid', '=', runId).where('key', 'in', w.params.map((p) => p.key)).execute();
      const byKey = new Map(stored.map((r) => [r.key, r.value]));
      for (const p of w.params) {
        const existing = byKey.get(p.key);
        if (existing !== undefined && existing !== p.value) throw paramChanged(runId, p.key, existing, p.value);
      }
    }
    if (w.tags.length > 0) {
      await trx
        .insertInto('tags')
        .values(sortedByKey(w.tags).map((t) => ({ run_uuid: runId, key: t.key, value: t.value })))
        .onConflict((oc) => oc.columns(['run_uuid', 'key']).doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
        .execute();
    }
    if (w.runName !== undefined) await trx.updateTable('runs').set({ name: w.runName }).where('run_uuid', '=', runId).execute();
    if (w.metrics.length > 0) {
      await trx
        .insertInto('metric_blocks')
        .values(w.blocks.map((b) => ({ run_uuid: runId, key: b.key, count: b.count, min_step: b.minStep, max_step: b.maxStep, points: b.points })))
        .execute();
      const latest = latestPerKey(w.metrics).map((m) => metricRow(runId, m));
      const values = sql.join(latest.map((r) => sql`(${r.run_uuid}, ${r.key}, ${r.value}, ${r.is_nan}, ${r.timestamp}, ${r.step})`));
      await sql`insert into latest_metrics (run_uuid, key, value, is_nan, timestamp, step) values ${values} ${sql.raw(LATEST_UPSERT_CONFLICT)}`.execute(trx);
    }
    if ('metricPoints' in w.audit) await recordMetricPoints(trx, 'postgres', w.audit.metricPoints);
    else await appendAuditEvent(trx, 'postgres', w.audit);
  }
}

function metricRow(runId: string, m: Metric): Database['latest_metrics'] {
  const nan = Number.isNaN(m.value);
  return { run_uuid: runId, key: m.key, value: nan ? 0 : m.value, is_nan: nan ? 1 : 0, timestamp: m.timestamp, step: m.step };
}

/** Runs `fn` in a transaction on either backend (Kysely), for the less frequent mutations. */
export function inTransaction<T>(db: Kysely<Database>, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(fn);
}
