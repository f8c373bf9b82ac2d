/**
 * Parallel coordinates: one vertical axis per param and a last one for a metric, one polyline
 * per run coloured by that metric, to see which settings lead to good values.
 *
 * Drawn as SVG by hand: uPlot plots series against one shared x axis and has no per-axis scales
 * or categorical axes; a library that has them (ECharts, d3) would add hundreds of kilobytes for
 * one view, while a hundred polylines are a few hundred SVG nodes that print, zoom and carry a
 * title each.
 */
import { useEffect, useId, useMemo, useRef, useState, type ReactNode } from 'react';
import { formatNumber } from './format';

/** One run on the chart: its label, params and the metric's value (undefined when not logged). */
export interface ParallelRun {
  id: string;
  label: string;
  params: Record<string, string>;
  metric: number | undefined;
}

/** Props of ParallelCoordinates. */
export interface ParallelCoordinatesProps {
  runs: ParallelRun[];
  params: string[];
  metric: string;
}

type Axis =
  | { kind: 'numeric'; key: string; min: number; max: number; log: boolean }
  | { kind: 'categorical'; key: string; categories: string[] };

const MIN_AXIS_GAP = 120;
const MAX_AXIS_GAP = 260;
const HEIGHT = 320;
const TOP = 44;
const BOTTOM = 28;
const SIDE = 70;

// A perceptually ordered scale (dark blue → teal → green → dark gold), each stop ≥ 3:1 against white.
const STOPS: Array<[number, number, number]> = [
  [68, 1, 84],
  [49, 104, 142],
  [31, 128, 114],
  [53, 135, 41],
  [166, 118, 0],
];

/** The scale's colour at t in [0, 1]. */
export function metricColor(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0.5)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i] as [number, number, number];
  const b = STOPS[i + 1] as [number, number, number];
  const c = a.map((v, k) => Math.round(v + ((b[k] as number) - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

const collator = new Intl.Collator(undefined, { numeric: true });

/** A numeric axis; logarithmic when the values are positive and span two decades or more (learning rates, regularisation). */
function numericAxis(key: string, values: number[]): Axis {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { kind: 'numeric', key, min, max, log: min > 0 && max / min >= 100 };
}

/** Numeric when every logged value reads as a finite number, else categorical. */
function axisOf(key: string, values: Array<string | undefined>): Axis {
  const present = values.filter((v): v is string => v !== undefined);
  const numbers = present.map((v) => (v.trim() === '' ? Number.NaN : Number(v)));
  if (present.length > 0 && numbers.every(Number.isFinite)) return numericAxis(key, numbers);
  return { kind: 'categorical', key, categories: [...new Set(present)].sort(collator.compare) };
}

/** Where a value lies on an axis, 0 (bottom) to 1 (top); undefined when the run has no value. */
function position(axis: Axis, value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (axis.kind === 'numeric') {
    const n = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(n)) return undefined;
    if (axis.max === axis.min) return 0.5;
    if (axis.log) return n > 0 ? (Math.log10(n) - Math.log10(axis.min)) / (Math.log10(axis.max) - Math.log10(axis.min)) : undefined;
    return (n - axis.min) / (axis.max - axis.min);
  }
  const i = axis.categories.indexOf(String(value));
  if (i < 0) return undefined;
  return axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1);
}

function shorten(text: string, max = 20): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The chart and, beneath it, the same data as a table. */
export function ParallelCoordinates({ runs, params, metric }: ParallelCoordinatesProps): ReactNode {
  const titleId = useId();
  const gradientId = useId();
  const axes = useMemo(() => {
    const list = params.map((key) => axisOf(key, runs.map((r) => r.params[key])));
    const values = runs.map((r) => r.metric).filter((v): v is number => v !== undefined && Number.isFinite(v));
    list.push(values.length > 0 ? numericAxis(metric, values) : { kind: 'categorical', key: metric, categories: [] });
    return list;
  }, [runs, params, metric]);
  const metricAxis = axes[axes.length - 1] as Axis;
  // The axes spread over the width available, scrolling sideways only when there are too many for it.
  const box = useRef<HTMLDivElement>(null);
  const [available, setAvailable] = useState(900);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setAvailable(el.clientWidth));
    observer.observe(el);
    setAvailable(el.clientWidth);
    return () => observer.disconnect();
  }, []);
  const gap = Math.min(MAX_AXIS_GAP, Math.max(MIN_AXIS_GAP, (available - SIDE * 2) / Math.max(1, axes.length - 1)));
  const width = Math.round(SIDE * 2 + gap * Math.max(1, axes.length - 1));
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const xOf = (i: number): number => (axes.length === 1 ? width / 2 : SIDE + i * gap);
  const yOf = (t: number): number => TOP + (1 - t) * plotHeight;

  const lines = runs.map((run) => {
    let d = '';
    let pen = false;
    axes.forEach((axis, i) => {
      const t = i === axes.length - 1 ? position(axis, run.metric) : position(axis, run.params[axis.key]);
      // A run without a value on an axis breaks its line there rather than inventing one.
      if (t === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${xOf(i).toFixed(1)},${yOf(t).toFixed(1)}`;
      pen = true;
    });
    const t = metricAxis.kind === 'numeric' && run.metric !== undefined ? position(metricAxis, run.metric) : undefined;
    return { run, d, color: t === undefined ? '#6e7781' : metricColor(t), missing: t === undefined };
  });

  const ticks = (axis: Axis): Array<{ t: number; label: string }> => {
    if (axis.kind === 'numeric') {
      if (axis.min === axis.max) return [{ t: 0.5, label: formatNumber(axis.min) }];
      if (axis.log) {
        const lo = Math.log10(axis.min);
        const hi = Math.log10(axis.max);
        return [0, 0.5, 1].map((t) => ({ t, label: formatNumber(Number((10 ** (lo + (hi - lo) * t)).toPrecision(3))) }));
      }
      return [0, 0.5, 1].map((t) => ({ t, label: formatNumber(axis.min + (axis.max - axis.min) * t) }));
    }
    // Beyond a dozen categories the labels would overlap: the ends and the count tell enough, the table the rest.
    if (axis.categories.length <= 12) return axis.categories.map((c, i) => ({ t: axis.categories.length === 1 ? 0.5 : i / (axis.categories.length - 1), label: c }));
    return [
      { t: 0, label: axis.categories[0] as string },
      { t: 1, label: axis.categories[axis.categories.length - 1] as string },
    ];
  };

  const description = `Parallel coordinates of ${runs.length} run${runs.length === 1 ? '' : 's'}: ${params.length > 0 ? `params ${params.join(', ')}` : 'no params'} against ${metric}`;
  return (
    <figure className="cmp-parallel">
      <div className="cmp-scroll" role="region" aria-label="Parallel coordinates chart" tabIndex={0} ref={box}>
        <svg role="img" aria-labelledby={titleId} viewBox={`0 0 ${width} ${HEIGHT}`} width={width} height={HEIGHT} className="cmp-parallel-svg">
          <title id={titleId}>{description}</title>
          {lines.map(({ run, d, color, missing }) => (
            <path key={run.id} className="pc-line" d={d} stroke={color} strokeDasharray={missing ? '4 3' : undefined} fill="none" data-run={run.id}>
              <title>{`${run.label}: ${metric} ${run.metric === undefined ? 'not logged' : formatNumber(run.metric)}`}</title>
            </path>
          ))}
          {axes.map((axis, i) => (
            <g key={`${i}-${axis.key}`} className="pc-axis">
              <line x1={xOf(i)} x2={xOf(i)} y1={TOP} y2={TOP + plotHeight} />
              <text x={xOf(i)} y={TOP - 24} textAnchor="middle" className={i === axes.length - 1 ? 'pc-metric-label' : 'pc-label'}>
                {shorten(axis.key)}
                <title>{axis.key}</title>
              </text>
              {axis.kind === 'numeric' && axis.log ? (
                <text x={xOf(i)} y={TOP - 10} textAnchor="middle" className="pc-tick">
                  log scale
                </text>
              ) : null}
              {ticks(axis).map((tick) => (
                <text key={`${tick.t}-${tick.label}`} x={xOf(i) + 5} y={yOf(tick.t) + 4} className="pc-tick">
                  {shorten(tick.label, 16)}
                </text>
              ))}
              {axis.kind === 'categorical' && axis.categories.length > 12 ? (
                <text x={xOf(i)} y={TOP + plotHeight + 18} textAnchor="middle" className="pc-tick">
                  {axis.categories.length} values
                </text>
              ) : null}
            </g>
          ))}
        </svg>
      </div>
      {metricAxis.kind === 'numeric' ? (
        <figcaption className="pc-scale">
          <span>{formatNumber(metricAxis.min)}</span>
          <svg width="160" height="12" aria-hidden="true">
            <defs>
              <linearGradient id={gradientId}>
                {STOPS.map((_, i) => (
                  <stop key={i} offset={`${(i / (STOPS.length - 1)) * 100}%`} stopColor={metricColor(i / (STOPS.length - 1))} />
                ))}
              </linearGradient>
            </defs>
            <rect width="160" height="12" fill={`url(#${gradientId})`} />
          </svg>
          <span>{formatNumber(metricAxis.max)}</span>
          <span className="muted">
            line colour: {metric}; grey dashed: not logged
          </span>
        </figcaption>
      ) : (
        <figcaption className="muted">None of these runs logged {metric}: lines are grey.</figcaption>
      )}
      <div className="cmp-scroll cmp-pc-data" role="region" aria-label="Parallel coordinates data" tabIndex={0}>
        <table className="data">
          <caption className="visually-hidden">{description}, as a table</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              {params.map((p) => (
                <th key={p} scope="col">
                  {p}
                </th>
              ))}
              <th scope="col" className="num">
                {metric}
              </th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.id}>
                <th scope="row">{r.label}</th>
                {params.map((p) => (
                  <td key={p}>{r.params[p] ?? <span className="muted">–</span>}</td>
                ))}
                <td className="num">{r.metric === undefined ? <span className="muted">not logged</span> : formatNumber(r.metric)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
