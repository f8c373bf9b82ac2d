/**
 * The serving page: every model this server serves with live figures, polled every 2 s.
 * The server answers cumulative counts; the page keeps the last 5 minutes of polls and
 * derives rates, error shares and latency quantiles from their differences.
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { Release } from '../../../src/client/schemas/releases.js';
import { ApiError } from '../api/http';
import { totalsOf, useActiveReleases, useServingStats } from '../api/serving';
import { formatAgo, formatDuration, formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import type { ServingSample } from '../components/serving-charts';
import { ServingModelPanel, type FigureWindow } from '../components/serving-model-panel';
import { Empty, ErrorMessage, Loading } from '../components/states';

/** How long the page keeps polls for its charts. */
const KEEP_MS = 5 * 60_000;
/** How far back the headline figures look. */
const FIGURE_WINDOW_MS = 10_000;

/** Why a poll failed, in a sentence (the figures stay on screen, so the generic "reload" advice does not apply). */
function unreachableText(error: unknown): string {
  if (error instanceof ApiError) return error.code === 'UNREACHABLE' ? 'It cannot be reached: it may be stopped or restarting.' : `${error.message} (${error.code} · HTTP ${error.status}).`;
  return error instanceof Error ? error.message : String(error);
}

/** The current time, ticking every second (for "updated N s ago"). */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/** The serving page. */
export default function ServingPage(): ReactNode {
  const stats = useServingStats();
  const releases = useActiveReleases();
  const now = useNow();
  const [samples, setSamples] = useState<ServingSample[]>([]);

  const data = stats.data;
  useEffect(() => {
    if (!data) return;
    setSamples((prev) => {
      const last = prev[prev.length - 1];
      if (last && last.time === data.time) return prev;
      // A restarted server starts its counts again: the polls from before it cannot be compared.
      const kept = last && data.time < last.time ? [] : prev.filter((s) => s.time >= data.time - KEEP_MS);
      return [...kept, { time: data.time, totals: totalsOf(data) }];
    });
  }, [data]);

  const figureWindow = useMemo((): FigureWindow | undefined => {
    const current = samples[samples.length - 1];
    if (!current || !data) return undefined;
    if (samples.length === 1) return { current, before: undefined, seconds: Math.max(0.001, data.uptimeMs / 1000) };
    const target = current.time - FIGURE_WINDOW_MS;
    let before = samples[0] as ServingSample;
    for (const s of samples) {
      if (s === current) break;
      if (s.time <= target) before = s;
    }
    return { current, before, seconds: Math.max(0.001, (current.time - before.time) / 1000) };
  }, [samples, data]);

  const activeByModel = useMemo(() => {
    const m = new Map<string, Release>();
    for (const r of releases.data ?? []) if (!m.has(r.model)) m.set(r.model, r);
    return m;
  }, [releases.data]);

  const stale = stats.isError && data !== undefined;
  // The figures carry each model's state and version as the V2 repository index has them, for the models the caller may read.
  const models = useMemo(
    () => (data?.models ?? []).map((m) => ({ name: m.model, state: m.state, version: m.servedVersion ?? undefined, reason: m.reason })).sort((a, b) => a.name.localeCompare(b.name)),
    [data],
  );

  const header = (
    <PageHeader
      title="Serving"
      subtitle={
        data ? (
          <span>
            Updated {formatAgo(stats.dataUpdatedAt, Math.max(now, stats.dataUpdatedAt))} · server time {formatTime(data.time)} · up {formatDuration(data.uptimeMs)} · refreshes every 2 s while this tab is visible
          </span>
        ) : null
      }
    />
  );
  if (!data) {
    return (
      <>
        {header}
        {stats.error ? <ErrorMessage error={stats.error} title="The serving figures could not be read" /> : <Loading what="Loading the serving figures" />}
      </>
    );
  }
  return (
    <>
      {header}
      {stale ? (
        <div className="error-box" role="alert">
          <strong>The server is not answering</strong>
          <p>
            {unreachableText(stats.error)} The figures below are from {formatAgo(stats.dataUpdatedAt, now)} and are stale; the page keeps trying every 2 s.
          </p>
        </div>
      ) : null}
      {models.length === 0 ? (
        <Empty>
          No model is served here yet. Register an ONNX model version (<code>slipway models register model.onnx --name NAME --alias champion</code>); the server loads it at start or
          on its first request.
        </Empty>
      ) : (
        models.map((m, i) => (
          <ServingModelPanel
            key={m.name}
            n={i}
            name={m.name}
            state={m.state}
            version={m.version}
            reason={m.reason}
            stats={data.models.find((s) => s.model === m.name)}
            window={figureWindow}
            samples={samples}
            release={activeByModel.get(m.name)}
            stale={stale}
          />
        ))
      )}
    </>
  );
}
