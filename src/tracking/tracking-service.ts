/**
 * TrackingService: experiments, runs, params, metrics, tags and dataset inputs with
 * MLflow's semantics, over the metadata store. Every mutation appends one audit event
 * in the same transaction. Faces (MLflow REST, native API, CLI) call this and translate
 * its SlipwayErrors.
 */
import { createHash, randomBytes } from 'node:crypto';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Transaction } from 'kysely';
import { appendAuditEvent } from '../audit/audit-trail.js';
import { paramStates } from '../audit/audit-state.js';
import { systemClock, type Clock } from '../core/clock.js';
import { errors, SlipwayError } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import { runCancellable, withinDeadlineSql, type Store } from '../store/store.js';
import { ExperimentRepository, stagesFor } from './experiment-repository.js';
import { filterAndSortExperiments } from './experiment-search.js';
import { compareHistory, decodeMetricBlock, decodeMetricColumns, encodeMetricBlocks, type MetricBlock } from './metric-block-codec.js';
import { checkDownsampleOptions, downsampleColumns, type DownsampledHistoriesInput, type DownsampledHistoryInput, type DownsampledPoints, type HistoryAxis } from './metric-downsampling.js';
import { MetricIngest } from './metric-ingest.js';
import { decodePageToken, encodePageToken } from './page-token.js';
import { generateRunName, type RandomInt } from './run-name-generator.js';
import { RunRepository, toRunInfo } from './run-repository.js';
import { checkOrderTerms, segmentCount, segmentSql } from './run-search-query.js';
import { parseOrderBy, parseSearchFilter } from './search-filter-parser.js';
import {
  checkLength,
  parseExperimentId,
  requireString,
  TRACKING_LIMITS,
  validateBatchSizes,
  validateKey,
  validateMaxResults,
  validateMetric,
  validateParam,
  validateRunId,
  validateTag,
} from './tracking-limits.js';
import {
  RUN_STATUSES,
  type CreateExperimentInput,
  type CreateRunInput,
  type Dataset,
  type DatasetInput,
  type Experiment,
  type ExperimentPage,
  type LogBatchInput,
  type Metric,
  type DatasetSummary,
  type MetricHistoryBulkInput,
  type MetricHistoryBulkIntervalInput,
  type MetricHistoryInput,
  type MetricHistoryPage,
  type MetricWithRunId,
  type MutationContext,
  type Param,
  type Run,
  type RunInfo,
  type RunPage,
  type RunStatus,
  type SearchExperimentsInput,
  type SearchRunsInput,
  type Tag,
  type UpdateRunInput,
  type ViewType,
} from './tracking-types.js';

/** Options of the tracking service. */
export interface TrackingOptions {
  /** @default the wall clock */
  clock?: Clock;
  /** Prefix of new experiments' artifact locations: `mlflow-artifacts:` or a `file://` URI. @default "mlflow-artifacts:" */
  defaultArtifactRoot?: string;
  /** The folder a relative local artifact_location is resolved against, as MLflow's server does. @default process.cwd() */
  workingDirectory?: string;
  /** Randomness for generated run names. @default crypto.randomInt */
  random?: RandomInt;
  /**
   * On SQLite, searches over at most this many runs that order by a metric, param or tag
   * scan those runs and sort them; larger ones walk the order key's index instead.
   * @default 10000
   */
  searchSortThreshold?: number;
}

/** The tag MLflow mirrors the run name into. */
export const RUN_NAME_TAG = 'mlflow.runName';
/** The tag holding the user that created a run. */
export const USER_TAG = 'mlflow.user';
/** The tag log-model appends model descriptions to. */
export const LOG_MODEL_HISTORY_TAG = 'mlflow.log-model.history';

const VIEW_TYPES: readonly ViewType[] = ['ACTIVE_ONLY', 'DELETED_ONLY', 'ALL'];
const MAX_BULK_RUNS = 100;
const MAX_SEARCH_EXPERIMENTS = 1000;
/** get-history-bulk-interval: most steps sampled (MLflow's MAX_RESULTS_PER_RUN), and most points returned per run. */
const MAX_BULK_RESULTS = 2500;
const MAX_BULK_INTERVAL_POINTS_PER_RUN = 25_000;
/** get-history-bulk: most points in one answer (MLflow's MAX_HISTORY_RESULTS). */
const MAX_BULK_HISTORY = 25_000;
const MAX_DATASET_EXPERIMENTS = 20;
const MAX_DATASET_SUMMARIES = 1000;
/** The input tag holding a dataset's role in a run ("training", "evaluation", …). */
export const DATASET_CONTEXT_TAG = 'mlflow.data.context';

function newId(): string {
  return randomBytes(16).toString('hex');
}

function checkViewType(v: ViewType | undefined): ViewType {
  if (v === undefined) return 'ACTIVE_ONLY';
  if (!VIEW_TYPES.includes(v)) throw errors.invalid(`Invalid view type '${String(v)}'. Valid values are ${VIEW_TYPES.join(', ')}.`);
  return v;
}

function checkTime(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw errors.invalid(`Invalid value ${JSON.stringify(v)} for parameter '${field}': expected a non-negative integer (epoch milliseconds).`);
  return v;
}

function checkTags(tags: Tag[] | undefined, limit?: number): Tag[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw errors.invalid(`Invalid value for parameter 'tags': expected a list of {key, value}.`);
  if (tags.length > TRACKING_LIMITS.batchTotal) throw new SlipwayError('LIMIT_EXCEEDED', `At most ${TRACKING_LIMITS.batchTotal} tags may be set at creation. Got ${tags.length} tags.`);
  for (const t of tags) validateTag(t, limit);
  return tags;
}

/**
 * An experiment's artifact_location as MLflow's server stores it: a relative local path becomes absolute against
 * the server's working folder (`my_location` → `/srv/my_location`), a relative `file:` URI an absolute `file://` URI;
 * anything else is kept as given. Storing a location grants nothing: the server reads and writes local artifacts
 * only inside its own local artifact root (see the artifact routes), wherever an experiment says they live.
 */
export function resolveLocalLocation(location: string, workingDirectory: string): string {
  const file = /^file:(?!\/)(.*)$/i.exec(location);
  if (file) {
    let path: string;
    try {
      path = decodeURIComponent(file[1] as string);
    } catch {
      return location;
    }
    return pathToFileURL(resolvePath(workingDirectory, path)).href;
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(location) || isAbsolute(location)) return location;
  return resolvePath(workingDirectory, location);
}

/** The tracking domain's public API. */
export class TrackingService {
  private readonly clock: Clock;
  private readonly artifactRoot: string;
  private readonly workingDirectory: string;
  private readonly random: RandomInt | undefined;
  private readonly searchSortThreshold: number;
  private readonly experiments: ExperimentRepository;
  private readonly runs: RunRepository;
  private readonly ingest: MetricIngest;

  constructor(
    private readonly store: Store,
    opts: TrackingOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.artifactRoot = (opts.defaultArtifactRoot ?? 'mlflow-artifacts:').replace(/\/+$/, '');
    this.workingDirectory = opts.workingDirectory ?? process.cwd();
    this.random = opts.random;
    this.searchSortThreshold = opts.searchSortThreshold ?? 10_000;
    this.experiments = new ExperimentRepository(store.db);
    this.runs = new RunRepository(store.db);
    this.ingest = new MetricIngest(store);
  }

  // ---- experiments ----------------------------------------------------------------

  /** Creates an experiment; returns its id. Names are unique across active and deleted experiments. */
  async createExperiment(input: CreateExperimentInput, ctx: MutationContext = {}): Promise<string> {
    const name = requireString('name', input.name);
    if (name.trim() === '') throw errors.invalid(`Invalid experiment name: '${name}'`);
    checkLength('Experiment name', name, TRACKING_LIMITS.experimentNameLength);
    if (input.artifactLocation !== undefined) requireString('artifact_location', input.artifactLocation);
    const tags = checkTags(input.tags, TRACKING_LIMITS.experimentTagValueLength);
    const existing = await this.experiments.getByName(name);
    if (existing) throw this.nameTaken(existing);
    const now = this.clock.now();
    try {
      return await this.mutate(ctx, 'experiment.create', 'experiment', async (trx) => {
        const row = await trx
          .insertInto('experiments')
          .values({ name, artifact_location: input.artifactLocation ?? '', lifecycle_stage: 'active', creation_time: now, last_update_time: now })
          .returning('experiment_id')
          .executeTakeFirstOrThrow();
        const id = row.experiment_id;
        const location = input.artifactLocation ? resolveLocalLocation(input.artifactLocation, this.workingDirectory) : `${this.artifactRoot}/${id}`;
        await trx.updateTable('experiments').set({ artifact_location: location }).where('experiment_id', '=', id).execute();
        const unique = new Map(tags.map((t) => [t.key, t.value]));
        if (unique.size > 0) await trx.insertInto('experiment_tags').values([...unique].map(([key, value]) => ({ experiment_id: id, key, value }))).execute();
        return { result: String(id), entityId: String(id), change: { name, artifact_location: location, tags: Object.fromEntries(unique) } };
      });
    } catch (err) {
      const again = await this.experiments.getByName(name);
      if (again && !(err instanceof SlipwayError)) throw this.nameTaken(again);
      throw err;
    }
  }

  private nameTaken(e: Experiment): SlipwayError {
    const extra = e.lifecycleStage === 'deleted' ? ` The experiment is in the deleted state; restore it or choose another name.` : '';
    return errors.exists(`Experiment(name=${e.name}) already exists.${extra}`, { name: e.name, experimentId: e.experimentId });
  }

  /** The experiment with this id; NOT_FOUND if there is none. */
  async getExperiment(experimentId: string): Promise<Experiment> {
    const id = parseExperimentId(experimentId);
    const e = await this.experiments.get(id);
    if (!e) throw errors.notFound(`No Experiment with id=${experimentId} exists`, { experimentId });
    return e;
  }

  /** The experiment with this name (active or deleted); NOT_FOUND if there is none. */
  async getExperimentByName(name: string): Promise<Experiment> {
    requireString('experiment_name', name);
    const e = await this.experiments.getByName(name);
    if (!e) throw errors.notFound(`Could not find experiment with name ${name}`, { name });
    return e;
  }

  /** Searches experiments with MLflow's filter and order_by; paged. */
  async searchExperiments(input: SearchExperimentsInput = {}): Promise<ExperimentPage> {
    const view = checkViewType(input.viewType);
    const max = validateMaxResults(input.maxResults, TRACKING_LIMITS.defaultSearchResults, TRACKING_LIMITS.maxSearchResults);
    const offset = decodePageToken(input.pageToken, ['offset'] as const)?.offset ?? 0;
    const sorted = filterAndSortExperiments(await this.experiments.list(view), input.filter, input.orderBy);
    const experiments = sorted.slice(offset, offset + max);
    const page: ExperimentPage = { experiments };
    if (offset + max < sorted.length) page.nextPageToken = encodePageToken({ offset: offset + max });
    return page;
  }

  /** Renames an active experiment. */
  async updateExperiment(experimentId: string, newName: string, ctx: MutationContext = {}): Promise<void> {
    const e = await this.getExperiment(experimentId);
    const name = requireString('new_name', newName);
    if (name.trim() === '') throw errors.invalid(`Invalid experiment name: '${name}'`);
    checkLength('Experiment name', name, TRACKING_LIMITS.experimentNameLength);
    if (e.lifecycleStage !== 'active') throw errors.invalid('Cannot rename a non-active experiment.', { experimentId });
    if (name === e.name) return;
    const clash = await this.experiments.getByName(name);
    if (clash) throw this.nameTaken(clash);
    await this.mutate(ctx, 'experiment.update', 'experiment', async (trx) => {
      await trx.updateTable('experiments').set({ name, last_update_time: this.clock.now() }).where('experiment_id', '=', Number(experimentId)).execute();
      return { result: undefined, entityId: experimentId, change: { name } };
    });
  }

  /** Marks an experiment and its runs deleted (restorable). */
  async deleteExperiment(experimentId: string, ctx: MutationContext = {}): Promise<void> {
    await this.setExperimentStage(experimentId, 'deleted', ctx);
  }

  /** Restores a deleted experiment and the runs deleted with it. */
  async restoreExperiment(experimentId: string, ctx: MutationContext = {}): Promise<void> {
    await this.setExperimentStage(experimentId, 'active', ctx);
  }

  private async setExperimentStage(experimentId: string, stage: 'active' | 'deleted', ctx: MutationContext): Promise<void> {
    const e = await this.getExperiment(experimentId);
    if (stage === 'active' && e.lifecycleStage === 'active') {
      throw errors.invalid(`Cannot restore an active experiment.`, { experimentId });
    }
    const id = Number(experimentId);
    const now = this.clock.now();
    await this.mutate(ctx, stage === 'deleted' ? 'experiment.delete' : 'experiment.restore', 'experiment', async (trx) => {
      await trx.updateTable('experiments').set({ lifecycle_stage: stage, last_update_time: now }).where('experiment_id', '=', id).execute();
      await trx
        .updateTable('runs')
        .set({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? now : null })
        .where('experiment_id', '=', id)
        .where('lifecycle_stage', '=', stage === 'deleted' ? 'active' : 'deleted')
        .execute();
      return { result: undefined, entityId: experimentId, change: { lifecycle_stage: stage } };
    });
  }

  /** Sets (or replaces) a tag on an active experiment. */
  async setExperimentTag(experimentId: string, key: string, value: string, ctx: MutationContext = {}): Promise<void> {
    const e = await this.getExperiment(experimentId);
    validateTag({ key, value }, TRACKING_LIMITS.experimentTagValueLength);
    if (e.lifecycleStage !== 'active') throw errors.invalid(`The experiment ${experimentId} must be in the 'active' state. Current state is ${e.lifecycleStage}.`);
    await this.mutate(ctx, 'experiment.set_tag', 'experiment', async (trx) => {
      await trx
        .insertInto('experiment_tags')
        .values({ experiment_id: Number(experimentId), key, value })
        .onConflict((oc) => oc.columns(['experiment_id', 'key']).doUpdateSet({ value }))
        .execute();
      return { result: undefined, entityId: experimentId, change: { key, value } };
    });
  }

  // ---- runs -----------------------------------------------------------------------

  /** Creates a run in an active experiment; generates a name when none is given. */
  async createRun(input: CreateRunInput = {}, ctx: MutationContext = {}): Promise<Run> {
    const experimentId = input.experimentId ?? '0';
    const exp = await this.getExperiment(experimentId);
    if (exp.lifecycleStage !== 'active') throw errors.invalid(`The experiment ${experimentId} must be in the 'active' state. Current state is ${exp.lifecycleStage}.`);
    const tags = checkTags(input.tags);
    const tagMap = new Map(tags.map((t) => [t.key, t.value]));
    if (input.runName !== undefined) {
      requireString('run_name', input.runName);
      const tagged = tagMap.get(RUN_NAME_TAG);
      if (tagged !== undefined && tagged !== input.runName) {
        throw errors.invalid(`Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${input.runName}', mlflow.runName='${tagged}').`);
      }
    }
    const runName = input.runName || tagMap.get(RUN_NAME_TAG) || generateRunName(this.random);
    checkLength('Run name', runName, TRACKING_LIMITS.runNameLength);
    tagMap.set(RUN_NAME_TAG, runName);
    if (input.userId !== undefined) requireString('user_id', input.userId);
    const userId = tagMap.get(USER_TAG) ?? input.userId ?? '';
    const startTime = input.startTime === undefined ? this.clock.now() : checkTime('start_time', input.startTime);
    const runId = newId();
    await this.mutate(ctx, 'run.create', 'run', async (trx) => {
      await trx
        .insertInto('runs')
        .values({
          run_uuid: runId,
          name: runName,
          experiment_id: Number(experimentId),
          user_id: userId,
          status: 'RUNNING',
          start_time: startTime,
          end_time: null,
          lifecycle_stage: 'active',
          artifact_uri: `${exp.artifactLocation.replace(/\/+$/, '')}/${runId}/artifacts`,
          deleted_time: null,
        })
        .execute();
      await trx.insertInto('tags').values([...tagMap].map(([key, value]) => ({ run_uuid: runId, key, value }))).execute();
      return { result: undefined, entityId: runId, change: { experiment_id: experimentId, run_name: runName, user_id: userId, start_time: startTime, tags: Object.fromEntries(tagMap) } };
    });
    return this.getRun(runId);
  }

  /** The run with everything it logged; NOT_FOUND if there is none (deleted runs are returned). */
  async getRun(runId: string): Promise<Run> {
    validateRunId(runId);
    const [run] = await this.runs.load([runId]);
    if (!run) throw errors.notFound(`Run with id=${runId} not found`, { runId });
    return run;
  }

  /** Updates status, end time or name of an active run. */
  async updateRun(input: UpdateRunInput, ctx: MutationContext = {}): Promise<RunInfo> {
    const runId = validateRunId(input.runId);
    if (input.status !== undefined && !RUN_STATUSES.includes(input.status)) {
      throw errors.invalid(`Invalid run status '${String(input.status)}'. Valid values are ${RUN_STATUSES.join(', ')}.`);
    }
    if (input.endTime !== undefined) checkTime('end_time', input.endTime);
    if (input.runName !== undefined) {
      requireString('run_name', input.runName);
      checkLength('Run name', input.runName, TRACKING_LIMITS.runNameLength);
    }
    await this.activeRun(runId);
    const set: { status?: RunStatus; end_time?: number; name?: string } = {};
    if (input.status !== undefined) set.status = input.status;
    if (input.endTime !== undefined) set.end_time = input.endTime;
    if (input.runName) set.name = input.runName;
    if (Object.keys(set).length > 0) {
      await this.mutate(ctx, 'run.update', 'run', async (trx) => {
        await trx.updateTable('runs').set(set).where('run_uuid', '=', runId).execute();
        if (set.name !== undefined) await this.upsertTag(trx, runId, RUN_NAME_TAG, set.name);
        return { result: undefined, entityId: runId, change: set };
      });
    }
    const row = await this.runs.row(runId);
    return toRunInfo(row as NonNullable<typeof row>);
  }

  /** Marks a run deleted (restorable). */
  async deleteRun(runId: string, ctx: MutationContext = {}): Promise<void> {
    await this.setRunStage(runId, 'deleted', ctx);
  }

  /** Restores a deleted run. */
  async restoreRun(runId: string, ctx: MutationContext = {}): Promise<void> {
    await this.setRunStage(runId, 'active', ctx);
  }

  private async setRunStage(runId: string, stage: 'active' | 'deleted', ctx: MutationContext): Promise<void> {
    validateRunId(runId);
    const row = await this.runs.row(runId);
    if (!row) throw errors.notFound(`Run with id=${runId} not found`, { runId });
    await this.mutate(ctx, stage === 'deleted' ? 'run.delete' : 'run.restore', 'run', async (trx) => {
      await trx
        .updateTable('runs')
        .set({ lifecycle_stage: stage, deleted_time: stage === 'deleted' ? this.clock.now() : null })
        .where('run_uuid', '=', runId)
        .execute();
      return { result: undefined, entityId: runId, change: { lifecycle_stage: stage } };
    });
  }

  /** Sets a tag on an active run; `mlflow.runName` also renames the run. */
  async setTag(runId: string, key: string, value: string, ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    validateTag({ key, value });
    await this.ingest.write({
      runId,
      metrics: [],
      blocks: [],
      params: [],
      tags: [{ key, value }],
      ...(key === RUN_NAME_TAG ? { runName: value } : {}),
      audit: this.audit(ctx, 'run.set_tag', runId, { key, value }),
    });
  }

  /** Deletes a tag from an active run; NOT_FOUND if the run has no such tag. */
  async deleteTag(runId: string, key: string, ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    requireString('key', key);
    await this.activeRun(runId);
    await this.mutate(ctx, 'run.delete_tag', 'run', async (trx) => {
      const res = await trx.deleteFrom('tags').where('run_uuid', '=', runId).where('key', '=', key).executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw errors.notFound(`No tag with name: ${key} in run with id ${runId}`, { runId, key });
      return { result: undefined, entityId: runId, change: { key } };
    });
  }

  /** Logs a param; refuses to change an existing value (INVALID_ARGUMENT). */
  async logParam(runId: string, key: string, value: string, ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    validateParam({ key, value });
    const audit = { ...this.audit(ctx, 'run.log_param', runId, { key, value }), states: paramStates(runId, [{ key, value }]) };
    await this.ingest.write({ runId, metrics: [], blocks: [], params: [{ key, value }], tags: [], audit });
  }

  /** Logs one metric point. */
  async logMetric(runId: string, metric: Metric, ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    const m: Metric = { key: metric.key, value: metric.value, timestamp: metric.timestamp, step: metric.step ?? 0 };
    validateMetric(m);
    // Single points are recorded per batch (see recordMetricPoints), not as one event each.
    const metricPoints = { actor: ctx.actor ?? 'anonymous', runId, points: [m], time: this.clock.now() };
    await this.ingest.write({ runId, metrics: [m], blocks: encodeMetricBlocks([m]), params: [], tags: [], audit: { metricPoints } });
  }

  /**
   * Logs metrics, params and tags in one transaction (MLflow's log-batch limits apply).
   * Points without a step get step 0 in place; the batch is otherwise not modified.
   */
  async logBatch(runId: string, batch: LogBatchInput, ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    const metrics = batch.metrics ?? [];
    const params = batch.params ?? [];
    const tags = batch.tags ?? [];
    if (!Array.isArray(metrics) || !Array.isArray(params) || !Array.isArray(tags)) throw errors.invalid('metrics, params and tags must be lists.');
    validateBatchSizes(metrics.length, params.length, tags.length);
    for (let i = 0; i < metrics.length; i++) {
      const m = metrics[i] as Metric;
      if (m.step === undefined) m.step = 0;
      validateMetric(m);
    }
    const uniqueParams = new Map<string, Param>();
    for (const p of params) {
      validateParam(p);
      const seen = uniqueParams.get(p.key);
      if (seen && seen.value !== p.value) {
        throw errors.invalid(`Duplicate parameter keys have been submitted: ['${p.key}']. Please ensure the request contains only one param value per param key.`);
      }
      uniqueParams.set(p.key, p);
    }
    const uniqueTags = new Map<string, Tag>();
    for (const t of tags) {
      validateTag(t);
      uniqueTags.set(t.key, t);
    }
    const runName = uniqueTags.get(RUN_NAME_TAG)?.value;
    const blocks = encodeMetricBlocks(metrics);
    await this.ingest.write({
      runId,
      metrics,
      blocks,
      params: [...uniqueParams.values()],
      tags: [...uniqueTags.values()],
      ...(runName !== undefined ? { runName } : {}),
      audit: {
        ...this.audit(ctx, 'run.log_batch', runId, { metrics: blocksDigest(blocks), params: [...uniqueParams.values()], tags: [...uniqueTags.values()] }),
        states: paramStates(runId, [...uniqueParams.values()]),
      },
    });
  }

  /** Records the datasets a run used, with their input tags. */
  async logInputs(runId: string, datasets: DatasetInput[], ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    if (!Array.isArray(datasets)) throw errors.invalid(`Invalid value for parameter 'datasets': expected a list.`);
    for (const d of datasets) validateDatasetInput(d);
    const tagCount = datasets.reduce((n, d) => n + (d.tags?.length ?? 0), 0);
    if (datasets.length > TRACKING_LIMITS.inputDatasets || tagCount > TRACKING_LIMITS.inputTags) {
      throw new SlipwayError('LIMIT_EXCEEDED', `A log-inputs request may hold at most ${TRACKING_LIMITS.inputDatasets} datasets and ${TRACKING_LIMITS.inputTags} input tags; got ${datasets.length} and ${tagCount}. Split it into several requests.`);
    }
    const run = await this.activeRun(runId);
    await this.mutate(ctx, 'run.log_inputs', 'run', async (trx) => {
      for (const d of datasets) {
        const ds = d.dataset;
        const existing = await trx
          .selectFrom('datasets')
          .select('dataset_uuid')
          .where('experiment_id', '=', run.experiment_id)
          .where('name', '=', ds.name)
          .where('digest', '=', ds.digest)
          .executeTakeFirst();
        const datasetId = existing?.dataset_uuid ?? newId();
        if (!existing) {
          await trx
            .insertInto('datasets')
            .values({ dataset_uuid: datasetId, experiment_id: run.experiment_id, name: ds.name, digest: ds.digest, source_type: ds.sourceType, source: ds.source, schema: ds.schema ?? null, profile: ds.profile ?? null })
            .execute();
        }
        const link = await trx
          .selectFrom('inputs')
          .select('input_uuid')
          .where('source_type', '=', 'DATASET')
          .where('source_id', '=', datasetId)
          .where('destination_type', '=', 'RUN')
          .where('destination_id', '=', runId)
          .executeTakeFirst();
        const inputId = link?.input_uuid ?? newId();
        if (!link) {
          await trx.insertInto('inputs').values({ input_uuid: inputId, source_type: 'DATASET', source_id: datasetId, destination_type: 'RUN', destination_id: runId }).execute();
        }
        for (const t of d.tags ?? []) {
          await trx
            .insertInto('input_tags')
            .values({ input_uuid: inputId, name: t.key, value: t.value })
            .onConflict((oc) => oc.columns(['input_uuid', 'name']).doUpdateSet({ value: t.value }))
            .execute();
        }
      }
      return { result: undefined, entityId: runId, change: { datasets } };
    });
  }

  /** Appends a model description (MLmodel as JSON) to the run's `mlflow.log-model.history` tag. */
  async logModel(runId: string, modelJson: string, ctx: MutationContext = {}): Promise<void> {
    validateRunId(runId);
    requireString('model_json', modelJson);
    let model: unknown;
    try {
      model = JSON.parse(modelJson);
    } catch {
      throw errors.invalid(`Invalid value for parameter 'model_json': it is not valid JSON.`);
    }
    if (model === null || typeof model !== 'object' || Array.isArray(model)) throw errors.invalid(`Invalid value for parameter 'model_json': expected a JSON object.`);
    await this.activeRun(runId);
    await this.mutate(ctx, 'run.log_model', 'run', async (trx) => {
      const tag = await trx.selectFrom('tags').select('value').where('run_uuid', '=', runId).where('key', '=', LOG_MODEL_HISTORY_TAG).executeTakeFirst();
      let history: unknown[] = [];
      try {
        const parsed: unknown = tag ? JSON.parse(tag.value) : [];
        if (Array.isArray(parsed)) history = parsed;
      } catch {
        history = [];
      }
      history.push(model);
      await this.upsertTag(trx, runId, LOG_MODEL_HISTORY_TAG, JSON.stringify(history));
      return { result: undefined, entityId: runId, change: { model } };
    });
  }

  // ---- metric history ----------------------------------------------------------------

  /** Every point of one metric of a run, by step then timestamp; paged when maxResults is given. */
  async getMetricHistory(input: MetricHistoryInput): Promise<MetricHistoryPage> {
    validateRunId(input.runId);
    const key = requireString('metric_key', input.metricKey);
    const row = await this.runs.row(input.runId);
    if (!row) throw errors.notFound(`Run with id=${input.runId} not found`, { runId: input.runId });
    const offset = decodePageToken(input.pageToken, ['offset'] as const)?.offset ?? 0;
    const max = input.maxResults === undefined ? undefined : validateMaxResults(input.maxResults, 25_000, Number.MAX_SAFE_INTEGER);
    const all = await this.history(input.runId, key);
    const end = max === undefined ? all.length : Math.min(all.length, offset + max);
    const page: MetricHistoryPage = { metrics: all.slice(offset, end) };
    if (end < all.length) page.nextPageToken = encodePageToken({ offset: end });
    return page;
  }

  /**
   * One metric of a run downsampled for a chart: at most `maxPoints` points (min-max per x bucket, so
   * spikes and the global extremes stay), in x order, within an optional [from, to] window on the x axis.
   */
  async getMetricHistoryDownsampled(input: DownsampledHistoryInput): Promise<DownsampledPoints> {
    validateRunId(input.runId);
    const key = requireString('metric_key', input.metricKey);
    const { maxPoints, axis } = checkDownsampleOptions(input);
    const row = await this.runs.row(input.runId);
    if (!row) throw errors.notFound(`Run with id=${input.runId} not found`, { runId: input.runId });
    return this.downsampled(input.runId, key, maxPoints, axis, input.from, input.to, true);
  }

  /**
   * The same metric of several runs (at most 100), each downsampled as `getMetricHistoryDownsampled`
   * does, in the order asked; a run that never logged the metric answers no points.
   */
  async getMetricHistoriesDownsampled(input: DownsampledHistoriesInput): Promise<Array<DownsampledPoints & { runId: string }>> {
    if (!Array.isArray(input.runIds) || input.runIds.length === 0) throw errors.missing('runIds');
    const runIds = [...new Set(input.runIds)];
    if (runIds.length > MAX_BULK_RUNS) throw errors.invalid(`runIds names ${runIds.length} runs; at most ${MAX_BULK_RUNS} are allowed.`, { field: 'runIds' });
    for (const id of runIds) validateRunId(id, 'runIds');
    const key = requireString('metric_key', input.metricKey);
    const { maxPoints, axis } = checkDownsampleOptions(input);
    const out: Array<DownsampledPoints & { runId: string }> = [];
    for (const runId of runIds) {
      if (!(await this.runs.row(runId))) throw errors.notFound(`Run with id=${runId} not found`, { runId });
      out.push({ runId, ...(await this.downsampled(runId, key, maxPoints, axis, input.from, input.to, false)) });
    }
    return out;
  }

  private async downsampled(runId: string, key: string, maxPoints: number, axis: HistoryAxis, from: number | undefined, to: number | undefined, mustExist: boolean): Promise<DownsampledPoints> {
    let q = this.store.db.selectFrom('metric_blocks').select(['points', 'count']).where('run_uuid', '=', runId).where('key', '=', key);
    // On the step axis a block's step range lets whole blocks outside the window be skipped.
    if (axis === 'step' && from !== undefined) q = q.where('max_step', '>=', from);
    if (axis === 'step' && to !== undefined) q = q.where('min_step', '<=', to);
    const rows = await q.orderBy('block_id').execute();
    if (rows.length === 0 && mustExist) {
      const any = await this.store.db.selectFrom('metric_blocks').select('block_id').where('run_uuid', '=', runId).where('key', '=', key).limit(1).executeTakeFirst();
      if (!any) throw errors.notFound(`Run ${runId} has no metric '${key}'.`, { runId, key });
    }
    return downsampleColumns(key, decodeMetricColumns(rows.map((r) => ({ points: r.points, count: Number(r.count) }))), maxPoints, axis, from, to);
  }

  /** Every point of one metric of a run, in MLflow's history order. */
  private async history(runId: string, key: string, startStep?: number, endStep?: number): Promise<Metric[]> {
    let q = this.store.db.selectFrom('metric_blocks').select('points').where('run_uuid', '=', runId).where('key', '=', key);
    // A block's step range lets whole blocks outside the interval be skipped.
    if (startStep !== undefined) q = q.where('max_step', '>=', startStep);
    if (endStep !== undefined) q = q.where('min_step', '<=', endStep);
    const rows = await q.orderBy('block_id').execute();
    const out: Metric[] = [];
    for (const r of rows) decodeMetricBlock(key, r.points, out);
    const inRange = startStep === undefined && endStep === undefined ? out : out.filter((m) => (startStep === undefined || m.step >= startStep) && (endStep === undefined || m.step <= endStep));
    return inRange.sort(compareHistory);
  }

  /**
   * Metric history of several runs (MLflow's get-history-bulk): runs in id order, each run's points by
   * timestamp, step and value, at most `maxResults` points in all. Unknown runs contribute nothing.
   */
  async getMetricHistoryBulk(input: MetricHistoryBulkInput): Promise<MetricWithRunId[]> {
    if (!Array.isArray(input.runIds) || input.runIds.length === 0) throw errors.invalid('GetMetricHistoryBulk request must specify at least one run_id.');
    if (input.runIds.length > MAX_BULK_RUNS) {
      throw errors.invalid(`GetMetricHistoryBulk request cannot specify more than ${MAX_BULK_RUNS} run_ids. Received ${input.runIds.length} run_ids.`);
    }
    if (input.metricKey === undefined || input.metricKey === null) throw errors.invalid('GetMetricHistoryBulk request must specify a metric_key.');
    const key = requireString('metric_key', input.metricKey);
    const max = input.maxResults === undefined ? MAX_BULK_HISTORY : Math.min(checkCount('max_results', input.maxResults), MAX_BULK_HISTORY);
    const out: MetricWithRunId[] = [];
    for (const runId of [...new Set(input.runIds)].sort()) {
      if (out.length >= max) break;
      if (typeof runId !== 'string') throw errors.invalid(`Invalid run ID: '${String(runId)}'`);
      const points = (await this.history(runId, key)).sort(compareByTime);
      for (const m of points) {
        if (out.length >= max) break;
        out.push({ runId, ...m });
      }
    }
    return out;
  }

  /**
   * Metric history of several runs within a step interval, as MLflow's get-history-bulk-interval: at most
   * `maxResults` steps sampled evenly over the steps of all the runs together, plus each run's first and
   * last step in the interval; then each run's points at those steps, runs in the order asked.
   */
  async getMetricHistoryBulkInterval(input: MetricHistoryBulkIntervalInput): Promise<MetricWithRunId[]> {
    if (!Array.isArray(input.runIds) || input.runIds.length === 0) throw errors.missing('run_ids');
    if (input.runIds.length > MAX_BULK_RUNS) throw errors.invalid(`GetMetricHistoryBulkInterval request must specify at most ${MAX_BULK_RUNS} run_ids. Received ${input.runIds.length} run_ids.`);
    if (input.metricKey === undefined || input.metricKey === null || input.metricKey === '') throw errors.missing('metric_key');
    const key = requireString('metric_key', input.metricKey);
    const max = input.maxResults ?? MAX_BULK_RESULTS;
    if (!Number.isSafeInteger(max) || max < 1 || max > MAX_BULK_RESULTS) throw errors.invalid(`max_results must be between 1 and ${MAX_BULK_RESULTS}; got ${String(max)}.`, { field: 'max_results' });
    const { startStep, endStep } = input;
    if (startStep !== undefined && endStep !== undefined) {
      if (startStep > endStep) throw errors.invalid(`end_step must be greater than start_step. Found start_step=${startStep} and end_step=${endStep}.`);
    } else if (startStep !== undefined || endStep !== undefined) {
      throw errors.invalid('If either start step or end step are specified, both must be specified.');
    }
    const runIds = [...new Set(input.runIds)];
    for (const id of runIds) validateRunId(id, 'run_ids');

    // First pass: the steps each run logged (histories are read again below rather than all kept in memory).
    const allSteps = new Set<number>();
    const ends = new Set<number>();
    for (const runId of runIds) {
      const points = await this.history(runId, key);
      if (points.length === 0) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (const m of points) {
        allSteps.add(m.step);
        if (m.step < lo) lo = m.step;
        if (m.step > hi) hi = m.step;
      }
      ends.add(lo).add(hi);
    }
    if (allSteps.size === 0) return [];
    const sorted = [...allSteps].sort((a, b) => a - b);
    const from = startStep ?? (sorted[0] as number);
    const to = endStep ?? (sorted[sorted.length - 1] as number);
    const keep = sampleSteps(sorted, from, to, max);
    for (const s of ends) if (s >= from && s <= to) keep.add(s);
    if (keep.size === 0) return [];
    const first = Math.min(...keep);
    const last = Math.max(...keep);

    const out: MetricWithRunId[] = [];
    for (const runId of runIds) {
      let n = 0;
      for (const m of await this.history(runId, key, first, last)) {
        if (!keep.has(m.step)) continue;
        if (n++ >= MAX_BULK_INTERVAL_POINTS_PER_RUN) break;
        out.push({ runId, ...m });
      }
    }
    return out;
  }

  // ---- datasets ------------------------------------------------------------------------

  /**
   * The datasets runs of these experiments used, one entry per (experiment, name, digest, context), as
   * MLflow's search-datasets: at most 1000. Ids that name no experiment match nothing.
   */
  async searchDatasets(experimentIds: string[]): Promise<DatasetSummary[]> {
    if (!Array.isArray(experimentIds) || experimentIds.length === 0) throw errors.invalid('SearchDatasets request must specify at least one experiment_id.');
    if (experimentIds.length > MAX_DATASET_EXPERIMENTS) {
      throw errors.invalid(`SearchDatasets request cannot specify more than ${MAX_DATASET_EXPERIMENTS} experiment_ids. Received ${experimentIds.length} experiment_ids.`);
    }
    const ids = experimentIds.filter((id): id is string => typeof id === 'string' && /^\d{1,15}$/.test(id)).map(Number);
    if (ids.length === 0) return [];
    const rows = await this.store.db
      .selectFrom('datasets as d')
      .innerJoin('inputs as i', (j) => j.onRef('i.source_id', '=', 'd.dataset_uuid').on('i.source_type', '=', 'DATASET'))
      .leftJoin('input_tags as t', (j) => j.onRef('t.input_uuid', '=', 'i.input_uuid').on('t.name', '=', DATASET_CONTEXT_TAG))
      .select(['d.experiment_id', 'd.name', 'd.digest', 't.value as context'])
      .distinct()
      .where('d.experiment_id', 'in', ids)
      .orderBy('d.experiment_id')
      .orderBy('d.name')
      .orderBy('d.digest')
      .orderBy('context')
      .limit(MAX_DATASET_SUMMARIES)
      .execute();
    return rows.map((r) => ({ experimentId: String(r.experiment_id), name: r.name, digest: r.digest, context: r.context ?? null }));
  }

  // ---- search_runs ---------------------------------------------------------------------

  /** Searches runs with MLflow's filter grammar, order_by and page tokens. */
  async searchRuns(input: SearchRunsInput): Promise<RunPage> {
    if (!Array.isArray(input.experimentIds)) throw errors.invalid(`Invalid value for parameter 'experiment_ids': expected a list.`);
    if (input.experimentIds.length > MAX_SEARCH_EXPERIMENTS) {
      throw errors.invalid(`search_runs accepts at most ${MAX_SEARCH_EXPERIMENTS} experiment_ids; got ${input.experimentIds.length}.`);
    }
    const experimentIds = input.experimentIds.map((id) => {
      try {
        return parseExperimentId(id, 'experiment_ids');
      } catch (err) {
        if (err instanceof SlipwayError && err.code === 'NOT_FOUND') return -1;
        throw err;
      }
    });
    const view = checkViewType(input.runViewType);
    const max = validateMaxResults(input.maxResults, TRACKING_LIMITS.defaultSearchResults, TRACKING_LIMITS.maxSearchResults);
    const clauses = parseSearchFilter(input.filter, 'attribute');
    const order = (input.orderBy ?? []).filter((t) => t.trim() !== '').map((t) => parseOrderBy(t, 'attribute'));
    checkOrderTerms(order);
    const cursor = decodePageToken(input.pageToken, ['segment', 'offset'] as const) ?? { segment: 0, offset: 0 };
    const segments = segmentCount(order);
    if (cursor.segment >= segments) throw errors.invalid(`Invalid page token: it does not belong to this search.`);
    if (experimentIds.length === 0) return { runs: [] };
    const stages = stagesFor(view);
    const drive = segments > 1 && this.store.dialect === 'sqlite' ? await this.searchDrive(experimentIds) : 'key';
    const ids: string[] = [];
    let segment = cursor.segment;
    let offset = cursor.offset;
    let next: { segment: number; offset: number } | undefined;
    while (segment < segments) {
      const want = max - ids.length;
      const query = segmentSql({ experimentIds, stages, clauses, order, limit: want + 1, offset, drive, within: withinDeadlineSql(this.store) }, segment, this.store.dialect);
      const rows = (await runCancellable(this.store, input.signal, (db) => query.execute(db))).rows;
      for (const r of rows.slice(0, want)) ids.push(r.run_uuid);
      if (rows.length > want) {
        next = { segment, offset: offset + want };
        break;
      }
      segment++;
      offset = 0;
      if (ids.length === max) {
        if (segment < segments) next = { segment, offset: 0 };
        break;
      }
    }
    const runs = await this.runs.load(ids);
    const page: RunPage = { runs };
    if (next) page.nextPageToken = encodePageToken(next);
    return page;
  }

  /**
   * Whether the searched experiments hold few enough runs to scan and sort. Counting stops
   * past the threshold and reads only the (experiment_id, start_time) index.
   */
  private async searchDrive(experimentIds: number[]): Promise<'key' | 'runs'> {
    const limit = this.searchSortThreshold + 1;
    const counted = await this.store.db
      .selectFrom((eb) => eb.selectFrom('runs').select('start_time').where('experiment_id', 'in', experimentIds).limit(limit).as('searched'))
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(counted.n) < limit ? 'runs' : 'key';
  }

  // ---- internals ----------------------------------------------------------------------

  private async activeRun(runId: string) {
    const row = await this.runs.row(runId);
    if (!row) throw errors.notFound(`Run with id=${runId} not found`, { runId });
    if (row.lifecycle_stage !== 'active') throw errors.invalid(`The run ${runId} must be in the 'active' state. Current state is ${row.lifecycle_stage}.`, { runId });
    return row;
  }

  private async upsertTag(trx: Transaction<Database>, runId: string, key: string, value: string): Promise<void> {
    await trx
      .insertInto('tags')
      .values({ run_uuid: runId, key, value })
      .onConflict((oc) => oc.columns(['run_uuid', 'key']).doUpdateSet({ value }))
      .execute();
  }

  private audit(ctx: MutationContext, action: string, runId: string, change: unknown) {
    return { actor: ctx.actor ?? 'anonymous', action, entityType: 'run', entityId: runId, requestId: ctx.requestId ?? null, change, time: this.clock.now() };
  }

  /** Runs `fn` in a transaction and appends its audit event there. */
  private async mutate<T>(
    ctx: MutationContext,
    action: string,
    entityType: string,
    fn: (trx: Transaction<Database>) => Promise<{ result: T; entityId: string; change: unknown }>,
  ): Promise<T> {
    return this.store.db.transaction().execute(async (trx) => {
      const { result, entityId, change } = await fn(trx);
      await appendAuditEvent(trx, this.store.dialect, {
        actor: ctx.actor ?? 'anonymous',
        action,
        entityType,
        entityId,
        requestId: ctx.requestId ?? null,
        change,
        time: this.clock.now(),
      });
      return result;
    });
  }
}

/** The audit record of a batch's points: their count and a digest of the packed blocks. */
function blocksDigest(blocks: MetricBlock[]): { count: number; sha256: string } {
  const hash = createHash('sha256');
  let count = 0;
  for (const b of blocks) {
    hash.update(b.key).update('\u0000').update(b.points);
    count += b.count;
  }
  return { count, sha256: hash.digest('hex') };
}

/** Index of the first element of `sorted` that is not below `value` (bisect_left). */
function lowerBound(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The steps of `sorted` within [from, to]: all of them when there are at most `max`, else `max` of them
 * at evenly spaced positions (position i·n/max, truncated, as MLflow samples) plus the last one.
 */
function sampleSteps(sorted: number[], from: number, to: number, max: number): Set<number> {
  const start = lowerBound(sorted, from);
  const end = lowerBound(sorted, to + 1);
  const n = end - start;
  if (n <= max) return new Set(sorted.slice(start, Math.max(start, end)));
  const keep = new Set<number>();
  const interval = n / max;
  for (let i = 0; i < max; i++) keep.add(sorted[start + Math.trunc(i * interval)] as number);
  keep.add(sorted[end - 1] as number);
  return keep;
}

/** get-history-bulk's order within a run: timestamp, then step, then value (NaN last). */
function compareByTime(a: Metric, b: Metric): number {
  return a.timestamp - b.timestamp || a.step - b.step || compareValues(a.value, b.value);
}

function compareValues(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number(Number.isNaN(a)) - Number(Number.isNaN(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A count that may be 0 (max_results of get-history-bulk). */
function checkCount(field: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw errors.invalid(`Invalid value ${String(v)} for parameter '${field}' supplied: it must be a non-negative integer.`, { field });
  return v;
}

function validateDatasetInput(d: DatasetInput): void {
  if (d === null || typeof d !== 'object') throw errors.invalid(`Invalid dataset input: expected an object with 'dataset' and 'tags'.`);
  const ds: Dataset | undefined = d.dataset;
  if (ds === undefined || ds === null || typeof ds !== 'object') throw errors.missing('dataset');
  const name = requireString('dataset.name', ds.name);
  checkLength('Dataset name', name, TRACKING_LIMITS.datasetNameLength);
  checkLength('Dataset digest', requireString('dataset.digest', ds.digest), TRACKING_LIMITS.datasetDigestLength);
  requireString('dataset.source_type', ds.sourceType);
  checkLength('Dataset source', requireString('dataset.source', ds.source), TRACKING_LIMITS.datasetSourceLength);
  if (ds.schema !== undefined) checkLength('Dataset schema', requireString('dataset.schema', ds.schema), TRACKING_LIMITS.datasetSchemaLength);
  if (ds.profile !== undefined) checkLength('Dataset profile', requireString('dataset.profile', ds.profile), TRACKING_LIMITS.datasetProfileLength);
  for (const t of d.tags ?? []) {
    validateKey('tag', t.key);
    checkLength('Input tag value', requireString('value', t.value), TRACKING_LIMITS.inputTagValueLength);
  }
}
