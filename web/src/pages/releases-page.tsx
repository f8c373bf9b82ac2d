/** The releases: newest first, filtered by model, environment and state (all in the URL). */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { RELEASE_STATES, useReleases } from '../api/releases';
import { formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import { ReleaseStateBadge, releaseStateLabel } from '../components/release-state-badge';
import { Empty, QueryView } from '../components/states';
import { Link, seg, useQueryParam } from '../router';

/** A text filter that writes to the URL once typing pauses, so history is not flooded. */
function useDebouncedParam(name: string): [string, string, (v: string) => void] {
  const [value, setValue] = useQueryParam(name);
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text.trim() === value) return;
    const timer = setTimeout(() => setValue(text.trim() || undefined), 300);
    return () => clearTimeout(timer);
  }, [text, value, setValue]);
  return [value, text, setText];
}

/** The releases page. */
export default function ReleasesPage(): ReactNode {
  const [model, modelText, setModelText] = useDebouncedParam('model');
  const [environment, envText, setEnvText] = useDebouncedParam('environment');
  const [state, setState] = useQueryParam('state');
  const releases = useReleases({ model, state });
  const rows = useMemo(() => (releases.data?.releases ?? []).filter((r) => !environment || r.environment === environment), [releases.data, environment]);
  return (
    <>
      <PageHeader title="Releases" subtitle="Each release moves one model version into an environment (an alias) through its gates and rollout." />
      <div className="toolbar" role="search" aria-label="Filter releases">
        <label className="field">
          Model
          <input type="search" value={modelText} onChange={(e) => setModelText(e.target.value)} placeholder="exact model name" />
        </label>
        <label className="field">
          Environment
          <input type="search" value={envText} onChange={(e) => setEnvText(e.target.value)} placeholder="e.g. staging, champion" />
        </label>
        <label className="field">
          State
          <select value={state} onChange={(e) => setState(e.target.value || undefined)}>
            <option value="">any</option>
            <option value="active">running (any unfinished state)</option>
            {RELEASE_STATES.map((s) => (
              <option key={s} value={s}>
                {releaseStateLabel(s)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <QueryView query={releases} what="Loading the releases">
        {() =>
          rows.length === 0 ? (
            <Empty>
              {model || environment || state ? 'No release matches these filters.' : 'No release yet.'} Start one with <code>slipway release models:/NAME/VERSION --to ENVIRONMENT</code>.
            </Empty>
          ) : (
            <table className="data">
              <caption className="visually-hidden">Releases, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Release</th>
                  <th scope="col">Model</th>
                  <th scope="col">Version → environment</th>
                  <th scope="col">Strategy</th>
                  <th scope="col">State</th>
                  <th scope="col">Started</th>
                  <th scope="col">Requested by</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <Link to={`/releases/${seg(r.id)}`} className="mono" aria-label={`${r.id.slice(0, 8)}: release of ${r.model} version ${r.version} to ${r.environment}`}>
                        {r.id.slice(0, 8)}
                      </Link>
                    </td>
                    <td>
                      <Link to={`/models/${seg(r.model)}`}>{r.model}</Link>
                    </td>
                    <td>
                      {r.version} → {r.environment}
                    </td>
                    <td>{r.policy.strategy.kind}</td>
                    <td>
                      <ReleaseStateBadge state={r.state} />
                    </td>
                    <td>{formatTime(r.createdTime)}</td>
                    <td>{r.requestedBy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )
        }
      </QueryView>
      {releases.data?.nextPageToken ? <p className="muted small">Showing the newest 1,000 releases; narrow the filters to see older ones.</p> : null}
    </>
  );
}
