/**
 * A model version's lineage as the server tells it: the run with its params and code revision,
 * datasets, environment, the artifact, releases with their gates, and what serves it. A
 * section the answer leaves empty is not shown.
 */
import type { ReactNode } from 'react';
import type { Lineage, LineageRelease } from '../../../src/client/schemas/governance.js';
import type { ModelVersion } from '../../../src/client/schemas/models.js';
import { formatBytes, formatNumber, formatTime } from './format';
import { Link, seg } from '../router';

type Signature = NonNullable<ModelVersion['signature']>;

function KeyValues({ entries, label }: { entries: Array<[string, ReactNode]>; label: string }): ReactNode {
  return (
    <table className="data reg-kv-table">
      <caption className="visually-hidden">{label}</caption>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Value</th>
        </tr>
      </thead>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row" className="mono">
              {k}
            </th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function shape(dims: Array<number | string>): string {
  return dims.length === 0 ? 'scalar' : `[${dims.join(', ')}]`;
}

/** The inputs and outputs of a version's ONNX file. */
export function SignatureTables({ signature }: { signature: Signature }): ReactNode {
  return (
    <div className="reg-signature">
      {(['inputs', 'outputs'] as const).map((side) => (
        <div key={side}>
          <h3>{side === 'inputs' ? 'Inputs' : 'Outputs'}</h3>
          {signature[side].length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <table className="data">
              <caption className="visually-hidden">{side === 'inputs' ? 'Inputs' : 'Outputs'} of the model</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Shape</th>
                </tr>
              </thead>
              <tbody>
                {signature[side].map((t) => (
                  <tr key={t.name}>
                    <th scope="row" className="mono">
                      {t.name}
                    </th>
                    <td className="mono">{t.type}</td>
                    <td className="mono">{shape(t.shape)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
    </div>
  );
}

function verdictTone(verdict: string): string {
  const v = verdict.toLowerCase();
  if (v === 'pass' || v === 'passed' || v === 'ok') return 'ok';
  if (v === 'fail' || v === 'failed' || v === 'error') return 'bad';
  return 'warn';
}

function stateTone(state: string): string {
  if (state === 'promoted') return 'ok';
  if (state === 'rejected' || state === 'rolled_back' || state === 'aborted') return 'bad';
  return 'warn';
}

function ReleaseItem({ release }: { release: LineageRelease }): ReactNode {
  return (
    <li className="reg-release">
      <p>
        <Link to={`/releases/${seg(release.id)}`}>Release to {release.environment}</Link> <span className={`badge ${stateTone(release.state)}`}>{release.state}</span>{' '}
        <span className="muted">
          requested by {release.requestedBy} on {formatTime(release.createdTime)}
          {release.endedTime !== null ? `, ended ${formatTime(release.endedTime)}` : ''}
          {release.championVersion !== null ? `; replaced version ${release.championVersion}` : ''}
        </span>
      </p>
      {release.reason ? <p className="muted small">{release.reason}</p> : null}
      {release.gates.length > 0 ? (
        <table className="data">
          <caption className="visually-hidden">Gates of the release to {release.environment}</caption>
          <thead>
            <tr>
              <th scope="col">Gate</th>
              <th scope="col">Kind</th>
              <th scope="col">Verdict</th>
              <th scope="col">Reason</th>
            </tr>
          </thead>
          <tbody>
            {release.gates.map((g, i) => (
              <tr key={`${i}-${g.name}`}>
                <th scope="row">{g.name}</th>
                <td>{g.kind}</td>
                <td>
                  <span className={`badge ${verdictTone(g.verdict)}`}>{g.verdict}</span>
                </td>
                <td>{g.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {release.approvals.length > 0 ? (
        <p className="small">
          Approved by{' '}
          {release.approvals.map((a, i) => (
            <span key={`${a.by}-${a.time}`}>
              {i > 0 ? ', ' : ''}
              {a.by} ({formatTime(a.time)}){a.comment ? `: “${a.comment}”` : ''}
            </span>
          ))}
        </p>
      ) : null}
    </li>
  );
}

function SourceLink({ source }: { source: string }): ReactNode {
  // Only web addresses become links; other schemes (s3:, file:, slipway-dataset:) are names, shown as text.
  if (/^https?:\/\//i.test(source)) {
    return (
      <a href={source} target="_blank" rel="noopener noreferrer">
        {source}
      </a>
    );
  }
  return <code>{source}</code>;
}

/** The lineage sections. */
export function LineageView({ lineage }: { lineage: Lineage }): ReactNode {
  const run = lineage.run;
  const params = run ? Object.entries(run.params).sort(([a], [b]) => a.localeCompare(b)) : [];
  const metrics = run ? Object.entries(run.metrics).sort(([a], [b]) => a.localeCompare(b)) : [];
  const env = run ? Object.entries(run.environment).sort(([a], [b]) => a.localeCompare(b)) : [];
  const tags = run ? Object.entries(run.tags).sort(([a], [b]) => a.localeCompare(b)) : [];
  const a = lineage.artifact;
  return (
    <div className="lineage">
      {run ? (
        <section aria-labelledby="lineage-run">
          <h3 id="lineage-run">Run</h3>
          <dl className="kv">
            <div className="reg-kv-row">
              <dt>Run</dt>
              <dd>
                <Link to={`/runs/${seg(run.runId)}`}>{run.runName || run.runId}</Link> <span className="muted mono small">{run.runId}</span>
              </dd>
            </div>
            <div className="reg-kv-row">
              <dt>Experiment</dt>
              <dd>
                <Link to={`/experiments/${seg(run.experimentId)}`}>{run.experimentName ?? `Experiment ${run.experimentId}`}</Link>
              </dd>
            </div>
            <div className="reg-kv-row">
              <dt>Status</dt>
              <dd>
                {run.status} · by {run.userId || 'unknown'} · {formatTime(run.startTime)}
                {run.endTime !== null ? ` to ${formatTime(run.endTime)}` : ''}
              </dd>
            </div>
            {run.codeRevision !== null ? (
              <div className="reg-kv-row">
                <dt>Code revision</dt>
                <dd className="mono">{run.codeRevision}</dd>
              </div>
            ) : null}
            {run.sourceName !== null ? (
              <div className="reg-kv-row">
                <dt>Source</dt>
                <dd>
                  <code>{run.sourceName}</code>
                  {run.sourceType !== null ? <span className="muted"> ({run.sourceType})</span> : null}
                </dd>
              </div>
            ) : null}
          </dl>
          {params.length > 0 ? (
            <>
              <h4>Params</h4>
              <KeyValues label="Params of the run" entries={params} />
            </>
          ) : null}
          {metrics.length > 0 ? (
            <>
              <h4>Metrics</h4>
              <KeyValues label="Metrics of the run" entries={metrics.map(([k, v]) => [k, formatNumber(v)])} />
            </>
          ) : null}
          {tags.length > 0 ? (
            <>
              <h4>Tags</h4>
              <KeyValues label="Tags of the run" entries={tags} />
            </>
          ) : null}
        </section>
      ) : null}
      {run && run.datasets.length > 0 ? (
        <section aria-labelledby="lineage-data">
          <h3 id="lineage-data">Datasets</h3>
          <table className="data">
            <caption className="visually-hidden">Datasets the run used</caption>
            <thead>
              <tr>
                <th scope="col">Dataset</th>
                <th scope="col">Context</th>
                <th scope="col">Digest</th>
                <th scope="col">Source</th>
              </tr>
            </thead>
            <tbody>
              {run.datasets.map((d, i) => (
                <tr key={`${i}-${d.name}`}>
                  <th scope="row">
                    {d.datasetVersion ? `${d.datasetVersion.name}@${d.datasetVersion.version}` : d.name}
                    {d.from === 'tag' ? <span className="muted small"> (named by a tag)</span> : null}
                  </th>
                  <td>{d.context ?? <span className="muted">–</span>}</td>
                  <td className="mono">{d.digest ?? <span className="muted">–</span>}</td>
                  <td>
                    {d.source !== null ? <SourceLink source={d.source} /> : <span className="muted">–</span>}
                    {d.sourceType !== null ? <span className="muted small"> ({d.sourceType})</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
      {env.length > 0 ? (
        <section aria-labelledby="lineage-env">
          <h3 id="lineage-env">Environment</h3>
          <KeyValues label="Environment of the run" entries={env} />
        </section>
      ) : null}
      <section aria-labelledby="lineage-artifact">
        <h3 id="lineage-artifact">Artifact</h3>
        <dl className="kv">
          <div className="reg-kv-row">
            <dt>Source</dt>
            <dd>
              <code>{a.source}</code>
            </dd>
          </div>
          {a.file !== null ? (
            <div className="reg-kv-row">
              <dt>ONNX file</dt>
              <dd>
                <code>{a.file}</code>
                {a.size !== null ? <span className="muted"> ({formatBytes(a.size)})</span> : null}
              </dd>
            </div>
          ) : null}
          {a.sha256 !== null ? (
            <div className="reg-kv-row">
              <dt>SHA-256</dt>
              <dd className="mono">{a.sha256}</dd>
            </div>
          ) : null}
        </dl>
      </section>
      {lineage.releases.length > 0 ? (
        <section aria-labelledby="lineage-releases">
          <h3 id="lineage-releases">Releases</h3>
          <ol className="reg-releases">
            {lineage.releases.map((r) => (
              <ReleaseItem key={r.id} release={r} />
            ))}
          </ol>
        </section>
      ) : null}
      {lineage.serving.aliases.length > 0 || lineage.serving.stage !== 'None' ? (
        <section aria-labelledby="lineage-serving">
          <h3 id="lineage-serving">Serving it now</h3>
          <p>
            {lineage.serving.aliases.length > 0 ? (
              <>
                Aliases: {lineage.serving.aliases.map((x) => `@${x}`).join(', ')}
                {lineage.serving.stage !== 'None' ? '; ' : ''}
              </>
            ) : null}
            {lineage.serving.stage !== 'None' ? `stage ${lineage.serving.stage}` : null}
          </p>
        </section>
      ) : null}
      {lineage.unknown.length > 0 ? (
        <section aria-labelledby="lineage-unknown">
          <h3 id="lineage-unknown">Not known</h3>
          <ul>
            {lineage.unknown.map((s) => (
              <li key={s}>{s}</li>
            ))}
          </ul>
        </section>
      ) : null}
    </div>
  );
}
