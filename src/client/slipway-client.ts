/**
 * The typed SDK over the native API (/api/v1). It uses only `fetch`, `URL` and
 * `AbortSignal`, so it runs in Node 20+, browsers, Deno and Bun alike.
 */
import type { AuditEvent, AuditEventPage, AuditEventsQuery, AuditVerification } from './schemas/audit.js';
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
import type { CreateRunBody, LogRunBody, MetricHistory, Run, RunPage, SearchRunsBody, UpdateRunBody } from './schemas/runs.js';
import { SlipwayApiError, errorFromResponse } from './api-error.js';

/** How to reach a Slipway server. */
export interface SlipwayClientOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:5000`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** A fetch implementation. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Abort a request that takes longer than this many milliseconds. @default 30000 */
  timeoutMs?: number;
}

type Query = Record<string, string | number | boolean | string[] | undefined>;

const seg = encodeURIComponent;

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
    this.headers = { accept: 'application/json', ...(opts.headers ?? {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) };
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
    /** Every point of one metric of a run. */
    metricHistory: (runId: string, key: string, query: { maxResults?: number; pageToken?: string } = {}) =>
      this.request<MetricHistory>('GET', `/runs/${seg(runId)}/metrics/${seg(key)}/history`, { query }),
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

  /** The tamper-evident audit trail. */
  readonly audit = {
    /** Lists audit events, oldest first; pass `after: page.nextAfter` for the next page. */
    events: (query: AuditEventsQuery = {}) => this.request<AuditEventPage>('GET', '/audit/events', { query: query as Query }),
    /** Iterates over every matching audit event from `after` on, fetching pages as needed. */
    eventsAll: (query: AuditEventsQuery = {}) => this.auditEvents(query),
    /** Recomputes the hash chain on the server and reports every problem. */
    verify: () => this.request<AuditVerification>('GET', '/audit/verify'),
  };

  /** The server's health. */
  health(): Promise<Health> {
    return this.request<Health>('GET', '/health');
  }

  /** The OpenAPI 3.1 document of the native API. */
  openApi(): Promise<Record<string, unknown>> {
    return this.request<Record<string, unknown>>('GET', '/openapi.json');
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
