/**
 * The slice of the MLflow REST API a load test needs to record and find runs,
 * spoken over HTTP with undici so recording works against any Slipway (or MLflow)
 * tracking server without in-process coupling.
 */
import { request } from 'undici';
import { SlipwayError } from '../core/errors.js';
import { authorizationHeader, refusedByServer, type ServerAccess } from './server-access.js';

/** A run as the MLflow API returns it (the fields used here). */
export interface MlflowRun {
  info: { run_id: string; experiment_id: string; artifact_uri?: string; start_time?: number };
  data?: { metrics?: Array<{ key: string; value: number }>; tags?: Array<{ key: string; value: string }>; params?: Array<{ key: string; value: string }> };
}

/** How the client reaches its server: its credentials (sent on every request, in no message) and a timeout. */
export interface MlflowRestClientOptions extends ServerAccess {
  /** Per-request timeout, ms. @default 10000 */
  timeoutMs?: number;
}

/** Minimal MLflow REST client bound to one server. */
export class MlflowRestClient {
  private readonly timeoutMs: number;
  private readonly authorization: Record<string, string>;

  constructor(
    private readonly server: string,
    private readonly options: MlflowRestClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.authorization = authorizationHeader(options);
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const url = new URL(path, this.server);
    let res;
    try {
      res = await request(url, {
        method,
        headers: body === undefined ? { ...this.authorization } : { ...this.authorization, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
    } catch (err) {
      throw new SlipwayError('UNAVAILABLE', `Cannot reach the tracking server at ${url.origin}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    let json: Record<string, unknown>;
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { message: text };
    }
    return { status: res.statusCode, json };
  }

  private async ok(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Record<string, unknown>> {
    const { status, json } = await this.call(method, path, body);
    const refused = refusedByServer(status, new URL(this.server).origin, `${method} ${path.split('?')[0]}`, this.options);
    if (refused) throw refused;
    if (status >= 400) {
      const message = typeof json.message === 'string' ? json.message : JSON.stringify(json);
      throw new SlipwayError(status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE', `Tracking server ${method} ${path} answered ${status}: ${message}`);
    }
    return json;
  }

  /** Id of the named experiment, creating it when absent (and `create` is set). */
  async experimentId(name: string, create: boolean): Promise<string | undefined> {
    const { status, json } = await this.call('GET', `/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(name)}`);
    if (status === 200) return String((json.experiment as { experiment_id: unknown }).experiment_id);
    const refused = refusedByServer(status, new URL(this.server).origin, `looking up experiment '${name}'`, this.options);
    if (refused) throw refused;
    if (status !== 404 && status !== 400) throw new SlipwayError('UNAVAILABLE', `Tracking server answered ${status} looking up experiment '${name}'.`);
    if (!create) return undefined;
    const created = await this.ok('POST', '/api/2.0/mlflow/experiments/create', { name });
    return String(created.experiment_id);
  }

  /** Creates a run. */
  async createRun(experimentId: string, runName: string, startTime: number, tags: Record<string, string>): Promise<MlflowRun> {
    const json = await this.ok('POST', '/api/2.0/mlflow/runs/create', {
      experiment_id: experimentId,
      run_name: runName,
      start_time: startTime,
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    });
    return json.run as MlflowRun;
  }

  /** Logs params, metrics and tags in one batch. */
  async logBatch(runId: string, params: Record<string, string>, metrics: Record<string, number>, timestamp: number): Promise<void> {
    await this.ok('POST', '/api/2.0/mlflow/runs/log-batch', {
      run_id: runId,
      params: Object.entries(params).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(metrics)
        .filter(([, v]) => Number.isFinite(v))
        .map(([key, value]) => ({ key, value, timestamp, step: 0 })),
      tags: [],
    });
  }

  /** Uploads one artifact file of a run through the artifact proxy. */
  async putArtifact(run: MlflowRun, name: string, body: string, contentType: string): Promise<void> {
    const uri = run.info.artifact_uri ?? '';
    const rest = uri.startsWith('mlflow-artifacts:') ? uri.replace(/^mlflow-artifacts:\/*/, '') : `${run.info.experiment_id}/${run.info.run_id}/artifacts`;
    const path = `/api/2.0/mlflow-artifacts/artifacts/${rest.split('/').map(encodeURIComponent).join('/')}/${encodeURIComponent(name)}`;
    const url = new URL(path, this.server);
    let res;
    try {
      res = await request(url, { method: 'PUT', headers: { ...this.authorization, 'content-type': contentType }, body, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    } catch (err) {
      throw new SlipwayError('UNAVAILABLE', `Cannot upload ${name} to ${url.origin}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    const refused = refusedByServer(res.statusCode, url.origin, `uploading artifact ${name}`, this.options);
    if (refused) throw refused;
    if (res.statusCode >= 400) throw new SlipwayError('UNAVAILABLE', `Uploading artifact ${name} answered ${res.statusCode}: ${text.slice(0, 200)}`);
  }

  /** Marks a run finished. */
  async finishRun(runId: string, status: 'FINISHED' | 'FAILED', endTime: number): Promise<void> {
    await this.ok('POST', '/api/2.0/mlflow/runs/update', { run_id: runId, status, end_time: endTime });
  }

  /** Runs of an experiment matching an MLflow filter, newest first. */
  async searchRuns(experimentId: string, filter: string, maxResults: number): Promise<MlflowRun[]> {
    const json = await this.ok('POST', '/api/2.0/mlflow/runs/search', {
      experiment_ids: [experimentId],
      filter,
      max_results: maxResults,
      order_by: ['attributes.start_time DESC'],
    });
    return (json.runs as MlflowRun[] | undefined) ?? [];
  }
}
