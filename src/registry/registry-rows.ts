/** Reads registry rows and turns them into domain objects (tags, aliases and latest versions attached in batches). */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { Database, ModelVersionTable, RegisteredModelTable } from '../store/schema.js';
import type { ModelSignature, ModelStage, ModelVersion, ModelVersionStatus, RegisteredModel } from './registry-types.js';
import { DELETED_STAGE } from './registry-validation.js';

type Db = Kysely<Database> | Transaction<Database>;
type VersionRow = Selectable<ModelVersionTable>;
type ModelRow = Selectable<RegisteredModelTable>;

/** Largest `IN (...)` list sent in one query. */
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

const key = (name: string, version: number) => `${name}\u0000${version}`;

function parseSignature(text: string | null): ModelSignature | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as ModelSignature;
  } catch {
    return undefined;
  }
}

function toVersion(row: VersionRow, tags: Record<string, string>, aliases: string[]): ModelVersion {
  const v: ModelVersion = {
    name: row.name,
    version: String(row.version),
    creationTimestamp: Number(row.creation_time),
    lastUpdatedTimestamp: Number(row.last_updated_time),
    currentStage: row.current_stage as ModelStage,
    source: row.source,
    storageLocation: row.storage_location ?? row.source,
    status: row.status as ModelVersionStatus,
    tags,
    aliases,
  };
  if (row.user_id) v.userId = row.user_id;
  if (row.description !== null) v.description = row.description;
  if (row.run_id) v.runId = row.run_id;
  if (row.run_link) v.runLink = row.run_link;
  if (row.status_message) v.statusMessage = row.status_message;
  const signature = parseSignature(row.signature);
  if (signature) v.signature = signature;
  return v;
}

/** Attaches tags and aliases to version rows, keeping their order. */
export async function hydrateVersions(db: Db, rows: readonly VersionRow[]): Promise<ModelVersion[]> {
  if (rows.length === 0) return [];
  const names = [...new Set(rows.map((r) => r.name))];
  const tags = new Map<string, Record<string, string>>();
  const aliases = new Map<string, string[]>();
  for (const part of chunks(names)) {
    const tagRows = await db.selectFrom('model_version_tags').selectAll().where('name', 'in', part).execute();
    for (const t of tagRows) {
      const k = key(t.name, Number(t.version));
      const bag = tags.get(k) ?? {};
      bag[t.key] = t.value;
      tags.set(k, bag);
    }
    const aliasRows = await db.selectFrom('registered_model_aliases').selectAll().where('name', 'in', part).orderBy('alias').execute();
    for (const a of aliasRows) {
      const k = key(a.name, Number(a.version));
      aliases.set(k, [...(aliases.get(k) ?? []), a.alias]);
    }
  }
  return rows.map((r) => toVersion(r, tags.get(key(r.name, Number(r.version))) ?? {}, aliases.get(key(r.name, Number(r.version))) ?? []));
}

/** The newest live version in each stage of each named model, newest stage-leaders first per model. */
export async function latestVersionRows(db: Db, names: readonly string[], stages?: readonly ModelStage[]): Promise<VersionRow[]> {
  const out: VersionRow[] = [];
  for (const part of chunks(names)) {
    let inner = db
      .selectFrom('model_versions')
      .select(['name', 'current_stage'])
      .select((eb) => eb.fn.max('version').as('max_version'))
      .where('name', 'in', part)
      .where('current_stage', '<>', DELETED_STAGE)
      .groupBy(['name', 'current_stage']);
    if (stages && stages.length > 0) inner = inner.where('current_stage', 'in', [...stages]);
    const rows = await db
      .selectFrom('model_versions as mv')
      .innerJoin(inner.as('l'), (join) => join.onRef('l.name', '=', 'mv.name').onRef('l.max_version', '=', 'mv.version'))
      .selectAll('mv')
      .orderBy('mv.name')
      .orderBy('mv.version', 'desc')
      .execute();
    out.push(...rows);
  }
  return out;
}

/** Attaches tags, aliases and latest versions to registered-model rows, keeping their order. */
export async function hydrateModels(db: Db, rows: readonly ModelRow[]): Promise<RegisteredModel[]> {
  if (rows.length === 0) return [];
  const names = rows.map((r) => r.name);
  const tags = new Map<string, Record<string, string>>();
  const aliases = new Map<string, Array<{ alias: string; version: string }>>();
  for (const part of chunks(names)) {
    for (const t of await db.selectFrom('registered_model_tags').selectAll().where('name', 'in', part).execute()) {
      const bag = tags.get(t.name) ?? {};
      bag[t.key] = t.value;
      tags.set(t.name, bag);
    }
    for (const a of await db.selectFrom('registered_model_aliases').selectAll().where('name', 'in', part).orderBy('alias').execute()) {
      aliases.set(a.name, [...(aliases.get(a.name) ?? []), { alias: a.alias, version: String(a.version) }]);
    }
  }
  const latest = await hydrateVersions(db, await latestVersionRows(db, names));
  const latestByName = new Map<string, ModelVersion[]>();
  for (const v of latest) latestByName.set(v.name, [...(latestByName.get(v.name) ?? []), v]);
  return rows.map((r) => {
    const m: RegisteredModel = {
      name: r.name,
      creationTimestamp: Number(r.creation_time),
      lastUpdatedTimestamp: Number(r.last_updated_time),
      tags: tags.get(r.name) ?? {},
      aliases: aliases.get(r.name) ?? [],
      latestVersions: latestByName.get(r.name) ?? [],
    };
    if (r.description !== null) m.description = r.description;
    return m;
  });
}
