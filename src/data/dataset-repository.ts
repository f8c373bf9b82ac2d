/** The SQL of registered dataset versions: rows in and out of `dataset_versions`, and who used them. */
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DatasetSchema, DatasetVersion } from '../client/schemas/datasets.js';
import type { Database, DatasetVersionTable } from '../store/schema.js';
import { datasetUri } from './dataset-input.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The columns of a version row without the profile (which can be large). */
export const SUMMARY_COLUMNS = ['name', 'version', 'digest', 'kind', 'files', 'bytes', 'source', 'schema', 'description', 'run_id', 'created_time', 'created_by', 'rows'] as const;

/** A version row without its profile, plus whether it has one and its row count. */
export type SummaryRow = Pick<Selectable<DatasetVersionTable>, (typeof SUMMARY_COLUMNS)[number]> & { has_profile: number | string | boolean };

function parseSchema(text: string | null): DatasetSchema | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as DatasetSchema;
  } catch {
    return null;
  }
}

/** A row as the wire's DatasetVersion. */
export function versionOf(row: SummaryRow): DatasetVersion {
  const version = Number(row.version);
  const rows = row.rows === null ? null : Number(row.rows);
  return {
    name: row.name,
    version,
    uri: datasetUri(row.name, version),
    digest: row.digest,
    kind: row.kind === 'folder' ? 'folder' : 'file',
    files: Number(row.files),
    bytes: Number(row.bytes),
    source: row.source,
    schema: parseSchema(row.schema),
    hasProfile: Number(row.has_profile) === 1 || row.has_profile === true,
    rows: rows !== null && Number.isFinite(rows) ? rows : null,
    description: row.description,
    runId: row.run_id,
    createdTime: Number(row.created_time),
    createdBy: row.created_by,
  };
}

/** Selects summary rows (profile left out, its presence and row count kept) from `dataset_versions as dv`. */
export function selectSummaries(db: Db) {
  return db
    .selectFrom('dataset_versions as dv')
    .select(SUMMARY_COLUMNS.map((c) => `dv.${c}` as const))
    .select((eb) => eb.case().when('dv.profile', 'is not', null).then(1).else(0).end().as('has_profile'));
}

/** The version row of (name, version), with its profile text. */
export async function findVersionRow(db: Db, name: string, version: number): Promise<(SummaryRow & { profile: string | null }) | undefined> {
  return selectSummaries(db).select('dv.profile').where('dv.name', '=', name).where('dv.version', '=', version).executeTakeFirst();
}

/** The newest version number of a name, or undefined when it has none. */
export async function latestVersionNumber(db: Db, name: string): Promise<number | undefined> {
  const row = await db.selectFrom('dataset_versions').select((eb) => eb.fn.max('version').as('v')).where('name', '=', name).executeTakeFirst();
  return row?.v === null || row?.v === undefined ? undefined : Number(row.v);
}

/** The version of `name` holding `digest`, when there is one. */
export async function findByDigest(db: Db, name: string, digest: string): Promise<SummaryRow | undefined> {
  return selectSummaries(db).where('dv.name', '=', name).where('dv.digest', '=', digest).executeTakeFirst();
}

/** A run that logged some content as an input, with the input's context tag. */
export interface InputRunRow {
  run_uuid: string;
  name: string;
  experiment_id: number | string;
  status: string;
  start_time: number | string;
  context: string | null;
}

/**
 * The live runs whose MLflow inputs hold a dataset of this name and digest (in any experiment),
 * newest first, with each input's `mlflow.data.context`.
 */
export async function runsUsing(db: Db, name: string, mlflowDigest: string, contextTag: string): Promise<InputRunRow[]> {
  const rows = await db
    .selectFrom('datasets as d')
    .innerJoin('inputs as i', (j) => j.onRef('i.source_id', '=', 'd.dataset_uuid').on('i.source_type', '=', 'DATASET').on('i.destination_type', '=', 'RUN'))
    .innerJoin('runs as r', 'r.run_uuid', 'i.destination_id')
    .leftJoin('input_tags as t', (j) => j.onRef('t.input_uuid', '=', 'i.input_uuid').on('t.name', '=', contextTag))
    .select(['r.run_uuid', 'r.name', 'r.experiment_id', 'r.status', 'r.start_time', 't.value as context'])
    .where('d.name', '=', name)
    .where('d.digest', '=', mlflowDigest)
    .where('r.lifecycle_stage', '=', 'active')
    .orderBy('r.start_time', 'desc')
    .orderBy('r.run_uuid')
    .execute();
  // MLflow's tables allow one input per (dataset row, run); a run listed twice would need two such rows, so keep the first.
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.run_uuid) && seen.add(r.run_uuid));
}

/** Model versions registered from these runs (deleted ones left out), oldest first. */
export async function modelVersionsOfRuns(db: Db, runIds: readonly string[], deletedStage: string): Promise<Array<{ name: string; version: number; run_id: string | null; creation_time: number }>> {
  if (runIds.length === 0) return [];
  return db
    .selectFrom('model_versions')
    .select(['name', 'version', 'run_id', 'creation_time'])
    .where('run_id', 'in', [...runIds])
    .where('current_stage', '!=', deletedStage)
    .orderBy('creation_time')
    .orderBy('name')
    .orderBy('version')
    .execute();
}
