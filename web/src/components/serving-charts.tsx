/** Small rolling charts of one served model: request rate, latency quantiles and error share over the polls kept in the page. */
import { useMemo, type ReactNode } from 'react';
import { windowFigures, type Totals } from '../api/serving';
import { LineChart, type ChartSeries } from './line-chart';

/** One poll as the page keeps it: the server's time and every model's totals. */
export interface ServingSample {
  /** The server's clock at the poll, epoch ms. */
  time: number;
  totals: Map<string, Totals>;
}

/** Props of ServingCharts. */
export interface ServingChartsProps {
  /** The key of the totals to chart: a model name, or `model\u0000version`. */
  totalsKey: string;
  label: string;
  samples: readonly ServingSample[];
}

/** Rate, latency and errors between consecutive polls, one point per poll. */
export function ServingCharts({ totalsKey, label, samples }: ServingChartsProps): ReactNode {
  const series = useMemo(() => {
    const x: number[] = [];
    const rate: number[] = [];
    const p50: Array<number | null> = [];
    const p95: Array<number | null> = [];
    const p99: Array<number | null> = [];
    const errors: Array<number | null> = [];
    for (let i = 1; i < samples.length; i++) {
      const prev = samples[i - 1] as ServingSample;
      const cur = samples[i] as ServingSample;
      const now = cur.totals.get(totalsKey);
      if (!now) continue;
      const f = windowFigures(now, prev.totals.get(totalsKey) ?? { total: 0, errors: 0, serverErrors: 0, histogram: null }, (cur.time - prev.time) / 1000);
      x.push(cur.time / 1000);
      rate.push(f.rate);
      p50.push(f.p50 === null ? null : f.p50 * 1000);
      p95.push(f.p95 === null ? null : f.p95 * 1000);
      p99.push(f.p99 === null ? null : f.p99 * 1000);
      errors.push(f.errorShare === null ? (f.requests === 0 ? 0 : null) : f.errorShare * 100);
    }
    const one = (name: string, y: Array<number | null>, color: string): ChartSeries => ({ label: name, x, y, color });
    return {
      count: x.length,
      rate: [one('requests/s', rate, '#1f6feb')],
      latency: [one('p50 ms', p50, '#1a7f37'), one('p95 ms', p95, '#bf8700'), one('p99 ms', p99, '#d1242f')],
      errors: [one('errors %', errors, '#d1242f')],
    };
  }, [samples, totalsKey]);
  if (series.count < 2) return <p className="muted small">The charts fill in as the page polls (every 2 s, the last 5 minutes kept).</p>;
  return (
    <div className="serving-charts">
      <div>
        <h3 className="serving-chart-title">Requests per second</h3>
        <LineChart title={`${label}: requests per second, last 5 minutes`} series={series.rate} timeAxis height={140} legend={false} />
      </div>
      <div>
        <h3 className="serving-chart-title">Latency (ms): p50, p95, p99</h3>
        <LineChart title={`${label}: latency p50, p95 and p99 in milliseconds, last 5 minutes`} series={series.latency} timeAxis height={140} legend={false} />
      </div>
      <div>
        <h3 className="serving-chart-title">Errors (%)</h3>
        <LineChart title={`${label}: share of failed requests in percent, last 5 minutes`} series={series.errors} timeAxis height={140} legend={false} />
      </div>
    </div>
  );
}
