/**
 * GET /api/v1/serving/stats: the serving figures of this server as JSON, read from the
 * serving metrics directly (not from the /metrics text). Counts are cumulative since the
 * server started, so a dashboard polls and works on differences: rates, error shares and
 * latency quantiles between two snapshots, as Prometheus does with rate() and histogram_quantile().
 */
import type { ReadableObjects } from '../../access/access-service.js';
import type { HistogramSnapshot, ServingMetrics } from '../../serving/serving-metrics.js';
import type { ModelStatus } from '../../serving/model-manager.js';
import { ServingStats, ServingStatsQuery, type LatencyHistogram, type ServedModelStats, type RequestCounts } from '../../client/schemas/serving.js';
import type { Clock } from '../../core/clock.js';
import { nativeRoute, type NativeRoute } from './native-route.js';
import type { ServerCluster } from '../cluster/server-cluster.js';

/** The cluster question each worker answers with its own figures. */
const STATS_TOPIC = 'serving.stats';

/** What the route reads. */
export interface ServingStatsInit {
  metrics: ServingMetrics;
  /** The repository index: models loaded, loading or failed. */
  index(): ModelStatus[];
  clock: Clock;
  /** When the server started. */
  startedTime: number;
  /** Model names the caller may read. */
  readable(request: Parameters<NativeRoute['handler']>[0]['request']): ReadableObjects | Promise<ReadableObjects>;
  /** In a worker of a cluster: the figures are every worker's, summed. */
  cluster?: Pick<ServerCluster, 'answer' | 'gather'>;
}

function histogram(h: HistogramSnapshot | undefined): LatencyHistogram | null {
  return h ? { bounds: [...h.bounds], counts: h.counts, sum: h.sum, count: h.count } : null;
}

function counts(byStatus: Record<string, number>): RequestCounts {
  const c: RequestCounts = { total: 0, ok: 0, clientError: 0, serverError: 0, byStatus };
  for (const [status, n] of Object.entries(byStatus)) {
    const code = Number(status);
    c.total += n;
    if (code >= 200 && code < 300) c.ok += n;
    else if (code >= 400 && code < 500) c.clientError += n;
    else c.serverError += n;
  }
  return c;
}

function mayRead(readable: ReadableObjects): (name: string) => boolean {
  if (readable === 'all') return () => true;
  if (Array.isArray(readable)) {
    const set = new Set(readable);
    return (name) => set.has(name);
  }
  const except = new Set((readable as { except: string[] }).except);
  return (name) => !except.has(name);
}

/** Builds the answer from a snapshot (exported for tests). */
export async function servingStats(init: ServingStatsInit, may: (name: string) => boolean, only?: string): Promise<ServingStats> {
  const snap = await init.metrics.snapshot();
  const now = init.clock.now();
  const models = new Map<string, ServedModelStats>();
  const index = new Map(init.index().map((s) => [s.name, s]));
  // A model counts once it is in the repository or answered with a version: failed requests naming a model
  // that was never served (anyone can make those up) are left out rather than listed as models.
  const known = (name: string) => index.has(name) || snap.versions.some((v) => v.model === name && v.version !== '');
  const model = (name: string): ServedModelStats | undefined => {
    if ((only !== undefined && name !== only) || !may(name) || !known(name)) return undefined;
    let m = models.get(name);
    if (!m) {
      const status = index.get(name);
      m = { model: name, state: status?.state ?? null, servedVersion: status?.version ?? null, reason: status?.reason ?? '', inFlight: snap.inFlight.get(name) ?? 0, versions: [], roles: [] };
      models.set(name, m);
    }
    return m;
  };
  for (const name of index.keys()) model(name);
  for (const v of snap.versions) {
    model(v.model)?.versions.push({ version: v.version, requests: counts(v.byStatus), latency: histogram(v.latency), queueDepth: v.queueDepth, inFlightBatches: v.inFlightBatches });
  }
  for (const r of snap.roles) {
    const answered = r.latency?.count ?? 0;
    // A side is bound when the split starts (shadow included, even with nothing mirrored): list it once it had traffic.
    if (r.requests === 0 && answered === 0) continue;
    model(r.model)?.roles.push({ version: r.version, role: r.role, requests: r.requests, errors: Math.max(0, r.requests - answered), latency: histogram(r.latency) });
  }
  const byVersion = (a: { version: string }, b: { version: string }) => a.version.localeCompare(b.version, undefined, { numeric: true });
  const list = [...models.values()].sort((a, b) => a.model.localeCompare(b.model));
  for (const m of list) {
    m.versions.sort(byVersion);
    m.roles.sort((a, b) => byVersion(a, b) || a.role.localeCompare(b.role));
  }
  return { time: now, startedTime: init.startedTime, uptimeMs: Math.max(0, now - init.startedTime), models: list };
}

function addCounts(a: RequestCounts, b: RequestCounts): RequestCounts {
  const byStatus = { ...a.byStatus };
  for (const [status, n] of Object.entries(b.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + n;
  return counts(byStatus);
}

function addHistograms(a: LatencyHistogram | null, b: LatencyHistogram | null): LatencyHistogram | null {
  if (!a || !b) return a ?? b;
  // Every worker uses the same buckets; a mismatch (never expected) keeps the first rather than adding unlike buckets.
  if (a.bounds.length !== b.bounds.length || a.bounds.some((x, i) => x !== b.bounds[i])) return a;
  return { bounds: a.bounds, counts: a.counts.map((n, i) => n + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

/**
 * The figures of several processes (the workers of one server) as one server's: counts, histograms,
 * queue depths and in-flight requests add up. A model's state is the first worker's unless another
 * is not READY (that one tells why), and the start time is the latest worker's, since the sums went
 * back when it started (as after a restart, which dashboards already expect).
 */
export function mergeServingStats(parts: readonly ServingStats[]): ServingStats {
  const models = new Map<string, ServedModelStats>();
  for (const part of parts) {
    for (const m of part.models) {
      const into = models.get(m.model);
      if (!into) {
        models.set(m.model, { ...m, versions: m.versions.map((v) => ({ ...v })), roles: m.roles.map((r) => ({ ...r })) });
        continue;
      }
      if (into.state === 'READY' && m.state !== 'READY' && m.state !== null) Object.assign(into, { state: m.state, servedVersion: m.servedVersion, reason: m.reason });
      into.inFlight += m.inFlight;
      for (const v of m.versions) {
        const same = into.versions.find((x) => x.version === v.version);
        if (!same) into.versions.push({ ...v });
        else Object.assign(same, { requests: addCounts(same.requests, v.requests), latency: addHistograms(same.latency, v.latency), queueDepth: same.queueDepth + v.queueDepth, inFlightBatches: same.inFlightBatches + v.inFlightBatches });
      }
      for (const r of m.roles) {
        const same = into.roles.find((x) => x.version === r.version && x.role === r.role);
        if (!same) into.roles.push({ ...r });
        else Object.assign(same, { requests: same.requests + r.requests, errors: same.errors + r.errors, latency: addHistograms(same.latency, r.latency) });
      }
    }
  }
  const time = Math.max(...parts.map((p) => p.time));
  const startedTime = Math.max(...parts.map((p) => p.startedTime));
  const byVersion = (a: { version: string }, b: { version: string }) => a.version.localeCompare(b.version, undefined, { numeric: true });
  const list = [...models.values()].sort((a, b) => a.model.localeCompare(b.model));
  for (const m of list) {
    m.versions.sort(byVersion);
    m.roles.sort((a, b) => byVersion(a, b) || a.role.localeCompare(b.role));
  }
  return { time, startedTime, uptimeMs: Math.max(0, time - startedTime), models: list };
}

/** Only the models `may` lets the caller read, and only `only` when given. */
function visible(stats: ServingStats, may: (name: string) => boolean, only: string | undefined): ServingStats {
  return { ...stats, models: stats.models.filter((m) => may(m.model) && (only === undefined || m.model === only)) };
}

/** The serving figures route. */
export function servingStatsRoutes(init: ServingStatsInit): NativeRoute[] {
  const { cluster } = init;
  cluster?.answer(STATS_TOPIC, () => servingStats(init, () => true));
  return [
    nativeRoute({
      method: 'GET',
      path: '/serving/stats',
      tag: 'serving',
      operationId: 'getServingStats',
      summary:
        'Cumulative serving figures per model and version (requests by outcome, latency histogram, queue depth, in-flight) and per split side while a release runs; poll and take differences for rates and quantiles.',
      query: ServingStatsQuery,
      response: ServingStats,
      async handler({ query, request }) {
        const may = mayRead(await init.readable(request));
        if (!cluster) return servingStats(init, may, query.model);
        // A worker that does not answer in time (busy, starting) is left out of the sums, rather than holding the answer up.
        const parts = (await cluster.gather(STATS_TOPIC)).values as ServingStats[];
        return visible(mergeServingStats(parts.length > 0 ? parts : [await servingStats(init, () => true)]), may, query.model);
      },
    }),
  ];
}
