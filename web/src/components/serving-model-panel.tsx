/** One served model on the serving page: its state, live figures, versions, the traffic split of a running release, and rolling charts. */
import type { ReactNode } from 'react';
import type { Release } from '../../../src/client/schemas/releases.js';
import type { ServedModelStats } from '../../../src/client/schemas/serving.js';
import { histogramQuantile, useTraffic, windowFigures, type WindowFigures } from '../api/serving';
import { Link, seg } from '../router';
import { formatNumber, formatPercent } from './format';
import { ServingCharts, type ServingSample } from './serving-charts';

/** A latency in seconds as ms with enough digits for sub-millisecond models. */
export function formatLatency(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const ms = seconds * 1000;
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A rate in requests per second. */
export function formatRate(rate: number): string {
  if (rate === 0) return '0';
  if (rate < 10) return rate.toFixed(2);
  if (rate < 1000) return rate.toFixed(1);
  return Math.round(rate).toLocaleString();
}

/** The badge class of a repository state. */
export function stateClass(state: string | null): string {
  if (state === 'READY') return 'badge ok';
  if (state === 'LOADING') return 'badge warn';
  if (state === null) return 'badge';
  return 'badge bad';
}

function Figure({ id, label, value }: { id: string; label: string; value: string }): ReactNode {
  return (
    <div className="card" role="group" aria-labelledby={id}>
      <div className="label" id={id}>
        {label}
      </div>
      <div className="value">{value}</div>
    </div>
  );
}

/** The window the headline figures cover: the poll about 10 s back, or since the server started. */
export interface FigureWindow {
  current: ServingSample;
  before: ServingSample | undefined;
  /** Seconds between them (the uptime when there is no earlier poll). */
  seconds: number;
}

/** Props of ServingModelPanel. */
export interface ServingModelPanelProps {
  name: string;
  state: string | null;
  version: string | undefined;
  reason: string;
  stats: ServedModelStats | undefined;
  window: FigureWindow | undefined;
  samples: readonly ServingSample[];
  release: Release | undefined;
  stale: boolean;
  /** Index of the panel, for unique element ids. */
  n: number;
}

const NO_TOTALS = { total: 0, errors: 0, serverErrors: 0, histogram: null };

function figuresOf(w: FigureWindow | undefined, key: string): WindowFigures | undefined {
  if (!w) return undefined;
  const now = w.current.totals.get(key);
  if (!now) return undefined;
  return windowFigures(now, w.before ? (w.before.totals.get(key) ?? NO_TOTALS) : undefined, w.seconds);
}

/** A served model's section. */
export function ServingModelPanel({ name, state, version, reason, stats, window: w, samples, release, stale, n }: ServingModelPanelProps): ReactNode {
  const f = figuresOf(w, name);
  const headingId = `serving-model-${n}`;
  const versions = stats?.versions ?? [];
  const totalRequests = versions.reduce((a, v) => a + v.requests.total, 0);
  const queue = versions.reduce((a, v) => a + v.queueDepth, 0);
  const span = w ? (w.before ? `last ${Math.round(w.seconds)} s` : 'since the server started') : '';
  return (
    <section className={`serving-model${stale ? ' serving-stale' : ''}`} aria-labelledby={headingId}>
      <div className="serving-model-head">
        <h2 id={headingId}>
          <Link to={`/models/${seg(name)}`}>{name}</Link>
        </h2>
        <span className={stateClass(state)}>{state ?? 'NOT LOADED'}</span>
        {version !== undefined ? <span>version {version}</span> : null}
        {stale ? <span className="badge warn">stale</span> : null}
      </div>
      {reason ? <p className="serving-reason">{reason}</p> : null}
      <p className="muted small">Rates, errors and latency quantiles {span ? `over the ${span}` : 'appear after the first poll'}; latency counts answered requests only.</p>
      <div className="cards serving-figures">
        <Figure id={`${headingId}-rate`} label="Requests/s" value={f ? formatRate(f.rate) : '–'} />
        <Figure id={`${headingId}-p50`} label="Latency p50" value={formatLatency(f?.p50)} />
        <Figure id={`${headingId}-p95`} label="Latency p95" value={formatLatency(f?.p95)} />
        <Figure id={`${headingId}-p99`} label="Latency p99" value={formatLatency(f?.p99)} />
        <Figure id={`${headingId}-errors`} label="Errors" value={f && f.errorShare !== null ? formatPercent(f.errorShare, 2) : '–'} />
        <Figure id={`${headingId}-inflight`} label="In flight" value={formatNumber(stats?.inFlight ?? 0)} />
        <Figure id={`${headingId}-queue`} label="Queue depth" value={formatNumber(queue)} />
        <Figure id={`${headingId}-total`} label="Total requests" value={totalRequests.toLocaleString('en-US')} />
      </div>
      {release ? <ServingSplit release={release} stats={stats} n={n} /> : null}
      {versions.length > 0 ? (
        <details className="serving-versions">
          <summary>By version and status</summary>
          <table className="data">
            <caption className="visually-hidden">Requests of {name} by version</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col" className="num">Requests</th>
                <th scope="col" className="num">OK</th>
                <th scope="col" className="num">4xx</th>
                <th scope="col" className="num">5xx</th>
                <th scope="col">By status</th>
                <th scope="col" className="num">Requests/s</th>
                <th scope="col" className="num">p99</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => {
                const vf = figuresOf(w, `${name}\u0000${v.version}`);
                return (
                  <tr key={v.version}>
                    <td>{v.version === '' ? <span className="muted">before a version was chosen</span> : v.version}</td>
                    <td className="num">{v.requests.total.toLocaleString('en-US')}</td>
                    <td className="num">{v.requests.ok.toLocaleString('en-US')}</td>
                    <td className="num">{v.requests.clientError.toLocaleString('en-US')}</td>
                    <td className="num">{v.requests.serverError.toLocaleString('en-US')}</td>
                    <td>
                      {Object.entries(v.requests.byStatus)
                        .map(([s, c]) => `${s}: ${c}`)
                        .join(', ')}
                    </td>
                    <td className="num">{vf ? formatRate(vf.rate) : '–'}</td>
                    <td className="num">{formatLatency(vf?.p99)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </details>
      ) : null}
      <ServingCharts totalsKey={name} label={name} samples={samples} />
    </section>
  );
}

/** The traffic split of a running release: what the release wants, and each side's figures. */
function ServingSplit({ release, stats, n }: { release: Release; stats: ServedModelStats | undefined; n: number }): ReactNode {
  const traffic = useTraffic(release.model, true);
  const split = traffic.data?.split ?? null;
  const roles = stats?.roles ?? [];
  return (
    <div className="serving-split">
      <h3 id={`serving-split-${n}`}>
        Traffic split · <Link to={`/releases/${seg(release.id)}`}>release of version {release.version}</Link> ({release.policy.strategy.kind}, {release.state.replace(/_/g, ' ')})
      </h3>
      {traffic.error ? <p className="serving-reason">The split could not be read: {(traffic.error as Error).message}</p> : null}
      {split ? (
        <p>
          Champion{release.championVersion ? ` version ${release.championVersion}` : ''}: <strong>{formatPercent(1 - split.weight, 0)}</strong> · challenger version {split.challengerVersion}:{' '}
          <strong>{formatPercent(split.weight, 0)}</strong>
          {split.shadowShare > 0 ? <> · mirrored to the challenger: {formatPercent(split.shadowShare, 0)}</> : null}
        </p>
      ) : traffic.data ? (
        <p className="muted">No split is running for this model now (all traffic goes to the version the alias names).</p>
      ) : null}
      {roles.length > 0 ? (
        <table className="data" aria-labelledby={`serving-split-${n}`}>
          <thead>
            <tr>
              <th scope="col">Role</th>
              <th scope="col">Version</th>
              <th scope="col" className="num">Requests</th>
              <th scope="col" className="num">Errors</th>
              <th scope="col" className="num">p50</th>
              <th scope="col" className="num">p99</th>
            </tr>
          </thead>
          <tbody>
            {roles.map((r) => (
              <tr key={`${r.version}-${r.role}`}>
                <td>{r.role}</td>
                <td>{r.version}</td>
                <td className="num">{r.requests.toLocaleString('en-US')}</td>
                <td className="num">{r.errors.toLocaleString('en-US')}</td>
                <td className="num">{formatLatency(histogramQuantile(0.5, r.latency))}</td>
                <td className="num">{formatLatency(histogramQuantile(0.99, r.latency))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {roles.length > 0 ? <p className="muted small">Per side since the split began on this server (cumulative).</p> : null}
    </div>
  );
}
