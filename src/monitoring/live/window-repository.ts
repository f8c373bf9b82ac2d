/**
 * Live windows in the store. A window's profile is stored deflated (zlib) and base64-encoded;
 * writing a window that already exists merges the profiles, so replicas and restarts combine.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { sql } from 'kysely';
import type { Store } from '../../store/store.js';
import { DatasetProfile } from '../profile/dataset-profile.js';

/** Figures of a window that alert rules and gauges read (`drift_score:<feature>` etc.). */
export type WindowFigures = Record<string, number | null>;

/** A stored window. */
export interface StoredWindow {
  model: string;
  version: string;
  windowStart: number;
  windowEnd: number;
  rows: number;
  requests: number;
  droppedRows: number;
  figures: WindowFigures;
  /** Present when asked for. */
  profile?: DatasetProfile;
  /** Bytes the window takes in the store (profile + figures). */
  storedBytes: number;
}

/** Encodes a profile for storage. */
export function encodeProfile(p: DatasetProfile): string {
  return deflateRawSync(Buffer.from(JSON.stringify(p.toJSON(true))), { level: 9 }).toString('base64');
}

/** Decodes a stored profile. */
export function decodeProfile(text: string): DatasetProfile {
  return DatasetProfile.fromJSON(JSON.parse(inflateRawSync(Buffer.from(text, 'base64')).toString('utf8')));
}

/** A window to write (merged into an existing one with the same key). */
export interface WindowWrite {
  model: string;
  version: string;
  windowStart: number;
  windowEnd: number;
  rows: number;
  requests: number;
  droppedRows: number;
  profile: DatasetProfile;
}

/** Reads the stored window with the same key, merges `w` into it and returns the merged profile and counts. */
export async function mergeWithStored(store: Store, w: WindowWrite): Promise<WindowWrite> {
  const row = await store.db
    .selectFrom('monitoring_windows')
    .select(['rows', 'requests', 'dropped_rows', 'profile'])
    .where('model', '=', w.model)
    .where('version', '=', w.version)
    .where('window_start', '=', w.windowStart)
    .executeTakeFirst();
  if (!row) return w;
  const stored = decodeProfile(row.profile);
  stored.merge(w.profile);
  return { ...w, rows: Number(row.rows) + w.rows, requests: Number(row.requests) + w.requests, droppedRows: Number(row.dropped_rows) + w.droppedRows, profile: stored };
}

/**
 * Merges this process's part of a window into the stored window and writes the whole with
 * figures computed from the merged profile, in one transaction: every replica closes its own
 * part of a window, and parts written at once never overwrite each other (PostgreSQL: an
 * advisory lock per window key; SQLite: the write lock its transactions take first).
 */
export async function mergeIntoStored(store: Store, w: WindowWrite, figuresOf: (merged: WindowWrite) => WindowFigures, now: number): Promise<WindowWrite> {
  return store.db.transaction().execute(async (trx) => {
    if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${WINDOW_LOCK_CLASS}, hashtext(${JSON.stringify([w.model, w.version, w.windowStart])}))`.execute(trx);
    const tx = { ...store, db: trx };
    const merged = await mergeWithStored(tx, w);
    await saveWindow(tx, merged, figuresOf(merged), now);
    return merged;
  });
}

/** The first key of the per-window advisory locks (the audit chain and job leases use others). */
const WINDOW_LOCK_CLASS = 7419003;

/** Writes a (merged) window with its figures. */
export async function saveWindow(store: Store, w: WindowWrite, figures: WindowFigures, now: number): Promise<void> {
  const values = {
    model: w.model,
    version: w.version,
    window_start: w.windowStart,
    window_end: w.windowEnd,
    rows: w.rows,
    requests: w.requests,
    dropped_rows: w.droppedRows,
    profile: encodeProfile(w.profile),
    figures: JSON.stringify(figures),
    updated_time: now,
  };
  await store.db
    .insertInto('monitoring_windows')
    .values(values)
    .onConflict((oc) =>
      oc.columns(['model', 'version', 'window_start']).doUpdateSet({ rows: values.rows, requests: values.requests, dropped_rows: values.dropped_rows, profile: values.profile, figures: values.figures, updated_time: now, window_end: values.window_end }),
    )
    .execute();
}

/** Filters for listing windows. */
export interface WindowQuery {
  version?: string;
  /** Windows starting at or after (epoch ms). */
  from?: number;
  /** Windows starting before (epoch ms). */
  to?: number;
  /** Newest windows first, at most this many. @default 100 */
  limit?: number;
  withProfiles?: boolean;
}

/** Windows of a model, newest first. */
export async function listWindows(store: Store, model: string, q: WindowQuery = {}): Promise<StoredWindow[]> {
  let query = store.db.selectFrom('monitoring_windows').selectAll().where('model', '=', model);
  if (q.version !== undefined) query = query.where('version', '=', q.version);
  if (q.from !== undefined) query = query.where('window_start', '>=', q.from);
  if (q.to !== undefined) query = query.where('window_start', '<', q.to);
  const rows = await query.orderBy('window_start', 'desc').orderBy('version').limit(q.limit ?? 100).execute();
  return rows.map((r) => ({
    model: r.model,
    version: r.version,
    windowStart: Number(r.window_start),
    windowEnd: Number(r.window_end),
    rows: Number(r.rows),
    requests: Number(r.requests),
    droppedRows: Number(r.dropped_rows),
    figures: JSON.parse(r.figures) as WindowFigures,
    storedBytes: r.profile.length + r.figures.length,
    ...(q.withProfiles ? { profile: decodeProfile(r.profile) } : {}),
  }));
}
