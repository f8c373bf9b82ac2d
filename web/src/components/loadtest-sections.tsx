/**
 * The sections of a load-test report: settings, latency over time, percentiles (side by side
 * with a baseline), throughput, errors and thresholds.
 */
import { Fragment, useMemo, type ReactNode } from 'react';
import type { LoadTestResult } from '../../../src/client/schemas/loadtests.js';
import { formatDuration, formatNumber, formatPercent, formatTime } from './format';
import { LineChart, PALETTE, type ChartSeries } from './line-chart';
import { formatMs } from './loadtest-format';

/** How the schedule reads in words: "40 req/s for 2.0 s", a ramp, or N closed-loop clients. */
export function describeSchedule(r: LoadTestResult): string {
  const s = r.settings;
  if (s.mode === 'closed') return `${s.clients ?? '?'} closed-loop client${s.clients === 1 ? '' : 's'} for ${formatDuration(s.durationMs)}`;
  const parts = s.profile.map((p) => (p.from === p.to ? `${formatNumber(p.to)} req/s for ${formatDuration(p.durationMs)}` : `${formatNumber(p.from)} → ${formatNumber(p.to)} req/s over ${formatDuration(p.durationMs)}`));
  return `Open model: ${parts.join(', then ') || 'no arrivals'}`;
}

/** The run's settings as a definition list. */
export function LoadTestSettings({ result }: { result: LoadTestResult }): ReactNode {
  const s = result.settings;
  const model = result.target.model;
  const rows: Array<[string, ReactNode]> = [
    ['Target', <code key="t">{`${result.target.method} ${result.target.url}`}</code>],
    ['Protocol', result.target.protocol],
    ...(model ? ([['Model', `${model.name}${model.version ? ` version ${model.version}` : ''}${model.alias ? ` (@${model.alias})` : ''}`]] as Array<[string, ReactNode]>) : []),
    ['Schedule', describeSchedule(result)],
    ['Measured for', formatDuration(s.durationMs)],
    ['Warm-up', s.warmupMs > 0 ? formatDuration(s.warmupMs) : 'none'],
    ['Connections', formatNumber(s.connections)],
    ['Generator workers', formatNumber(s.workers)],
    ['Request timeout', formatDuration(s.timeoutMs)],
    ['Rows per request', s.payloads > 0 ? `${formatNumber(s.rowsPerRequest)} (${formatNumber(s.payloads)} payload${s.payloads === 1 ? '' : 's'}, ${s.sampling}${s.seed !== null && s.sampling === 'random' ? ` sampling, seed ${s.seed}` : ' order'})` : 'no data rows (a fixed request body)'],
    ...(s.data ? ([['Data', <code key="d">{s.data}</code>]] as Array<[string, ReactNode]>) : []),
    ['Started', formatTime(Date.parse(result.startedAt))],
    ['Finished', formatTime(Date.parse(result.finishedAt))],
  ];
  return (
    <dl className="kv">
      {rows.map(([k, v]) => (
        <Fragment key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </Fragment>
      ))}
    </dl>
  );
}

const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** Latency per second of the measured window; with a baseline, both tests' p50 and p99 on one chart. */
export function LatencyOverTime({ result, baseline }: { result: LoadTestResult; baseline?: LoadTestResult | undefined }): ReactNode {
  const series = useMemo((): ChartSeries[] => {
    const x = (r: LoadTestResult): number[] => r.timeSeries.map((t) => t.second);
    // A test of a second or two has one or two whole seconds: dots, as a line needs more points to read.
    const line = (r: LoadTestResult, key: 'p50' | 'p90' | 'p99' | 'max', label: string, color: string, dash = false): ChartSeries => ({ label, x: x(r), y: r.timeSeries.map((t) => finite(t[key])), color, dash, points: r.timeSeries.length < 3 });
    if (!baseline) return [line(result, 'p50', 'p50', PALETTE[0] as string), line(result, 'p90', 'p90', PALETTE[2] as string), line(result, 'p99', 'p99', PALETTE[1] as string), line(result, 'max', 'max', PALETTE[7] as string)];
    return [line(result, 'p50', 'This test p50', PALETTE[0] as string), line(result, 'p99', 'This test p99', PALETTE[1] as string), line(baseline, 'p50', 'Baseline p50', PALETTE[0] as string, true), line(baseline, 'p99', 'Baseline p99', PALETTE[1] as string, true)];
  }, [result, baseline]);
  if (result.timeSeries.length === 0) return <p className="muted">No whole second was measured, so there is no latency over time to draw.</p>;
  if (result.timeSeries.length === 1) {
    const only = result.timeSeries[0] as LoadTestResult['timeSeries'][number];
    return <p className="muted">{`Only one whole second was measured (p50 ${formatMs(only.p50)}, p99 ${formatMs(only.p99)}); latency over time needs a test of two seconds or more.`}</p>;
  }
  return <LineChart title={baseline ? 'Latency over time, this test and the baseline (ms)' : 'Latency over time (ms)'} series={series} xLabel="second of the measured window" yLabel="latency (ms)" height={280} />;
}

// Percentiles on a "nines" axis (1 = p90, 2 = p99, 3 = p99.9), where the tail gets the room it deserves.
const nines = (p: number): number => -Math.log10(1 - p / 100);

/** Latency by percentile (HdrHistogram's view); with a baseline, both curves. */
export function LatencyByPercentile({ result, baseline }: { result: LoadTestResult; baseline?: LoadTestResult | undefined }): ReactNode {
  const series = useMemo((): ChartSeries[] => {
    const curve = (r: LoadTestResult, label: string, color: string, dash = false): ChartSeries => {
      const pts = r.percentileCurve.filter((c) => c.percentile < 100 && Number.isFinite(c.ms));
      return { label, x: pts.map((c) => nines(c.percentile)), y: pts.map((c) => c.ms), color, dash };
    };
    return baseline ? [curve(result, 'This test', PALETTE[1] as string), curve(baseline, 'Baseline', PALETTE[0] as string, true)] : [curve(result, 'latency', PALETTE[1] as string)];
  }, [result, baseline]);
  if (result.percentileCurve.length === 0) return <p className="muted">Nothing was answered, so there is no latency distribution to draw.</p>;
  return <LineChart title={baseline ? 'Latency by percentile, this test and the baseline (ms)' : 'Latency by percentile (ms)'} series={series} xLabel="nines: 1 = p90, 2 = p99, 3 = p99.9, 4 = p99.99" yLabel="latency (ms)" height={260} />;
}

type Better = 'lower' | 'higher';

/** The difference between a value and its baseline in words: "+1.2 ms (+12.0 %), worse". */
export function Difference({ current, base, better, format }: { current: number; base: number; better: Better; format(v: number): string }): ReactNode {
  if (!Number.isFinite(current) || !Number.isFinite(base)) return <span className="muted">–</span>;
  const delta = current - base;
  const rel = base !== 0 ? delta / Math.abs(base) : null;
  // Within half a percent reads as the same: timer and scheduling noise is larger than that.
  const same = delta === 0 || (rel !== null && Math.abs(rel) < 0.005);
  const improved = better === 'lower' ? delta < 0 : delta > 0;
  const sign = delta > 0 ? '+' : delta < 0 ? '−' : '±';
  const text = `${sign}${format(Math.abs(delta))}${rel !== null ? ` (${sign}${(Math.abs(rel) * 100).toFixed(1)} %)` : ''}`;
  if (same) return <span className="lt-same">{text}, about the same</span>;
  return <span className={improved ? 'lt-better' : 'lt-worse'}>{`${text}, ${improved ? 'better' : 'worse'}`}</span>;
}

const PERCENTILES: Array<[keyof LoadTestResult['latencyMs'], string]> = [
  ['p50', 'p50 (median)'],
  ['p90', 'p90'],
  ['p95', 'p95'],
  ['p99', 'p99'],
  ['p99.9', 'p99.9'],
  ['max', 'max'],
  ['mean', 'mean'],
  ['min', 'min'],
];

/** The header row of a table that may set this test beside a baseline. */
function ComparisonHead({ first, value, baseline }: { first: string; value: string; baseline: boolean }): ReactNode {
  return (
    <thead>
      <tr>
        <th scope="col">{first}</th>
        <th scope="col" className="num">
          {baseline ? 'This test' : value}
        </th>
        {baseline ? (
          <>
            <th scope="col" className="num">
              Baseline
            </th>
            <th scope="col">Difference</th>
          </>
        ) : null}
      </tr>
    </thead>
  );
}

/** Latency percentiles, side by side with a baseline's and their differences when one is chosen. */
export function PercentileTable({ result, baseline }: { result: LoadTestResult; baseline?: LoadTestResult | undefined }): ReactNode {
  return (
    <table className="data lt-narrow rowheads">
      <caption className="visually-hidden">Latency percentiles{baseline ? ' compared with the baseline' : ''}</caption>
      <ComparisonHead first="Statistic" value="Latency" baseline={baseline !== undefined} />
      <tbody>
        {PERCENTILES.map(([key, label]) => (
          <tr key={key}>
            <th scope="row">{label}</th>
            <td className="num">{formatMs(result.latencyMs[key])}</td>
            {baseline ? (
              <>
                <td className="num">{formatMs(baseline.latencyMs[key])}</td>
                <td>
                  <Difference current={result.latencyMs[key]} base={baseline.latencyMs[key]} better="lower" format={formatMs} />
                </td>
              </>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

const perSecond = (v: number): string => `${formatNumber(Number(v.toFixed(1)))} req/s`;

/** Requests, throughput and error rate; with a baseline, side by side. */
export function ThroughputTable({ result, baseline }: { result: LoadTestResult; baseline?: LoadTestResult | undefined }): ReactNode {
  const rows: Array<{ label: string; value(r: LoadTestResult): number | null; format(v: number): string; better?: Better }> = [
    { label: 'Throughput achieved (successful answers per second)', value: (r) => r.throughput.achieved, format: perSecond, better: 'higher' },
    { label: 'Throughput offered by the schedule', value: (r) => r.throughput.offered, format: perSecond },
    { label: 'Requests sent', value: (r) => r.requests.sent, format: formatNumber },
    { label: 'Answered OK', value: (r) => r.requests.ok, format: formatNumber },
    { label: 'Failed (HTTP ≥ 400, transport, timeouts, drops)', value: (r) => r.requests.errors, format: formatNumber, better: 'lower' },
    { label: 'Error rate', value: (r) => r.errorRate, format: (v) => formatPercent(v, 3), better: 'lower' },
  ];
  return (
    <table className="data lt-narrow rowheads">
      <caption className="visually-hidden">Throughput and requests{baseline ? ' compared with the baseline' : ''}</caption>
      <ComparisonHead first="Figure" value="Value" baseline={baseline !== undefined} />
      <tbody>
        {rows.map((row) => {
          const cur = row.value(result);
          const base = baseline ? row.value(baseline) : null;
          return (
            <tr key={row.label}>
              <th scope="row">{row.label}</th>
              <td className="num">{cur === null ? '–' : row.format(cur)}</td>
              {baseline ? (
                <>
                  <td className="num">{base === null ? '–' : row.format(base)}</td>
                  <td>{row.better && cur !== null && base !== null ? <Difference current={cur} base={base} better={row.better} format={row.format} /> : <span className="muted">–</span>}</td>
                </>
              ) : null}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Errors by kind and by HTTP status. */
export function ErrorsTable({ result }: { result: LoadTestResult }): ReactNode {
  const kinds = Object.entries(result.errorsByKind).filter(([, n]) => n > 0);
  const statuses = Object.entries(result.errorsByStatus).filter(([, n]) => n > 0);
  if (kinds.length === 0 && statuses.length === 0) return <p>No request failed.</p>;
  return (
    <table className="data lt-narrow rowheads">
      <caption className="visually-hidden">Failed requests by kind and HTTP status</caption>
      <thead>
        <tr>
          <th scope="col">Error</th>
          <th scope="col" className="num">
            Requests
          </th>
          <th scope="col" className="num">
            Share of sent
          </th>
        </tr>
      </thead>
      <tbody>
        {kinds.map(([k, n]) => (
          <tr key={`kind-${k}`}>
            <th scope="row">{k.replaceAll('_', ' ')}</th>
            <td className="num">{formatNumber(n)}</td>
            <td className="num">{formatPercent(result.requests.sent > 0 ? n / result.requests.sent : null, 2)}</td>
          </tr>
        ))}
        {statuses.map(([s, n]) => (
          <tr key={`status-${s}`}>
            <th scope="row">HTTP {s}</th>
            <td className="num">{formatNumber(n)}</td>
            <td className="num">{formatPercent(result.requests.sent > 0 ? n / result.requests.sent : null, 2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function measured(t: LoadTestResult['thresholds'][number]): string {
  if (t.metric === 'error_rate') return formatPercent(t.actual, 3);
  if (t.metric === 'throughput') return perSecond(t.actual);
  return formatMs(t.actual);
}

/** Each threshold as written, its measured value and its verdict. */
export function ThresholdTable({ result }: { result: LoadTestResult }): ReactNode {
  if (result.thresholds.length === 0) return <p className="muted">This test had no thresholds (SLOs); it passes when the generator keeps up.</p>;
  return (
    <table className="data lt-narrow rowheads">
      <caption className="visually-hidden">Thresholds with measured values and verdicts</caption>
      <thead>
        <tr>
          <th scope="col">Threshold</th>
          <th scope="col" className="num">
            Measured
          </th>
          <th scope="col">Verdict</th>
        </tr>
      </thead>
      <tbody>
        {result.thresholds.map((t) => (
          <tr key={t.expression}>
            <th scope="row">
              <code>{t.expression}</code>
            </th>
            <td className="num">{measured(t)}</td>
            <td>{t.passed ? <span className="badge ok">Passed</span> : <span className="badge bad">Failed</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
