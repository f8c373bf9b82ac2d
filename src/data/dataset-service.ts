/**
 * Registered dataset versions: content digests given a name and a version number (1, 2, … per name),
 * with their size, origin, and for tables their schema and profile. Registering content a name
 * already holds answers the existing version; every registration and deletion is an audit event in
 * the same transaction. The server never reads a workspace: the client sends digests and profiles.
 */
import { appendAuditEvent } from '../audit/audit-trail.js';
import type { DatasetLineage, DatasetPage, DatasetSchema, DatasetVersion, DatasetVersionDetail, DatasetVersionPage } from '../client/schemas/datasets.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SlipwayError, errors } from '../core/errors.js';
import { DatasetProfile } from '../monitoring/profile/dataset-profile.js';
import { DELETED_STAGE } from '../registry/registry-validation.js';
import type { Store } from '../store/store.js';
import type { DatasetInput, Run } from '../tracking/tracking-types.js';
import { DATASET_CONTEXT_TAG, datasetInput, datasetRefOfInput, mlflowDigest, type DatasetVersionRef } from './dataset-input.js';
import { findByDigest, findVersionRow, latestVersionNumber, modelVersionsOfRuns, runsUsing, selectSummaries, versionOf } from './dataset-repository.js';

/** Who makes a change and under which request, for the audit trail. */
export interface DatasetMutation {
  /** @default "anonymous" */
  actor?: string;
  requestId?: string | null;
}

/** What registering a version takes (the digest and size come from the client that hashed the content). */
export interface RegisterDatasetInput {
  digest: string;
  kind: 'file' | 'folder';
  files: number;
  bytes: number;
  source: string;
  schema?: DatasetSchema;
  /** A DatasetProfile as JSON (`slipway-profile/1`). */
  profile?: Record<string, unknown>;
  description?: string;
  runId?: string;
}

/** A registration's answer: the version, and whether this call created it. */
export interface RegisterResult {
  version: DatasetVersion;
  created: boolean;
}

/** A version named by number or `latest`. */
export type VersionSelector = number | 'latest';

/** The longest dataset name (as registered model names). */
export const MAX_DATASET_NAME_LENGTH = 256;

const SHA256 = /^[0-9a-f]{64}$/;

/** Validates a dataset name with the rules of registered model names. */
export function validateDatasetName(name: unknown): string {
  if (name === undefined || name === null || name === '') throw new SlipwayError('MISSING_ARGUMENT', 'A dataset name cannot be empty.', { field: 'name' });
  if (typeof name !== 'string') throw errors.invalid(`A dataset name must be a string, got ${typeof name}.`, { field: 'name' });
  if (name.length > MAX_DATASET_NAME_LENGTH) throw errors.invalid(`Dataset name is longer than ${MAX_DATASET_NAME_LENGTH} characters.`, { field: 'name' });
  // The name is part of NAME@VERSION and slipway-dataset:/NAME/VERSION, so '/' and '@' would make those ambiguous.
  if (/[/@]/.test(name)) throw errors.invalid(`Dataset name '${name}' must not contain '/' or '@'.`, { field: 'name' });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw errors.invalid('Dataset name must not contain control characters.', { field: 'name' });
  return name;
}

/** Reads `NAME@VERSION` (VERSION a number or `latest`; `NAME` alone means latest when `allowBare`). */
export function parseDatasetSpec(spec: string, allowBare = false): { name: string; version: VersionSelector } {
  const at = spec.lastIndexOf('@');
  if (at < 0) {
    if (!allowBare) throw errors.invalid(`Expected NAME@VERSION (e.g. train@3 or train@latest), got '${spec}'.`);
    return { name: validateDatasetName(spec), version: 'latest' };
  }
  const name = validateDatasetName(spec.slice(0, at));
  const v = spec.slice(at + 1);
  if (v === 'latest') return { name, version: 'latest' };
  if (!/^[1-9]\d{0,8}$/.test(v)) throw errors.invalid(`The version in '${spec}' must be a positive number or 'latest', got '${v}'.`);
  return { name, version: Number(v) };
}

function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function decodeToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof v.offset === 'number' && Number.isSafeInteger(v.offset) && v.offset >= 0) return v.offset;
  } catch {
    // falls through
  }
  throw errors.invalid(`Invalid page token '${token}'.`, { field: 'pageToken' });
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Registered dataset versions over one store. */
export class DatasetService {
  private readonly store: Store;
  private readonly clock: Clock;

  constructor(opts: { store: Store; clock?: Clock }) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Registers content under `name`: a new version, or the version that already holds this digest
   * (CONFLICT when that version was registered with another kind, file count or size).
   */
  async register(nameIn: string, input: RegisterDatasetInput, ctx: DatasetMutation = {}): Promise<RegisterResult> {
    const name = validateDatasetName(nameIn);
    this.validate(input);
    const profile = input.profile === undefined ? undefined : this.checkedProfile(input.profile);
    const existing = await this.existing(name, input);
    if (existing) return { version: existing, created: false };
    if (input.runId !== undefined) {
      const run = await this.store.db.selectFrom('runs').select('run_uuid').where('run_uuid', '=', input.runId).executeTakeFirst();
      if (!run) throw errors.notFound(`Run '${input.runId}' does not exist.`, { runId: input.runId });
    }
    const now = this.clock.now();
    const actor = ctx.actor ?? 'anonymous';
    try {
      const version = await this.store.db.transaction().execute(async (trx) => {
        const counter = await trx
          .insertInto('dataset_names')
          .values({ name, last_version: 1, created_time: now })
          .onConflict((oc) => oc.column('name').doUpdateSet((eb) => ({ last_version: eb(eb.ref('dataset_names.last_version'), '+', 1) })))
          .returning('last_version')
          .executeTakeFirstOrThrow();
        const number = Number(counter.last_version);
        await trx
          .insertInto('dataset_versions')
          .values({
            name,
            version: number,
            digest: input.digest,
            kind: input.kind,
            files: input.files,
            bytes: input.bytes,
            source: input.source,
            schema: input.schema ? JSON.stringify(input.schema) : null,
            profile: profile ? JSON.stringify(profile.toJSON()) : null,
            rows: profile ? profile.rows : null,
            description: input.description ?? null,
            run_id: input.runId ?? null,
            created_time: now,
            created_by: actor,
          })
          .execute();
        await appendAuditEvent(trx, this.store.dialect, {
          actor: ctx.actor,
          requestId: ctx.requestId,
          action: 'dataset.register',
          entityType: 'dataset_version',
          entityId: `${name}/${number}`,
          change: { name, version: number, digest: input.digest, kind: input.kind, files: input.files, bytes: input.bytes, source: input.source, runId: input.runId ?? null, schema: input.schema ?? null, profileRows: profile?.rows ?? null },
          time: now,
        });
        return number;
      });
      return { version: await this.getSummary(name, version), created: true };
    } catch (err) {
      // Registered by a concurrent call meanwhile: answer that version, as a repeated call would.
      if (isUniqueViolation(err)) {
        const raced = await this.existing(name, input);
        if (raced) return { version: raced, created: false };
      }
      throw err;
    }
  }

  /** Registered names, by name, each with its newest version and version count. */
  async list(query: { maxResults?: number; pageToken?: string } = {}): Promise<DatasetPage> {
    const limit = query.maxResults ?? 100;
    const offset = decodeToken(query.pageToken);
    const db = this.store.db;
    const latest = db
      .selectFrom('dataset_versions')
      .select((eb) => ['name', eb.fn.max('version').as('latest'), eb.fn.countAll().as('count')])
      .groupBy('name')
      .as('agg');
    const rows = await selectSummaries(db)
      .innerJoin(latest, (j) => j.onRef('agg.name', '=', 'dv.name').onRef('agg.latest', '=', 'dv.version'))
      .select('agg.count')
      .orderBy('dv.name')
      .limit(limit + 1)
      .offset(offset)
      .execute();
    const page = rows.slice(0, limit);
    return {
      datasets: page.map((r) => ({ name: r.name, versions: Number(r.count), latest: versionOf(r) })),
      ...(rows.length > limit ? { nextPageToken: encodeToken(offset + limit) } : {}),
    };
  }

  /** A name's versions, newest first; NOT_FOUND when the name has none. */
  async listVersions(nameIn: string, query: { maxResults?: number; pageToken?: string } = {}): Promise<DatasetVersionPage> {
    const name = validateDatasetName(nameIn);
    const limit = query.maxResults ?? 100;
    const offset = decodeToken(query.pageToken);
    const rows = await selectSummaries(this.store.db)
      .where('dv.name', '=', name)
      .orderBy('dv.version', 'desc')
      .limit(limit + 1)
      .offset(offset)
      .execute();
    if (rows.length === 0 && offset === 0) throw this.unknownName(name);
    return { versions: rows.slice(0, limit).map(versionOf), ...(rows.length > limit ? { nextPageToken: encodeToken(offset + limit) } : {}) };
  }

  /** One version with its profile; `latest` names the newest. NOT_FOUND for an unknown name or version. */
  async get(nameIn: string, selector: VersionSelector): Promise<DatasetVersionDetail> {
    const name = validateDatasetName(nameIn);
    const version = await this.resolve(name, selector);
    const row = await findVersionRow(this.store.db, name, version);
    if (!row) throw this.unknownVersion(name, version);
    let profile: Record<string, unknown> | null = null;
    if (row.profile !== null) {
      try {
        profile = JSON.parse(row.profile) as Record<string, unknown>;
      } catch {
        throw new SlipwayError('INTEGRITY_ERROR', `The stored profile of dataset '${name}' version ${version} is not valid JSON.`);
      }
    }
    return { ...versionOf(row), profile };
  }

  /**
   * Deletes a version. A version runs used as an input is refused with CONFLICT unless `force`:
   * their inputs stay (the MLflow record of what they read) and then name a version that is gone.
   */
  async delete(nameIn: string, selector: VersionSelector, opts: { force?: boolean } = {}, ctx: DatasetMutation = {}): Promise<void> {
    const name = validateDatasetName(nameIn);
    const version = await this.resolve(name, selector);
    const row = await findVersionRow(this.store.db, name, version);
    if (!row) throw this.unknownVersion(name, version);
    const users = await runsUsing(this.store.db, name, mlflowDigest(row.digest), DATASET_CONTEXT_TAG);
    if (users.length > 0 && !opts.force) {
      const shown = users.slice(0, 3).map((u) => u.run_uuid).join(', ');
      throw new SlipwayError(
        'CONFLICT',
        `Dataset '${name}' version ${version} is an input of ${users.length} run${users.length === 1 ? '' : 's'} (${shown}${users.length > 3 ? ', …' : ''}); delete it anyway with --force (force=true over HTTP).`,
        { name, version, runs: users.map((u) => u.run_uuid) },
      );
    }
    const now = this.clock.now();
    await this.store.db.transaction().execute(async (trx) => {
      const res = await trx.deleteFrom('dataset_versions').where('name', '=', name).where('version', '=', version).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw this.unknownVersion(name, version);
      await appendAuditEvent(trx, this.store.dialect, {
        actor: ctx.actor,
        requestId: ctx.requestId,
        action: 'dataset.delete',
        entityType: 'dataset_version',
        entityId: `${name}/${version}`,
        change: { name, version, digest: row.digest, usedByRuns: users.map((u) => u.run_uuid), force: opts.force === true },
        time: now,
      });
    });
  }

  /** The runs that used a version as an input (by name and digest) and the model versions registered from them. */
  async lineage(nameIn: string, selector: VersionSelector): Promise<DatasetLineage> {
    const name = validateDatasetName(nameIn);
    const v = await this.getSummary(name, await this.resolve(name, selector));
    const runs = await runsUsing(this.store.db, name, mlflowDigest(v.digest), DATASET_CONTEXT_TAG);
    const models = await modelVersionsOfRuns(this.store.db, runs.map((r) => r.run_uuid), DELETED_STAGE);
    return {
      name,
      version: v.version,
      digest: v.digest,
      producedBy: v.runId,
      runs: runs.map((r) => ({ runId: r.run_uuid, runName: r.name, experimentId: String(r.experiment_id), status: r.status, startTime: Number(r.start_time), context: r.context })),
      modelVersions: models.map((m) => ({ name: m.name, version: String(m.version), runId: m.run_id as string, createdTime: Number(m.creation_time) })),
    };
  }

  /** The MLflow dataset input that links a run to this version (context: training, evaluation…). */
  async runInput(nameIn: string, selector: VersionSelector, context?: string): Promise<DatasetInput> {
    const name = validateDatasetName(nameIn);
    return datasetInput(await this.getSummary(name, await this.resolve(name, selector)), context);
  }

  /** The registered version a run input names, when it still exists and holds the input's content. */
  async versionOfInput(input: { name: string; digest: string; sourceType: string; source: string }): Promise<DatasetVersion | undefined> {
    const ref = datasetRefOfInput(input);
    if (!ref) return undefined;
    const row = await findVersionRow(this.store.db, ref.name, ref.version);
    if (!row || mlflowDigest(row.digest) !== input.digest) return undefined;
    return versionOf(row);
  }

  /**
   * The registered dataset version a run trained on: its input with context `training` that names a
   * registered version. NOT_FOUND, saying what is missing, when there is none.
   */
  async trainingVersionOf(run: Run): Promise<DatasetVersionRef> {
    const training = run.inputs.datasetInputs.filter((d) => d.tags.some((t) => t.key === DATASET_CONTEXT_TAG && t.value === 'training'));
    for (const input of training) {
      const v = await this.versionOfInput(input.dataset);
      if (v) return { name: v.name, version: v.version };
    }
    const why =
      training.length === 0
        ? `logged no input with context 'training'`
        : `has training inputs (${training.map((d) => d.dataset.name).join(', ')}) but none is a registered dataset version that still exists`;
    throw errors.notFound(`Run ${run.info.runId} ${why}; log one with 'slipway datasets log-input' or name the dataset with --dataset NAME@VERSION.`, { runId: run.info.runId });
  }

  private validate(input: RegisterDatasetInput): void {
    if (typeof input.digest !== 'string' || !SHA256.test(input.digest)) throw errors.invalid(`'digest' must be a sha256 digest (64 lowercase hex characters), got '${String(input.digest)}'.`, { field: 'digest' });
    if (input.kind !== 'file' && input.kind !== 'folder') throw errors.invalid(`'kind' must be file or folder, got '${String(input.kind)}'.`, { field: 'kind' });
    for (const field of ['files', 'bytes'] as const) {
      const n = input[field];
      if (!Number.isSafeInteger(n) || n < 0) throw errors.invalid(`'${field}' must be a whole number of at least 0, got '${String(n)}'.`, { field });
    }
    if (input.kind === 'file' && input.files !== 1) throw errors.invalid(`A file version holds 1 file, got files=${input.files}.`, { field: 'files' });
    if (typeof input.source !== 'string' || input.source === '') throw errors.missing('source');
  }

  private checkedProfile(json: Record<string, unknown>): DatasetProfile {
    try {
      return DatasetProfile.fromJSON(json);
    } catch (err) {
      throw errors.invalid(`'profile' is not a Slipway profile: ${(err as Error).message}`, { field: 'profile' });
    }
  }

  private async existing(name: string, input: RegisterDatasetInput): Promise<DatasetVersion | undefined> {
    const row = await findByDigest(this.store.db, name, input.digest);
    if (!row) return undefined;
    const v = versionOf(row);
    if (v.kind !== input.kind || v.files !== input.files || v.bytes !== input.bytes) {
      throw new SlipwayError(
        'CONFLICT',
        `Dataset '${name}' version ${v.version} holds digest ${input.digest} as a ${v.kind} of ${v.files} file${v.files === 1 ? '' : 's'} and ${v.bytes} bytes; this registration says a ${input.kind} of ${input.files} and ${input.bytes}.`,
        { name, version: v.version },
      );
    }
    return v;
  }

  private async resolve(name: string, selector: VersionSelector): Promise<number> {
    if (selector !== 'latest') return selector;
    const latest = await latestVersionNumber(this.store.db, name);
    if (latest === undefined) throw this.unknownName(name);
    return latest;
  }

  private async getSummary(name: string, version: number): Promise<DatasetVersion> {
    const row = await selectSummaries(this.store.db).where('dv.name', '=', name).where('dv.version', '=', version).executeTakeFirst();
    if (!row) throw this.unknownVersion(name, version);
    return versionOf(row);
  }

  private unknownName(name: string): SlipwayError {
    return errors.notFound(`Dataset '${name}' has no registered version.`, { name });
  }

  private unknownVersion(name: string, version: number): SlipwayError {
    return errors.notFound(`Dataset '${name}' has no version ${version}.`, { name, version });
  }
}
