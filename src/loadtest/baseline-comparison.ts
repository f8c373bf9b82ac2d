/**
 * Compares a load test with a baseline (a previous result file, or the latest
 * recorded load test of a model version) and flags p99 or throughput regressions.
 */
import { readFile } from 'node:fs/promises';
import { SlipwayError } from '../core/errors.js';
import { parseModelUri } from '../core/model-source.js';
import type { LoadTestResult } from './load-test-result.js';
import { MlflowRestClient } from './mlflow-rest-client.js';
import { authorizationHeader, refusedByServer, type ServerAccess } from './server-access.js';
import { LOADTEST_EXPERIMENT, METRIC_KEYS, TAG_KEYS } from './run-recorder.js';

/** The figures a comparison needs from a baseline. */
export interface BaselineFigures {
  source: string;
  p99Ms: number;
  throughput: number;
  startedAt?: string;
}

/** Allowed regression as fractions: p99 may grow by `p99`, throughput may fall by `throughput`. */
export interface BaselineTolerance {
  p99: number;
  throughput: number;
}

/** The outcome of comparing with a baseline. */
export interface BaselineComparison {
  baseline: BaselineFigures;
  current: { p99Ms: number; throughput: number };
  tolerance: BaselineTolerance;
  /** Relative changes: +0.2 = 20 % higher than the baseline. */
  change: { p99: number; throughput: number };
  regressions: string[];
  passed: boolean;
}

/** Default tolerance: 10 % on both. */
export const DEFAULT_BASELINE_TOLERANCE: BaselineTolerance = { p99: 0.1, throughput: 0.1 };

/** Reads baseline figures from a result JSON file. */
export async function baselineFromFile(path: string): Promise<BaselineFigures> {
  let doc: Partial<LoadTestResult>;
  try {
    doc = JSON.parse(await readFile(path, 'utf8')) as Partial<LoadTestResult>;
  } catch (err) {
    const why = (err as { code?: string }).code === 'ENOENT' ? 'no such file' : 'not valid JSON';
    throw new SlipwayError('DATA_ERROR', `Baseline ${path}: ${why}.`, { path });
  }
  if (doc.kind !== 'slipway.loadtest' || typeof doc.latencyMs?.p99 !== 'number' || typeof doc.throughput?.achieved !== 'number') {
    throw new SlipwayError('DATA_ERROR', `Baseline ${path} is not a Slipway load-test result (expected kind 'slipway.loadtest' with latencyMs.p99 and throughput.achieved).`, { path });
  }
  return { source: path, p99Ms: doc.latencyMs.p99, throughput: doc.throughput.achieved, ...(doc.startedAt ? { startedAt: doc.startedAt } : {}) };
}

/** Finds the latest recorded load test of the version a `models:/` reference points at, sending `access`'s credentials on every call to the server. */
export async function baselineFromServer(uri: string, server: string, experiment = LOADTEST_EXPERIMENT, access: ServerAccess = {}): Promise<BaselineFigures> {
  const ref = parseModelUri(uri);
  if (!ref) throw new SlipwayError('INVALID_ARGUMENT', `Baseline '${uri}' is neither a result file nor a models:/NAME@ALIAS reference.`);
  const client = new MlflowRestClient(server, access);
  let version = ref.version;
  if (version === undefined) {
    const url = new URL('/api/2.0/mlflow/registered-models/alias', server);
    url.searchParams.set('name', ref.name);
    url.searchParams.set('alias', ref.alias as string);
    const { request } = await import('undici');
    const res = await request(url, { headers: authorizationHeader(access) }).catch((err: Error) => {
      throw new SlipwayError('UNAVAILABLE', `Cannot reach ${url.origin}: ${err.message}`);
    });
    const body = (await res.body.json().catch(() => ({}))) as { model_version?: { version?: unknown } };
    const refused = refusedByServer(res.statusCode, url.origin, `resolving baseline ${uri}`, access);
    if (refused) throw refused;
    if (res.statusCode !== 200 || body.model_version?.version === undefined) throw new SlipwayError('NOT_FOUND', `Baseline model alias ${uri} does not exist on ${url.origin}.`);
    version = String(body.model_version.version);
  }
  const experimentId = await client.experimentId(experiment, false);
  const notFound = new SlipwayError('NOT_FOUND', `No recorded load test of model '${ref.name}' version ${version} to compare with; record one with --record first.`);
  if (experimentId === undefined) throw notFound;
  const filter = `tags.\`${TAG_KEYS.model}\` = '${ref.name.replaceAll("'", "\\'")}' and tags.\`${TAG_KEYS.version}\` = '${version}'`;
  const runs = await client.searchRuns(experimentId, filter, 1);
  const run = runs[0];
  if (!run) throw notFound;
  const metric = (k: string): number | undefined => run.data?.metrics?.find((m) => m.key === k)?.value;
  const p99 = metric(METRIC_KEYS.p99);
  const throughput = metric(METRIC_KEYS.throughput);
  if (p99 === undefined || throughput === undefined) throw new SlipwayError('DATA_ERROR', `Run ${run.info.run_id} lacks the ${METRIC_KEYS.p99} / ${METRIC_KEYS.throughput} metrics of a recorded load test.`);
  return { source: `${uri} (version ${version}, run ${run.info.run_id})`, p99Ms: p99, throughput, ...(run.info.start_time ? { startedAt: new Date(run.info.start_time).toISOString() } : {}) };
}

/** Compares current figures with a baseline. */
export function compareWithBaseline(baseline: BaselineFigures, current: { p99Ms: number; throughput: number }, tolerance: BaselineTolerance = DEFAULT_BASELINE_TOLERANCE): BaselineComparison {
  const rel = (now: number, then: number): number => (then === 0 ? (now === 0 ? 0 : Number.POSITIVE_INFINITY) : (now - then) / then);
  const change = { p99: rel(current.p99Ms, baseline.p99Ms), throughput: rel(current.throughput, baseline.throughput) };
  const regressions: string[] = [];
  if (!(current.p99Ms <= baseline.p99Ms * (1 + tolerance.p99))) {
    regressions.push(`p99 ${current.p99Ms.toFixed(2)} ms is ${(change.p99 * 100).toFixed(1)}% above the baseline's ${baseline.p99Ms.toFixed(2)} ms (tolerance ${(tolerance.p99 * 100).toFixed(0)}%)`);
  }
  if (!(current.throughput >= baseline.throughput * (1 - tolerance.throughput))) {
    regressions.push(`throughput ${current.throughput.toFixed(1)}/s is ${(-change.throughput * 100).toFixed(1)}% below the baseline's ${baseline.throughput.toFixed(1)}/s (tolerance ${(tolerance.throughput * 100).toFixed(0)}%)`);
  }
  return { baseline, current, tolerance, change, regressions, passed: regressions.length === 0 };
}
