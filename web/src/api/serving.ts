/**
 * Queries of the serving page: the cumulative serving figures polled every 2 s (each model
 * with its state and version, as the repository index has them, read with a GET), the traffic a running release wants, and the arithmetic
 * that turns two snapshots into rates and latency quantiles.
 */
import { useQuery, type UseQueryResult } from '@tanstack/react-query';
import type { Release, ReleasePage, TrafficState } from '../../../src/client/schemas/releases.js';
import type { LatencyHistogram, ServingStats } from '../../../src/client/schemas/serving.js';
import { api, getJson } from './http';

/** How often the live figures refresh. */
export const SERVING_POLL_MS = 2000;

/** The cumulative serving figures, refreshed every 2 s while the page is visible (React Query pauses hidden tabs). */
export function useServingStats(): UseQueryResult<ServingStats> {
  return useQuery({
    queryKey: ['serving', 'stats'],
    queryFn: ({ signal }) => getJson<ServingStats>(api('serving', 'stats'), undefined, signal),
    refetchInterval: SERVING_POLL_MS,
    refetchIntervalInBackground: false,
    // A poll that fails says so at once; the next poll is the retry.
    retry: false,
  });
}

/** The unfinished releases, to know which models have their traffic split. */
export function useActiveReleases(): UseQueryResult<Release[]> {
  return useQuery({
    queryKey: ['releases', 'active'],
    queryFn: async ({ signal }) => (await getJson<ReleasePage>(api('releases'), { state: 'active', maxResults: 1000 }, signal)).releases,
    refetchInterval: SERVING_POLL_MS * 2.5,
    retry: false,
  });
}

/** The traffic split a release wants for a model (polled while it runs). */
export function useTraffic(model: string, enabled: boolean): UseQueryResult<TrafficState> {
  return useQuery({
    queryKey: ['traffic', model],
    queryFn: ({ signal }) => getJson<TrafficState>(api('traffic', model), undefined, signal),
    enabled,
    refetchInterval: SERVING_POLL_MS,
    retry: false,
  });
}

/** Cumulative counts of one model or version at one poll, the part the page keeps. */
export interface Totals {
  total: number;
  errors: number;
  serverErrors: number;
  histogram: LatencyHistogram | null;
}

/** Adds two histograms with the same bounds (versions of one model); a mismatch keeps the first. */
export function addHistograms(a: LatencyHistogram | null, b: LatencyHistogram | null): LatencyHistogram | null {
  if (!a) return b;
  if (!b) return a;
  if (a.bounds.length !== b.bounds.length || a.bounds.some((x, i) => x !== b.bounds[i])) return a;
  return { bounds: a.bounds, counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

/** What happened between two cumulative histograms (a reset, when counts went down, starts afresh). */
export function histogramDelta(now: LatencyHistogram | null, before: LatencyHistogram | null): LatencyHistogram | null {
  if (!now) return null;
  if (!before || before.count > now.count || before.counts.length !== now.counts.length) return now;
  return { bounds: now.bounds, counts: now.counts.map((c, i) => c - (before.counts[i] ?? 0)), sum: now.sum - before.sum, count: now.count - before.count };
}

/**
 * The q-quantile (0–1) of a cumulative histogram, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does: the lowest bucket starts at 0, and a rank in the +Inf
 * bucket answers the highest finite bound. Null without observations.
 */
export function histogramQuantile(q: number, h: LatencyHistogram | null): number | null {
  if (!h || h.count <= 0 || h.counts.length === 0) return null;
  const total = h.counts[h.counts.length - 1] as number;
  if (total <= 0) return null;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let i = h.counts.findIndex((c) => c >= rank);
  if (i < 0) i = h.counts.length - 1;
  if (i >= h.bounds.length) return h.bounds[h.bounds.length - 1] ?? null;
  const upper = h.bounds[i] as number;
  const lower = i === 0 ? 0 : (h.bounds[i - 1] as number);
  const below = i === 0 ? 0 : (h.counts[i - 1] as number);
  const inBucket = (h.counts[i] as number) - below;
  if (inBucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}

/** Figures of a window between two polls. */
export interface WindowFigures {
  /** Requests per second. */
  rate: number;
  /** Share of requests that failed (4xx and 5xx), null without requests. */
  errorShare: number | null;
  /** Latency quantiles in seconds, null without answered requests. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  requests: number;
}

/** Rates and quantiles from the difference between two polls `seconds` apart. */
export function windowFigures(now: Totals, before: Totals | undefined, seconds: number): WindowFigures {
  const reset = before !== undefined && before.total > now.total;
  const base = before && !reset ? before : { total: 0, errors: 0, serverErrors: 0, histogram: null };
  const requests = now.total - base.total;
  const errors = now.errors - base.errors;
  const h = histogramDelta(now.histogram, reset ? null : (before?.histogram ?? null));
  return {
    rate: seconds > 0 ? requests / seconds : 0,
    errorShare: requests > 0 ? errors / requests : null,
    p50: histogramQuantile(0.5, h),
    p95: histogramQuantile(0.95, h),
    p99: histogramQuantile(0.99, h),
    requests,
  };
}

/** Totals of every model (all versions together) and of each model version, keyed `model` and `model\u0000version`. */
export function totalsOf(stats: ServingStats): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const m of stats.models) {
    let model: Totals = { total: 0, errors: 0, serverErrors: 0, histogram: null };
    for (const v of m.versions) {
      const t: Totals = { total: v.requests.total, errors: v.requests.clientError + v.requests.serverError, serverErrors: v.requests.serverError, histogram: v.latency };
      out.set(`${m.model}\u0000${v.version}`, t);
      model = { total: model.total + t.total, errors: model.errors + t.errors, serverErrors: model.serverErrors + t.serverErrors, histogram: addHistograms(model.histogram, t.histogram) };
    }
    out.set(m.model, model);
  }
  return out;
}
