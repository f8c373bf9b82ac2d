/** The parts of a release's page: traffic split, gates with their evidence, approvals, analysis rounds and history. */
import type { ReactNode } from 'react';
import type { GateResult, Release, ReleaseEvent } from '../../../src/client/schemas/releases.js';
import { isFinished } from '../api/releases';
import { formatDuration, formatNumber, formatPercent, formatTime } from './format';
import { VerdictBadge, releaseStateLabel } from './release-state-badge';

/** A figure of any kind as short text. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) return v.map(showValue).join(', ');
  return JSON.stringify(v);
}

/** Scalar fields of a record, nested records one level down as `side.field`. */
function flatten(rec: Record<string, unknown>, skip: readonly string[] = []): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(rec)) {
    if (skip.includes(k)) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) if (v2 === null || typeof v2 !== 'object') out.push([`${k}.${k2}`, v2]);
    } else out.push([k, v]);
  }
  return out;
}

/** The traffic the release steers now: champion and challenger shares. */
export function ReleaseTraffic({ release }: { release: Release }): ReactNode {
  const s = release.policy.strategy;
  const r = release.rollout;
  if (!r) {
    return <p className="muted">{isFinished(release.state) ? 'The release ended before any traffic moved.' : 'No traffic moves until the gates pass (and the approvals arrive).'}</p>;
  }
  if (isFinished(release.state)) {
    return <p>The split has ended: {release.state === 'promoted' ? `'${release.environment}' now points at version ${release.version}.` : `all traffic is on the champion${release.championVersion ? ` (version ${release.championVersion})` : ''}.`}</p>;
  }
  const shadow = s.kind === 'shadow';
  const challenger = shadow ? 0 : r.weight / 100;
  return (
    <div>
      <div className="release-split" role="img" aria-label={`Champion ${formatPercent(1 - challenger, 0)}, challenger ${formatPercent(challenger, 0)}`}>
        <div className="release-split-champion" style={{ flexGrow: Math.max(0.0001, 1 - challenger) }}>
          champion{release.championVersion ? ` v${release.championVersion}` : ''} · {formatPercent(1 - challenger, 0)}
        </div>
        {challenger > 0 ? (
          <div className="release-split-challenger" style={{ flexGrow: challenger }}>
            challenger v{release.version} · {formatPercent(challenger, 0)}
          </div>
        ) : null}
      </div>
      <p className="muted small">
        {s.kind === 'canary' ? `Canary step ${r.step + 1} of ${s.steps.length} (${s.steps.join(' → ')} %); failed analyses ${r.failures} of ${s.failureLimit} tolerated.` : null}
        {shadow ? `Shadow: ${s.share} % of requests mirrored to version ${release.version}; its answers are compared, never returned.` : null}
        {s.kind === 'blue-green' ? `Blue-green: the old version stays loaded for ${s.bake} after the switch.` : null}
      </p>
    </div>
  );
}

/** The checks a gate decided on (evaluation thresholds, load-test SLOs): measured against the bound. */
function GateChecks({ checks }: { checks: Array<Record<string, unknown>> }): ReactNode {
  return (
    <table className="data release-checks">
      <thead>
        <tr>
          <th scope="col">Check</th>
          <th scope="col" className="num">Measured</th>
          <th scope="col" className="num">Champion</th>
          <th scope="col" className="num">Threshold</th>
          <th scope="col">Result</th>
        </tr>
      </thead>
      <tbody>
        {checks.map((c, i) => {
          const passed = (c.pass ?? c.passed) === true;
          return (
            <tr key={i}>
              <td className="mono">{showValue(c.threshold ?? c.expression ?? c.metric)}</td>
              <td className="num">{showValue(c.candidate)}</td>
              <td className="num">{showValue(c.champion)}</td>
              <td className="num">{showValue(c.bound)}</td>
              <td>
                <VerdictBadge verdict={passed ? 'pass' : 'fail'} />
                {typeof c.reason === 'string' || typeof c.note === 'string' ? <span className="small"> {String(c.reason ?? c.note)}</span> : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function GateEvidence({ gate }: { gate: GateResult }): ReactNode {
  const checks = Array.isArray(gate.figures.checks) ? (gate.figures.checks as Array<Record<string, unknown>>) : undefined;
  const rest = flatten(gate.figures, ['checks']).filter(([, v]) => v === null || typeof v !== 'object' || Array.isArray(v));
  return (
    <>
      {checks && checks.length > 0 ? <GateChecks checks={checks} /> : null}
      {rest.length > 0 ? (
        <details>
          <summary>All figures</summary>
          <dl className="kv">
            {rest.map(([k, v]) => (
              <div key={k} className="release-kv-row">
                <dt>{k}</dt>
                <dd>{showValue(v)}</dd>
              </div>
            ))}
          </dl>
        </details>
      ) : null}
    </>
  );
}

/** The gates in order, each with its verdict, reason and evidence. */
export function ReleaseGates({ gates }: { gates: GateResult[] }): ReactNode {
  if (gates.length === 0) return <p className="muted">This release has no gates.</p>;
  return (
    <ol className="release-gates">
      {gates.map((g) => (
        <li key={g.name} className="release-gate">
          <div className="release-gate-head">
            <h3>{g.name}</h3>
            <span className="muted">{g.kind}</span>
            <VerdictBadge verdict={g.verdict} />
            {g.startedTime !== undefined ? <span className="muted small">{g.endedTime !== undefined ? `took ${formatDuration(g.endedTime - g.startedTime)}` : `started ${formatTime(g.startedTime)}`}</span> : null}
          </div>
          {g.reason ? <p>{g.reason}</p> : null}
          <GateEvidence gate={g} />
        </li>
      ))}
    </ol>
  );
}

/** Who approved and when, against what the approval gate needs. */
export function ReleaseApprovals({ release }: { release: Release }): ReactNode {
  const gate = release.gates.find((g) => g.kind === 'approval');
  const needed = typeof gate?.figures.needed === 'number' ? gate.figures.needed : undefined;
  return (
    <>
      {needed !== undefined ? (
        <p>
          {release.approvals.length} of {needed} approval{needed === 1 ? '' : 's'} by people other than {release.requestedBy}.
        </p>
      ) : null}
      {release.approvals.length === 0 ? (
        <p className="muted">No approvals{needed === undefined ? ' (none needed by this policy)' : ' yet'}.</p>
      ) : (
        <table className="data">
          <thead>
            <tr>
              <th scope="col">By</th>
              <th scope="col">When</th>
              <th scope="col">Comment</th>
            </tr>
          </thead>
          <tbody>
            {release.approvals.map((a, i) => (
              <tr key={i}>
                <td>{a.by}</td>
                <td>{formatTime(a.time)}</td>
                <td>{a.comment ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** One side of an analysis window (champion or challenger) as a line: requests, errors and latency. */
function sideText(side: Record<string, unknown>): string {
  const parts: string[] = [];
  if (side.version !== undefined) parts.push(`v${showValue(side.version)}`);
  if (typeof side.requests === 'number') parts.push(`${side.requests.toLocaleString('en-US')} requests`);
  if (typeof side.errors === 'number') parts.push(`${side.errors.toLocaleString('en-US')} errors`);
  for (const k of ['p50Ms', 'p99Ms'] as const) if (typeof side[k] === 'number') parts.push(`${k.slice(0, 3)} ${formatNumber(Number((side[k] as number).toPrecision(3)))} ms`);
  if (side.fromEarlierWindow === true) parts.push('from an earlier window');
  return parts.join(', ');
}

/** The live analysis rounds of the rollout, oldest first: each side's figures, the verdict and what breached. */
export function ReleaseAnalyses({ release }: { release: Release }): ReactNode {
  const rounds = release.rollout?.analyses ?? [];
  if (rounds.length === 0) return <p className="muted">No analysis round yet{release.policy.strategy.kind === 'direct' ? ' (a direct release has none)' : ''}.</p>;
  const SIDES = ['challenger', 'champion'];
  return (
    <table className="data">
      <thead>
        <tr>
          <th scope="col" className="num">Round</th>
          <th scope="col">Time</th>
          <th scope="col">Verdict</th>
          <th scope="col">Challenger</th>
          <th scope="col">Champion</th>
          <th scope="col">Other evidence</th>
        </tr>
      </thead>
      <tbody>
        {rounds.map((a, i) => {
          const verdict = typeof a.verdict === 'string' ? a.verdict : undefined;
          const side = (k: string) => (a[k] !== null && typeof a[k] === 'object' && !Array.isArray(a[k]) ? sideText(a[k] as Record<string, unknown>) : '–');
          const breaches = Array.isArray(a.breaches) ? (a.breaches as unknown[]).map(String) : [];
          const other = flatten(a, ['time', 'verdict', 'breaches', 'note', ...SIDES]).filter(([, v]) => !(Array.isArray(v) && v.length === 0));
          return (
            <tr key={i}>
              <td className="num">{i + 1}</td>
              <td>{typeof a.time === 'number' ? formatTime(a.time) : '–'}</td>
              <td>{verdict ? <VerdictBadge verdict={verdict === 'breach' ? 'fail' : verdict} /> : '–'}</td>
              <td className="small">{side('challenger')}</td>
              <td className="small">{side('champion')}</td>
              <td className="small">
                {breaches.length > 0 ? <div className="release-breach">Breached: {breaches.join('; ')}</div> : null}
                {typeof a.note === 'string' ? <div>{a.note}</div> : null}
                {other.map(([k, v]) => `${k} ${showValue(v)}`).join(' · ')}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The history: every transition and decision, with its time and actor. */
export function ReleaseHistory({ events }: { events: ReleaseEvent[] | undefined }): ReactNode {
  if (!events || events.length === 0) return <p className="muted">No events recorded.</p>;
  return (
    <table className="data">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Event</th>
          <th scope="col">State</th>
          <th scope="col">By</th>
          <th scope="col">What happened</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.seq}>
            <td>{formatTime(e.time)}</td>
            <td>{e.type}</td>
            <td>{e.to ? `${e.from ? `${releaseStateLabel(e.from)} → ` : ''}${releaseStateLabel(e.to)}` : ''}</td>
            <td>{e.actor ?? ''}</td>
            <td>{e.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
