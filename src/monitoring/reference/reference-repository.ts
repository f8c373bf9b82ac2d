/** Reference profiles attached to registered model versions, stored with an audit event per change. */
import { appendAuditEvent } from '../../audit/audit-trail.js';
import { SlipwayError } from '../../core/errors.js';
import type { ModelRef } from '../../core/model-source.js';
import type { Store } from '../../store/store.js';
import { DatasetProfile } from '../profile/dataset-profile.js';

/** Resolves a model reference (alias, version number, stage) to a concrete version; the registry provides it. */
export type VersionResolver = (ref: ModelRef) => Promise<{ name: string; version: string }>;

/** Who changes what, for the audit trail. */
export interface MutationMeta {
  actor?: string;
  requestId?: string | null;
  time: number;
}

/** A stored reference profile. */
export interface StoredReference {
  model: string;
  version: string;
  rows: number;
  source: string | null;
  createdTime: number;
  profile: DatasetProfile;
}

/** Stores (or replaces) the reference profile of a model version. */
export async function attachReference(store: Store, model: string, version: string, profile: DatasetProfile, source: string | null, meta: MutationMeta): Promise<void> {
  if (!model || !version) throw new SlipwayError('MISSING_ARGUMENT', 'A reference needs a model name and a version.');
  const text = JSON.stringify(profile.toJSON());
  await store.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('monitoring_references')
      .values({ model, version, profile: text, rows: profile.rows, source, created_time: meta.time })
      .onConflict((oc) => oc.columns(['model', 'version']).doUpdateSet({ profile: text, rows: profile.rows, source, created_time: meta.time }))
      .execute();
    await appendAuditEvent(trx, store.dialect, {
      actor: meta.actor,
      action: 'monitoring.reference.attach',
      entityType: 'model_version',
      entityId: `${model}/${version}`,
      requestId: meta.requestId,
      change: { model, version, rows: profile.rows, columns: profile.names, source },
      time: meta.time,
    });
  });
}

/** The reference of a model version, or undefined. */
export async function findReference(store: Store, model: string, version: string): Promise<StoredReference | undefined> {
  const row = await store.db.selectFrom('monitoring_references').selectAll().where('model', '=', model).where('version', '=', version).executeTakeFirst();
  if (!row) return undefined;
  return { model: row.model, version: row.version, rows: Number(row.rows), source: row.source, createdTime: Number(row.created_time), profile: DatasetProfile.fromJSON(JSON.parse(row.profile)) };
}

/** The reference of a model version, or NOT_FOUND. */
export async function getReference(store: Store, model: string, version: string): Promise<StoredReference> {
  const ref = await findReference(store, model, version);
  if (!ref) throw new SlipwayError('NOT_FOUND', `Model '${model}' version ${version} has no reference profile; attach one with 'slipway monitor reference set'.`, { model, version });
  return ref;
}

/** References of a model (all versions), newest first, without their profiles. */
export async function listReferences(store: Store, model?: string): Promise<Array<Omit<StoredReference, 'profile'>>> {
  let q = store.db.selectFrom('monitoring_references').select(['model', 'version', 'rows', 'source', 'created_time']);
  if (model) q = q.where('model', '=', model);
  const rows = await q.orderBy('created_time', 'desc').execute();
  return rows.map((r) => ({ model: r.model, version: r.version, rows: Number(r.rows), source: r.source, createdTime: Number(r.created_time) }));
}

/** Removes the reference of a model version; NOT_FOUND when there is none. */
export async function detachReference(store: Store, model: string, version: string, meta: MutationMeta): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    const res = await trx.deleteFrom('monitoring_references').where('model', '=', model).where('version', '=', version).executeTakeFirst();
    if (Number(res.numDeletedRows) === 0) throw new SlipwayError('NOT_FOUND', `Model '${model}' version ${version} has no reference profile.`, { model, version });
    await appendAuditEvent(trx, store.dialect, { actor: meta.actor, action: 'monitoring.reference.detach', entityType: 'model_version', entityId: `${model}/${version}`, requestId: meta.requestId, change: { model, version }, time: meta.time });
  });
}
