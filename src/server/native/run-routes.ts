/** Runs under /api/v1/runs: search, create, get, update, log, metric history (full or downsampled), delete, restore. */
import {
  CreateRunBody,
  DownsampledHistoriesQuery,
  DownsampledHistoryQuery,
  DownsampledMetricHistories,
  DownsampledMetricHistory,
  LogInputsBody,
  LogRunBody,
  MetricHistory,
  MetricHistoryParams,
  MetricHistoryQuery,
  Run,
  RunIdParams,
  RunPage,
  SearchRunsBody,
  UpdateRunBody,
  type Metric as WireMetric,
  type Run as WireRun,
} from '../../client/schemas/runs.js';
import type { Clock } from '../../core/clock.js';
import type { Metric, Run as DomainRun, TrackingService } from '../../tracking/index.js';
import { whileClientConnected } from '../client-connection.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import { mutationOf } from './services.js';

/** JSON has no NaN or Infinity: those travel as the strings "NaN", "Infinity", "-Infinity". */
function wireMetric(m: Metric): WireMetric {
  if (Number.isFinite(m.value)) return m;
  const value = Number.isNaN(m.value) ? 'NaN' : m.value > 0 ? 'Infinity' : '-Infinity';
  return { ...m, value };
}

function wireRun(run: DomainRun): WireRun {
  return { ...run, data: { ...run.data, metrics: run.data.metrics.map(wireMetric) } };
}

/** Every active experiment id, for a search that names none. */
async function allExperimentIds(t: TrackingService): Promise<string[]> {
  const ids: string[] = [];
  let pageToken: string | undefined;
  do {
    const page = await t.searchExperiments({ maxResults: 1000, pageToken });
    ids.push(...page.experiments.map((e) => e.experimentId));
    pageToken = page.nextPageToken;
  } while (pageToken);
  return ids;
}

/** The run routes over `tracking` (resolved per request). */
export function runRoutes(tracking: () => TrackingService, clock: Clock): NativeRoute[] {
  const tag = 'runs';
  return [
    nativeRoute({
      method: 'POST',
      path: '/runs/search',
      tag,
      operationId: 'searchRuns',
      summary: "Search runs with MLflow's filter grammar (metrics./params./tags./attributes.), order and page tokens.",
      body: SearchRunsBody,
      response: RunPage,
      async handler({ body, request }) {
        const t = tracking();
        const experimentIds = body.experimentIds ?? (await allExperimentIds(t));
        const page = await whileClientConnected(request, (signal) => t.searchRuns({ ...body, experimentIds, signal }));
        return { runs: page.runs.map(wireRun), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/runs',
      tag,
      operationId: 'createRun',
      summary: 'Start a run in an experiment (the Default experiment "0" when none is given).',
      body: CreateRunBody,
      response: Run,
      status: 201,
      async handler({ body, request }) {
        return wireRun(await tracking().createRun(body, mutationOf(request)));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/runs/:runId',
      tag,
      operationId: 'getRun',
      summary: 'Get a run with the latest value of each metric, its params, tags and inputs.',
      params: RunIdParams,
      response: Run,
      async handler({ params }) {
        return wireRun(await tracking().getRun(params.runId));
      },
    }),
    nativeRoute({
      method: 'PATCH',
      path: '/runs/:runId',
      tag,
      operationId: 'updateRun',
      summary: 'Change a run status, end time or name.',
      params: RunIdParams,
      body: UpdateRunBody,
      response: Run,
      async handler({ params, body, request }) {
        const t = tracking();
        await t.updateRun({ runId: params.runId, ...body }, mutationOf(request));
        return wireRun(await t.getRun(params.runId));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/runs/:runId/log',
      tag,
      operationId: 'logRun',
      summary: 'Log metrics, params and tags in one atomic call (at most 1000 metrics, 100 params, 100 tags).',
      params: RunIdParams,
      body: LogRunBody,
      async handler({ params, body, request }) {
        const now = clock.now();
        // "NaN" / "Infinity" / "-Infinity" arrive as strings (JSON has no such numbers); Number() reads all three.
        const metrics = body.metrics.map((m) => ({ key: m.key, value: typeof m.value === 'number' ? m.value : Number(m.value), step: m.step, timestamp: m.timestamp ?? now }));
        await tracking().logBatch(params.runId, { metrics, params: body.params, tags: body.tags }, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/runs/:runId/inputs',
      tag,
      operationId: 'logRunInputs',
      summary: "Record the datasets a run used (name, digest, source), as MLflow's log-inputs does; a dataset already linked to the run is kept once.",
      params: RunIdParams,
      body: LogInputsBody,
      async handler({ params, body, request }) {
        await tracking().logInputs(params.runId, body.datasets, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/runs/:runId/metrics/:key/history',
      tag,
      operationId: 'getMetricHistory',
      summary: "Every logged point of one of a run's metrics, by step then time; paged when maxResults is given.",
      params: MetricHistoryParams,
      query: MetricHistoryQuery,
      response: MetricHistory,
      async handler({ params, query }) {
        const page = await tracking().getMetricHistory({ runId: params.runId, metricKey: params.key, maxResults: query.maxResults, pageToken: query.pageToken });
        return { metrics: page.metrics.map(wireMetric), ...(page.nextPageToken ? { nextPageToken: page.nextPageToken } : {}) };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/runs/:runId/metrics/:key/history/downsampled',
      tag,
      operationId: 'getDownsampledMetricHistory',
      summary: "One metric of a run for a chart: at most maxPoints points (default 1000) in x order, per x bucket its first, last, minimum and maximum; from/to zoom into a window.",
      params: MetricHistoryParams,
      query: DownsampledHistoryQuery,
      response: DownsampledMetricHistory,
      async handler({ params, query }) {
        const h = await tracking().getMetricHistoryDownsampled({ runId: params.runId, metricKey: params.key, ...query });
        return { key: params.key, x: query.x ?? 'step', ...h, points: h.points.map(wireMetric) };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/runs/metrics/history/downsampled',
      tag,
      operationId: 'getDownsampledMetricHistories',
      summary: 'One metric of up to 100 runs for a compare chart, each downsampled as the single-run route does; a run without the metric answers no points.',
      query: DownsampledHistoriesQuery,
      response: DownsampledMetricHistories,
      async handler({ query }) {
        const { runIds, key, ...opts } = query;
        const list = await tracking().getMetricHistoriesDownsampled({ runIds, metricKey: key, ...opts });
        return { key, x: opts.x ?? 'step', histories: list.map((h) => ({ ...h, points: h.points.map(wireMetric) })) };
      },
    }),
    nativeRoute({
      method: 'DELETE',
      path: '/runs/:runId',
      tag,
      operationId: 'deleteRun',
      summary: 'Mark a run deleted (restorable).',
      params: RunIdParams,
      async handler({ params, request }) {
        await tracking().deleteRun(params.runId, mutationOf(request));
      },
    }),
    nativeRoute({
      method: 'POST',
      path: '/runs/:runId/restore',
      tag,
      operationId: 'restoreRun',
      summary: 'Restore a deleted run.',
      params: RunIdParams,
      response: Run,
      async handler({ params, request }) {
        const t = tracking();
        await t.restoreRun(params.runId, mutationOf(request));
        return wireRun(await t.getRun(params.runId));
      },
    }),
  ];
}
