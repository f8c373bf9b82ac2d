/**
 * Line charts with uPlot (canvas; draws a million points in tens of milliseconds), sized to
 * their container. Series may have x values of their own: they are aligned with uPlot.join.
 */
import { useEffect, useMemo, useRef, type ReactNode } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line. */
export interface ChartSeries {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number | null>;
  color?: string;
  /** Draw points only (no line), e.g. for sparse values. */
  points?: boolean;
  /** Dashed (thresholds, baselines). */
  dash?: boolean;
}

/** Props of LineChart. */
export interface LineChartProps {
  /** What the chart shows, for screen readers and the chart's title. */
  title: string;
  series: ChartSeries[];
  /** x values are epoch seconds (a time axis) rather than numbers such as steps. @default false */
  timeAxis?: boolean;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (values ≤ 0 are left out by uPlot). @default false */
  logY?: boolean;
  height?: number;
  /** Show uPlot's own legend under the chart (off where the page draws a legend of its own). @default true */
  legend?: boolean;
  /** Called once the chart has drawn, with how long building it took (ms). */
  onDrawn?(ms: number): void;
}

/** A palette with enough contrast on white, repeated for more series. */
export const PALETTE = ['#1f6feb', '#d1242f', '#1a7f37', '#8250df', '#bf8700', '#0a7ea4', '#cf222e', '#6e7781', '#e16f24', '#116329', '#953800', '#0550ae'];

/** Aligns series with different x values into uPlot's table: [x, y1, y2…]. */
export function alignSeries(series: ChartSeries[]): uPlot.AlignedData {
  if (series.length === 1) {
    const s = series[0] as ChartSeries;
    return [Array.from(s.x), Array.from(s.y)] as uPlot.AlignedData;
  }
  const tables = series.map((s) => [Array.from(s.x), Array.from(s.y)] as uPlot.AlignedData);
  return uPlot.join(tables);
}

/** The chart; re-created when its series or options change, resized with its container. */
export function LineChart({ title, series, timeAxis = false, xLabel, yLabel, logY = false, height = 300, legend = true, onDrawn }: LineChartProps): ReactNode {
  const box = useRef<HTMLDivElement>(null);
  const data = useMemo(() => alignSeries(series), [series]);
  useEffect(() => {
    const el = box.current;
    if (!el || series.length === 0) return;
    const started = performance.now();
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: timeAxis }, y: logY ? { distr: 3 } : {} },
      axes: [{ label: xLabel ?? '', stroke: '#444' }, { label: yLabel ?? '', stroke: '#444' }],
      series: [
        { label: xLabel ?? (timeAxis ? 'time' : 'x') },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: false,
          ...(s.dash ? { dash: [6, 4] } : {}),
          ...(s.points ? { paths: () => null, points: { show: true, size: 5 } } : { points: { show: false } }),
        })),
      ],
      legend: { show: legend, live: true },
      cursor: { drag: { x: true, y: false } },
    };
    const plot = new uPlot(opts, data, el);
    onDrawn?.(performance.now() - started);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [data, series, timeAxis, xLabel, yLabel, logY, height, legend, onDrawn]);
  if (series.length === 0) return <p className="muted">No points to draw.</p>;
  return <div ref={box} className="chart" role="img" aria-label={title} />;
}
