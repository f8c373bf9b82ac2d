/**
 * The typed SDK over the native API (/api/v1). It uses only `fetch`, `URL` and
 * `AbortSignal`, so it runs in Node 20+, browsers, Deno and Bun alike.
 */
import type {
  ApiToken,
  CreateTokenBody,
  CreateUserBody,
  CreatedToken,
  DeletePermissionQuery,
  PermissionGrant,
  PermissionList,
  PermissionQuery,
  SetPermissionBody,
  TokenList,
  TokenListQuery,
  UpdateUserBody,
  User,
  UserList,
} from './schemas/access.js';
import type { ArtifactListing, StoredArtifact, StoredStoreArtifact } from './schemas/artifacts.js';
import type {
  DatasetLineage,
  DatasetPage,
  DatasetRegistration,
  DatasetRunInput,
  DatasetVersionDetail,
  DatasetVersionPage,
  ListDatasetsQuery,
  RegisterDatasetBody,
} from './schemas/datasets.js';
import type { Lineage, ModelCard } from './schemas/governance.js';
import type { AuditEvent, AuditEventPage, AuditEventsQuery, AuditHead, AuditVerification, AuditVerifyQuery } from './schemas/audit.js';
import type { CreateExperimentBody, Experiment, ExperimentPage, ListExperimentsQuery, UpdateExperimentBody } from './schemas/experiments.js';
import type { Health } from './schemas/health.js';
import type {
  CreateModelBody,
  CreateVersionBody,
  ListModelsQuery,
  ListVersionsQuery,
  ModelVersion,
  ModelVersionPage,
  RegisteredModel,
  RegisteredModelPage,
  TransitionStageBody,
} from './schemas/models.js';
import type { GroundTruthLabel, GroundTruthResult } from './schemas/monitoring.js';
import type {
  CreateRunBody,
  DownsampledHistoryQuery,
  DownsampledMetricHistories,
  DownsampledMetricHistory,
  LogInputsBody,
  LogRunBody,
  MetricHistory,
  Run,
  RunPage,
  SearchRunsBody,
  UpdateRunBody,
} from './schemas/runs.js';
import type {
  AbortReleaseBody,
  ApproveReleaseBody,
  CreateReleaseBody,
  ListReleasesQuery,
  Release,
  ReleasePage,
  ReleasePolicyInput,
  ReleasePolicyList,
  ReleasePolicyRecord,
  RollbackBody,
  RollbackResult,
  TrafficHeartbeatBody,
  TrafficState,
  TrafficStatsBody,
} from './schemas/releases.js';
import { SlipwayApiError, errorFromResponse } from './api-error.js';

/** How to reach a Slipway server. */
export interface SlipwayClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:5000`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /**
   * With `password`, sent as HTTP Basic credentials when no `token` is given; like the MLflow
   * client, both must be non-empty (so MLFLOW_TRACKING_USERNAME/PASSWORD pass through unchanged).
   */
  username?: string;
  /** The password for `username`. */
  password?: string;
  /** A fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Abort a request that takes longer than this many milliseconds. @default 30000 */
  timeoutMs?: number;
}

/** A file being downloaded: its bytes are not read yet, so they can be streamed to disk as they arrive. */
export interface ArtifactDownload {
  /** The bytes. Read it to the end or cancel it: an unread body holds the connection until the idle timeout. */
  body: ReadableStream<Uint8Array>;
  /** Content-Length, when the server sent one. */
  size?: number;
  contentType: string;
  /** The quoted sha256 of the content, e.g. `"9f86…"`. */
  etag?: string;
}

/** What an upload sends: bytes, a Blob (a File in browsers), a stream (e.g. `Readable.toWeb(createReadStream(file))` in Node) or text (sent as UTF-8). */
export type ArtifactBody = Uint8Array | Blob | ReadableStream<Uint8Array> | string;

/** Per-call options of the artifact transfers. */
export interface TransferOptions {
  /** Cancels the transfer; the promise (or the download's body) rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Abort when no byte has moved for this long (ms): while streaming a ReadableStream upload or a
   * download's body this bounds each stall, not the whole transfer; for a body given whole
   * (Uint8Array, Blob, string), whose progress fetch does not report, it bounds the whole upload.
   * @default the client's timeoutMs
   */
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

const seg = encodeURIComponent;

/** Base64 of the UTF-8 bytes of `text` (RFC 7617's charset for Basic credentials); `btoa` alone takes Latin-1 only. */
function base64Utf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * An artifact path as URL segments. A '.' or '..' segment cannot travel in a URL (fetch resolves it,
 * encoded or not, and would send another request), so such a path is refused here with the error the
 * server gives for it; every other path is sent as is, for the server to validate.
 */
function artifactUrlPath(path: string): string {
  const dots = path.split('/').find((s) => s === '.' || s === '..');
  if (dots !== undefined) throw new SlipwayApiError('PATH_NOT_ALLOWED', 400, `Artifact path '${path}' is not allowed: it contains a '${dots}' segment.`, { path });
  return path.split('/').map(seg).join('/');
}

/** An abort that fires when nothing has moved for `ms`; `bump` records progress. */
class IdleTimer {
  readonly controller = new AbortController();
  fired = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort: () => void;

  constructor(
    private readonly ms: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.onAbort = () => this.controller.abort(signal?.reason);
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
    this.bump();
  }

  bump(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fired = true;
      this.controller.abort(new DOMException(`no progress within ${this.ms} ms`, 'TimeoutError'));
    }, this.ms);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** `source` re-emitted chunk by chunk, recording progress on `timer` and describing failures with `fail`. */
function watched(source: ReadableStream<Uint8Array>, timer: IdleTimer, fail: (err: unknown) => unknown, endsTransfer: boolean): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            if (endsTransfer) timer.stop();
            controller.close();
            return;
          }
          timer.bump();
          controller.enqueue(value);
        } catch (err) {
          if (endsTransfer) timer.stop();
          controller.error(fail(err));
        }
      },
      cancel(reason) {
        if (endsTransfer) timer.stop();
        return reader.cancel(reason);
      },
    },
    // Pull only when the consumer asks, so a stalled consumer or network shows as no progress.
    { highWaterMark: 0 },
  );
}

/** A typed client of the Slipway native API; every method throws SlipwayApiError on failure. */
export class SlipwayClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(opts: SlipwayClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch {
      throw new SlipwayApiError('INVALID_ARGUMENT', 0, `Invalid server URL '${opts.url}': expected e.g. http://127.0.0.1:5000.`);
    }
    this.base = url.href.replace(/\/+$/, '');
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new SlipwayApiError('INVALID_ARGUMENT', 0, 'No fetch implementation: pass one as options.fetch.');
    // Calling an unbound global fetch throws "Illegal invocation" in browsers.
    this.fetchImpl = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const authorization = opts.token ? `Bearer ${opts.token}` : opts.username && opts.password ? `Basic ${base64Utf8(`${opts.username}:${opts.password}`)}` : undefined;
    this.headers = { accept: 'application/json', ...(opts.headers ?? {}), ...(authorization ? { authorization } : {}) };
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** Sends one request to `/api/v1{path}` and returns the parsed JSON body (undefined for 204). */
  async request<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<T> {
    const url = new URL(`${this.base}/api/v1${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, item);
      else url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { ...this.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetchImpl(url.href, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      const why = timedOut ? `no answer within ${this.timeoutMs} ms` : (err as Error).message;
      throw new SlipwayApiError(timedOut ? 'DEADLINE_EXCEEDED' : 'UNAVAILABLE', 0, `Cannot reach Slipway at ${this.base}: ${why}`);
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the error message.
    }
    if (!res.ok) throw errorFromResponse(res.status, body, requestId);
    return body as T;
  }

  /**
   * Sends a transfer of raw bytes to `/api/v1{path}` and resolves with the response once its headers
   * arrive (the body unread), throwing SlipwayApiError for a failure status.
   */
  private async transfer(method: 'GET' | 'PUT', path: string, what: string, body: ArtifactBody | undefined, opts: TransferOptions): Promise<{ res: Response; timer: IdleTimer; fail: (err: unknown) => unknown }> {
    const url = `${this.base}/api/v1${path}`;
    const ms = opts.timeoutMs ?? this.timeoutMs;
    const timer = new IdleTimer(ms, opts.signal);
    const fail = (err: unknown): unknown => {
      if (timer.fired) return new SlipwayApiError('DEADLINE_EXCEEDED', 0, `Transfer of ${what} with ${this.base} stopped: no progress within ${ms} ms.`);
      if (opts.signal?.aborted) return opts.signal.reason;
      if (err instanceof SlipwayApiError) return err;
      // fetch reports a failed body stream or connection as "fetch failed" with the reason as its cause.
      const cause = (err as { cause?: { message?: unknown } } | undefined)?.cause?.message;
      const why = `${(err as Error)?.message ?? String(err)}${typeof cause === 'string' ? ` (${cause})` : ''}`;
      return new SlipwayApiError('UNAVAILABLE', 0, `Transfer of ${what} with ${this.base} failed: ${why}`);
    };
    const headers: Record<string, string> = { ...this.headers, accept: method === 'GET' ? 'application/octet-stream, application/json;q=0.9' : 'application/json' };
    const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: timer.controller.signal };
    if (body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      // fetch needs duplex 'half' to send a stream as the body (the answer comes after all of it).
      if (body instanceof ReadableStream) Object.assign(init, { body: watched(body, timer, (e) => e, false), duplex: 'half' });
      else init.body = body;
    }
    let res: Response;
    try {
      res = await this.fetchImpl(url, init);
    } catch (err) {
      timer.stop();
      throw fail(err);
    }
    if (res.ok) return { res, timer, fail };
    const requestId = res.headers.get('x-request-id') ?? undefined;
    let text = '';
    try {
      text = await res.text();
    } catch {
      // The error body could not be read: the status alone is reported.
    } finally {
      timer.stop();
    }
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (a proxy's error page, say): keep the text for the error message.
    }
    throw errorFromResponse(res.status, parsed, requestId);
  }

  private async download(path: string, what: string, opts: TransferOptions): Promise<ArtifactDownload> {
    const { res, timer, fail } = await this.transfer('GET', path, what, undefined, opts);
    const length = res.headers.get('content-length');
    const etag = res.headers.get('etag');
    const source = res.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return {
      body: watched(source, timer, fail, true),
      ...(length !== null && /^\d+$/.test(length) ? { size: Number(length) } : {}),
      contentType: res.headers.get('content-type') ?? 'application/octet-stream',
      ...(etag !== null ? { etag } : {}),
    };
  }

  private async upload<T>(path: string, what: string, body: ArtifactBody, opts: TransferOptions): Promise<T> {
    const { res, timer, fail } = await this.transfer('PUT', path, what, body, opts);
    try {
      timer.bump();
      return JSON.parse(await res.text()) as T;
    } catch (err) {
      throw fail(err);
    } finally {
      timer.stop();
    }
  }

  /** Experiments: a named group of runs. */
  readonly experiments = {
    /** Lists experiments (active by default), filtered and ordered as MLflow's search_experiments. */
    list: (query: ListExperimentsQuery = {}) => this.request<ExperimentPage>('GET', '/experiments', { query: query as Query }),
    /** Iterates over every experiment matching the query, fetching pages as needed. */
    listAll: (query: Omit<ListExperimentsQuery, 'pageToken'> = {}) => this.pages((pageToken) => this.experiments.list({ ...query, pageToken }), (p) => p.experiments),
    /** Creates an experiment. */
    create: (body: CreateExperimentBody) => this.request<Experiment>('POST', '/experiments', { body }),
    /** Gets an experiment by id. */
    get: (experimentId: string) => this.request<Experiment>('GET', `/experiments/${seg(experimentId)}`),
    /** Gets an experiment by name. */
    getByName: (name: string) => this.request<Experiment>('GET', `/experiments/by-name/${seg(name)}`),
    /** Renames an experiment and/or sets tags. */
    update: (experimentId: string, body: UpdateExperimentBody) => this.request<Experiment>('PATCH', `/experiments/${seg(experimentId)}`, { body }),
    /** Marks an experiment and its runs deleted. */
    delete: (experimentId: string) => this.request<void>('DELETE', `/experiments/${seg(experimentId)}`),
    /** Restores a deleted experiment. */
    restore: (experimentId: string) => this.request<Experiment>('POST', `/experiments/${seg(experimentId)}/restore`),
  };

  /** Runs: params, metrics and tags logged by one training or evaluation. */
  readonly runs = {
    /** Searches runs with MLflow's filter grammar, e.g. `metrics.auc > 0.9 and params.model = 'mlp'`. */
    search: (body: SearchRunsBody = {}) => this.request<RunPage>('POST', '/runs/search', { body }),
    /** Iterates over every run matching a search, fetching pages as needed. */
    searchAll: (body: Omit<SearchRunsBody, 'pageToken'> = {}) => this.pages((pageToken) => this.runs.search({ ...body, pageToken }), (p) => p.runs),
    /** Starts a run. */
    create: (body: CreateRunBody = {}) => this.request<Run>('POST', '/runs', { body }),
    /** Gets a run with its latest metrics, params and tags. */
    get: (runId: string) => this.request<Run>('GET', `/runs/${seg(runId)}`),
    /** Changes a run's status, end time or name. */
    update: (runId: string, body: UpdateRunBody) => this.request<Run>('PATCH', `/runs/${seg(runId)}`, { body }),
    /** Logs metrics, params and tags in one atomic call. */
    log: (runId: string, body: LogRunBody) => this.request<void>('POST', `/runs/${seg(runId)}/log`, { body }),
    /** Records the datasets a run used (name, a digest of at most 36 characters, source type and source), with input tags such as `mlflow.data.context`. */
    logInputs: (runId: string, body: LogInputsBody) => this.request<void>('POST', `/runs/${seg(runId)}/inputs`, { body }),
    /** Every point of one metric of a run. */
    metricHistory: (runId: string, key: string, query: { maxResults?: number; pageToken?: string } = {}) =>
      this.request<MetricHistory>('GET', `/runs/${seg(runId)}/metrics/${seg(key)}/history`, { query }),
    /** One metric of a run for a chart: at most `maxPoints` points (default 1000), min-max per x bucket, optionally within [from, to] on the x axis. */
    downsampledHistory: (runId: string, key: string, query: DownsampledHistoryQuery = {}) =>
      this.request<DownsampledMetricHistory>('GET', `/runs/${seg(runId)}/metrics/${seg(key)}/history/downsampled`, { query: query as Query }),
    /** One metric of up to 100 runs for a compare chart, each downsampled as `downsampledHistory` does. */
    downsampledHistories: (runIds: string[], key: string, query: DownsampledHistoryQuery = {}) =>
      this.request<DownsampledMetricHistories>('GET', '/runs/metrics/history/downsampled', { query: { ...query, runIds: runIds.join(','), key } as Query }),
    /** Marks a run deleted. */
    delete: (runId: string) => this.request<void>('DELETE', `/runs/${seg(runId)}`),
    /** Restores a deleted run. */
    restore: (runId: string) => this.request<Run>('POST', `/runs/${seg(runId)}/restore`),
  };

  /** Registered models, their versions, aliases and stages. */
  readonly models = {
    /** Lists registered models. */
    list: (query: ListModelsQuery = {}) => this.request<RegisteredModelPage>('GET', '/models', { query: query as Query }),
    /** Iterates over every registered model matching the query, fetching pages as needed. */
    listAll: (query: Omit<ListModelsQuery, 'pageToken'> = {}) => this.pages((pageToken) => this.models.list({ ...query, pageToken }), (p) => p.models),
    /** Registers a model name. */
    create: (body: CreateModelBody) => this.request<RegisteredModel>('POST', '/models', { body }),
    /** Gets a registered model with its aliases and latest versions. */
    get: (name: string) => this.request<RegisteredModel>('GET', `/models/${seg(name)}`),
    /** Deletes a registered model with all its versions, aliases and tags. */
    delete: (name: string) => this.request<void>('DELETE', `/models/${seg(name)}`),
    /** Lists a model's versions, newest first. */
    listVersions: (name: string, query: ListVersionsQuery = {}) => this.request<ModelVersionPage>('GET', `/models/${seg(name)}/versions`, { query: query as Query }),
    /** Registers a new version; its ONNX signature is read when the source holds an ONNX file. */
    createVersion: (name: string, body: CreateVersionBody) => this.request<ModelVersion>('POST', `/models/${seg(name)}/versions`, { body }),
    /** Gets a version with its signature. */
    getVersion: (name: string, version: string | number) => this.request<ModelVersion>('GET', `/models/${seg(name)}/versions/${seg(String(version))}`),
    /** Deletes a version (its aliases and tags with it); its number is never reused. */
    deleteVersion: (name: string, version: string | number) => this.request<void>('DELETE', `/models/${seg(name)}/versions/${seg(String(version))}`),
    /** Moves a version to a stage. */
    transitionStage: (name: string, version: string | number, body: TransitionStageBody) =>
      this.request<ModelVersion>('POST', `/models/${seg(name)}/versions/${seg(String(version))}/stage`, { body }),
    /** Gets the version an alias points at. */
    getByAlias: (name: string, alias: string) => this.request<ModelVersion>('GET', `/models/${seg(name)}/aliases/${seg(alias)}`),
    /** Points an alias at a version; returns that version. */
    setAlias: (name: string, alias: string, version: string | number) => this.request<ModelVersion>('PUT', `/models/${seg(name)}/aliases/${seg(alias)}`, { body: { version: String(version) } }),
    /** Removes an alias. */
    deleteAlias: (name: string, alias: string) => this.request<void>('DELETE', `/models/${seg(name)}/aliases/${seg(alias)}`),
  };

  /**
   * Artifact files, streamed both ways: a run's files (paths relative to its artifact root, e.g.
   * `model/model.onnx`) and store-level files, which is how a model file is uploaded before it is
   * registered with `models.createVersion(name, { source: stored.uri })`.
   */
  readonly artifacts = {
    /** Lists one folder of a run's artifacts (the root by default); entries' paths are relative to the run's artifact root. */
    list: (runId: string, path = ''): Promise<ArtifactListing> => this.request<ArtifactListing>('GET', `/runs/${seg(runId)}/artifacts`, { query: path === '' ? {} : { path } }),
    /** Downloads one of a run's files; the body is not read yet, so it can be streamed to disk. */
    download: async (runId: string, path: string, opts: TransferOptions = {}): Promise<ArtifactDownload> => this.download(`/runs/${seg(runId)}/artifacts/${artifactUrlPath(path)}`, `'${path}' of run ${runId}`, opts),
    /** Uploads one of a run's files (replacing any file at that path), streaming a ReadableStream body as it is read. */
    upload: async (runId: string, path: string, body: ArtifactBody, opts: TransferOptions = {}): Promise<StoredArtifact> =>
      this.upload<StoredArtifact>(`/runs/${seg(runId)}/artifacts/${artifactUrlPath(path)}`, `'${path}' of run ${runId}`, body, opts),
    /** Uploads a file to the artifact store, e.g. `models/<uuid>/model.onnx`; `uri` is the source to register it under. */
    put: async (path: string, body: ArtifactBody, opts: TransferOptions = {}): Promise<StoredStoreArtifact> => this.upload<StoredStoreArtifact>(`/artifacts/${artifactUrlPath(path)}`, `'${path}'`, body, opts),
    /** Downloads a file of the artifact store by its path. */
    get: async (path: string, opts: TransferOptions = {}): Promise<ArtifactDownload> => this.download(`/artifacts/${artifactUrlPath(path)}`, `'${path}'`, opts),
  };

  /** Live monitoring of served models. */
  readonly monitoring = {
    /**
     * Records late labels for served predictions, by the request id each was served under (its
     * x-request-id), at most 10,000 per call; labels for request ids with no stored prediction are
     * listed in `unknown`, not stored. Sending labels for a request again replaces them.
     */
    sendGroundTruth: (model: string, labels: GroundTruthLabel[]) =>
      this.request<GroundTruthResult>('POST', `/monitoring/models/${seg(model)}/ground-truth`, { body: { labels } }),
  };

  /**
   * Releases: gated promotion of a model version into an environment (an alias), with canary,
   * shadow and blue-green rollouts and automatic rollback; and the release policies stored per
   * model and environment.
   */
  readonly releases = {
    /** Starts a release; CONFLICT (409) when the model already has an active release. */
    create: (body: CreateReleaseBody) => this.request<Release>('POST', '/releases', { body }),
    /** Lists releases, newest first (`state: 'active'` for unfinished ones). */
    list: (query: ListReleasesQuery = {}) => this.request<ReleasePage>('GET', '/releases', { query: query as Query }),
    /** Iterates over every matching release, fetching pages as needed. */
    listAll: (query: Omit<ListReleasesQuery, 'pageToken'> = {}) => this.pages((pageToken) => this.releases.list({ ...query, pageToken }), (p) => p.releases),
    /** Gets a release with its gate evidence and history. */
    get: (id: string) => this.request<Release>('GET', `/releases/${seg(id)}`),
    /** Approves a release awaiting approval; the approver must not be its requester. */
    approve: (id: string, body: ApproveReleaseBody = {}) => this.request<Release>('POST', `/releases/${seg(id)}/approve`, { body }),
    /** Aborts an unfinished release; live traffic goes back to the champion. */
    abort: (id: string, body: AbortReleaseBody = {}) => this.request<Release>('POST', `/releases/${seg(id)}/abort`, { body }),
    /** Moves an environment back to an earlier version (default: the one its last promotion replaced). */
    rollback: (model: string, body: RollbackBody = {}) => this.request<RollbackResult>('POST', `/models/${seg(model)}/rollback`, { body }),
    /**
     * Polls a release until it finishes or waits for approval, and returns it. `onChange` hears each
     * new state or reason; past `timeoutMs` the promise rejects with DEADLINE_EXCEEDED (the release goes on).
     */
    wait: (id: string, opts: { intervalMs?: number; timeoutMs?: number; onChange?: (release: Release) => void } = {}) => this.waitForRelease(id, opts),
    /** The release policy stored for a model and environment. */
    getPolicy: (model: string, environment: string) => this.request<ReleasePolicyRecord>('GET', `/models/${seg(model)}/release-policies/${seg(environment)}`),
    /** Stores the release policy of a model and environment. */
    putPolicy: (model: string, environment: string, policy: ReleasePolicyInput) => this.request<ReleasePolicyRecord>('PUT', `/models/${seg(model)}/release-policies/${seg(environment)}`, { body: { policy } }),
    /** Removes a stored release policy. */
    deletePolicy: (model: string, environment: string) => this.request<void>('DELETE', `/models/${seg(model)}/release-policies/${seg(environment)}`),
    /** The traffic split a release wants for a model (what `slipway serve --server` processes poll). */
    traffic: (model: string) => this.request<TrafficState>('GET', `/traffic/${seg(model)}`),
    /** A serving process of `model` says it is alive, what it serves and which state it applied; answers with the current state. */
    trafficHeartbeat: (model: string, body: TrafficHeartbeatBody) => this.request<TrafficState>('POST', `/traffic/${seg(model)}/agents`, { body }),
    /** Adds a serving process's figures of the running split to the next analysis; CONFLICT (409) when that split is not running. */
    postTrafficStats: (model: string, body: TrafficStatsBody) => this.request<void>('POST', `/traffic/${seg(model)}/stats`, { body }),
    /** Lists stored release policies, of one model or all. */
    listPolicies: async (model?: string) => (await this.request<ReleasePolicyList>('GET', '/release-policies', { query: model === undefined ? {} : { model } })).policies,
  };

  /** The tamper-evident audit trail. */
  readonly audit = {
    /** Lists audit events, oldest first; pass `after: page.nextAfter` for the next page. */
    events: (query: AuditEventsQuery = {}) => this.request<AuditEventPage>('GET', '/audit/events', { query: query as Query }),
    /** Iterates over every matching audit event from `after` on, fetching pages as needed. */
    eventsAll: (query: AuditEventsQuery = {}) => this.auditEvents(query),
    /** The chain's head (last event's seq and hash); NOT_FOUND when the trail is empty. Keep `${seq}:${hash}` outside Slipway. */
    head: () => this.request<AuditHead>('GET', '/audit/head'),
    /**
     * Recomputes the hash chain on the server and reports every problem; each `expectHead`
     * (`SEQ:HASH`, as `head()` gave it earlier) is checked like a checkpoint.
     */
    verify: (query: AuditVerifyQuery = {}) => this.request<AuditVerification>('GET', '/audit/verify', { query: query as Query }),
  };

  /** Users of a server with access control (admins manage everyone; a user reads themselves and changes their own password). */
  readonly users = {
    /** Creates a user (admins only). */
    create: (body: CreateUserBody) => this.request<User>('POST', '/users', { body }),
    /** Every user (admins only). */
    list: async () => (await this.request<UserList>('GET', '/users')).users,
    /** One user: yourself, or anyone for admins. */
    get: (username: string) => this.request<User>('GET', `/users/${seg(username)}`),
    /** Changes a password, the admin flag or rights. */
    update: (username: string, body: UpdateUserBody) => this.request<User>('PATCH', `/users/${seg(username)}`, { body }),
    /** Deletes a user with their tokens and permissions (admins only). */
    delete: (username: string) => this.request<void>('DELETE', `/users/${seg(username)}`),
  };

  /** API tokens: `create` answers with the secret, the only time it is shown. */
  readonly tokens = {
    /** Creates a token for yourself (admins: for `username`). */
    create: (body: CreateTokenBody) => this.request<CreatedToken>('POST', '/tokens', { body }),
    /** Your tokens, newest first (admins: another user's, or `all: 'true'`). */
    list: async (query: TokenListQuery = {}) => (await this.request<TokenList>('GET', '/tokens', { query: query as Query })).tokens,
    /** Revokes a token; it stops working at once. */
    revoke: (id: string) => this.request<ApiToken>('DELETE', `/tokens/${seg(id)}`),
  };

  /** Per-experiment and per-model permissions (MLflow's READ, EDIT, MANAGE, NO_PERMISSIONS). */
  readonly permissions = {
    /** Stored permissions by user and/or object, with the server's default permission. */
    list: (query: PermissionQuery = {}) => this.request<PermissionList>('GET', '/permissions', { query: query as Query }),
    /** Sets a user's permission on one experiment (`experimentId`) or model (`model`). */
    set: (body: SetPermissionBody) => this.request<PermissionGrant>('PUT', '/permissions', { body }),
    /** Deletes a user's permission on one object; they fall back to the default. */
    delete: (query: DeletePermissionQuery) => this.request<void>('DELETE', '/permissions', { query: query as Query }),
  };

  /**
   * Registered dataset versions: content digests (a file's sha256, or a folder manifest's) named
   * `NAME@VERSION`, with size, origin, and for tables schema and profile. `version` is a number or `'latest'`.
   */
  readonly datasets = {
    /** Lists registered datasets by name, each with its newest version. */
    list: (query: ListDatasetsQuery = {}) => this.request<DatasetPage>('GET', '/datasets', { query: query as Query }),
    /** Iterates over every registered dataset, fetching pages as needed. */
    listAll: (query: Omit<ListDatasetsQuery, 'pageToken'> = {}) => this.pages((pageToken) => this.datasets.list({ ...query, pageToken }), (p) => p.datasets),
    /**
     * Registers content as the next version of `name`; content the name already holds answers its
     * existing version (`created: false`) instead of a new one.
     */
    register: (name: string, body: RegisterDatasetBody) => this.request<DatasetRegistration>('POST', `/datasets/${seg(name)}/versions`, { body }),
    /** Lists a dataset's versions, newest first. */
    listVersions: (name: string, query: ListDatasetsQuery = {}) => this.request<DatasetVersionPage>('GET', `/datasets/${seg(name)}/versions`, { query: query as Query }),
    /** Gets a version (a number or `'latest'`) with its schema and profile. */
    get: (name: string, version: number | 'latest' = 'latest') => this.request<DatasetVersionDetail>('GET', `/datasets/${seg(name)}/versions/${seg(String(version))}`),
    /** Deletes a version; CONFLICT (409) when runs used it as an input, unless `force`. */
    delete: (name: string, version: number | 'latest', opts: { force?: boolean } = {}) =>
      this.request<void>('DELETE', `/datasets/${seg(name)}/versions/${seg(String(version))}`, { query: opts.force ? { force: 'true' } : {} }),
    /** The runs that used a version as an input and the model versions registered from them. */
    lineage: (name: string, version: number | 'latest') => this.request<DatasetLineage>('GET', `/datasets/${seg(name)}/versions/${seg(String(version))}/lineage`),
    /**
     * Logs a version as an input of a run, as MLflow's log_input does (`context`: training, evaluation…),
     * so `mlflow.get_run(id).inputs` and the version's lineage show it.
     */
    logInput: (runId: string, name: string, version: number | 'latest', context?: string) =>
      this.request<DatasetRunInput>('POST', `/datasets/${seg(name)}/versions/${seg(String(version))}/inputs`, { body: { runId, ...(context !== undefined ? { context } : {}) } }),
  };

  /** Governance: where a model version came from and its model card. */
  readonly governance = {
    /** The run, parameters, code revision, datasets, environment, artifact digest, releases and serving aliases of a version. */
    lineage: (name: string, version: string | number) => this.request<Lineage>('GET', `/models/${seg(name)}/versions/${seg(String(version))}/lineage`),
    /** The model card of a version as JSON. */
    card: (name: string, version: string | number) => this.request<ModelCard>('GET', `/models/${seg(name)}/versions/${seg(String(version))}/card`),
    /** The model card of a version as a document: Markdown or one self-contained HTML page. */
    cardDocument: async (name: string, version: string | number, format: 'md' | 'html'): Promise<string> => {
      const body = await this.request<unknown>('GET', `/models/${seg(name)}/versions/${seg(String(version))}/card`, { query: { format } });
      // request() parses JSON when it can; a card document is never JSON, but keep the text either way.
      return typeof body === 'string' ? body : JSON.stringify(body);
    },
  };

  /** The server's health. */
  health(): Promise<Health> {
    return this.request<Health>('GET', '/health');
  }

  /** The OpenAPI 3.1 document of the native API. */
  openApi(): Promise<Record<string, unknown>> {
    return this.request<Record<string, unknown>>('GET', '/openapi.json');
  }

  private async waitForRelease(id: string, opts: { intervalMs?: number; timeoutMs?: number; onChange?: (release: Release) => void }): Promise<Release> {
    const interval = opts.intervalMs ?? 1000;
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    let seen = '';
    for (;;) {
      const release = await this.releases.get(id);
      const key = `${release.state}\u0000${release.reason}`;
      if (key !== seen) {
        seen = key;
        opts.onChange?.(release);
      }
      if (['promoted', 'rejected', 'rolled_back', 'aborted', 'awaiting_approval'].includes(release.state)) return release;
      if (Date.now() + interval > deadline) {
        throw new SlipwayApiError('DEADLINE_EXCEEDED', 504, `Release ${id} is still ${release.state} after ${opts.timeoutMs} ms; it goes on on the server.`, { id, state: release.state });
      }
      await new Promise((resolve) => setTimeout(resolve, interval));
    }
  }

  private async *auditEvents(query: AuditEventsQuery): AsyncGenerator<AuditEvent> {
    let after = query.after;
    for (;;) {
      const page = await this.audit.events({ ...query, after });
      yield* page.events;
      if (page.nextAfter === undefined) return;
      after = page.nextAfter;
    }
  }

  private async *pages<P extends { nextPageToken?: string }, T>(fetchPage: (token: string | undefined) => Promise<P>, items: (page: P) => T[]): AsyncGenerator<T> {
    let token: string | undefined;
    do {
      const page = await fetchPage(token);
      yield* items(page);
      token = page.nextPageToken;
    } while (token);
  }
}
