/**
 * Records a load test as a tracking run on a Slipway (MLflow-compatible) server:
 * params = load profile, metrics = percentiles, throughput and error rate,
 * artifacts = the JSON result and the HTML report, tags = the model version.
 */
import type { LoadTestResult } from './load-test-result.js';
import { MlflowRestClient } from './mlflow-rest-client.js';
import type { ServerAccess } from './server-access.js';

/** Experiment that holds recorded load tests unless another is named. */
export const LOADTEST_EXPERIMENT = 'slipway-loadtests';

/** Tags that link a recorded load test to its model version. */
export const TAG_KEYS = { kind: 'slipway.loadtest', model: 'slipway.model.name', version: 'slipway.model.version', alias: 'slipway.model.alias', passed: 'slipway.loadtest.passed' } as const;

/** Metric keys of a recorded load test. */
export const METRIC_KEYS = { p99: 'latency_p99_ms', throughput: 'throughput_achieved' } as const;

/** Where a recording went. */
export interface RecordedRun {
  server: string;
  experimentId: string;
  runId: string;
}

/** Params logged for a result. */
export function resultParams(r: LoadTestResult): Record<string, string> {
  const s = r.settings;
  const p: Record<string, string> = {
    target: r.target.url,
    protocol: r.target.protocol,
    mode: s.mode,
    duration_ms: String(s.durationMs),
    warmup_ms: String(s.warmupMs),
    workers: String(s.workers),
    connections: String(s.connections),
    timeout_ms: String(s.timeoutMs),
    rows_per_request: String(s.rowsPerRequest),
    sampling: s.sampling,
  };
  if (s.mode === 'closed') p.clients = String(s.clients);
  else p.profile = s.profile.map((seg) => `${seg.from}->${seg.to}/s:${seg.durationMs}ms`).join(',').slice(0, 500);
  if (s.data) p.data = s.data.slice(0, 500);
  return p;
}

/** Metrics logged for a result. */
export function resultMetrics(r: LoadTestResult): Record<string, number> {
  const l = r.latencyMs;
  return {
    latency_p50_ms: l.p50,
    latency_p90_ms: l.p90,
    latency_p95_ms: l.p95,
    [METRIC_KEYS.p99]: l.p99,
    'latency_p99.9_ms': l['p99.9'],
    latency_max_ms: l.max,
    latency_mean_ms: l.mean,
    [METRIC_KEYS.throughput]: r.throughput.achieved,
    ...(r.throughput.offered !== null ? { throughput_offered: r.throughput.offered } : {}),
    error_rate: r.errorRate,
    requests_sent: r.requests.sent,
    requests_dropped: r.requests.dropped,
    late_sends: r.generator.late,
  };
}

/** Records `result` (and its HTML report) as a run, sending `access`'s credentials to the server; returns where it went. */
export async function recordLoadTest(server: string, result: LoadTestResult, html: string, experiment = LOADTEST_EXPERIMENT, access: ServerAccess = {}): Promise<RecordedRun> {
  const client = new MlflowRestClient(server, access);
  const experimentId = (await client.experimentId(experiment, true)) as string;
  const model = result.target.model;
  const tags: Record<string, string> = { [TAG_KEYS.kind]: 'true', [TAG_KEYS.passed]: String(result.passed) };
  if (model) {
    tags[TAG_KEYS.model] = model.name;
    if (model.version !== undefined) tags[TAG_KEYS.version] = model.version;
    if (model.alias !== undefined) tags[TAG_KEYS.alias] = model.alias;
  }
  const started = Date.parse(result.startedAt);
  const name = `loadtest-${model ? `${model.name}${model.version ? `-v${model.version}` : ''}` : 'url'}-${result.startedAt.replace(/[:.]/g, '-')}`;
  const run = await client.createRun(experimentId, name, started, tags);
  const runId = run.info.run_id;
  try {
    await client.logBatch(runId, resultParams(result), resultMetrics(result), Date.parse(result.finishedAt));
    await client.putArtifact(run, 'loadtest.json', JSON.stringify(result, null, 2), 'application/json');
    await client.putArtifact(run, 'loadtest-report.html', html, 'text/html');
    await client.finishRun(runId, 'FINISHED', Date.parse(result.finishedAt));
  } catch (err) {
    await client.finishRun(runId, 'FAILED', Date.now()).catch(() => undefined);
    throw err;
  }
  return { server, experimentId, runId };
}

/** A recorded load test as listed from the tracking server. */
export interface RecordedLoadTest {
  runId: string;
  experimentId: string;
  startTime: number | null;
  model: { name: string; version?: string; alias?: string } | null;
  passed: boolean | null;
  metrics: Record<string, number>;
}

/** Lists recorded load tests, newest first, optionally of one model (and version), sending `access`'s credentials to the server. */
export async function listRecordedLoadTests(server: string, query: { model?: string; version?: string; experiment?: string; maxResults?: number } = {}, access: ServerAccess = {}): Promise<RecordedLoadTest[]> {
  const client = new MlflowRestClient(server, access);
  const experimentId = await client.experimentId(query.experiment ?? LOADTEST_EXPERIMENT, false);
  if (experimentId === undefined) return [];
  const quote = (v: string): string => `'${v.replaceAll("'", "\\'")}'`;
  const clauses = [`tags.\`${TAG_KEYS.kind}\` = 'true'`];
  if (query.model !== undefined) clauses.push(`tags.\`${TAG_KEYS.model}\` = ${quote(query.model)}`);
  if (query.version !== undefined) clauses.push(`tags.\`${TAG_KEYS.version}\` = ${quote(query.version)}`);
  const runs = await client.searchRuns(experimentId, clauses.join(' and '), query.maxResults ?? 100);
  return runs.map((run) => {
    const tags = Object.fromEntries((run.data?.tags ?? []).map((t) => [t.key, t.value]));
    const name = tags[TAG_KEYS.model];
    return {
      runId: run.info.run_id,
      experimentId: run.info.experiment_id,
      startTime: run.info.start_time ?? null,
      model: name === undefined ? null : { name, ...(tags[TAG_KEYS.version] !== undefined ? { version: tags[TAG_KEYS.version] } : {}), ...(tags[TAG_KEYS.alias] !== undefined ? { alias: tags[TAG_KEYS.alias] } : {}) },
      passed: tags[TAG_KEYS.passed] === undefined ? null : tags[TAG_KEYS.passed] === 'true',
      metrics: Object.fromEntries((run.data?.metrics ?? []).map((m) => [m.key, m.value])),
    };
  });
}
