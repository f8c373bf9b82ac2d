/**
 * One metric's chart on uPlot: the downsampled points drawn as a line (per bucket the first,
 * last, smallest and largest point, so the line spans each bucket's min–max envelope and spikes
 * stay visible), an optional EMA-smoothed line over it with the raw one faint behind, gaps for
 * NaN and infinities, a log y axis, and zoom by dragging along x.
 */
import { useEffect, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** The points of one series, x ascending; null y is a gap. */
export interface MetricSeriesData {
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
}

/** Props of MetricChart. */
export interface MetricChartProps {
  /** The metric key: the legend's label and the chart's accessible name. */
  metric: string;
  data: MetricSeriesData;
  /** x is epoch milliseconds (wall time) rather than steps. */
  timeAxis: boolean;
  logY: boolean;
  /** EMA weight 0–0.99; 0 draws the raw line only. */
  smoothing: number;
  color: string;
  /** The points are a downsampled series: shade each bucket's min–max band behind the line. */
  envelope?: boolean;
  height?: number;
  /** The user dragged over [from, to] (in x units: steps, or epoch ms). */
  onZoom?(from: number, to: number): void;
  /** A performance mark set once the first draw is done, for benchmarks. */
  drawnMark?: string;
}

/**
 * Exponential moving average with bias correction (early points are not pulled toward 0);
 * gaps stay gaps and do not reset the average.
 */
export function emaSmooth(y: ArrayLike<number | null>, weight: number): Array<number | null> {
  const out = new Array<number | null>(y.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (v === null || v === undefined) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    count++;
    out[i] = last / (1 - weight ** count);
  }
  return out;
}

/**
 * The min–max band of a downsampled series at each of its points: the x range is cut into
 * equal buckets of about four points (the first, last, min and max the server kept per bucket),
 * and every point carries its bucket's smallest and largest value. Gaps stay gaps.
 */
export function bucketEnvelope(x: ArrayLike<number>, y: ArrayLike<number | null>): { lo: Array<number | null>; hi: Array<number | null> } {
  const n = x.length;
  const lo = new Array<number | null>(n).fill(null);
  const hi = new Array<number | null>(n).fill(null);
  if (n === 0) return { lo, hi };
  const x0 = x[0] as number;
  const span = (x[n - 1] as number) - x0;
  const buckets = Math.max(1, Math.ceil(n / 4));
  const bucketOf = (v: number): number => (span <= 0 ? 0 : Math.min(buckets - 1, Math.floor(((v - x0) / span) * buckets)));
  let start = 0;
  while (start < n) {
    const b = bucketOf(x[start] as number);
    let end = start;
    let min = Infinity;
    let max = -Infinity;
    while (end < n && bucketOf(x[end] as number) === b) {
      const v = y[end];
      if (v !== null && v !== undefined) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      end++;
    }
    for (let i = start; i < end; i++) {
      if (y[i] === null || y[i] === undefined || min > max) continue;
      lo[i] = min;
      hi[i] = max;
    }
    start = end;
  }
  return { lo, hi };
}

/** A colour with an alpha channel, from #rrggbb. */
function faint(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return color;
  return `rgba(${parseInt(m[1] as string, 16)}, ${parseInt(m[2] as string, 16)}, ${parseInt(m[3] as string, 16)}, ${alpha})`;
}

/** The chart; rebuilt when its data or options change, resized with its container. */
export function MetricChart({ metric, data, timeAxis, logY, smoothing, color, envelope = false, height = 280, onZoom, drawnMark }: MetricChartProps): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    // uPlot's time scale is in seconds; the API's timestamps are milliseconds.
    const xs = timeAxis ? Float64Array.from(data.x, (v) => v / 1000) : Float64Array.from(data.x);
    // A log axis cannot place zero or negative values: leave them out as gaps.
    const raw = Array.from(data.y, (v) => (v === null || (logY && v <= 0) ? null : v));
    const smooth = smoothing > 0;
    const columns: Array<ArrayLike<number | null>> = [xs, raw];
    const series: uPlot.Series[] = [
      { label: timeAxis ? 'Time' : 'Step' },
      { label: smooth ? `${metric} (raw)` : metric, stroke: smooth ? faint(color, 0.3) : color, width: smooth ? 1 : 1.5, spanGaps: false, points: { show: false } },
    ];
    if (smooth) {
      columns.push(emaSmooth(raw, smoothing));
      series.push({ label: metric, stroke: color, width: 2, spanGaps: false, points: { show: false } });
    }
    const bands: uPlot.Band[] = [];
    if (envelope) {
      const { lo, hi } = bucketEnvelope(xs, raw);
      const top = columns.length;
      columns.push(hi, lo);
      const edge = { stroke: faint(color, 0.25), width: 0.5, spanGaps: false, points: { show: false } };
      series.push({ label: 'bucket max', ...edge }, { label: 'bucket min', ...edge });
      bands.push({ series: [top, top + 1], fill: faint(color, 0.12) });
    }
    let marked = false;
    const opts: uPlot.Options = {
      width: Math.max(240, el.clientWidth),
      height,
      scales: { x: { time: timeAxis }, y: logY ? { distr: 3 } : {} },
      axes: [
        { stroke: '#3d444d', grid: { stroke: '#eaeef2' }, ...(timeAxis ? {} : { label: 'Step' }) },
        { stroke: '#3d444d', grid: { stroke: '#eaeef2' }, size: 64 },
      ],
      series,
      bands,
      legend: { live: true },
      cursor: { drag: { x: true, y: false, setScale: true } },
      hooks: {
        draw: [
          () => {
            if (!marked && drawnMark) performance.mark(drawnMark);
            marked = true;
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            zoomRef.current?.(timeAxis ? Math.floor(from * 1000) : Math.floor(from), timeAxis ? Math.ceil(to * 1000) : Math.ceil(to));
          },
        ],
      },
    };
    const plot = new uPlot(opts, columns as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data, metric, timeAxis, logY, smoothing, color, envelope, height, drawnMark]);
  return <div ref={box} className="chart metric-chart" role="img" aria-label={`Chart of ${metric} by ${timeAxis ? 'wall time' : 'step'}${logY ? ', log scale' : ''}`} />;
}
