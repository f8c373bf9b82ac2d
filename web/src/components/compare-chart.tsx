/**
 * One metric of many runs overlaid on one chart, with a legend table (colour, run, last, min,
 * max) that stays readable with dozens of runs where a legend row per line under the canvas does not.
 */
import { useMemo, type ReactNode } from 'react';
import type { DownsampledMetricHistories, Run } from '../../../src/client/schemas/runs.js';
import { metricNumber } from '../api/compare';
import { href, seg, Link } from '../router';
import { formatNumber } from './format';
import { LineChart, PALETTE, type ChartSeries } from './line-chart';

/**
 * The colour of the i-th run: the shared palette first, then hues a golden angle apart at a
 * lightness dark enough for 3:1 against white, so a hundred lines stay distinguishable.
 */
export function runColor(i: number): string {
  if (i < PALETTE.length) return PALETTE[i] as string;
  const hue = Math.round((i * 137.508) % 360);
  const lightness = 30 + ((i * 7) % 3) * 6;
  return `hsl(${hue} 75% ${lightness}%)`;
}

/** The label of a run in legends and headers: its name, else the start of its id. */
export function runLabel(run: Run): string {
  return run.info.runName || run.info.runId.slice(0, 8);
}

interface Summary {
  last: number | undefined;
  min: number | undefined;
  max: number | undefined;
  total: number;
}

function summarize(values: number[], total: number): Summary {
  let min: number | undefined;
  let max: number | undefined;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (min === undefined || v < min) min = v;
    if (max === undefined || v > max) max = v;
  }
  return { last: values.length > 0 ? values[values.length - 1] : undefined, min, max, total };
}

/** Props of CompareChart. */
export interface CompareChartProps {
  runs: Run[];
  metric: string;
  x: 'step' | 'time';
  logY: boolean;
  data: DownsampledMetricHistories;
  /** Runs left off the chart (still listed in the legend). */
  hidden: ReadonlySet<string>;
  /** Shows or hides one run's curve. */
  onToggle(runId: string, shown: boolean): void;
  /** Shows every run again. */
  onShowAll(): void;
}

/** The overlaid curves and their legend table. */
export function CompareChart({ runs, metric, x, logY, data, hidden, onToggle, onShowAll }: CompareChartProps): ReactNode {
  const colorOf = useMemo(() => new Map(runs.map((r, i) => [r.info.runId, runColor(i)])), [runs]);
  const byId = useMemo(() => new Map(runs.map((r) => [r.info.runId, r])), [runs]);
  const { series, rows } = useMemo(() => {
    const series: ChartSeries[] = [];
    const rows: Array<{ run: Run; color: string; summary: Summary; downsampled: boolean; returned: number }> = [];
    for (const h of data.histories) {
      const run = byId.get(h.runId);
      if (!run) continue;
      const color = colorOf.get(h.runId) as string;
      const values = h.points.map((p) => metricNumber(p.value));
      // uPlot draws numbers only: NaN and the infinities become gaps in the line.
      const y = values.map((v) => (Number.isFinite(v) ? v : null));
      const xs = h.points.map((p) => (x === 'time' ? p.timestamp / 1000 : p.step));
      if (h.points.length > 0 && !hidden.has(h.runId)) series.push({ label: runLabel(run), x: xs, y, color, points: h.points.length === 1 });
      rows.push({ run, color, summary: summarize(values, h.total), downsampled: h.downsampled, returned: h.returned });
    }
    return { series, rows };
  }, [data, byId, colorOf, x, hidden]);
  const drawn = series.length;
  const hiddenCount = rows.filter((r) => hidden.has(r.run.info.runId)).length;
  return (
    <>
      {series.length > 0 ? (
        <LineChart
          title={`${metric} of ${drawn} run${drawn === 1 ? '' : 's'} by ${x === 'time' ? 'time' : 'step'}${logY ? ', logarithmic scale' : ''}`}
          series={series}
          timeAxis={x === 'time'}
          xLabel={x === 'time' ? 'time' : 'step'}
          yLabel={metric}
          logY={logY}
          legend={false}
          height={360}
        />
      ) : (
        <p className="muted">{hiddenCount > 0 ? `Every run that logged ${metric} is hidden.` : `None of these runs logged ${metric}.`}</p>
      )}
      {hiddenCount > 0 ? (
        <p className="toolbar">
          <span className="muted">
            {hiddenCount} run{hiddenCount === 1 ? '' : 's'} hidden from the chart.
          </span>
          <button type="button" onClick={onShowAll}>
            Show every run
          </button>
        </p>
      ) : null}
      <div className="cmp-scroll compare-legend" role="region" aria-label={`Legend of the ${metric} chart`} tabIndex={0}>
        <table className="data cmp-legend-table">
          <caption className="visually-hidden">Runs on the {metric} chart with their last, lowest and highest values</caption>
          <thead>
            <tr>
              <th scope="col">Shown</th>
              <th scope="col">Run</th>
              <th scope="col" className="num">
                Last
              </th>
              <th scope="col" className="num">
                Min
              </th>
              <th scope="col" className="num">
                Max
              </th>
              <th scope="col" className="num">
                Points
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(({ run, color, summary, downsampled, returned }) => (
              <tr key={run.info.runId}>
                <td>
                  <input type="checkbox" checked={!hidden.has(run.info.runId)} onChange={(e) => onToggle(run.info.runId, e.target.checked)} aria-label={`Show ${runLabel(run)} on the chart`} />
                </td>
                <th scope="row" className="cmp-legend-run">
                  <span className="cmp-swatch" style={{ background: color }} aria-hidden="true" />
                  <Link to={href(`/runs/${seg(run.info.runId)}`)}>{runLabel(run)}</Link>
                  {run.info.lifecycleStage === 'deleted' ? <span className="badge warn cmp-deleted">deleted</span> : null}
                </th>
                {summary.total === 0 ? (
                  <td colSpan={4} className="muted">
                    not logged
                  </td>
                ) : (
                  <>
                    <td className="num">{formatNumber(summary.last)}</td>
                    <td className="num">{formatNumber(summary.min)}</td>
                    <td className="num">{formatNumber(summary.max)}</td>
                    <td className="num" title={downsampled ? `${returned} of ${summary.total} points drawn, extremes kept` : undefined}>
                      {summary.total.toLocaleString()}
                      {downsampled ? ' (downsampled)' : ''}
                    </td>
                  </>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
