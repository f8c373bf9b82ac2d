/**
 * The run page's requests: the run, its experiment, a metric's downsampled history and its
 * artifacts (folders, the first bytes of a file to preview, a whole file to download).
 */
import type { Run, DownsampledMetricHistory, Metric } from '../../../src/client/schemas/runs.js';
import type { ArtifactListing } from '../../../src/client/schemas/artifacts.js';
import type { Experiment } from '../../../src/client/schemas/experiments.js';
import { api, getBlob, getJson, request } from './http';

/** The run with its latest metrics, params, tags and dataset inputs. */
export function fetchRun(runId: string, signal?: AbortSignal): Promise<Run> {
  return getJson<Run>(api('runs', runId), undefined, signal);
}

/** The experiment a run belongs to (for its name). */
export function fetchExperiment(experimentId: string, signal?: AbortSignal): Promise<Experiment> {
  return getJson<Experiment>(api('experiments', experimentId), undefined, signal);
}

/** What to ask of the downsampled history: a point budget, the x axis and an optional window. */
export interface HistoryWindow {
  maxPoints: number;
  x: 'step' | 'time';
  from?: number | undefined;
  to?: number | undefined;
}

/** One metric of a run, at most `maxPoints` points (per bucket first, last, min and max). */
export function fetchDownsampledHistory(runId: string, key: string, w: HistoryWindow, signal?: AbortSignal): Promise<DownsampledMetricHistory> {
  return getJson<DownsampledMetricHistory>(
    `${api('runs', runId, 'metrics', key, 'history', 'downsampled')}`,
    { maxPoints: w.maxPoints, x: w.x, from: w.from, to: w.to },
    signal,
  );
}

/** A metric value as a chart number: NaN and infinities become null (a gap in the line). */
export function metricNumber(value: Metric['value']): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The entries of one folder of a run's artifacts ('' is the root). */
export function fetchArtifacts(runId: string, path: string, signal?: AbortSignal): Promise<ArtifactListing> {
  return getJson<ArtifactListing>(api('runs', runId, 'artifacts'), path === '' ? undefined : { path }, signal);
}

/** The download URL of a run's file, each path segment encoded. */
export function artifactUrl(runId: string, path: string): string {
  return `${api('runs', runId, 'artifacts')}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

/** The first bytes of a file to preview. */
export interface ArtifactHead {
  bytes: Uint8Array;
  /** The file holds more than was read. */
  truncated: boolean;
}

/**
 * Reads at most `maxBytes` of a run's file, then stops the transfer, so previewing a
 * multi-gigabyte log costs a megabyte.
 */
export async function fetchArtifactHead(runId: string, path: string, maxBytes: number, signal?: AbortSignal): Promise<ArtifactHead> {
  const res = await request('GET', artifactUrl(runId, path), { headers: { accept: '*/*' }, ...(signal ? { signal } : {}) });
  const out = new Uint8Array(maxBytes);
  let length = 0;
  let truncated = false;
  const reader = res.body?.getReader();
  if (!reader) return { bytes: new Uint8Array(await res.arrayBuffer()).slice(0, maxBytes), truncated: false };
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - length;
    if (value.byteLength > room) {
      out.set(value.subarray(0, room), length);
      length += room;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    out.set(value, length);
    length += value.byteLength;
  }
  return { bytes: out.slice(0, length), truncated };
}

/** A whole file as a Blob (sent with the session's token). */
export function fetchArtifactBlob(runId: string, path: string): Promise<Blob> {
  return getBlob(artifactUrl(runId, path));
}
