/**
 * Sections of a model's monitoring dashboard: data quality per window, one window's quality
 * suite, alert rules with their events, performance from late labels, and the offline report.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import type { MonitoringAlert, MonitoringWindow, MonitoringWindowDetail, WindowPerformance } from '../../../src/client/schemas/monitoring.js';
import { buildWindowsReport, fetchAlertEvents, type TimeRange } from '../api/monitoring';
import { ErrorMessage, Loading } from './states';
import { formatNumber, formatPercent, formatTime } from './format';
import { LineChart } from './line-chart';
import { QualityBadge } from './monitoring-format';
import { windowSteps } from './drift-charts';

/** The highest missing share of a window's features, with the feature. */
function worstMissing(w: MonitoringWindow): { feature: string; share: number } | undefined {
  let worst: { feature: string; share: number } | undefined;
  for (const [k, v] of Object.entries(w.figures)) {
    if (!k.startsWith('missing_share:') || typeof v !== 'number') continue;
    if (!worst || v > worst.share) worst = { feature: k.slice('missing_share:'.length), share: v };
  }
  return worst;
}

/** Identifies a window in the URL: its start and version (several versions share a start during a rollout). */
export function windowKey(w: { windowStart: number; version: string }): string {
  return `${w.windowStart}@${w.version}`;
}

/** Every window of the range: rows, drift and data-quality figures; a button selects one for the detail. */
export function WindowsTable({ windows, selected, onSelect }: { windows: MonitoringWindow[]; selected: string; onSelect(key: string): void }): ReactNode {
  return (
    <div className="mon-scroll">
      <table className="data rowheads">
        <caption className="visually-hidden">Windows of the range, newest first, with their drift and data-quality figures</caption>
        <thead>
          <tr>
            <th scope="col">Window start</th>
            <th scope="col">Version</th>
            <th scope="col" className="num">
              Rows
            </th>
            <th scope="col" className="num">
              Requests
            </th>
            <th scope="col" className="num">
              Dropped rows
            </th>
            <th scope="col" className="num">
              Drifted features
            </th>
            <th scope="col" className="num">
              Quality failed
            </th>
            <th scope="col" className="num">
              Quality warnings
            </th>
            <th scope="col">Highest missing share</th>
            <th scope="col">Detail</th>
          </tr>
        </thead>
        <tbody>
          {windows.map((w) => {
            const key = windowKey(w);
            const missing = worstMissing(w);
            const f = w.figures;
            return (
              <tr key={key} aria-current={key === selected ? 'true' : undefined} className={key === selected ? 'mon-selected' : undefined}>
                <td>{formatTime(w.windowStart)}</td>
                <td>v{w.version}</td>
                <td className="num">{formatNumber(w.rows)}</td>
                <td className="num">{formatNumber(w.requests)}</td>
                <td className="num">{formatNumber(w.droppedRows)}</td>
                <td className="num">{f.drifted_columns === undefined || f.drifted_columns === null ? '–' : formatNumber(f.drifted_columns)}</td>
                <td className="num">{f.quality_failed === undefined || f.quality_failed === null ? '–' : formatNumber(f.quality_failed)}</td>
                <td className="num">{f.quality_warned === undefined || f.quality_warned === null ? '–' : formatNumber(f.quality_warned)}</td>
                <td>{missing ? `${formatPercent(missing.share, 1)} (${missing.feature})` : '–'}</td>
                <td>
                  {key === selected ? (
                    <span className="muted">Shown below</span>
                  ) : (
                    <button type="button" className="link-button" onClick={() => onSelect(key)} aria-label={`Show the window of ${formatTime(w.windowStart)}, version ${w.version}`}>
                      Show
                    </button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** One window's quality suite: tests that did not pass first, the passing ones folded away. */
export function QualityTests({ quality }: { quality: NonNullable<MonitoringWindowDetail['quality']> }): ReactNode {
  const notPassing = quality.tests.filter((t) => t.status !== 'pass');
  const passing = quality.tests.filter((t) => t.status === 'pass');
  const table = (tests: typeof quality.tests, caption: string): ReactNode => (
    <table className="data rowheads">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Test</th>
          <th scope="col">Feature</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Measured
          </th>
          <th scope="col">Condition</th>
          <th scope="col">Message</th>
        </tr>
      </thead>
      <tbody>
        {tests.map((t, i) => (
          <tr key={`${t.name}-${t.column ?? ''}-${i}`}>
            <th scope="row">{t.name}</th>
            <td>{t.column ?? '–'}</td>
            <td>
              <QualityBadge status={t.status} />
            </td>
            <td className="num">{t.value === null ? '–' : formatNumber(t.value)}</td>
            <td>{t.condition}</td>
            <td>{t.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
  return (
    <>
      <p>
        Suite: <QualityBadge status={quality.status} /> {`${quality.counts.pass} pass, ${quality.counts.warn} warning${quality.counts.warn === 1 ? '' : 's'}, ${quality.counts.fail} failed, ${quality.counts.error} could not be measured.`}
      </p>
      {notPassing.length > 0 ? table(notPassing, 'Data-quality tests that did not pass') : <p>Every data-quality test passed.</p>}
      {passing.length > 0 ? (
        <details>
          <summary>{`${passing.length} passing test${passing.length === 1 ? '' : 's'}`}</summary>
          {table(passing, 'Data-quality tests that passed')}
        </details>
      ) : null}
    </>
  );
}

function AlertEvents({ rule }: { rule: MonitoringAlert }): ReactNode {
  const events = useQuery({ queryKey: ['alert-events', rule.id], queryFn: ({ signal }) => fetchAlertEvents(rule.id, signal) });
  if (events.error) return <ErrorMessage title={`The events of ${rule.name} could not be read`} error={events.error} />;
  if (!events.data) return <Loading what={`Loading the events of ${rule.name}`} />;
  if (events.data.length === 0) return <p className="muted">{`${rule.name} has not fired yet.`}</p>;
  return (
    <table className="data rowheads">
      <caption className="visually-hidden">{`Events of alert ${rule.name}`}</caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Event</th>
          <th scope="col" className="num">
            Value
          </th>
          <th scope="col">Notification</th>
        </tr>
      </thead>
      <tbody>
        {events.data.map((e) => (
          <tr key={e.dedupKey}>
            <td>{formatTime(e.time)}</td>
            <td>{e.kind}</td>
            <td className="num">{formatNumber(e.value)}</td>
            <td>{rule.webhookUrl === null ? 'No webhook' : e.delivered ? 'Delivered' : e.lastError ? `Not delivered after ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}: ${e.lastError}` : 'Not sent yet'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The alert rules watching the model, their state, and each rule's events on demand. */
export function AlertsSection({ alerts }: { alerts: MonitoringAlert[] }): ReactNode {
  const [open, setOpen] = useState<string | undefined>(undefined);
  if (alerts.length === 0) return <p className="muted">No alert rule watches this model. Create one with POST /api/v1/monitoring/alerts.</p>;
  return (
    <>
      <table className="data rowheads">
        <caption className="visually-hidden">Alert rules of the model</caption>
        <thead>
          <tr>
            <th scope="col">Rule</th>
            <th scope="col">Condition</th>
            <th scope="col">State</th>
            <th scope="col" className="num">
              Last value
            </th>
            <th scope="col">Since</th>
            <th scope="col">Action</th>
            <th scope="col">Events</th>
          </tr>
        </thead>
        <tbody>
          {alerts.map((a) => (
            <tr key={a.id}>
              <th scope="row">{a.name}</th>
              <td>
                <code>{`${a.figure} ${a.comparison} ${formatNumber(a.threshold)}`}</code>
                {` for ${a.forWindows} window${a.forWindows === 1 ? '' : 's'}`}
              </td>
              <td>{a.state === 'firing' ? <span className="badge bad">Firing</span> : <span className="badge ok">OK</span>}</td>
              <td className="num">{formatNumber(a.lastValue)}</td>
              <td>{a.since === null ? '–' : formatTime(a.since)}</td>
              <td>{a.action ? (a.action.kind === 'command' ? `run ${a.action.run ?? ''}` : `${a.action.kind}${a.action.environment ? ` (${a.action.environment})` : ''}`) : a.webhookUrl ? 'webhook' : '–'}</td>
              <td>
                <button type="button" className="link-button" aria-expanded={open === a.id} onClick={() => setOpen(open === a.id ? undefined : a.id)}>
                  {open === a.id ? `Hide events of ${a.name}` : `Show events of ${a.name}`}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {open ? (
        <section aria-label="Alert events" className="mon-events">
          <AlertEvents rule={alerts.find((a) => a.id === open) as MonitoringAlert} />
        </section>
      ) : null}
    </>
  );
}

const METRICS: Record<'classification' | 'regression', Array<[string, string]>> = {
  classification: [
    ['accuracy', 'Accuracy'],
    ['precision', 'Precision'],
    ['recall', 'Recall'],
    ['f1', 'F1'],
    ['rocAuc', 'ROC AUC'],
    ['logLoss', 'Log loss'],
  ],
  regression: [
    ['mae', 'MAE'],
    ['rmse', 'RMSE'],
    ['r2', 'R²'],
  ],
};

/** Model performance per window from the late labels: a metric over windows, and the table. */
export function PerformanceSection({ windows, windowMs, metric, onMetric }: { windows: WindowPerformance[]; windowMs: number; metric: string; onMetric(m: string): void }): ReactNode {
  const task = windows[0]?.task ?? 'classification';
  const choices = METRICS[task];
  const chosen = choices.find(([k]) => k === metric)?.[0] ?? (choices[0] as [string, string])[0];
  const valuesOf = (w: WindowPerformance): Record<string, number | null> => (task === 'classification' ? w.classification : w.regression) ?? {};
  const ordered = useMemo(() => [...windows].sort((a, b) => a.windowStart - b.windowStart), [windows]);
  const series = useMemo(() => {
    const steps = windowSteps(
      ordered.map((w) => ({ ...w, windowEnd: w.windowStart + windowMs })),
      (w) => ((task === 'classification' ? w.classification : w.regression) ?? {})[chosen] ?? null,
    );
    return [{ label: choices.find(([k]) => k === chosen)?.[1] ?? chosen, ...steps }];
  }, [ordered, chosen, choices, task, windowMs]);
  if (windows.length === 0) return <p className="muted">No labels have arrived for this range yet. Send ground truth by request id with POST /api/v1/monitoring/models/NAME/ground-truth (or slipway monitor labels).</p>;
  return (
    <>
      <div className="toolbar">
        <label htmlFor="mon-metric">Metric</label>
        <select id="mon-metric" value={chosen} onChange={(e) => onMetric(e.target.value)}>
          {choices.map(([k, label]) => (
            <option key={k} value={k}>
              {label}
            </option>
          ))}
        </select>
        <span className="muted">{task === 'classification' ? 'Classification' : 'Regression'} metrics, per window of the prediction.</span>
      </div>
      <LineChart title={`${choices.find(([k]) => k === chosen)?.[1] ?? chosen} over windows`} series={series} timeAxis yLabel={chosen} height={220} />
      <table className="data rowheads">
        <caption className="visually-hidden">Model performance per window</caption>
        <thead>
          <tr>
            <th scope="col">Window start</th>
            <th scope="col">Version</th>
            <th scope="col" className="num">
              Labelled rows
            </th>
            {choices.map(([k, label]) => (
              <th key={k} scope="col" className="num">
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {[...ordered].reverse().map((w) => (
            <tr key={`${w.windowStart}@${w.version}`}>
              <td>{formatTime(w.windowStart)}</td>
              <td>v{w.version}</td>
              <td className="num">{formatNumber(w.labelled)}</td>
              {choices.map(([k]) => (
                <td key={k} className="num">
                  {formatNumber(valuesOf(w)[k] ?? null)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

/** The offline report over the range's windows of one version, built when the user asks for it. */
export function ReportSection({ model, version, range, rangeLabel }: { model: string; version: string | undefined; range: TimeRange; rangeLabel: string }): ReactNode {
  const build = useMutation({ mutationFn: (v: string) => buildWindowsReport(model, v, range) });
  if (!version) return <p className="muted">There is no window in this range to report on.</p>;
  return (
    <>
      <div className="toolbar">
        <button type="button" className="primary" onClick={() => build.mutate(version)} disabled={build.isPending}>
          {build.isPending ? 'Building the report…' : 'Build report'}
        </button>
        <span className="muted">{`Version ${version}’s windows in ${rangeLabel.toLowerCase()} (${range.from === undefined ? 'the first window' : formatTime(range.from)} to ${range.to === undefined ? 'now' : formatTime(range.to)}), merged and compared with its reference profile, with how much the model relies on each feature.`}</span>
      </div>
      {build.error ? <ErrorMessage title="The report could not be built" error={build.error} /> : null}
      {build.data ? <iframe className="mon-report-frame" sandbox="" srcDoc={build.data} title={`Monitoring report of ${model} version ${version}`} /> : null}
    </>
  );
}
