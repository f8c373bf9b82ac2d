/**
 * The tracking domain's types: experiments, runs, params, metrics, tags and dataset
 * inputs, with MLflow's semantics. Ids are strings (experiment ids are numeric strings,
 * run ids 32 hex characters); times are epoch milliseconds.
 */

/** Whether an experiment or run is live or soft-deleted. */
export type LifecycleStage = 'active' | 'deleted';

/** Which lifecycle stages a search returns. */
export type ViewType = 'ACTIVE_ONLY' | 'DELETED_ONLY' | 'ALL';

/** Every run status MLflow knows. */
export const RUN_STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'] as const;

/** The status of a run. */
export type RunStatus = (typeof RUN_STATUSES)[number];

/** A key/value tag on an experiment or run. */
export interface Tag {
  key: string;
  value: string;
}

/** A run parameter: logged once, never changed. */
export interface Param {
  key: string;
  value: string;
}

/** One metric point. `value` may be NaN or ±Infinity. */
export interface Metric {
  key: string;
  value: number;
  /** Epoch milliseconds. */
  timestamp: number;
  /** Integer step. @default 0 */
  step: number;
}

/** A metric point with the run it belongs to (bulk history). */
export interface MetricWithRunId extends Metric {
  runId: string;
}

/** An experiment: a named group of runs. */
export interface Experiment {
  experimentId: string;
  name: string;
  artifactLocation: string;
  lifecycleStage: LifecycleStage;
  creationTime: number;
  lastUpdateTime: number;
  tags: Tag[];
}

/** A run's metadata. */
export interface RunInfo {
  runId: string;
  runName: string;
  experimentId: string;
  userId: string;
  status: RunStatus;
  startTime: number;
  /** Absent while the run has not ended. */
  endTime?: number;
  artifactUri: string;
  lifecycleStage: LifecycleStage;
}

/** What a run logged: latest metric values, params and tags. */
export interface RunData {
  metrics: Metric[];
  params: Param[];
  tags: Tag[];
}

/** A dataset as logged with a run input. */
export interface Dataset {
  name: string;
  digest: string;
  sourceType: string;
  source: string;
  schema?: string;
  profile?: string;
}

/** A dataset used by a run, with input tags such as `mlflow.data.context`. */
export interface DatasetInput {
  tags: Tag[];
  dataset: Dataset;
}

/** The inputs of a run. */
export interface RunInputs {
  datasetInputs: DatasetInput[];
}

/** A run with everything it logged. */
export interface Run {
  info: RunInfo;
  data: RunData;
  inputs: RunInputs;
}

/** Who is making a change and under which request, for the audit trail. */
export interface MutationContext {
  /** @default "anonymous" */
  actor?: string;
  requestId?: string | null;
}

/** Input of `createExperiment`. */
export interface CreateExperimentInput {
  name: string;
  /** @default "<defaultArtifactRoot>/<experiment id>" */
  artifactLocation?: string;
  tags?: Tag[];
}

/** Input of `searchExperiments`. */
export interface SearchExperimentsInput {
  /** MLflow filter, e.g. `name LIKE 'prod-%' and tags.team = 'x'`. */
  filter?: string;
  /**
   * e.g. `["name ASC", "creation_time DESC"]`; ties break on experiment_id descending unless it is named.
   * @default ["creation_time DESC", "experiment_id ASC"]
   */
  orderBy?: string[];
  /** @default "ACTIVE_ONLY" */
  viewType?: ViewType;
  /** @default 1000 */
  maxResults?: number;
  pageToken?: string;
}

/** A page of experiments. */
export interface ExperimentPage {
  experiments: Experiment[];
  nextPageToken?: string;
}

/** Input of `createRun`. */
export interface CreateRunInput {
  /** @default "0" (the Default experiment) */
  experimentId?: string;
  /** @default the `mlflow.user` tag, else "" */
  userId?: string;
  /** @default the `mlflow.runName` tag, else a generated adjective-animal-number name */
  runName?: string;
  /** @default now */
  startTime?: number;
  tags?: Tag[];
}

/** Input of `updateRun`. */
export interface UpdateRunInput {
  runId: string;
  status?: RunStatus;
  endTime?: number;
  runName?: string;
}

/** Input of `logBatch`. */
export interface LogBatchInput {
  metrics?: Metric[];
  params?: Param[];
  tags?: Tag[];
}

/** Input of `getMetricHistory`. */
export interface MetricHistoryInput {
  runId: string;
  metricKey: string;
  /** Page size; without it every point is returned. */
  maxResults?: number;
  pageToken?: string;
}

/** A page of metric history. */
export interface MetricHistoryPage {
  metrics: Metric[];
  nextPageToken?: string;
}

/** Input of `getMetricHistoryBulkInterval`. */
export interface MetricHistoryBulkIntervalInput {
  /** Up to 100 runs; the answer lists them in this order. */
  runIds: string[];
  metricKey: string;
  /** With `endStep`: only steps in [startStep, endStep]. @default every step */
  startStep?: number;
  endStep?: number;
  /** Steps sampled over the runs' steps together (each run's first and last step are added). @default 2500, at most 2500 */
  maxResults?: number;
}

/** Input of `getMetricHistoryBulk`. */
export interface MetricHistoryBulkInput {
  /** Up to 100 runs; unknown ones contribute nothing. */
  runIds: string[];
  metricKey: string;
  /** Points in all, over the runs in id order. @default 25000, at most 25000 */
  maxResults?: number;
}

/** One (experiment, dataset, context) a run of the experiment used, as `searchDatasets` lists them. */
export interface DatasetSummary {
  experimentId: string;
  name: string;
  digest: string;
  /** The input's `mlflow.data.context` tag (e.g. "training"), or null when it has none. */
  context: string | null;
}

/** Input of `searchRuns`. */
export interface SearchRunsInput {
  experimentIds: string[];
  /** MLflow filter, e.g. `metrics.rmse < 1 and params.model = 'tree'`. */
  filter?: string;
  /** @default "ACTIVE_ONLY" */
  runViewType?: ViewType;
  /** @default 1000, at most 50000 */
  maxResults?: number;
  /** e.g. `["metrics.rmse ASC"]`; ties break on start_time DESC then run id. */
  orderBy?: string[];
  pageToken?: string;
  /** Aborts when the caller no longer wants the answer; the running query is cancelled. */
  signal?: AbortSignal;
}

/** A page of runs. */
export interface RunPage {
  runs: Run[];
  nextPageToken?: string;
}
