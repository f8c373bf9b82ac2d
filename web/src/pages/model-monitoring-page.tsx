/**
 * A model's monitoring dashboard over a time range in the URL: per-feature drift over the
 * windows, one window against the reference (drift and data quality), the windows' figures,
 * alert rules and events, performance from late labels, and the offline report on demand.
 */
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { MonitoringWindow } from '../../../src/client/schemas/monitoring.js';
import { api, getJson } from '../api/http';
import { fetchAlerts, fetchPerformance, fetchWindowDetail, fetchWindows } from '../api/monitoring';
import { PageHeader } from '../components/page-header';
import { ErrorMessage, Loading } from '../components/states';
import { formatNumber, formatPercent, formatTime } from '../components/format';
import { DriftCharts, DriftTable } from '../components/drift-charts';
import { AlertsSection, PerformanceSection, QualityTests, ReportSection, WindowsTable, windowKey } from '../components/monitoring-sections';
import { RANGE_PRESETS, formatWindowLength, fromLocalInput, rangeFromUrl, toLocalInput } from '../components/monitoring-format';
import { Link, setQueryParams, useQueryParam } from '../router';

function RangePicker({ preset, from, to }: { preset: string; from: number | undefined; to: number | undefined }): ReactNode {
  const custom = from !== undefined || to !== undefined;
  const [draftFrom, setDraftFrom] = useState(toLocalInput(from));
  const [draftTo, setDraftTo] = useState(toLocalInput(to));
  const apply = (e: FormEvent): void => {
    e.preventDefault();
    const f = fromLocalInput(draftFrom);
    const t = fromLocalInput(draftTo);
    setQueryParams({ from: f === undefined ? undefined : String(f), to: t === undefined ? undefined : String(t), range: undefined, window: undefined });
  };
  return (
    <form className="toolbar" onSubmit={apply} aria-label="Choose the time range">
      <label htmlFor="mon-range">Time range</label>
      <select id="mon-range" value={custom ? 'custom' : preset} onChange={(e) => setQueryParams({ range: e.target.value === 'custom' ? undefined : e.target.value, from: undefined, to: undefined, window: undefined })}>
        {RANGE_PRESETS.map((r) => (
          <option key={r.id} value={r.id}>
            {r.label}
          </option>
        ))}
        {custom ? <option value="custom">Custom range</option> : null}
      </select>
      <label htmlFor="mon-from">From</label>
      <input id="mon-from" type="datetime-local" value={draftFrom} onChange={(e) => setDraftFrom(e.target.value)} />
      <label htmlFor="mon-to">To</label>
      <input id="mon-to" type="datetime-local" value={draftTo} onChange={(e) => setDraftTo(e.target.value)} />
      <button type="submit">Apply range</button>
    </form>
  );
}

function Summary({ windows, windowMs }: { windows: MonitoringWindow[]; windowMs: number }): ReactNode {
  const rows = windows.reduce((n, w) => n + w.rows, 0);
  const dropped = windows.reduce((n, w) => n + w.droppedRows, 0);
  const drifted = windows.filter((w) => (w.figures.drifted_columns ?? 0) > 0).length;
  const failing = windows.filter((w) => (w.figures.quality_failed ?? 0) > 0).length;
  const cards: Array<[string, string]> = [
    ['Windows', `${formatNumber(windows.length)} of ${formatWindowLength(windowMs)}`],
    ['Rows observed', formatNumber(rows)],
    ['Rows dropped', formatNumber(dropped)],
    ['Windows with drift', `${formatNumber(drifted)} (${formatPercent(windows.length ? drifted / windows.length : null, 0)})`],
    ['Windows failing quality', formatNumber(failing)],
  ];
  return (
    <div className="cards">
      {cards.map(([label, value]) => (
        <div key={label} className="card">
          <div className="label">{label}</div>
          <div className="value">{value}</div>
        </div>
      ))}
    </div>
  );
}

/** A model neither referenced nor observed nor alerted on: say so instead of an empty dashboard. */
function useKnown(model: string): { known: boolean | undefined; error: unknown } {
  const refs = useQuery({ queryKey: ['monitoring-refs', model], queryFn: ({ signal }) => getJson<{ references: unknown[] }>(api('monitoring', 'models', model, 'references'), undefined, signal) });
  const any = useQuery({ queryKey: ['monitoring-any-window', model], queryFn: ({ signal }) => getJson<{ windows: unknown[] }>(api('monitoring', 'models', model, 'windows'), { limit: 1 }, signal) });
  if (refs.error || any.error) return { known: undefined, error: refs.error ?? any.error };
  if (!refs.data || !any.data) return { known: undefined, error: undefined };
  return { known: refs.data.references.length > 0 || any.data.windows.length > 0, error: undefined };
}

/** The monitoring dashboard of one model. */
export default function ModelMonitoringPage({ params }: { params: Record<string, string> }): ReactNode {
  const model = params.model ?? '';
  const [preset] = useQueryParam('range', '24h');
  const [fromParam] = useQueryParam('from');
  const [toParam] = useQueryParam('to');
  const [selected, setSelected] = useQueryParam('window');
  const [metric, setMetric] = useQueryParam('metric');
  // "Last 24 hours" moves with the clock: it is computed once per minute, not per render.
  const minute = Math.floor(Date.now() / 60_000);
  const range = useMemo(() => rangeFromUrl(preset, fromParam, toParam, minute * 60_000), [preset, fromParam, toParam, minute]);
  const timeRange = { from: range.from, to: range.to };
  const known = useKnown(model);
  const windows = useQuery({ queryKey: ['monitoring-windows', model, range.from, range.to], queryFn: ({ signal }) => fetchWindows(model, timeRange, signal), refetchInterval: 60_000 });
  const list = useMemo(() => windows.data?.windows ?? [], [windows.data]);
  const current = list.find((w) => windowKey(w) === selected) ?? list[0];
  const detail = useQuery({
    queryKey: ['monitoring-window', model, current?.windowStart, current?.version],
    queryFn: ({ signal }) => fetchWindowDetail(model, (current as MonitoringWindow).windowStart, (current as MonitoringWindow).version, signal),
    enabled: current !== undefined,
  });
  const alerts = useQuery({ queryKey: ['monitoring-alerts', model], queryFn: ({ signal }) => fetchAlerts(model, signal), refetchInterval: 60_000 });
  const performance = useQuery({ queryKey: ['monitoring-performance', model, range.from, range.to], queryFn: ({ signal }) => fetchPerformance(model, timeRange, signal) });
  const sameVersion = useMemo(() => (current ? list.filter((w) => w.version === current.version) : []), [list, current]);
  const crumbs = [{ label: 'Monitoring', to: '/monitoring' }];

  if (known.known === false) {
    return (
      <>
        <PageHeader title={model} crumbs={crumbs} />
        <div className="error-box" role="alert">
          <strong>Not monitored</strong>
          <p>{`No model named '${model}' is monitored: it has no reference profile and no live window. Attach a reference to a served version with slipway monitor reference set models:/${model}/VERSION, or check the name.`}</p>
        </div>
        <p>
          <Link to="/monitoring">See the monitored models</Link>
        </p>
      </>
    );
  }
  const firing = (alerts.data ?? []).filter((a) => a.state === 'firing');
  return (
    <>
      <PageHeader
        title={model}
        crumbs={crumbs}
        subtitle={
          <>
            Live monitoring · {range.label}
            {windows.data ? ` · windows of ${formatWindowLength(windows.data.windowMs)}` : ''}
            {firing.length > 0 ? (
              <>
                {' · '}
                <span className="badge bad">{`${firing.length} alert${firing.length === 1 ? '' : 's'} firing`}</span>
              </>
            ) : null}
          </>
        }
      />
      {known.error ? <ErrorMessage error={known.error} /> : null}
      <RangePicker key={`${fromParam}-${toParam}`} preset={preset} from={range.label === 'Custom range' ? range.from : undefined} to={range.label === 'Custom range' ? range.to : undefined} />
      {windows.error ? <ErrorMessage title="The windows could not be read" error={windows.error} /> : null}
      {windows.isPending ? <Loading what="Loading the windows" /> : null}
      {windows.data && list.length === 0 ? (
        <div className="empty">{`No window of ${model} starts in ${range.label.toLowerCase()}. Choose a longer range, or send the model requests: windows are ${formatWindowLength(windows.data.windowMs)} long and appear a few seconds after they end.`}</div>
      ) : null}
      {windows.data && list.length > 0 && current ? (
        <>
          <Summary windows={list} windowMs={windows.data.windowMs} />
          {list.length >= 10_000 ? <p className="lt-warning">{`This range holds more windows than the page reads at once: the newest ${formatNumber(list.length)} are shown. Narrow the range to see older ones.`}</p> : null}
          <section aria-labelledby="mon-drift">
            <h2 id="mon-drift">Feature drift over windows</h2>
            <p className="muted small">{`Version ${current.version}; thresholds and tests as in the selected window. A p-value below its threshold, or a distance above it, is drift.`}</p>
            <DriftCharts windows={sameVersion} columns={detail.data?.drift?.columns} />
          </section>
          <section aria-labelledby="mon-window">
            <h2 id="mon-window">{`Window of ${formatTime(current.windowStart)} (version ${current.version}) against the reference`}</h2>
            {detail.error ? <ErrorMessage title="The window could not be compared with its reference" error={detail.error} /> : null}
            {detail.isPending ? <Loading what="Comparing the window with its reference" /> : null}
            {detail.data && !detail.data.reference ? <p>{`Version ${current.version} has no reference profile, so this window is not compared for drift or quality. Its rows and missing shares are still recorded.`}</p> : null}
            {detail.data?.drift ? (
              <>
                <p>
                  {`${detail.data.drift.driftedColumns} of ${detail.data.drift.testedColumns} features drifted (${formatPercent(detail.data.drift.share, 0)}); dataset drift is `}
                  <strong>{detail.data.drift.drifted ? 'detected' : 'not detected'}</strong>
                  {` (at ${formatPercent(detail.data.drift.driftShare, 0)} of features). ${formatNumber(detail.data.rows)} rows in the window; reference of ${formatNumber(detail.data.reference?.rows ?? 0)} rows${detail.data.reference?.source ? ` from ${detail.data.reference.source}` : ''}.`}
                </p>
                <DriftTable columns={detail.data.drift.columns} />
              </>
            ) : null}
            {detail.data?.quality ? (
              <>
                <h3>Data quality of this window</h3>
                <QualityTests quality={detail.data.quality} />
              </>
            ) : null}
          </section>
          <section aria-labelledby="mon-windows">
            <h2 id="mon-windows">Windows and data quality</h2>
            <WindowsTable windows={list} selected={windowKey(current)} onSelect={(k) => setSelected(k)} />
          </section>
        </>
      ) : null}
      <section aria-labelledby="mon-alerts">
        <h2 id="mon-alerts">Alerts</h2>
        {alerts.error ? <ErrorMessage title="The alert rules could not be read" error={alerts.error} /> : alerts.data ? <AlertsSection alerts={alerts.data} /> : <Loading what="Loading the alert rules" />}
      </section>
      <section aria-labelledby="mon-performance">
        <h2 id="mon-performance">Model performance</h2>
        {performance.error ? <ErrorMessage title="The performance could not be read" error={performance.error} /> : performance.data ? <PerformanceSection windows={performance.data} windowMs={windows.data?.windowMs ?? 60_000} metric={metric} onMetric={(m) => setMetric(m)} /> : <Loading what="Loading the performance" />}
      </section>
      <section aria-labelledby="mon-report">
        <h2 id="mon-report">Report</h2>
        <ReportSection key={`${range.from}-${range.to}-${current?.version}`} model={model} version={current?.version} range={timeRange} rangeLabel={range.label} />
      </section>
    </>
  );
}
