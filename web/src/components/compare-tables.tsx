/** The compare page's tables: params (those that differ, or all) and the latest metrics, one column per run. */
import type { ReactNode } from 'react';
import type { Run } from '../../../src/client/schemas/runs.js';
import { metricNumber } from '../api/compare';
import { href, seg, Link } from '../router';
import { runLabel } from './compare-chart';
import { formatNumber } from './format';

const collator = new Intl.Collator(undefined, { numeric: true });

/** Every param key of the runs, and those whose value (or absence) is not the same in all of them. */
export function paramKeys(runs: Run[]): { all: string[]; differing: string[] } {
  const maps = runs.map((r) => new Map(r.data.params.map((p) => [p.key, p.value])));
  const all = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort(collator.compare);
  const differing = all.filter((k) => new Set(maps.map((m) => m.get(k) ?? '\u0000absent')).size > 1);
  return { all, differing };
}

/** Every metric key of the runs, sorted. */
export function metricKeys(runs: Run[]): string[] {
  return [...new Set(runs.flatMap((r) => r.data.metrics.map((m) => m.key)))].sort(collator.compare);
}

function RunHeaders({ runs }: { runs: Run[] }): ReactNode {
  return (
    <>
      {runs.map((r) => (
        <th key={r.info.runId} scope="col">
          <Link to={href(`/runs/${seg(r.info.runId)}`)}>{runLabel(r)}</Link>
        </th>
      ))}
    </>
  );
}

/** Params by run; `keys` chooses the rows. */
export function ParamsTable({ runs, keys, label }: { runs: Run[]; keys: string[]; label: string }): ReactNode {
  const maps = runs.map((r) => new Map(r.data.params.map((p) => [p.key, p.value])));
  return (
    <div className="cmp-scroll" role="region" aria-label={label} tabIndex={0}>
      <table className="data compare-table">
        <caption className="visually-hidden">{label}</caption>
        <thead>
          <tr>
            <th scope="col">Param</th>
            <RunHeaders runs={runs} />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k}>
              <th scope="row" className="mono">
                {k}
              </th>
              {maps.map((m, i) => {
                const v = m.get(k);
                return <td key={runs[i]?.info.runId}>{v === undefined ? <span className="muted">–</span> : v}</td>;
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The latest value of each metric, by run. */
export function MetricsTable({ runs, keys }: { runs: Run[]; keys: string[] }): ReactNode {
  const maps = runs.map((r) => new Map(r.data.metrics.map((m) => [m.key, metricNumber(m.value)])));
  return (
    <div className="cmp-scroll" role="region" aria-label="Latest metric values" tabIndex={0}>
      <table className="data compare-table">
        <caption className="visually-hidden">Latest value of each metric, by run</caption>
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <RunHeaders runs={runs} />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k}>
              <th scope="row" className="mono">
                {k}
              </th>
              {maps.map((m, i) => {
                const v = m.get(k);
                return (
                  <td key={runs[i]?.info.runId} className="num">
                    {v === undefined ? <span className="muted">–</span> : formatNumber(v)}
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
