/**
 * The model registry with MLflow's semantics: registered models, versions, tags,
 * aliases, legacy stages and searches. Every mutation writes its audit event in the
 * same transaction; alias moves, stage transitions and deletions are announced to
 * `onChange` listeners (serving hot-swaps on them).
 */
import { EventEmitter } from 'node:events';
import { realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath, sep } from 'node:path';
import type { Transaction } from 'kysely';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { ModelFileAllowList, modelFileAllowList } from '../artifacts/model-file-allow-list.js';
import { registeredModelStates } from '../audit/audit-state.js';
import { appendAuditEvent } from '../audit/audit-trail.js';
import { systemClock, type Clock } from '../core/clock.js';
import { SlipwayError, errors } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { parseModelUri, type ModelRef } from '../core/model-source.js';
import { notifyChange, REGISTRY_CHANNEL } from '../store/change-feed.js';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/store.js';
import { inspectArtifacts, inspectLocalModel } from './onnx-signature.js';
import { MODEL_FILTER_RULES, VERSION_FILTER_RULES, parseFilter, parseOrderBy } from './registry-filter.js';
import { hydrateModels, hydrateVersions, latestVersionRows } from './registry-rows.js';
import { comparison, tagCondition } from './registry-sql.js';
import type {
  CreateModelVersionInput,
  ModelStage,
  ModelVersion,
  MutationContext,
  RegisteredModel,
  SearchPage,
  SearchParams,
} from './registry-types.js';
import {
  DELETED_STAGE,
  allStages,
  decodePageToken,
  encodePageToken,
  parseMaxResults,
  parseStage,
  parseVersion,
  requireString,
  validateAlias,
  validateDescription,
  validateModelName,
  validateCreationTags,
  validateTag,
} from './registry-validation.js';
import { checkNoRelativeReferences, localSourceError, remoteFileSourceError, sourceKind } from './source-rules.js';
import { artifactPathOf, localPathOf, resolveSource } from './version-source.js';

/** What the registry needs. */
export interface RegistryServiceOptions {
  store: Store;
  /** Where version artifacts live; without it, signatures are not read. */
  artifacts?: ArtifactStore;
  /** Folders besides the artifact store whose model files may be read (a version with a local source there is servable). */
  modelSourceAllowedDirs?: readonly string[];
  clock?: Clock;
  logger?: Logger;
}

/** MLflow's paging limits for the two searches. */
export const SEARCH_LIMITS = {
  models: { default: 100, max: 1000 },
  versions: { default: 10_000, max: 200_000 },
} as const;

const MODEL_ORDER_KEYS: Record<string, string> = {
  name: 'rm.name',
  timestamp: 'rm.last_updated_time',
  last_updated_timestamp: 'rm.last_updated_time',
  creation_timestamp: 'rm.creation_time',
};

const VERSION_ORDER_KEYS: Record<string, string> = {
  name: 'mv.name',
  version_number: 'mv.version',
  timestamp: 'mv.last_updated_time',
  last_updated_timestamp: 'mv.last_updated_time',
  creation_timestamp: 'mv.creation_time',
  run_id: 'mv.run_id',
};

/** MLflow's order for search_model_versions without order_by (name ASC and version DESC then break ties). */
const DEFAULT_VERSION_ORDER = ['last_updated_timestamp DESC'];

/** How many `models:/` sources deep a download URI is followed back to the first version's source. */
const MAX_SOURCE_CHAIN = 32;

/** True when `path` is `dir` or lies below it (both absolute and resolved). */
function isWithin(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * `path` made absolute with symbolic links resolved as far as it exists (as Python's `Path.resolve()`),
 * so a link inside a run's folder cannot make a path elsewhere look contained in it.
 */
async function resolvedPath(path: string): Promise<string> {
  const absolute = resolvePath(path);
  let existing = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      return join(await realpath(existing), ...rest.reverse());
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return absolute;
      rest.push(basename(existing));
      existing = parent;
    }
  }
}

const VERSION_COLUMNS: Record<string, string> = {
  name: 'mv.name',
  run_id: 'mv.run_id',
  source_path: 'mv.source',
  version_number: 'mv.version',
  user_id: 'mv.user_id',
};

type Trx = Transaction<Database>;

function modelNotFound(name: string): SlipwayError {
  return errors.notFound(`Registered Model with name=${name} not found`, { name });
}

function versionNotFound(name: string, version: number | string): SlipwayError {
  return errors.notFound(`Model Version (name=${name}, version=${version}) not found`, { name, version: String(version) });
}

function aliasNotFound(name: string, alias: string): SlipwayError {
  // MLflow answers an unknown alias with INVALID_PARAMETER_VALUE (400), not 404.
  return errors.invalid(`Registered model alias ${alias} not found.`, { name, alias });
}

/** The model registry over a metadata store and an artifact store. */
export class RegistryService {
  readonly store: Store;
  readonly artifacts: ArtifactStore | undefined;
  /** The local files a signature may be read from: the artifact root and the allowed folders. */
  readonly modelFiles: ModelFileAllowList;
  /** The operator's own allowed folders, where the MLflow API accepts a local source without a run. */
  private readonly operatorDirs: ModelFileAllowList;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly changes = new EventEmitter();

  constructor(opts: RegistryServiceOptions) {
    this.store = opts.store;
    this.artifacts = opts.artifacts;
    this.modelFiles = modelFileAllowList(opts.artifacts, opts.modelSourceAllowedDirs);
    this.operatorDirs = new ModelFileAllowList({ dirs: [...(opts.modelSourceAllowedDirs ?? [])] });
    this.clock = opts.clock ?? systemClock;
    this.logger = opts.logger ?? silentLogger;
    // Every serving model subscribes; the default cap of 10 would warn for no reason.
    this.changes.setMaxListeners(0);
  }

  /** Calls `listener(name)` after an alias of model `name` is set or deleted, a stage moves, or a version or the model is deleted or renamed. */
  onChange(listener: (name: string) => void): () => void {
    const wrapped = (name: string) => {
      try {
        listener(name);
      } catch (err) {
        this.logger.error({ err, model: name }, 'registry change listener failed');
      }
    };
    this.changes.on('change', wrapped);
    return () => void this.changes.off('change', wrapped);
  }

  private announce(...names: string[]): void {
    for (const name of names) this.changes.emit('change', name);
  }

  private async mutate<T>(fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.store.db.transaction().execute(fn);
  }

  private async audit(trx: Trx, ctx: MutationContext, action: string, entityType: 'registered_model' | 'model_version', entityId: string, change: unknown, alsoModels: readonly string[] = []) {
    // The event records the model's whole state after the change, so `audit verify` can compare it with the rows.
    const model = entityType === 'registered_model' ? entityId : entityId.slice(0, entityId.lastIndexOf('/'));
    const states = await registeredModelStates(trx, [model, ...alsoModels]);
    // Replicas following the registry hear of the change once it commits, and never of one rolled back.
    await notifyChange(trx, this.store.dialect, REGISTRY_CHANNEL, [model, ...alsoModels]);
    return appendAuditEvent(trx, this.store.dialect, {
      actor: ctx.actor,
      requestId: ctx.requestId,
      action,
      entityType,
      entityId,
      change,
      time: this.clock.now(),
      states,
    });
  }

  // Touching the model row first takes the write lock (SQLite) or the row lock (PostgreSQL),
  // so concurrent version creations for one model serialise and never pick the same number.
  private async lockModel(trx: Trx, name: string, touch: boolean): Promise<void> {
    const now = this.clock.now();
    const res = await trx
      .updateTable('registered_models')
      .set((eb) => ({ last_updated_time: touch ? eb.val(now) : eb.ref('last_updated_time') }))
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) throw modelNotFound(name);
  }

  private async liveVersionRow(db: Trx | Store['db'], name: string, version: number) {
    const row = await db
      .selectFrom('model_versions')
      .selectAll()
      .where('name', '=', name)
      .where('version', '=', version)
      .where('current_stage', '<>', DELETED_STAGE)
      .executeTakeFirst();
    if (!row) {
      const model = await db.selectFrom('registered_models').select('name').where('name', '=', name).executeTakeFirst();
      throw model ? versionNotFound(name, version) : modelNotFound(name);
    }
    return row;
  }

  // ---- registered models ----

  /** Creates a registered model; RESOURCE_ALREADY_EXISTS when the name is taken. */
  async createRegisteredModel(
    input: { name: string; description?: string; tags?: Record<string, string> },
    ctx: MutationContext = {},
  ): Promise<RegisteredModel> {
    const name = validateModelName(input.name);
    const description = validateDescription(input.description);
    const tags = validateCreationTags(input.tags);
    const now = this.clock.now();
    await this.mutate(async (trx) => {
      // Insert first: writing before reading takes SQLite's write lock up front (no lock upgrade
      // to fail under a concurrent writer), and the primary key settles races between creators.
      await trx.insertInto('registered_models').values({ name, creation_time: now, last_updated_time: now, description: description ?? null }).execute();
      if (tags.length > 0) await trx.insertInto('registered_model_tags').values(tags.map((t) => ({ name, ...t }))).execute();
      await this.audit(trx, ctx, 'registered_model.create', 'registered_model', name, { name, description, tags });
    }).catch((err: unknown) => {
      if (!(err instanceof SlipwayError) && /unique|duplicate|primary key/i.test(String((err as Error).message))) {
        throw errors.exists(`Registered Model (name=${name}) already exists.`, { name });
      }
      throw err;
    });
    return this.getRegisteredModel(name);
  }

  /** Gets a registered model with its tags, aliases and latest version per stage. */
  async getRegisteredModel(name: string): Promise<RegisteredModel> {
    validateModelName(name);
    const row = await this.store.db.selectFrom('registered_models').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw modelNotFound(name);
    return (await hydrateModels(this.store.db, [row]))[0] as RegisteredModel;
  }

  /** Renames a model; its versions, tags and aliases follow. */
  async renameRegisteredModel(name: string, newName: string, ctx: MutationContext = {}): Promise<RegisteredModel> {
    validateModelName(name);
    const target = validateModelName(newName, 'new_name');
    if (target !== name) {
      await this.mutate(async (trx) => {
        await this.lockModel(trx, name, true);
        const clash = await trx.selectFrom('registered_models').select('name').where('name', '=', target).executeTakeFirst();
        if (clash) throw errors.exists(`Registered Model (name=${target}) already exists.`, { name: target });
        // Foreign keys cascade the new name to versions, tags and aliases.
        await trx.updateTable('registered_models').set({ name: target }).where('name', '=', name).execute();
        await this.audit(trx, ctx, 'registered_model.rename', 'registered_model', target, { from: name, to: target }, [name]);
      });
      this.announce(name, target);
    }
    return this.getRegisteredModel(target);
  }

  /** Updates a model's description. */
  async updateRegisteredModel(name: string, patch: { description?: string }, ctx: MutationContext = {}): Promise<RegisteredModel> {
    validateModelName(name);
    const description = validateDescription(patch.description);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, true);
      if (description !== undefined) await trx.updateTable('registered_models').set({ description }).where('name', '=', name).execute();
      await this.audit(trx, ctx, 'registered_model.update', 'registered_model', name, { description });
    });
    return this.getRegisteredModel(name);
  }

  /** Deletes a model with all its versions, tags and aliases. */
  async deleteRegisteredModel(name: string, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      // Version tags cascade from versions, versions and aliases from the model.
      await trx.deleteFrom('registered_models').where('name', '=', name).execute();
      await this.audit(trx, ctx, 'registered_model.delete', 'registered_model', name, { name });
    });
    this.announce(name);
  }

  /** Searches registered models (filter on name and tags, order by name or timestamps, paged). */
  async searchRegisteredModels(params: SearchParams = {}): Promise<SearchPage<RegisteredModel>> {
    const limit = parseMaxResults(params.maxResults, SEARCH_LIMITS.models.default, SEARCH_LIMITS.models.max);
    const offset = decodePageToken(params.pageToken);
    const clauses = parseFilter(params.filter, MODEL_FILTER_RULES);
    const order = parseOrderBy(params.orderBy, MODEL_ORDER_KEYS);
    const d = this.store.dialect;
    let q = this.store.db.selectFrom('registered_models as rm').selectAll('rm');
    for (const c of clauses) {
      q = q.where(c.kind === 'tag' ? tagCondition(d, 'model', 'rm', c) : comparison(d, 'rm.name', c.op, c.value));
    }
    for (const o of order) q = q.orderBy(o.key as 'rm.name', o.ascending ? 'asc' : 'desc');
    if (!order.some((o) => o.key === 'rm.name')) q = q.orderBy('rm.name', 'asc');
    const rows = await q.limit(limit + 1).offset(offset).execute();
    const items = await hydrateModels(this.store.db, rows.slice(0, limit));
    return rows.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  /** Sets (or replaces) a tag on a model. */
  async setRegisteredModelTag(name: string, key: string, value: string, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const tag = validateTag(key, value);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      await trx
        .insertInto('registered_model_tags')
        .values({ name, ...tag })
        .onConflict((oc) => oc.columns(['name', 'key']).doUpdateSet({ value: tag.value }))
        .execute();
      await this.audit(trx, ctx, 'registered_model.set_tag', 'registered_model', name, tag);
    });
  }

  /** Deletes a tag from a model; RESOURCE_DOES_NOT_EXIST when the tag is absent. */
  async deleteRegisteredModelTag(name: string, key: string, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const k = requireString(key, 'key');
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      const res = await trx.deleteFrom('registered_model_tags').where('name', '=', name).where('key', '=', k).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw errors.notFound(`No tag with name: ${k} in registered model ${name}.`, { name, key: k });
      await this.audit(trx, ctx, 'registered_model.delete_tag', 'registered_model', name, { key: k });
    });
  }

  // ---- aliases ----

  /** Points `alias` at `version` (moving it if it pointed elsewhere). */
  async setAlias(name: string, alias: string, version: string | number, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const a = validateAlias(alias);
    const v = parseVersion(version);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      await this.liveVersionRow(trx, name, v);
      await trx
        .insertInto('registered_model_aliases')
        .values({ name, alias: a, version: v })
        .onConflict((oc) => oc.columns(['name', 'alias']).doUpdateSet({ version: v }))
        .execute();
      await this.audit(trx, ctx, 'registered_model.set_alias', 'registered_model', name, { alias: a, version: String(v) });
    });
    this.announce(name);
  }

  /** Removes an alias; no error when the model has no such alias (as MLflow). */
  async deleteAlias(name: string, alias: string, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const a = validateAlias(alias);
    const deleted = await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      const res = await trx.deleteFrom('registered_model_aliases').where('name', '=', name).where('alias', '=', a).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) return false;
      await this.audit(trx, ctx, 'registered_model.delete_alias', 'registered_model', name, { alias: a });
      return true;
    });
    if (deleted) this.announce(name);
  }

  /** The version an alias points at; INVALID_PARAMETER_VALUE for an unknown alias (as MLflow). */
  async getVersionByAlias(name: string, alias: string): Promise<ModelVersion> {
    validateModelName(name);
    const a = requireString(alias, 'alias');
    const row = await this.store.db.selectFrom('registered_model_aliases').select('version').where('name', '=', name).where('alias', '=', a).executeTakeFirst();
    if (!row) {
      const model = await this.store.db.selectFrom('registered_models').select('name').where('name', '=', name).executeTakeFirst();
      throw model ? aliasNotFound(name, a) : modelNotFound(name);
    }
    return this.getModelVersion(name, String(row.version));
  }

  // ---- model versions ----

  private async runArtifactUri(runId: string): Promise<string | undefined> {
    const run = await this.store.db.selectFrom('runs').select('artifact_uri').where('run_uuid', '=', runId).executeTakeFirst();
    return run?.artifact_uri;
  }

  /** The run's artifact directory on this machine, when its artifact_uri is a local folder (a `file://` artifact root). */
  private async runLocalFolder(runId: string | undefined): Promise<string | undefined> {
    if (!runId) return undefined;
    const uri = await this.runArtifactUri(runId);
    const kind = uri === undefined ? undefined : sourceKind(uri);
    return kind?.kind === 'local' ? resolvedPath(kind.path) : undefined;
  }

  /**
   * MLflow's server-side check of a new version's source, for the MLflow API (its `_validate_source`): a local
   * source (an absolute path, or a `file:` URI of this machine) is accepted only inside the artifact directory of
   * the run named by `runId` — or, as Slipway adds, inside a folder the operator allowed with
   * --model-source-allowed-dirs, except inside `runArtifactFolders` (where runs keep their artifacts: the folder of a
   * `file://` default artifact root), where MLflow's rule alone decides — else 400 with MLflow's message; a `file:`
   * URI naming another host is MLflow's 500; an unknown `runId` is 404. The other sources get `createModelVersion`'s checks.
   */
  async checkMlflowSource(source: string, runId: string | undefined, runArtifactFolders: readonly string[] = []): Promise<void> {
    const kind = sourceKind(requireString(source, 'source'));
    if (kind.kind === 'remote-file') throw remoteFileSourceError(source);
    if (kind.kind !== 'local') return;
    const path = await resolvedPath(kind.path);
    if (runId) {
      const uri = await this.runArtifactUri(runId);
      if (uri === undefined) throw errors.notFound(`Run with id=${runId} not found`, { runId });
      const runFolder = await this.runLocalFolder(runId);
      if (runFolder !== undefined && isWithin(path, runFolder)) return;
    }
    const inRunArea = runArtifactFolders.some((d) => isWithin(path, resolvePath(d)) || isWithin(resolvePath(kind.path), resolvePath(d)));
    if (!inRunArea && (await this.operatorDirs.allows(kind.path))) return;
    throw localSourceError(runId ? path : source);
  }

  /**
   * Registers a new version: resolves the source to a storage location, reads the
   * ONNX signature when the location holds an ONNX file, and stores the version as
   * READY (FAILED_REGISTRATION with a message when that file cannot be read).
   * A source URI must name an absolute path without `.` or `..` segments (MLflow's rule);
   * a `runs:/` source whose run this server does not know is kept as given, unread.
   */
  async createModelVersion(input: CreateModelVersionInput, ctx: MutationContext = {}): Promise<ModelVersion> {
    const name = validateModelName(input.name);
    const source = requireString(input.source, 'source');
    const description = validateDescription(input.description);
    const tags = validateCreationTags(input.tags);
    if (input.runId !== undefined && typeof input.runId !== 'string') throw errors.invalid("Parameter 'run_id' must be a string.", { field: 'run_id' });
    if (input.runLink !== undefined && typeof input.runLink !== 'string') throw errors.invalid("Parameter 'run_link' must be a string.", { field: 'run_link' });
    const kind = sourceKind(source);
    if (kind.kind === 'uri') checkNoRelativeReferences(source);
    await this.getModelRow(name);

    const resolved = await resolveSource(source, {
      runArtifactUri: (runId) => this.runArtifactUri(runId),
      versionLocation: async (ref) => (await this.resolveRef(ref)).storageLocation,
    });

    let status: 'READY' | 'FAILED_REGISTRATION' = 'READY';
    let statusMessage: string | null = null;
    let signature: string | null = null;
    const artifactPath = artifactPathOf(resolved.storageLocation);
    const localPath = localPathOf(resolved.storageLocation);
    let outcome: Awaited<ReturnType<typeof inspectArtifacts>> | undefined;
    if (this.artifacts && artifactPath !== undefined) outcome = await inspectArtifacts(this.artifacts, artifactPath, this.modelFiles);
    else if (this.artifacts && localPath !== undefined) {
      // Reading a signature is a load: a local source is read only inside the allowed folders. One reached through
      // a run (runs:/…), or given inside the local artifact directory of the version's run (MLflow accepts it there),
      // is recorded unread when it lies elsewhere, and so cannot be served. Any other local path is refused.
      const allowed = await this.modelFiles.allows(localPath);
      if (allowed) outcome = await inspectLocalModel(localPath, this.modelFiles);
      else if (localPathOf(source) !== undefined) {
        const runFolder = await this.runLocalFolder(input.runId);
        if (runFolder === undefined || !isWithin(await resolvedPath(localPath), runFolder)) outcome = await inspectLocalModel(localPath, this.modelFiles);
      }
    }
    if (outcome?.kind === 'signature') signature = JSON.stringify(outcome.signature);
    if (outcome?.kind === 'unreadable') {
      status = 'FAILED_REGISTRATION';
      statusMessage = outcome.message;
    }

    const now = this.clock.now();
    const runId = input.runId || resolved.runId || null;
    const version = await this.mutate(async (trx) => {
      await this.lockModel(trx, name, true);
      const max = await trx.selectFrom('model_versions').select((eb) => eb.fn.max('version').as('v')).where('name', '=', name).executeTakeFirst();
      const next = Number(max?.v ?? 0) + 1;
      await trx
        .insertInto('model_versions')
        .values({
          name,
          version: next,
          creation_time: now,
          last_updated_time: now,
          description: description ?? null,
          user_id: input.userId ?? null,
          current_stage: 'None',
          source,
          run_id: runId,
          run_link: input.runLink || null,
          status,
          status_message: statusMessage,
          storage_location: resolved.storageLocation,
          signature,
        })
        .execute();
      if (tags.length > 0) await trx.insertInto('model_version_tags').values(tags.map((t) => ({ name, version: next, ...t }))).execute();
      await this.audit(trx, ctx, 'model_version.create', 'model_version', `${name}/${next}`, {
        source,
        storage_location: resolved.storageLocation,
        run_id: runId,
        status,
        signature,
        tags,
      });
      return next;
    });
    return this.getModelVersion(name, String(version));
  }

  private async getModelRow(name: string) {
    const row = await this.store.db.selectFrom('registered_models').selectAll().where('name', '=', name).executeTakeFirst();
    if (!row) throw modelNotFound(name);
    return row;
  }

  /** Gets one live version. */
  async getModelVersion(name: string, version: string | number): Promise<ModelVersion> {
    validateModelName(name);
    const row = await this.liveVersionRow(this.store.db, name, parseVersion(version));
    return (await hydrateVersions(this.store.db, [row]))[0] as ModelVersion;
  }

  /**
   * Resolves a model reference: a version number, an alias, `latest` (the highest
   * version) or a stage name (the newest version in that stage), as MLflow's `models:/` URIs do.
   */
  async resolveRef(ref: ModelRef): Promise<ModelVersion> {
    if (ref.alias !== undefined) return this.getVersionByAlias(ref.name, ref.alias);
    const v = ref.version ?? '';
    if (/^\d+$/.test(v)) return this.getModelVersion(ref.name, v);
    if (v.toLowerCase() === 'latest') {
      const [newest] = await this.listModelVersions(ref.name, 1);
      if (!newest) throw errors.notFound(`Registered model ${ref.name} has no versions`, { name: ref.name });
      return newest;
    }
    const stage = parseStage(v);
    const [inStage] = await this.getLatestVersions(ref.name, [stage]);
    if (!inStage) throw errors.notFound(`Registered model ${ref.name} has no version in stage ${stage}`, { name: ref.name, stage });
    return inStage;
  }

  /** The live versions of one model, newest first (at most `limit`). */
  async listModelVersions(name: string, limit: number = SEARCH_LIMITS.versions.max): Promise<ModelVersion[]> {
    await this.getModelRow(validateModelName(name));
    const rows = await this.store.db
      .selectFrom('model_versions')
      .selectAll()
      .where('name', '=', name)
      .where('current_stage', '<>', DELETED_STAGE)
      .orderBy('version', 'desc')
      .limit(limit)
      .execute();
    return hydrateVersions(this.store.db, rows);
  }

  /** Updates a version's description. */
  async updateModelVersion(name: string, version: string | number, patch: { description?: string }, ctx: MutationContext = {}): Promise<ModelVersion> {
    validateModelName(name);
    const v = parseVersion(version);
    const description = validateDescription(patch.description);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      await this.liveVersionRow(trx, name, v);
      await trx
        .updateTable('model_versions')
        .set({ last_updated_time: this.clock.now(), ...(description !== undefined ? { description } : {}) })
        .where('name', '=', name)
        .where('version', '=', v)
        .execute();
      await this.audit(trx, ctx, 'model_version.update', 'model_version', `${name}/${v}`, { description });
    });
    return this.getModelVersion(name, String(v));
  }

  /**
   * Deletes a version. Its number is never reused (the row stays, hidden, as in
   * MLflow); its tags and any aliases pointing at it are removed.
   */
  async deleteModelVersion(name: string, version: string | number, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const v = parseVersion(version);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, true);
      await this.liveVersionRow(trx, name, v);
      await trx.deleteFrom('model_version_tags').where('name', '=', name).where('version', '=', v).execute();
      await trx.deleteFrom('registered_model_aliases').where('name', '=', name).where('version', '=', v).execute();
      await trx
        .updateTable('model_versions')
        .set({ current_stage: DELETED_STAGE, last_updated_time: this.clock.now(), description: null, signature: null })
        .where('name', '=', name)
        .where('version', '=', v)
        .execute();
      await this.audit(trx, ctx, 'model_version.delete', 'model_version', `${name}/${v}`, { name, version: String(v) });
    });
    this.announce(name);
  }

  /** Sets (or replaces) a tag on a version. */
  async setModelVersionTag(name: string, version: string | number, key: string, value: string, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const v = parseVersion(version);
    const tag = validateTag(key, value);
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      await this.liveVersionRow(trx, name, v);
      await trx
        .insertInto('model_version_tags')
        .values({ name, version: v, ...tag })
        .onConflict((oc) => oc.columns(['name', 'version', 'key']).doUpdateSet({ value: tag.value }))
        .execute();
      await this.audit(trx, ctx, 'model_version.set_tag', 'model_version', `${name}/${v}`, tag);
    });
  }

  /** Deletes a tag from a version; RESOURCE_DOES_NOT_EXIST when the tag is absent. */
  async deleteModelVersionTag(name: string, version: string | number, key: string, ctx: MutationContext = {}): Promise<void> {
    validateModelName(name);
    const v = parseVersion(version);
    const k = requireString(key, 'key');
    await this.mutate(async (trx) => {
      await this.lockModel(trx, name, false);
      await this.liveVersionRow(trx, name, v);
      const res = await trx.deleteFrom('model_version_tags').where('name', '=', name).where('version', '=', v).where('key', '=', k).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw errors.notFound(`No tag with name: ${k} in model version ${name}/${v}.`, { name, version: String(v), key: k });
      await this.audit(trx, ctx, 'model_version.delete_tag', 'model_version', `${name}/${v}`, { key: k });
    });
  }

  /**
   * Moves a version to a stage. With `archiveExisting`, the other versions already in
   * the target stage (only Staging or Production) move to Archived in the same transaction.
   */
  async transitionStage(name: string, version: string | number, stage: string, archiveExisting: boolean, ctx: MutationContext = {}): Promise<ModelVersion> {
    validateModelName(name);
    const v = parseVersion(version);
    const target = parseStage(stage);
    if (typeof archiveExisting !== 'boolean') throw errors.invalid("Parameter 'archive_existing_versions' must be a boolean.", { field: 'archive_existing_versions' });
    if (archiveExisting && target !== 'Staging' && target !== 'Production') {
      throw errors.invalid(`Model version transition cannot archive existing model versions because '${target}' is not an Active stage. Valid stages are Staging, Production.`, {
        field: 'archive_existing_versions',
      });
    }
    const archived = await this.mutate(async (trx) => {
      await this.lockModel(trx, name, true);
      await this.liveVersionRow(trx, name, v);
      const now = this.clock.now();
      let moved: number[] = [];
      if (archiveExisting) {
        const others = await trx.selectFrom('model_versions').select('version').where('name', '=', name).where('current_stage', '=', target).where('version', '<>', v).execute();
        moved = others.map((o) => Number(o.version));
        if (moved.length > 0) {
          await trx.updateTable('model_versions').set({ current_stage: 'Archived', last_updated_time: now }).where('name', '=', name).where('version', 'in', moved).execute();
        }
      }
      await trx.updateTable('model_versions').set({ current_stage: target, last_updated_time: now }).where('name', '=', name).where('version', '=', v).execute();
      await this.audit(trx, ctx, 'model_version.transition_stage', 'model_version', `${name}/${v}`, { stage: target, archived: moved.map(String) });
      return moved;
    });
    this.logger.debug({ model: name, version: v, stage: target, archived }, 'model version stage moved');
    this.announce(name);
    return this.getModelVersion(name, String(v));
  }

  /** The newest version in each of `stages` (every stage when none are given). */
  async getLatestVersions(name: string, stages?: readonly string[]): Promise<ModelVersion[]> {
    validateModelName(name);
    await this.getModelRow(name);
    // De-duplicated: a client repeating a stage thousands of times must not become thousands of SQL parameters.
    const wanted: ModelStage[] = stages && stages.length > 0 ? [...new Set(stages.map(parseStage))] : [...allStages()];
    const rows = await latestVersionRows(this.store.db, [name], wanted);
    return hydrateVersions(this.store.db, rows);
  }

  /** Searches versions (filter on name, run_id, source_path, version_number, user_id and tags; ordered; paged). */
  async searchModelVersions(params: SearchParams = {}): Promise<SearchPage<ModelVersion>> {
    const limit = parseMaxResults(params.maxResults, SEARCH_LIMITS.versions.default, SEARCH_LIMITS.versions.max);
    const offset = decodePageToken(params.pageToken);
    const clauses = parseFilter(params.filter, VERSION_FILTER_RULES);
    const order = parseOrderBy(params.orderBy, VERSION_ORDER_KEYS);
    const d = this.store.dialect;
    let q = this.store.db.selectFrom('model_versions as mv').selectAll('mv').where('mv.current_stage', '<>', DELETED_STAGE);
    for (const c of clauses) {
      q = q.where(c.kind === 'tag' ? tagCondition(d, 'version', 'mv', c) : comparison(d, VERSION_COLUMNS[c.key] as string, c.op, c.value));
    }
    // Without order_by, MLflow 2.12's order: the most recently updated first. Either way name ASC, then version
    // DESC, break the ties (unless ordered by already), so the order is total and offset page tokens page it exactly.
    for (const o of order.length > 0 ? order : parseOrderBy(DEFAULT_VERSION_ORDER, VERSION_ORDER_KEYS)) q = q.orderBy(o.key as 'mv.name', o.ascending ? 'asc' : 'desc');
    if (!order.some((o) => o.key === 'mv.name')) q = q.orderBy('mv.name', 'asc');
    if (!order.some((o) => o.key === 'mv.version')) q = q.orderBy('mv.version', 'desc');
    const rows = await q.limit(limit + 1).offset(offset).execute();
    const items = await hydrateVersions(this.store.db, rows.slice(0, limit));
    return rows.length > limit ? { items, nextPageToken: encodePageToken(offset + limit) } : { items };
  }

  /**
   * Where a client downloads the version's artifacts from, as MLflow answers it: the source as registered
   * (`runs:/<run>/model` stays so; the client resolves it), and for a `models:/` source the download URI of the
   * version it named. That version is looked up again now, so its answer is used only while it still has this
   * version's storage location (an alias may have moved since, or the model been deleted); otherwise the storage
   * location itself, which names the same artifacts.
   */
  async getDownloadUri(name: string, version: string | number): Promise<string> {
    let current = await this.getModelVersion(name, version);
    for (let depth = 0; current.source.startsWith('models:') && depth < MAX_SOURCE_CHAIN; depth++) {
      const ref = parseModelUri(current.source);
      const named = ref ? await this.resolveRef(ref).catch(() => undefined) : undefined;
      if (!named || named.storageLocation !== current.storageLocation) return current.storageLocation;
      current = named;
    }
    return current.source.startsWith('models:') ? current.storageLocation : current.source;
  }
}
