/** The monitored models: references, newest window (drift and quality) and alert status, each linking to its dashboard. */
import type { ReactNode } from 'react';
import { useQuery } from '@tanstack/react-query';
import type { MonitoredModel } from '../../../src/client/schemas/monitoring.js';
import { fetchMonitoredModels } from '../api/monitoring';
import { formatWindowLength } from '../components/monitoring-format';
import { PageHeader } from '../components/page-header';
import { Empty, QueryView } from '../components/states';
import { formatAgo, formatNumber, formatPercent, formatTime } from '../components/format';
import { Link, seg } from '../router';

function AlertCell({ m }: { m: MonitoredModel }): ReactNode {
  if (m.alerts.total === 0) return <span className="muted">No rules</span>;
  if (m.alerts.firing.length === 0) return <span className="badge ok">{`OK (${m.alerts.total} rule${m.alerts.total === 1 ? '' : 's'})`}</span>;
  return <span className="badge bad">{`Firing: ${m.alerts.firing.join(', ')}`}</span>;
}

function DriftCell({ m }: { m: MonitoredModel }): ReactNode {
  const w = m.latestWindow;
  if (!w) return <span className="muted">No window yet</span>;
  const drifted = w.figures.drifted_columns;
  if (drifted === undefined || drifted === null) return <span className="muted">No reference for v{w.version}</span>;
  const share = w.figures.drift_share;
  return drifted > 0 ? (
    <span className="badge bad">{`${drifted} feature${drifted === 1 ? '' : 's'} drifted (${formatPercent(share ?? null, 0)})`}</span>
  ) : (
    <span className="badge ok">No drift</span>
  );
}

function QualityCell({ m }: { m: MonitoredModel }): ReactNode {
  const f = m.latestWindow?.figures;
  if (!f || f.quality_failed === undefined || f.quality_failed === null) return <span className="muted">–</span>;
  if ((f.quality_failed ?? 0) > 0) return <span className="badge bad">{`${f.quality_failed} failed`}</span>;
  if ((f.quality_warned ?? 0) > 0) return <span className="badge warn">{`${f.quality_warned} warning${f.quality_warned === 1 ? '' : 's'}`}</span>;
  return <span className="badge ok">All pass</span>;
}

/** The monitoring overview page. */
export default function MonitoringPage(): ReactNode {
  const query = useQuery({ queryKey: ['monitoring-models'], queryFn: ({ signal }) => fetchMonitoredModels(signal), refetchInterval: 60_000 });
  return (
    <>
      <PageHeader title="Monitoring" subtitle="Models watched by live monitoring: their reference profiles, the newest window’s drift and data quality, and their alerts." />
      <QueryView query={query} what="Loading the monitored models">
        {(data) =>
          data.models.length === 0 ? (
            <Empty>
              No model is monitored yet. Attach a reference profile to a served model version with <code>slipway monitor reference set models:/NAME/VERSION --data holdout.csv</code>; its requests then fill windows of{' '}
              {formatWindowLength(data.windowMs)}.
            </Empty>
          ) : (
            <table className="data">
              <caption className="visually-hidden">Monitored models</caption>
              <thead>
                <tr>
                  <th scope="col">Model</th>
                  <th scope="col">Reference versions</th>
                  <th scope="col">Newest window</th>
                  <th scope="col" className="num">
                    Rows
                  </th>
                  <th scope="col">Drift</th>
                  <th scope="col">Data quality</th>
                  <th scope="col">Alerts</th>
                </tr>
              </thead>
              <tbody>
                {data.models.map((m) => (
                  <tr key={m.model}>
                    <td>
                      <Link to={`/monitoring/${seg(m.model)}`}>{m.model}</Link>
                    </td>
                    <td>{m.references.length === 0 ? <span className="muted">none</span> : m.references.map((r) => `v${r.version}`).join(', ')}</td>
                    <td>{m.latestWindow ? `${formatTime(m.latestWindow.windowStart)} (v${m.latestWindow.version}, ended ${formatAgo(m.latestWindow.windowEnd)})` : <span className="muted">none</span>}</td>
                    <td className="num">{m.latestWindow ? formatNumber(m.latestWindow.rows) : '–'}</td>
                    <td>
                      <DriftCell m={m} />
                    </td>
                    <td>
                      <QualityCell m={m} />
                    </td>
                    <td>
                      <AlertCell m={m} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
    </>
  );
}
