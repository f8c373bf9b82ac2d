/**
 * The MLflow UI's own endpoints, which MLflow 2.12 serves under /ajax-api/2.0/mlflow only (the /api forms
 * are a 404 there too): metric history of several runs (`metrics/get-history-bulk`), the datasets of
 * experiments (`experiments/search-datasets`), prompt-engineering runs (`runs/create-promptlab-run`) and a
 * file upload into a run's artifacts (`upload-artifact`). Requests and answers, limits and messages are
 * MLflow's; artifacts go through the artifact store and are audited as every artifact write is.
 */
import { randomUUID } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { artifactPathSegments } from '../../artifacts/artifact-path.js';
import { errors, isSlipwayError, SlipwayError } from '../../core/errors.js';
import type { TrackingService } from '../../tracking/index.js';
import { pythonStr } from '../../tracking/python-text.js';
import type { DomainPlugin } from '../app.js';
import type { ServerContext } from '../context.js';
import type { PutResult } from '../../artifacts/artifact-store.js';
import { auditArtifactChange, joinArtifactPath, runArtifactLocation, type RunArtifactLocation } from '../native/artifact-access.js';
import { mutationOf } from '../native/services.js';
import { runJson, trackingFor } from './mlflow-tracking.js';

type Fields = Record<string, unknown>;

const PREFIX = '/ajax-api/2.0/mlflow';
/** upload-artifact's largest body, MLflow's limit. */
export const MAX_UPLOAD_ARTIFACT_BYTES = 10 * 1024 * 1024;
const LOGGED_ARTIFACTS_TAG = 'mlflow.loggedArtifacts';
const RUN_SOURCE_TYPE_TAG = 'mlflow.runSourceType';
const EVAL_RESULTS_FILE = 'eval_results_table.json';

/** MLflow writes NaN and infinities as strings, as protobuf's JSON mapping does. */
function doubleJson(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

function invalid(field: string, value: unknown, expected: string): SlipwayError {
  return errors.invalid(`Invalid value ${pythonStr(value)} for parameter '${field}' supplied: ${expected}.`, { field });
}

/** A query parameter given once; a repeated one is refused. */
function queryOne(request: FastifyRequest, field: string): string | undefined {
  const v = (request.query as Fields)[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(field, v, 'give it once');
  return v;
}

function jsonBody(request: FastifyRequest): Fields {
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new SlipwayError('MALFORMED_REQUEST', 'The request body must be a JSON object.');
  return body as Fields;
}

// ---- metrics/get-history-bulk and experiments/search-datasets -----------------------------

async function metricHistoryBulk(svc: TrackingService, request: FastifyRequest): Promise<Fields> {
  const q = request.query as Fields;
  const ids = q.run_id === undefined ? [] : Array.isArray(q.run_id) ? q.run_id : [q.run_id];
  const input: Parameters<TrackingService['getMetricHistoryBulk']>[0] = { runIds: ids as string[], metricKey: q.metric_key as string };
  if (q.metric_key !== undefined && typeof q.metric_key !== 'string') throw invalid('metric_key', q.metric_key, 'give it once');
  // The run checks come first, as in MLflow; max_results is read after them.
  if (ids.length > 0 && ids.length <= 100 && q.metric_key !== undefined) {
    const max = queryOne(request, 'max_results');
    if (max !== undefined) {
      if (!/^\s*-?\d+\s*$/.test(max)) throw invalid('max_results', max, 'it must be an integer');
      input.maxResults = Number(max);
    }
  }
  const points = await svc.getMetricHistoryBulk(input);
  // A plain object in MLflow (not a proto message): the list is there even when empty.
  return { metrics: points.map((m) => ({ key: m.key, value: doubleJson(m.value), timestamp: m.timestamp, step: m.step, run_id: m.runId })) };
}

async function searchDatasets(svc: TrackingService, request: FastifyRequest): Promise<Fields> {
  const body = jsonBody(request);
  const ids = body.experiment_ids ?? [];
  if (!Array.isArray(ids)) throw invalid('experiment_ids', ids, 'it must be a list of experiment ids');
  const summaries = await svc.searchDatasets(ids.map((id) => (typeof id === 'number' ? String(id) : id)) as string[]);
  return { dataset_summaries: summaries.map((s) => ({ experiment_id: s.experimentId, name: s.name, digest: s.digest, context: s.context })) };
}

// ---- runs/create-promptlab-run -----------------------------------------------------------

/** Python's truthiness, which MLflow's "must specify" checks use: None, false, 0, "", [] and {} are not given. */
function given(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function required(body: Fields, field: string): unknown {
  const v = body[field];
  if (!given(v)) throw errors.invalid(`CreatePromptlabRun request must specify ${field}.`, { field });
  return v;
}

function text(field: string, v: unknown): string {
  if (typeof v !== 'string') throw invalid(field, v, 'it must be a string');
  return v;
}

/** A list of {key, value}; values become strings as MLflow's str() makes them (0.1 → "0.1"). */
function keyValues(field: string, v: unknown): Array<{ key: string; value: string }> {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(field, v, 'it must be a list of {key, value} objects');
  return v.map((item) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || typeof (item as Fields).key !== 'string') {
      throw invalid(field, v, 'every element must be an object with a string key');
    }
    const { key, value } = item as Fields;
    return { key: key as string, value: pythonStr(value) };
  });
}

/** What create-promptlab-run asked for, checked in MLflow's order. */
interface PromptlabRequest {
  experimentId: string;
  runName?: string;
  tags: Array<{ key: string; value: string }>;
  promptTemplate: string;
  promptParameters: Array<{ key: string; value: string }>;
  modelRoute: string;
  modelParameters: Array<{ key: string; value: string }>;
  modelInput: string;
  modelOutput: unknown;
  modelOutputParameters: Array<{ key: string; value: string }>;
  mlflowVersion: string;
  userId: string;
  startTime?: number;
}

function promptlabRequest(body: Fields): PromptlabRequest {
  const experimentId = required(body, 'experiment_id');
  const promptTemplate = required(body, 'prompt_template');
  const promptParameters = required(body, 'prompt_parameters');
  const modelRoute = required(body, 'model_route');
  const modelInput = required(body, 'model_input');
  const mlflowVersion = required(body, 'mlflow_version');
  const out: PromptlabRequest = {
    experimentId: typeof experimentId === 'number' && Number.isSafeInteger(experimentId) ? String(experimentId) : text('experiment_id', experimentId),
    tags: keyValues('tags', body.tags),
    promptTemplate: text('prompt_template', promptTemplate),
    promptParameters: keyValues('prompt_parameters', promptParameters),
    modelRoute: text('model_route', modelRoute),
    modelParameters: keyValues('model_parameters', body.model_parameters),
    modelInput: text('model_input', modelInput),
    modelOutput: body.model_output ?? null,
    modelOutputParameters: keyValues('model_output_parameters', body.model_output_parameters),
    mlflowVersion: text('mlflow_version', mlflowVersion),
    userId: body.user_id === undefined || body.user_id === null ? 'unknown' : text('user_id', body.user_id),
  };
  if (body.run_name !== undefined && body.run_name !== null) out.runName = text('run_name', body.run_name);
  if (body.start_time !== undefined && body.start_time !== null) {
    const t = body.start_time;
    if (typeof t !== 'number' || !Number.isSafeInteger(t)) throw invalid('start_time', t, 'it must be an integer (epoch milliseconds)');
    out.startTime = t;
  }
  return out;
}

/** `datetime.utcnow()` as MLflow writes a model's utc_time_created. */
function utcTimeCreated(ms: number): string {
  return `${new Date(ms).toISOString().replace('T', ' ').replace('Z', '')}000`;
}

/**
 * Writes `body` to `relative` under a run's artifact root, wherever it lives (the store, or the folder of a
 * local default artifact root), and audits the write: a file in the store by its logical path, one in a
 * local folder by its URI, as the other artifact routes name them.
 */
async function putRunArtifact(ctx: ServerContext, request: FastifyRequest, root: RunArtifactLocation, relative: string, body: Readable | Buffer): Promise<PutResult> {
  const result = await root.files.put(joinArtifactPath(root.path, relative), body);
  const audited = root.files === ctx.artifacts ? result.path : `${root.uri.replace(/\/+$/, '')}/${relative}`;
  await auditArtifactChange(ctx, request, 'artifact.put', audited, { sha256: result.sha256, size: result.size });
  return result;
}

/**
 * Creates a finished run recording one prompt-engineering evaluation, as the MLflow UI's prompt lab does:
 * params (model parameters, model_route, prompt_template), the loggedArtifacts and runSourceType tags, a
 * logged model, and the artifacts `eval_results_table.json` and `model/` (MLmodel, parameters.yaml,
 * requirements.txt). If anything after the run's creation fails, the run ends FAILED, as in MLflow.
 */
async function createPromptlabRun(ctx: ServerContext, svc: TrackingService, request: FastifyRequest): Promise<Fields> {
  const req = promptlabRequest(jsonBody(request));
  const who = mutationOf(request);
  const input: Parameters<TrackingService['createRun']>[0] = { experimentId: req.experimentId, userId: req.userId, tags: req.tags };
  if (req.runName !== undefined) input.runName = req.runName;
  if (req.startTime !== undefined) input.startTime = req.startTime;
  const run = await svc.createRun(input, who);
  const runId = run.info.runId;
  let status: 'FINISHED' | 'FAILED' = 'FINISHED';
  try {
    await svc.logBatch(
      runId,
      {
        params: [...req.modelParameters, { key: 'model_route', value: req.modelRoute }, { key: 'prompt_template', value: req.promptTemplate }],
        tags: [
          // Python's json.dumps spacing, as MLflow writes it (the UI reads it as JSON either way).
          { key: LOGGED_ARTIFACTS_TAG, value: `[{"path": "${EVAL_RESULTS_FILE}", "type": "table"}]` },
          { key: RUN_SOURCE_TYPE_TAG, value: 'PROMPT_ENGINEERING' },
        ],
      },
      who,
    );
    const model = { run_id: runId, artifact_path: 'model', utc_time_created: utcTimeCreated(ctx.clock.now()), flavors: {}, model_uuid: randomUUID().replace(/-/g, ''), mlflow_version: req.mlflowVersion };
    await svc.logModel(runId, JSON.stringify(model), who);

    const root = await runArtifactLocation(ctx, runId);
    const columns = [...req.promptParameters.map((p) => p.key), 'prompt', 'output', ...req.modelOutputParameters.map((p) => p.key)];
    const row = [...req.promptParameters.map((p) => p.value), req.modelInput, req.modelOutput, ...req.modelOutputParameters.map((p) => p.value)];
    const put = (relative: string, content: string) => putRunArtifact(ctx, request, root, relative, Buffer.from(content, 'utf8'));
    await put(EVAL_RESULTS_FILE, JSON.stringify({ columns, data: [row] }));
    // Loaded only here: the server's start-up does not pay for the YAML library.
    const { stringify } = await import('yaml');
    const parameters = {
      prompt_template: req.promptTemplate,
      prompt_parameters: Object.fromEntries(req.promptParameters.map((p) => [p.key, p.value])),
      model_parameters: Object.fromEntries(req.modelParameters.map((p) => [p.key, p.value])),
      model_route: req.modelRoute,
    };
    const mlmodel = { ...model, flavors: { python_function: { loader_module: 'mlflow.promptlab', parameters_path: 'parameters.yaml' } } };
    await put('model/MLmodel', stringify(mlmodel));
    await put('model/parameters.yaml', stringify(parameters));
    await put('model/requirements.txt', `mlflow[gateway]==${req.mlflowVersion}\n`);
  } catch (err) {
    // MLflow answers with the run marked FAILED rather than an error; the cause goes to the server log.
    ctx.logger.warn({ err, runId, reqId: request.id }, 'create-promptlab-run: the run failed after it was created');
    status = 'FAILED';
  }
  await svc.updateRun({ runId, status, endTime: ctx.clock.now() }, who);
  return { run: runJson(await svc.getRun(runId)) };
}

// ---- upload-artifact ------------------------------------------------------------------------

/** Counts bytes through, failing once more than `limit` have come. */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) done(errors.invalid(`Artifact size is too large. Max size is ${this.limit / 1024 / 1024}MB.`));
    else done(null, chunk);
  }
}

/** The first chunk of a request body, or undefined when the body is empty. */
function firstChunk(body: Readable): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      body.off('readable', onReadable);
      body.off('end', onEnd);
      body.off('error', onError);
    };
    const onReadable = (): void => {
      const chunk = body.read() as Buffer | null;
      if (chunk === null) return;
      cleanup();
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    body.on('readable', onReadable);
    body.on('end', onEnd);
    body.on('error', onError);
  });
}

/**
 * Streams the request body to `path` under the run's artifacts, in the store or a local root's folder (at
 * most 10 MB, MLflow's limit), then audits it as `artifact.put`. The file appears only once every byte
 * has arrived.
 */
async function uploadArtifact(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<Fields> {
  const raw = request.raw;
  try {
    const runId = queryOne(request, 'run_uuid');
    if (!runId) throw errors.invalid('Request must specify run_uuid.', { field: 'run_uuid' });
    const path = queryOne(request, 'path');
    if (!path) throw errors.invalid('Request must specify path.', { field: 'path' });
    let relative: string;
    try {
      relative = artifactPathSegments(path).join('/');
    } catch (err) {
      if (isSlipwayError(err) && err.code === 'PATH_NOT_ALLOWED') throw new SlipwayError('PATH_NOT_ALLOWED', `Invalid path: ${err.message}`, err.details);
      throw err;
    }
    const length = Number(request.headers['content-length'] ?? NaN);
    if (length > MAX_UPLOAD_ARTIFACT_BYTES) throw errors.invalid(`Artifact size is too large. Max size is ${MAX_UPLOAD_ARTIFACT_BYTES / 1024 / 1024}MB.`);
    const first = length === 0 || raw.complete ? undefined : await firstChunk(raw);
    if (first === undefined) throw errors.invalid('Request must specify data.', { field: 'data' });
    const root = await runArtifactLocation(ctx, runId);
    if (root.deleted) throw errors.invalid(`The run ${runId} must be in the 'active' state. Current state is deleted.`, { runId });
    raw.unshift(first);
    const limited = new SizeLimit(MAX_UPLOAD_ARTIFACT_BYTES);
    // pipe() does not pass a client's abort on: end the store's write with it (nothing is kept then).
    raw.once('error', (err) => limited.destroy(err));
    raw.once('close', () => {
      if (!raw.complete) limited.destroy(new Error('The client closed the connection before the upload ended.'));
    });
    await putRunArtifact(ctx, request, root, relative, raw.pipe(limited));
    return {};
  } catch (err) {
    // The rest of a refused upload's body is never read: close the connection after the answer, or it
    // would sit with unread bytes and hold up a graceful shutdown.
    if (!raw.complete) reply.header('connection', 'close');
    throw err;
  }
}

const mlflowAjax: DomainPlugin = async (app: FastifyInstance, ctx: ServerContext) => {
  const svc = trackingFor(ctx);
  app.get(`${PREFIX}/metrics/get-history-bulk`, (request) => metricHistoryBulk(svc, request));
  app.post(`${PREFIX}/experiments/search-datasets`, (request) => searchDatasets(svc, request));
  app.post(`${PREFIX}/runs/create-promptlab-run`, (request) => createPromptlabRun(ctx, svc, request));
  await app.register(async (uploads) => {
    // The body is the file's bytes whatever its Content-Type (often none): hand the raw stream to the handler.
    uploads.removeAllContentTypeParsers();
    uploads.addContentTypeParser('*', (_request, _payload, done) => done(null));
    uploads.post(`${PREFIX}/upload-artifact`, (request, reply) => uploadArtifact(ctx, request, reply));
  });
};

export default mlflowAjax;
