/**
 * Per-feature drift over windows: one small chart per feature (its p-value or distance in
 * each window, with the test's threshold as a dashed line), most severe feature first, and
 * the table of one window's features against the reference.
 */
import { useMemo, type ReactNode } from 'react';
import type { FeatureDrift, MonitoringWindow } from '../../../src/client/schemas/monitoring.js';
import { formatNumber } from './format';
import { LineChart, PALETTE, type ChartSeries } from './line-chart';
import { DriftBadge } from './monitoring-format';

/**
 * A value per window as a step line: held from the window's start to its end, broken where
 * windows are missing, so one window is a segment rather than a lone dot on a years-wide axis.
 */
export function windowSteps<W extends { windowStart: number; windowEnd: number }>(ordered: W[], value: (w: W) => number | null): { x: number[]; y: Array<number | null> } {
  const x: number[] = [];
  const y: Array<number | null> = [];
  ordered.forEach((w, i) => {
    const v = value(w);
    x.push(w.windowStart / 1000, (w.windowEnd - 1) / 1000);
    y.push(v, v);
    const next = ordered[i + 1];
    if (next && next.windowStart > w.windowEnd) {
      x.push((w.windowEnd + next.windowStart) / 2000);
      y.push(null);
    }
  });
  return { x, y };
}

/** The condition under which a feature counts as drifted, in words. */
export function driftRule(c: Pick<FeatureDrift, 'scoreKind' | 'threshold'>): string {
  if (c.threshold === null || c.scoreKind === null) return '–';
  return c.scoreKind === 'p-value' ? `p ≤ ${formatNumber(c.threshold)}` : `distance ≥ ${formatNumber(c.threshold)}`;
}

function FeatureChart({ feature, windows, drift }: { feature: string; windows: MonitoringWindow[]; drift: FeatureDrift | undefined }): ReactNode {
  const series = useMemo((): ChartSeries[] => {
    const { x, y } = windowSteps(windows, (w) => {
      const v = w.figures[`drift_score:${feature}`];
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    });
    const lines: ChartSeries[] = [{ label: drift?.scoreKind === 'distance' ? `${drift.test ?? 'drift'} distance` : `${drift?.test ?? 'drift'} p-value`, x, y, color: PALETTE[0] as string }];
    const threshold = drift?.threshold;
    if (threshold !== null && threshold !== undefined) lines.push({ label: 'threshold', x, y: x.map(() => threshold), color: PALETTE[1] as string, dash: true });
    return lines;
  }, [feature, windows, drift]);
  return (
    <figure className="drift-chart">
      <figcaption>
        <strong>{feature}</strong> {drift ? <DriftBadge drifted={drift.drifted} skipped={drift.status === 'skipped'} /> : null}{' '}
        <span className="muted small">{drift ? `${drift.test ?? 'no test'}; drift when ${driftRule(drift)}` : 'not compared in the selected window'}</span>
      </figcaption>
      <LineChart title={`Drift of ${feature} over windows`} series={series} timeAxis yLabel={drift?.scoreKind === 'distance' ? 'distance' : 'p-value'} height={170} />
    </figure>
  );
}

/** Small multiples of every feature's drift score over the windows (oldest to newest). */
export function DriftCharts({ windows, columns }: { windows: MonitoringWindow[]; columns: FeatureDrift[] | undefined }): ReactNode {
  const ordered = useMemo(() => [...windows].sort((a, b) => a.windowStart - b.windowStart), [windows]);
  const features = useMemo(() => {
    const fromDetail = (columns ?? []).map((c) => c.column);
    const fromFigures = new Set<string>();
    for (const w of windows) for (const k of Object.keys(w.figures)) if (k.startsWith('drift_score:')) fromFigures.add(k.slice('drift_score:'.length));
    const all = [...fromDetail, ...[...fromFigures].filter((f) => !fromDetail.includes(f)).sort()];
    // The features that moved most in the range come first: lowest p-value, or largest distance, in any window.
    const extreme = (f: string): number => {
      const distance = columns?.find((c) => c.column === f)?.scoreKind === 'distance';
      let worst = distance ? 0 : 1;
      for (const w of windows) {
        const v = w.figures[`drift_score:${f}`];
        if (typeof v === 'number' && Number.isFinite(v)) worst = distance ? Math.max(worst, v) : Math.min(worst, v);
      }
      return distance ? -worst : worst;
    };
    return all.map((f) => ({ f, key: extreme(f) })).sort((a, b) => a.key - b.key).map((x) => x.f);
  }, [windows, columns]);
  if (features.length === 0) return <p className="muted">No window in this range was compared with a reference, so there is no drift to draw. Attach a reference profile to the version.</p>;
  return (
    <div className="drift-grid">
      {features.map((f) => (
        <FeatureChart key={f} feature={f} windows={ordered} drift={columns?.find((c) => c.column === f)} />
      ))}
    </div>
  );
}

/** One window's features against the reference: test, statistic, score, threshold, verdict. */
export function DriftTable({ columns }: { columns: FeatureDrift[] }): ReactNode {
  return (
    <table className="data rowheads">
      <caption className="visually-hidden">Feature drift in the selected window</caption>
      <thead>
        <tr>
          <th scope="col">Feature</th>
          <th scope="col">Kind</th>
          <th scope="col">Test</th>
          <th scope="col" className="num">
            Statistic
          </th>
          <th scope="col" className="num">
            p-value / distance
          </th>
          <th scope="col">Drift when</th>
          <th scope="col">Drifted</th>
          <th scope="col" className="num">
            Rows (reference / window)
          </th>
        </tr>
      </thead>
      <tbody>
        {columns.map((c) => (
          <tr key={c.column}>
            <th scope="row">{c.column}</th>
            <td>{c.kind}</td>
            <td>{c.test ?? '–'}</td>
            <td className="num">{c.statistic === null ? (c.test === 'chisquare' && c.status === 'drift' ? '∞' : '–') : formatNumber(c.statistic)}</td>
            <td className="num">{c.score === null ? '–' : `${formatNumber(c.score)}${c.scoreKind === 'p-value' ? ' (p)' : ''}`}</td>
            <td>{driftRule(c)}</td>
            <td>
              {c.status === 'skipped' ? <span className="badge">Skipped</span> : c.drifted ? <span className="badge bad">Yes</span> : <span className="badge ok">No</span>}
              {c.note ? <span className="muted small"> {c.note}</span> : null}
              {c.approximate ? <span className="muted small"> (from sketches)</span> : null}
            </td>
            <td className="num">{`${formatNumber(c.referenceCount)} / ${formatNumber(c.currentCount)}`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
