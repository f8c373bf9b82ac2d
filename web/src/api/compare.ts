/** Queries of the compare page: the runs being compared, and one metric of all of them downsampled. */
import { useCallback } from 'react';
import { useQueries, useQuery, type UseQueryResult } from '@tanstack/react-query';
import type { DownsampledMetricHistories, Run } from '../../../src/client/schemas/runs.js';
import { ApiError, api, getJson } from './http';

/** A run id the server accepts: 32 hex characters. */
export const RUN_ID = /^[0-9a-f]{32}$/;

/** Most runs the compare chart requests at once (the server's limit). */
export const MAX_COMPARED_RUNS = 100;

/** The run ids of a `runs=` value: trimmed, lower-cased, duplicates dropped, in the order given. */
export function parseRunIds(value: string): string[] {
  const seen = new Set<string>();
  for (const raw of value.split(',')) {
    const id = raw.trim().toLowerCase();
    if (id !== '') seen.add(id);
  }
  return [...seen];
}

/** What loading the compared runs gave: the runs found, ids the server does not know, failures of other kinds. */
export interface ComparedRuns {
  runs: Run[];
  missing: string[];
  malformed: string[];
  failed: Array<{ runId: string; error: unknown }>;
  pending: boolean;
}

/** Loads each run (GET /api/v1/runs/:runId), in parallel and cached; a 404 lists the id as missing rather than failing the page. */
export function useComparedRuns(ids: string[]): ComparedRuns {
  const validKey = ids.filter((id) => RUN_ID.test(id)).join(',');
  const malformedKey = ids.filter((id) => !RUN_ID.test(id)).join(',');
  // A stable combine keeps the same result object while nothing changed, so charts built from it are not rebuilt on every render.
  const combine = useCallback(
    (results: Array<UseQueryResult<Run>>): ComparedRuns => {
      const valid = validKey === '' ? [] : validKey.split(',');
      const out: ComparedRuns = { runs: [], missing: [], malformed: malformedKey === '' ? [] : malformedKey.split(','), failed: [], pending: false };
      results.forEach((r, i) => {
        const runId = valid[i] as string;
        if (r.data) out.runs.push(r.data);
        else if (r.error instanceof ApiError && r.error.status === 404) out.missing.push(runId);
        else if (r.error) out.failed.push({ runId, error: r.error });
        else out.pending = true;
      });
      return out;
    },
    [validKey, malformedKey],
  );
  return useQueries({
    queries: (validKey === '' ? [] : validKey.split(',')).map((runId) => ({
      queryKey: ['run', runId],
      queryFn: ({ signal }: { signal: AbortSignal }) => getJson<Run>(api('runs', runId), undefined, signal),
    })),
    combine,
  });
}

/** One metric of several runs for the chart, in one request; the point budget shrinks as runs are added. */
export function useDownsampledHistories(runIds: string[], key: string, x: 'step' | 'time'): UseQueryResult<DownsampledMetricHistories> {
  const ids = runIds.slice(0, MAX_COMPARED_RUNS);
  // The chart aligns every run on the union of their x values (runs rarely share timestamps, nor
  // steps once downsampled), a table of runs × runs × points cells: 4 million at most keeps it
  // quick to build, from 2,000 points a run for a few runs down to 400 each for 100.
  const n = Math.max(1, ids.length);
  const maxPoints = Math.max(200, Math.min(2000, Math.floor(4_000_000 / (n * n))));
  return useQuery({
    queryKey: ['downsampled-histories', ids.join(','), key, x, maxPoints],
    queryFn: ({ signal }) => getJson<DownsampledMetricHistories>(api('runs', 'metrics', 'history', 'downsampled'), { runIds: ids.join(','), key, x, maxPoints }, signal),
    enabled: ids.length > 0 && key !== '',
  });
}

/** A metric value as a number (the wire spells NaN and the infinities as strings). */
export function metricNumber(value: number | string): number {
  if (typeof value === 'number') return value;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  return Number.NaN;
}
