/**
 * The load-test pages' requests: the recorded load tests (tracking runs tagged
 * `slipway.loadtest`), a recorded run's result document and its HTML report.
 */
import type { LoadTestResult, RecordedLoadTestList } from '../../../src/client/schemas/loadtests.js';
import type { Run } from '../../../src/client/schemas/runs.js';
import { ApiError, api, getJson, getText } from './http';

/** The recorded load tests, newest first, optionally of one model. */
export function fetchLoadTests(model: string | undefined, signal?: AbortSignal): Promise<RecordedLoadTestList> {
  return getJson<RecordedLoadTestList>(api('loadtests'), { model: model || undefined, max_results: 1000 }, signal);
}

/** A recorded load test: its run and the result document it carries. */
export interface LoadTestReport {
  run: Run;
  result: LoadTestResult;
}

/** Why a run cannot be shown as a load test (not a server failure). */
export class NotALoadTest extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotALoadTest';
  }
}

/** Reads the run and its `loadtest.json`; a run without one (or with another document in it) is a NotALoadTest. */
export async function fetchLoadTestReport(runId: string): Promise<LoadTestReport> {
  const run = await getJson<Run>(api('runs', runId));
  let text: string;
  try {
    ({ text } = await getText(api('runs', runId, 'artifacts', 'loadtest.json'), 64 * 1024 * 1024));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      throw new NotALoadTest(`Run ${run.info.runName || runId} is not a recorded load test: it has no loadtest.json artifact. Load tests recorded with slipway loadtest --record (or POST /api/v1/loadtests with record: true) carry one.`);
    }
    throw err;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new NotALoadTest(`The loadtest.json artifact of run ${run.info.runName || runId} is not valid JSON.`);
  }
  const d = doc as Partial<LoadTestResult> | null;
  if (d === null || typeof d !== 'object' || d.kind !== 'slipway.loadtest' || typeof d.latencyMs !== 'object' || !Array.isArray(d.timeSeries)) {
    throw new NotALoadTest(`The loadtest.json artifact of run ${run.info.runName || runId} is not a Slipway load-test result (kind "slipway.loadtest").`);
  }
  return { run, result: d as LoadTestResult };
}

/** The recorded HTML report of a load test, or null when the run has none. */
export async function fetchLoadTestHtml(runId: string): Promise<string | null> {
  try {
    return (await getText(api('runs', runId, 'artifacts', 'loadtest-report.html'), 16 * 1024 * 1024)).text;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

/** A run tag's value. */
export function tagOf(run: Run, key: string): string | undefined {
  return run.data.tags.find((t) => t.key === key)?.value;
}
