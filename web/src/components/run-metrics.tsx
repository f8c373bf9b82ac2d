/**
 * The run page's Metrics tab: pick metrics, x axis (step or wall time), log y and EMA
 * smoothing, all kept in the URL; one chart per metric from the downsampled history API,
 * asked for about two points per pixel, with min / max / last as text beside each chart.
 * Dragging over a chart zooms every chart to that x window and fetches it at full detail.
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import type { DownsampledMetricHistory } from '../../../src/client/schemas/runs.js';
import { fetchDownsampledHistory, metricNumber } from '../api/runs';
import { setQueryParams, useLocation } from '../router';
import { MetricChart, type MetricSeriesData } from './metric-chart';
import { PALETTE } from './line-chart';
import { Empty, ErrorMessage, Loading } from './states';
import { formatNumber, formatTime } from './format';

/** The chart settings a link carries. */
interface MetricsView {
  metrics: string[];
  x: 'step' | 'time';
  logY: boolean;
  smoothing: number;
  from: number | undefined;
  to: number | undefined;
}

function finiteOrUndefined(raw: string | null): number | undefined {
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) ? n : undefined;
}

function readView(query: URLSearchParams, keys: string[]): MetricsView {
  const asked = (query.get('metrics') ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k !== '');
  const smooth = finiteOrUndefined(query.get('smooth')) ?? 0;
  return {
    metrics: asked.length > 0 ? asked : [...keys].sort((a, b) => a.localeCompare(b)).slice(0, 1),
    x: query.get('x') === 'time' ? 'time' : 'step',
    logY: query.get('log') === '1',
    smoothing: Math.min(0.99, Math.max(0, smooth)),
    from: finiteOrUndefined(query.get('from')),
    to: finiteOrUndefined(query.get('to')),
  };
}

/** Chart width in px, rounded so a small resize does not refetch. */
function useChartWidth(): [React.RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = (): void => setWidth(Math.max(200, Math.round(el.clientWidth / 200) * 200));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

/** Min, max (with where), last and gaps of the points drawn. */
interface SeriesStats {
  min?: { value: number; at: number };
  max?: { value: number; at: number };
  last?: { value: number; at: number };
  gaps: number;
}

function statsOf(points: DownsampledMetricHistory['points'], x: 'step' | 'time'): SeriesStats {
  const stats: SeriesStats = { gaps: 0 };
  for (const p of points) {
    const v = metricNumber(p.value);
    const at = x === 'step' ? p.step : p.timestamp;
    if (v === null) {
      stats.gaps++;
      continue;
    }
    if (!stats.min || v < stats.min.value) stats.min = { value: v, at };
    if (!stats.max || v > stats.max.value) stats.max = { value: v, at };
    stats.last = { value: v, at };
  }
  return stats;
}

function where(x: 'step' | 'time', at: number): string {
  return x === 'step' ? `step ${at}` : formatTime(at);
}

function OneMetric({ runId, metric, view, maxPoints, color }: { runId: string; metric: string; view: MetricsView; maxPoints: number; color: string }): ReactNode {
  const query = useQuery({
    queryKey: ['run-history', runId, metric, maxPoints, view.x, view.from, view.to],
    queryFn: ({ signal }) => fetchDownsampledHistory(runId, metric, { maxPoints, x: view.x, from: view.from, to: view.to }, signal),
    placeholderData: keepPreviousData,
    enabled: maxPoints > 0,
  });
  const history = query.data;
  const data = useMemo<MetricSeriesData | undefined>(() => {
    if (!history) return undefined;
    const pts = history.points;
    const x = new Float64Array(pts.length);
    const y = new Array<number | null>(pts.length);
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i] as (typeof pts)[number];
      x[i] = history.x === 'step' ? p.step : p.timestamp;
      y[i] = metricNumber(p.value);
    }
    return { x, y };
  }, [history]);
  const stats = useMemo(() => (history ? statsOf(history.points, history.x) : undefined), [history]);
  const headingId = `metric-${metric.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return (
    <section className="run-metric" aria-labelledby={headingId}>
      <h3 id={headingId}>{metric}</h3>
      {query.error ? (
        <ErrorMessage error={query.error} title={`The history of ${metric} could not be read`} />
      ) : !history || !data || !stats ? (
        <Loading what={`Loading ${metric}`} />
      ) : history.points.length === 0 ? (
        <Empty>No points of {metric} in this window.</Empty>
      ) : (
        <>
          <MetricChart
            metric={metric}
            data={data}
            timeAxis={history.x === 'time'}
            logY={view.logY}
            smoothing={view.smoothing}
            color={color}
            envelope={history.downsampled}
            drawnMark={`slipway:metric-chart-drawn:${metric}`}
            onZoom={(from, to) => setQueryParams({ from: String(from), to: String(to) })}
          />
          <p className="run-metric-stats" aria-label={`Statistics of ${metric}`}>
            <span>
              min <strong>{formatNumber(stats.min?.value)}</strong>
              {stats.min ? <span className="muted"> at {where(history.x, stats.min.at)}</span> : null}
            </span>{' '}
            <span>
              max <strong>{formatNumber(stats.max?.value)}</strong>
              {stats.max ? <span className="muted"> at {where(history.x, stats.max.at)}</span> : null}
            </span>{' '}
            <span>
              last <strong>{formatNumber(stats.last?.value)}</strong>
              {stats.last ? <span className="muted"> at {where(history.x, stats.last.at)}</span> : null}
            </span>{' '}
            {stats.gaps > 0 ? (
              <span className="run-metric-gaps">
                {stats.gaps} NaN/∞ {stats.gaps === 1 ? 'point' : 'points'} (gaps)
              </span>
            ) : null}{' '}
            <span className="muted">
              {history.downsampled
                ? `${history.returned.toLocaleString()} of ${history.total.toLocaleString()} points drawn (min–max per bucket)`
                : `${history.total.toLocaleString()} points, all drawn`}
              {query.isFetching ? ' · updating…' : ''}
            </span>
          </p>
        </>
      )}
    </section>
  );
}

const NO_KEYS: string[] = [];

/** The Metrics tab of a run; `keys` (the run's metric keys) is undefined while the run loads, when only the metrics the URL names are charted. */
export function RunMetrics({ runId, keys: knownKeys }: { runId: string; keys: string[] | undefined }): ReactNode {
  const { query } = useLocation();
  const keys = knownKeys ?? NO_KEYS;
  const view = readView(query, keys);
  const [boxRef, width] = useChartWidth();
  const [filter, setFilter] = useState('');
  // Two points per pixel: the buckets' min and max land on the same pixel column as every point would.
  const maxPoints = width === 0 ? 0 : Math.min(10_000, Math.max(5, width * 2));
  const sortedKeys = useMemo(() => [...keys].sort((a, b) => a.localeCompare(b)), [keys]);
  const shownKeys = filter ? sortedKeys.filter((k) => k.toLowerCase().includes(filter.toLowerCase())) : sortedKeys;
  if (knownKeys !== undefined && keys.length === 0) return <Empty>This run has logged no metrics.</Empty>;
  const toggle = (key: string, on: boolean): void => {
    const next = on ? [...view.metrics.filter((k) => k !== key), key] : view.metrics.filter((k) => k !== key);
    setQueryParams({ metrics: next.join(',') || undefined });
  };
  const zoomed = view.from !== undefined || view.to !== undefined;
  const unknown = knownKeys === undefined ? [] : view.metrics.filter((k) => !keys.includes(k));
  const charted = knownKeys === undefined ? view.metrics : view.metrics.filter((k) => keys.includes(k));
  const colorOf = (k: string): string => PALETTE[Math.max(0, sortedKeys.indexOf(k)) % PALETTE.length] as string;
  return (
    <div className="run-metrics">
      <div className="run-metrics-controls">
        <fieldset className="run-metric-picker">
          <legend>Metrics</legend>
          {keys.length > 12 ? (
            <input type="search" aria-label="Filter metric keys" placeholder="Filter keys" value={filter} onChange={(e) => setFilter(e.target.value)} />
          ) : null}
          {knownKeys === undefined ? <Loading what="Loading the metric keys" /> : null}
          <ul>
            {shownKeys.map((k) => (
              <li key={k}>
                <label>
                  <input type="checkbox" checked={view.metrics.includes(k)} onChange={(e) => toggle(k, e.target.checked)} /> {k}
                </label>
              </li>
            ))}
          </ul>
        </fieldset>
        <div className="toolbar run-chart-options">
          <label>
            X axis{' '}
            <select value={view.x} onChange={(e) => setQueryParams({ x: e.target.value === 'time' ? 'time' : undefined, from: undefined, to: undefined })}>
              <option value="step">Step</option>
              <option value="time">Wall time</option>
            </select>
          </label>
          <label>
            <input type="checkbox" checked={view.logY} onChange={(e) => setQueryParams({ log: e.target.checked ? '1' : undefined })} /> Log scale y
          </label>
          <label className="run-smoothing">
            Smoothing{' '}
            <input
              type="range"
              min={0}
              max={0.99}
              step={0.01}
              value={view.smoothing}
              onChange={(e) => setQueryParams({ smooth: Number(e.target.value) > 0 ? e.target.value : undefined })}
            />{' '}
            <output>{view.smoothing.toFixed(2)}</output>
          </label>
          {zoomed ? (
            <button type="button" onClick={() => setQueryParams({ from: undefined, to: undefined })}>
              Reset zoom
            </button>
          ) : (
            <span className="muted small">Drag across a chart to zoom in.</span>
          )}
        </div>
        {zoomed ? (
          <p className="muted small">
            Zoomed in on{' '}
            {view.x === 'step'
              ? `steps ${view.from ?? 'the first'} to ${view.to ?? 'the last'}`
              : `${view.from === undefined ? 'the start' : formatTime(view.from)} to ${view.to === undefined ? 'the end' : formatTime(view.to)}`}
            .
          </p>
        ) : null}
      </div>
      {unknown.length > 0 ? (
        <div className="error-box" role="alert">
          This run has no metric {unknown.map((k) => `“${k}”`).join(', ')}.
        </div>
      ) : null}
      <div ref={boxRef} className="run-metric-charts">
        {view.metrics.length === 0 && knownKeys !== undefined ? <Empty>Choose a metric to chart.</Empty> : null}
        {width > 0 ? charted.map((k) => <OneMetric key={k} runId={runId} metric={k} view={view} maxPoints={maxPoints} color={colorOf(k)} />) : null}
      </div>
    </div>
  );
}
