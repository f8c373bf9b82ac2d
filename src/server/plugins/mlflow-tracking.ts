/**
 * MLflow's tracking service (MlflowService without artifacts) over REST under
 * /api/2.0/mlflow and /ajax-api/2.0/mlflow: GET fields from the query string (repeated
 * keys for lists), POST fields from a JSON body, responses shaped as MLflow's protos in
 * JSON (snake_case, ids as strings, int64 as numbers, NaN as "NaN", empty lists omitted).
 * Errors are thrown as SlipwayError; the app's error handler writes MLflow's error body.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parse as parseLossless } from 'lossless-json';
import { errors, SlipwayError } from '../../core/errors.js';
import {
  RUN_STATUSES,
  TrackingService,
  type DatasetInput,
  type Experiment,
  type Metric,
  type MutationContext,
  type Param,
  type Run,
  type RunInfo,
  type RunStatus,
  type Tag,
  type ViewType,
} from '../../tracking/index.js';
import { pythonStr } from '../../tracking/python-text.js';
import type { DomainPlugin } from '../app.js';
import { whileClientConnected } from '../client-connection.js';
import type { ServerContext } from '../context.js';
import { jsonBodyText, parseJsonBodyKeepingText } from '../json-body-parser.js';
import { trackingOf } from '../native/services.js';

type Fields = Record<string, unknown>;
type Json = Record<string, unknown>;

const PREFIXES = ['/api/2.0/mlflow', '/ajax-api/2.0/mlflow'] as const;
const VIEW_TYPES: Record<string, ViewType> = { ACTIVE_ONLY: 'ACTIVE_ONLY', DELETED_ONLY: 'DELETED_ONLY', ALL: 'ALL', '1': 'ACTIVE_ONLY', '2': 'DELETED_ONLY', '3': 'ALL' };

// ---- request fields ------------------------------------------------------------------

function fieldsOf(request: FastifyRequest): Fields {
  const raw = request.method === 'GET' ? request.query : request.body;
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new SlipwayError('MALFORMED_REQUEST', 'The request body must be a JSON object.');
  return raw as Fields;
}

/** Largest body (characters) re-read for a message; a full log-batch is about 100 KB. */
const MAX_REPARSED_BODY = 1024 * 1024;

/**
 * A top-level field as the client sent it: re-read from the body's text (only on error paths), so a
 * number keeps its literal (`9.0`, which JSON.parse makes 9). Nested objects and query strings give their
 * parsed value.
 */
function sentValue(f: Fields, field: string): unknown {
  const text = jsonBodyText(f);
  // A large body is not parsed a second time for a message (its value is cut at 1000 characters anyway).
  if (text !== undefined && text.length <= MAX_REPARSED_BODY) {
    try {
      const exact = parseLossless(text);
      if (exact !== null && typeof exact === 'object' && !Array.isArray(exact)) return (exact as Fields)[field];
    } catch {
      // lossless-json refuses a few bodies JSON.parse takes (a key repeated with another value): show the parsed value
    }
  }
  return f[field];
}

/** MLflow's "Invalid value X for parameter 'p' supplied" (X as MLflow prints it), then what the value must be. */
function invalidValue(f: Fields, field: string, expected: string): SlipwayError {
  return errors.invalid(`Invalid value ${pythonStr(sentValue(f, field))} for parameter '${field}' supplied: ${expected}.`, { field });
}

/** MLflow's required-field rule: absent, null and "" are all missing. */
function isMissing(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

function optString(f: Fields, field: string): string | undefined {
  const v = f[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidValue(f, field, 'it must be a string');
  return v;
}

/** A required string field; "" counts as missing, as MLflow's handlers check it. */
function reqString(f: Fields, field: string): string {
  const v = optString(f, field);
  if (v === undefined || v === '') throw errors.missing(field);
  return v;
}

/** A string field that must be present but may be empty (tag and param values). */
function presentString(f: Fields, field: string): string {
  const v = optString(f, field);
  if (v === undefined) throw errors.missing(field);
  return v;
}

/** run_id, or the deprecated run_uuid the older clients send. */
function runIdOf(f: Fields): string {
  const v = optString(f, 'run_id') || optString(f, 'run_uuid');
  if (!v) throw errors.missing('run_id');
  return v;
}

// Protobuf's JSON parser accepts int64 as a number or a decimal string.
function optInt(f: Fields, field: string): number | undefined {
  const v = f[field];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw invalidValue(f, field, 'it must be an integer');
  return n;
}

function reqInt(f: Fields, field: string): number {
  const v = optInt(f, field);
  if (v === undefined) throw errors.missing(field);
  return v;
}

// Doubles arrive as numbers, or as strings for NaN/Infinity (and any decimal).
function toDouble(f: Fields, field: string): number {
  const v = f[field];
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === 'NaN') return NaN;
    if (t === 'Infinity' || t === 'inf') return Infinity;
    if (t === '-Infinity' || t === '-inf') return -Infinity;
    if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  }
  throw invalidValue(f, field, 'it must be a number');
}

function stringList(f: Fields, field: string): string[] | undefined {
  const v = f[field];
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : typeof v === 'string' ? [v] : undefined;
  if (!list || !list.every((x) => typeof x === 'string')) throw invalidValue(f, field, 'it must be a list of strings');
  return list as string[];
}

function isObject(x: unknown): x is Fields {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function objectList(f: Fields, field: string): Fields[] {
  const v = f[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every(isObject)) throw invalidValue(f, field, 'it must be a list of objects');
  return v as Fields[];
}

/**
 * Tags or params of a request: a list of {key, value}. An element without a key is refused naming the
 * whole list, as MLflow does.
 */
function keyValueList(f: Fields, field: 'tags' | 'params', what: string): Array<{ key: string; value: string }> {
  const list = objectList(f, field);
  const out = new Array<{ key: string; value: string }>(list.length);
  for (let i = 0; i < list.length; i++) {
    const t = list[i] as Fields;
    if (isMissing(t.key)) throw invalidValue(f, field, `${what} ${i} has no 'key'`);
    out[i] = { key: presentString(t, 'key'), value: presentString(t, 'value') };
  }
  return out;
}

function tagsOf(f: Fields): Tag[] {
  return keyValueList(f, 'tags', 'tag');
}

function viewTypeOf(f: Fields, field: string): ViewType | undefined {
  const v = f[field];
  if (v === undefined || v === null) return undefined;
  const view = VIEW_TYPES[String(v)];
  if (!view) throw invalidValue(f, field, 'use ACTIVE_ONLY, DELETED_ONLY or ALL');
  return view;
}

function statusOf(f: Fields): RunStatus | undefined {
  const v = f.status;
  if (v === undefined || v === null) return undefined;
  const byNumber = typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v)) ? RUN_STATUSES[Number(v) - 1] : undefined;
  const status = byNumber ?? (RUN_STATUSES as readonly string[]).find((s) => s === v);
  if (!status) throw invalidValue(f, 'status', `use one of ${RUN_STATUSES.join(', ')}`);
  return status as RunStatus;
}

/**
 * Converts log-batch metrics in place: avoids an allocation per point on the hot path. A metric without
 * a key, value or timestamp is refused naming the whole list, as MLflow does.
 */
function metricsOf(f: Fields): Metric[] {
  const list = f.metrics;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidValue(f, 'metrics', 'it must be a list');
  for (let i = 0; i < list.length; i++) {
    const m = list[i] as Fields;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) throw invalidValue(f, 'metrics', `metric ${i} is not an object`);
    if (isMissing(m.key)) throw invalidValue(f, 'metrics', `metric ${i} has no 'key'`);
    if (isMissing(m.value)) throw invalidValue(f, 'metrics', `metric ${i} has no 'value'`);
    if (isMissing(m.timestamp)) throw invalidValue(f, 'metrics', `metric ${i} has no 'timestamp'`);
    if (typeof m.value !== 'number') m.value = toDouble(m, 'value');
    if (typeof m.timestamp !== 'number') m.timestamp = reqInt(m, 'timestamp');
    if (m.step === undefined || m.step === null) m.step = 0;
    else if (typeof m.step !== 'number') m.step = reqInt(m, 'step');
  }
  return list as Metric[];
}

function paramsOf(f: Fields): Param[] {
  return keyValueList(f, 'params', 'param');
}

function datasetsOf(f: Fields): DatasetInput[] {
  if (f.datasets === undefined || f.datasets === null) throw errors.missing('datasets');
  return objectList(f, 'datasets').map((d) => {
    const ds = d.dataset;
    if (ds === undefined || ds === null) throw errors.missing('dataset');
    if (!isObject(ds)) throw invalidValue(d, 'dataset', 'it must be an object');
    const dataset: DatasetInput['dataset'] = { name: presentString(ds, 'name'), digest: presentString(ds, 'digest'), sourceType: presentString(ds, 'source_type'), source: presentString(ds, 'source') };
    const schema = optString(ds, 'schema');
    const profile = optString(ds, 'profile');
    if (schema !== undefined) dataset.schema = schema;
    if (profile !== undefined) dataset.profile = profile;
    return { tags: tagsOf(d), dataset };
  });
}

function mutationOf(request: FastifyRequest): MutationContext {
  const actor = (request as FastifyRequest & { actor?: string }).actor;
  return actor ? { actor, requestId: request.id } : { requestId: request.id };
}

// ---- responses -----------------------------------------------------------------------

/** MLflow writes NaN and infinities as strings, as protobuf's JSON mapping does. */
function doubleJson(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function metricJson(m: Metric): Json {
  return { key: m.key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step };
}

function withList(out: Json, field: string, list: unknown[]): Json {
  if (list.length > 0) out[field] = list;
  return out;
}

/** An Experiment as MLflow's proto JSON. */
export function experimentJson(e: Experiment): Json {
  return withList(
    { experiment_id: e.experimentId, name: e.name, artifact_location: e.artifactLocation, lifecycle_stage: e.lifecycleStage, last_update_time: e.lastUpdateTime, creation_time: e.creationTime },
    'tags',
    e.tags,
  );
}

/** A RunInfo as MLflow's proto JSON (run_id and the deprecated run_uuid). */
export function runInfoJson(i: RunInfo): Json {
  const out: Json = { run_uuid: i.runId, run_id: i.runId, run_name: i.runName, experiment_id: i.experimentId, user_id: i.userId, status: i.status, start_time: i.startTime };
  if (i.endTime !== undefined) out.end_time = i.endTime;
  out.artifact_uri = i.artifactUri;
  out.lifecycle_stage = i.lifecycleStage;
  return out;
}

/** A Run as MLflow's proto JSON. */
export function runJson(r: Run): Json {
  const data: Json = {};
  withList(data, 'metrics', r.data.metrics.map(metricJson));
  withList(data, 'params', r.data.params);
  withList(data, 'tags', r.data.tags);
  const inputs = withList(
    {},
    'dataset_inputs',
    r.inputs.datasetInputs.map((d) => {
      const ds: Json = { name: d.dataset.name, digest: d.dataset.digest, source_type: d.dataset.sourceType, source: d.dataset.source };
      if (d.dataset.schema !== undefined) ds.schema = d.dataset.schema;
      if (d.dataset.profile !== undefined) ds.profile = d.dataset.profile;
      return withList({ dataset: ds }, 'tags', d.tags);
    }),
  );
  return { info: runInfoJson(r.info), data, inputs };
}

function page(out: Json, token: string | undefined): Json {
  if (token) out.next_page_token = token;
  return out;
}

const EMPTY = {};

// ---- routes --------------------------------------------------------------------------

type Handler = (f: Fields, request: FastifyRequest) => Promise<Json>;

function routes(svc: TrackingService): Array<[method: 'GET' | 'POST', path: string, handler: Handler]> {
  return [
    ['POST', '/experiments/create', async (f, r) => ({
      experiment_id: await svc.createExperiment(
        { name: reqString(f, 'name'), ...(optString(f, 'artifact_location') ? { artifactLocation: optString(f, 'artifact_location') as string } : {}), tags: tagsOf(f) },
        mutationOf(r),
      ),
    })],
    ['GET', '/experiments/get', async (f) => ({ experiment: experimentJson(await svc.getExperiment(reqString(f, 'experiment_id'))) })],
    ['GET', '/experiments/get-by-name', async (f) => ({ experiment: experimentJson(await svc.getExperimentByName(reqString(f, 'experiment_name'))) })],
    ['POST', '/experiments/search', (f) => searchExperiments(svc, f)],
    ['GET', '/experiments/search', (f) => searchExperiments(svc, f)],
    ['POST', '/experiments/update', async (f, r) => {
      await svc.updateExperiment(reqString(f, 'experiment_id'), reqString(f, 'new_name'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/experiments/delete', async (f, r) => {
      await svc.deleteExperiment(reqString(f, 'experiment_id'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/experiments/restore', async (f, r) => {
      await svc.restoreExperiment(reqString(f, 'experiment_id'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/experiments/set-experiment-tag', async (f, r) => {
      await svc.setExperimentTag(reqString(f, 'experiment_id'), reqString(f, 'key'), presentString(f, 'value'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/create', async (f, r) => {
      const input: Parameters<TrackingService['createRun']>[0] = { tags: tagsOf(f) };
      const experimentId = optString(f, 'experiment_id');
      const userId = optString(f, 'user_id');
      const runName = optString(f, 'run_name');
      const startTime = optInt(f, 'start_time');
      if (experimentId !== undefined) input.experimentId = experimentId;
      if (userId !== undefined) input.userId = userId;
      if (runName !== undefined) input.runName = runName;
      if (startTime !== undefined) input.startTime = startTime;
      return { run: runJson(await svc.createRun(input, mutationOf(r))) };
    }],
    ['GET', '/runs/get', async (f) => ({ run: runJson(await svc.getRun(runIdOf(f))) })],
    ['POST', '/runs/update', async (f, r) => {
      const input: Parameters<TrackingService['updateRun']>[0] = { runId: runIdOf(f) };
      const status = statusOf(f);
      const endTime = optInt(f, 'end_time');
      const runName = optString(f, 'run_name');
      if (status !== undefined) input.status = status;
      if (endTime !== undefined) input.endTime = endTime;
      if (runName !== undefined) input.runName = runName;
      return { run_info: runInfoJson(await svc.updateRun(input, mutationOf(r))) };
    }],
    ['POST', '/runs/delete', async (f, r) => {
      await svc.deleteRun(reqString(f, 'run_id'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/restore', async (f, r) => {
      await svc.restoreRun(reqString(f, 'run_id'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/log-metric', async (f, r) => {
      const runId = runIdOf(f);
      const key = reqString(f, 'key');
      if (isMissing(f.value)) throw errors.missing('value');
      const metric = { key, value: toDouble(f, 'value'), timestamp: reqInt(f, 'timestamp'), step: optInt(f, 'step') ?? 0 };
      await svc.logMetric(runId, metric, mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/log-parameter', async (f, r) => {
      await svc.logParam(runIdOf(f), reqString(f, 'key'), presentString(f, 'value'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/set-tag', async (f, r) => {
      await svc.setTag(runIdOf(f), reqString(f, 'key'), presentString(f, 'value'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/delete-tag', async (f, r) => {
      await svc.deleteTag(reqString(f, 'run_id'), reqString(f, 'key'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/log-batch', async (f, r) => {
      await svc.logBatch(runIdOf(f), { metrics: metricsOf(f), params: paramsOf(f), tags: tagsOf(f) }, mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/log-model', async (f, r) => {
      await svc.logModel(runIdOf(f), reqString(f, 'model_json'), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/log-inputs', async (f, r) => {
      await svc.logInputs(reqString(f, 'run_id'), datasetsOf(f), mutationOf(r));
      return EMPTY;
    }],
    ['POST', '/runs/search', async (f, r) => {
      const input: Parameters<TrackingService['searchRuns']>[0] = { experimentIds: stringList(f, 'experiment_ids') ?? [] };
      const filter = optString(f, 'filter');
      const view = viewTypeOf(f, 'run_view_type');
      const max = optInt(f, 'max_results');
      const orderBy = stringList(f, 'order_by');
      const token = optString(f, 'page_token');
      if (filter !== undefined) input.filter = filter;
      if (view !== undefined) input.runViewType = view;
      if (max !== undefined) input.maxResults = max;
      if (orderBy !== undefined) input.orderBy = orderBy;
      if (token) input.pageToken = token;
      const res = await whileClientConnected(r, (signal) => svc.searchRuns({ ...input, signal }));
      return page(withList({}, 'runs', res.runs.map(runJson)), res.nextPageToken);
    }],
    ['GET', '/metrics/get-history', async (f) => {
      const input: Parameters<TrackingService['getMetricHistory']>[0] = { runId: runIdOf(f), metricKey: reqString(f, 'metric_key') };
      const max = optInt(f, 'max_results');
      const token = optString(f, 'page_token');
      if (max !== undefined) input.maxResults = max;
      if (token) input.pageToken = token;
      const res = await svc.getMetricHistory(input);
      return page(withList({}, 'metrics', res.metrics.map(metricJson)), res.nextPageToken);
    }],
    ['GET', '/metrics/get-history-bulk-interval', async (f) => {
      // Presence and ranges are checked by the service, in MLflow's order (run_ids, then metric_key, …).
      const input: Parameters<TrackingService['getMetricHistoryBulkInterval']>[0] = { runIds: stringList(f, 'run_ids') ?? [], metricKey: optString(f, 'metric_key') ?? '' };
      const start = optInt(f, 'start_step');
      const end = optInt(f, 'end_step');
      const max = optInt(f, 'max_results');
      if (start !== undefined) input.startStep = start;
      if (end !== undefined) input.endStep = end;
      if (max !== undefined) input.maxResults = max;
      const points = await svc.getMetricHistoryBulkInterval(input);
      return withList({}, 'metrics', points.map((m) => ({ ...metricJson(m), run_id: m.runId })));
    }],
  ];
}

async function searchExperiments(svc: TrackingService, f: Fields): Promise<Json> {
  const input: Parameters<TrackingService['searchExperiments']>[0] = {};
  const filter = optString(f, 'filter');
  const view = viewTypeOf(f, 'view_type');
  const max = optInt(f, 'max_results');
  const orderBy = stringList(f, 'order_by');
  const token = optString(f, 'page_token');
  if (filter !== undefined) input.filter = filter;
  if (view !== undefined) input.viewType = view;
  if (max !== undefined) input.maxResults = max;
  if (orderBy !== undefined) input.orderBy = orderBy;
  if (token) input.pageToken = token;
  const res = await svc.searchExperiments(input);
  return page(withList({}, 'experiments', res.experiments.map(experimentJson)), res.nextPageToken);
}

/** The tracking service of this server: one per context, shared with the other faces (built in one place). */
export function trackingFor(ctx: ServerContext): TrackingService {
  return trackingOf(ctx);
}

const mlflowTracking: DomainPlugin = async (app: FastifyInstance, ctx: ServerContext) => {
  const svc = trackingFor(ctx);
  // The app's JSON parser, keeping each body's text for messages that quote a value as sent (sentValue).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBodyKeepingText(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  for (const prefix of PREFIXES) {
    for (const [method, path, handler] of routes(svc)) {
      app.route({ method, url: `${prefix}${path}`, handler: (request) => handler(fieldsOf(request), request) });
    }
  }
};

export default mlflowTracking;
