/**
 * The run page's Overview tab: what the run is (ids, experiment, status, user, times), its
 * description, params, latest metrics, tags (system tags `mlflow.*` apart) and dataset inputs.
 */
import type { ReactNode } from 'react';
import type { Run } from '../../../src/client/schemas/runs.js';
import { href, Link, seg } from '../router';
import { Empty } from './states';
import { formatDuration, formatNumber, formatTime } from './format';

/** The status badge of a run. */
export function RunStatusBadge({ status }: { status: Run['info']['status'] }): ReactNode {
  const tone = status === 'FINISHED' ? 'ok' : status === 'FAILED' || status === 'KILLED' ? 'bad' : status === 'RUNNING' ? 'warn' : '';
  return <span className={`badge ${tone}`}>{status.toLowerCase()}</span>;
}

function KeyValueTable({ caption, rows, empty, keyHeader = 'Key' }: { caption: string; rows: Array<[string, ReactNode]>; empty: string; keyHeader?: string }): ReactNode {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <table className="data run-kv">
      <caption className="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{keyHeader}</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row" className="run-kv-key">
              {k}
            </th>
            <td className="run-kv-value">{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Overview tab of a run. */
export function RunOverview({ run, experimentName }: { run: Run; experimentName: string | undefined }): ReactNode {
  const { info, data, inputs } = run;
  const duration = info.endTime !== undefined ? info.endTime - info.startTime : info.status === 'RUNNING' ? Date.now() - info.startTime : undefined;
  const params = [...data.params].sort((a, b) => a.key.localeCompare(b.key));
  const metrics = [...data.metrics].sort((a, b) => a.key.localeCompare(b.key));
  const userTags = data.tags.filter((t) => !t.key.startsWith('mlflow.')).sort((a, b) => a.key.localeCompare(b.key));
  const systemTags = data.tags.filter((t) => t.key.startsWith('mlflow.')).sort((a, b) => a.key.localeCompare(b.key));
  const description = data.tags.find((t) => t.key === 'mlflow.note.content')?.value;
  const parentRun = data.tags.find((t) => t.key === 'mlflow.parentRunId')?.value;
  const tag = (key: string): string | undefined => data.tags.find((t) => t.key === key)?.value;
  const source = tag('mlflow.source.name');
  const commit = tag('mlflow.source.git.commit');
  const entryPoint = tag('mlflow.project.entryPoint');
  return (
    <div className="run-overview">
      <dl className="kv run-info">
        <dt>Run ID</dt>
        <dd className="mono">{info.runId}</dd>
        <dt>Experiment</dt>
        <dd>
          <Link to={`/experiments/${seg(info.experimentId)}`}>{experimentName ?? `Experiment ${info.experimentId}`}</Link> <span className="muted">(ID {info.experimentId})</span>
        </dd>
        <dt>Status</dt>
        <dd>
          <RunStatusBadge status={info.status} />
        </dd>
        <dt>Lifecycle</dt>
        <dd>{info.lifecycleStage}</dd>
        <dt>User</dt>
        <dd>{info.userId || '–'}</dd>
        <dt>Started</dt>
        <dd>{formatTime(info.startTime)}</dd>
        <dt>Ended</dt>
        <dd>{info.endTime !== undefined ? formatTime(info.endTime) : info.status === 'RUNNING' ? 'still running' : '–'}</dd>
        <dt>Duration</dt>
        <dd>{formatDuration(duration)}</dd>
        <dt>Source</dt>
        <dd>
          {source ? <span className="mono">{source}</span> : '–'}
          {entryPoint ? <span className="muted"> · entry point {entryPoint}</span> : null}
          {commit ? (
            <span className="muted">
              {' '}
              · commit <span className="mono" title={commit}>{commit.slice(0, 12)}</span>
            </span>
          ) : null}
        </dd>
        {parentRun ? (
          <>
            <dt>Parent run</dt>
            <dd>
              <Link to={`/runs/${seg(parentRun)}`} className="mono">
                {parentRun}
              </Link>
            </dd>
          </>
        ) : null}
        <dt>Artifacts</dt>
        <dd className="mono">{info.artifactUri}</dd>
      </dl>
      {description ? (
        <section aria-labelledby="run-description">
          <h2 id="run-description">Description</h2>
          <p className="run-description">{description}</p>
        </section>
      ) : null}
      <div className="run-overview-grid">
        <section aria-labelledby="run-params">
          <h2 id="run-params">
            Parameters <span className="muted small">({params.length})</span>
          </h2>
          <KeyValueTable caption="Parameters" keyHeader="Parameter" rows={params.map((p) => [p.key, <span className="mono">{p.value}</span>])} empty="No parameters logged." />
        </section>
        <section aria-labelledby="run-metrics-latest">
          <h2 id="run-metrics-latest">
            Metrics <span className="muted small">({metrics.length}, latest values)</span>
          </h2>
          {metrics.length === 0 ? (
            <Empty>No metrics logged.</Empty>
          ) : (
            <table className="data run-latest-metrics">
              <caption className="visually-hidden">Latest metric values</caption>
              <thead>
                <tr>
                  <th scope="col">Metric</th>
                  <th scope="col" className="num">
                    Value
                  </th>
                  <th scope="col" className="num">
                    Step
                  </th>
                  <th scope="col">Logged</th>
                </tr>
              </thead>
              <tbody>
                {metrics.map((m) => (
                  <tr key={m.key}>
                    <th scope="row" className="run-kv-key">
                      <a href={href(`/runs/${seg(info.runId)}`, { tab: 'metrics', metrics: m.key })} title={`Chart ${m.key}`}>
                        {m.key}
                      </a>
                    </th>
                    <td className="num">{formatNumber(typeof m.value === 'number' ? m.value : m.value === 'NaN' ? Number.NaN : m.value === 'Infinity' ? Infinity : -Infinity)}</td>
                    <td className="num">{m.step}</td>
                    <td>{formatTime(m.timestamp)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
      <section aria-labelledby="run-tags">
        <h2 id="run-tags">
          Tags <span className="muted small">({userTags.length})</span>
        </h2>
        <KeyValueTable caption="Tags" keyHeader="Tag" rows={userTags.map((t) => [t.key, t.value])} empty="No tags of your own; system tags are below." />
        {systemTags.length > 0 ? (
          <details className="run-system-tags">
            <summary>System tags (mlflow.*, {systemTags.length})</summary>
            <KeyValueTable caption="System tags" keyHeader="Tag" rows={systemTags.map((t) => [t.key, <span className="mono">{t.value}</span>])} empty="" />
          </details>
        ) : null}
      </section>
      <section aria-labelledby="run-datasets">
        <h2 id="run-datasets">
          Dataset inputs <span className="muted small">({inputs.datasetInputs.length})</span>
        </h2>
        {inputs.datasetInputs.length === 0 ? (
          <Empty>No datasets recorded for this run.</Empty>
        ) : (
          <table className="data run-datasets">
            <caption className="visually-hidden">Dataset inputs</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Digest</th>
                <th scope="col">Source</th>
                <th scope="col">Context</th>
              </tr>
            </thead>
            <tbody>
              {inputs.datasetInputs.map((d, i) => (
                <tr key={`${d.dataset.name}-${d.dataset.digest}-${i}`}>
                  <td>{d.dataset.name}</td>
                  <td className="mono">{d.dataset.digest}</td>
                  <td>
                    <span className="muted">{d.dataset.sourceType}</span> <span className="mono">{d.dataset.source}</span>
                  </td>
                  <td>{d.tags.find((t) => t.key === 'mlflow.data.context')?.value ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
