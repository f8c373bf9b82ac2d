/** A registered model: `#/models/NAME` — description, tags, aliases (moved behind a confirmation), stages and versions. */
import type { ReactNode } from 'react';
import { ApiError } from '../api/http';
import { useModel, useVersions } from '../api/registry';
import { formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import { RegistryAliases } from '../components/registry-alias-form';
import { StageBadge, StatusBadge, versionPath } from '../components/registry-badges';
import { Empty, ErrorMessage, Loading } from '../components/states';
import { Link, seg } from '../router';

const STAGES = ['Production', 'Staging', 'Archived'] as const;

/** The model page. */
export default function ModelPage({ params }: { params: Record<string, string> }): ReactNode {
  const name = params.name ?? '';
  const model = useModel(name);
  const versions = useVersions(name);
  const crumbs = [{ label: 'Models', to: '/models' }];

  if (model.error) {
    const missing = model.error instanceof ApiError && model.error.status === 404;
    return (
      <>
        <PageHeader title={missing ? 'Model not found' : name} crumbs={crumbs} />
        <ErrorMessage title={missing ? `There is no registered model named ${name}` : `The model ${name} could not be loaded`} error={model.error} />
        {missing ? (
          <p>
            <Link to="/models">See the registered models</Link>
          </p>
        ) : null}
      </>
    );
  }
  if (model.isPending) {
    return (
      <>
        <PageHeader title={name} crumbs={crumbs} />
        <Loading what="Loading the model" />
      </>
    );
  }
  const m = model.data;
  const list = versions.data?.pages.flatMap((p) => p.versions) ?? [];
  const tags = Object.entries(m.tags).sort(([a], [b]) => a.localeCompare(b));
  const staged = STAGES.map((stage) => ({ stage, version: m.latestVersions.find((v) => v.currentStage === stage) })).filter((s) => s.version !== undefined);

  return (
    <div className="reg-page">
      <PageHeader
        title={m.name}
        crumbs={crumbs}
        subtitle={
          <>
            Registered {formatTime(m.creationTimestamp)} · last update {formatTime(m.lastUpdatedTimestamp)}
          </>
        }
      />
      <section aria-labelledby="model-about">
        <h2 id="model-about">Description</h2>
        {m.description ? <p className="reg-description">{m.description}</p> : <p className="muted">No description.</p>}
        {tags.length > 0 ? (
          <>
            <h3>Tags</h3>
            <dl className="kv">
              {tags.map(([k, v]) => (
                <div key={k} className="reg-kv-row">
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          </>
        ) : null}
      </section>

      {versions.error ? <ErrorMessage title="The versions could not be loaded" error={versions.error} /> : null}
      {versions.isPending ? <Loading what="Loading the versions" /> : null}
      {versions.data && list.length === 0 ? (
        <section aria-labelledby="model-versions">
          <h2 id="model-versions">Versions</h2>
          <Empty>
            {m.name} has no versions yet. Register one with the SDK's <code>models.createVersion('{m.name}', {'{ source }'})</code>, MLflow's{' '}
            <code>mlflow.register_model</code>, or <code>POST /api/v1/models/{seg(m.name)}/versions</code>; aliases can point at it then.
          </Empty>
        </section>
      ) : null}
      {list.length > 0 ? (
        <>
          <section aria-labelledby="model-aliases">
            <h2 id="model-aliases">Aliases</h2>
            <RegistryAliases model={m.name} aliases={m.aliases} versions={list} />
          </section>
          <section aria-labelledby="model-stages">
            <h2 id="model-stages">Stages</h2>
            {staged.length === 0 ? (
              <p className="muted">No version is in a legacy stage (Staging, Production, Archived).</p>
            ) : (
              <dl className="kv">
                {staged.map(({ stage, version }) => (
                  <div key={stage} className="reg-kv-row">
                    <dt>{stage}</dt>
                    <dd>
                      <Link to={versionPath(m.name, version?.version ?? '')}>Version {version?.version}</Link>
                    </dd>
                  </div>
                ))}
              </dl>
            )}
          </section>
          <section aria-labelledby="model-versions">
            <h2 id="model-versions">Versions</h2>
            <table className="data">
              <caption className="visually-hidden">Versions of {m.name}, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Stage</th>
                  <th scope="col">Status</th>
                  <th scope="col">Aliases</th>
                  <th scope="col">Run</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {list.map((v) => (
                  <tr key={v.version}>
                    <th scope="row">
                      <Link to={versionPath(m.name, v.version)}>Version {v.version}</Link>
                    </th>
                    <td>
                      <StageBadge stage={v.currentStage} />
                    </td>
                    <td>
                      <StatusBadge status={v.status} />
                    </td>
                    <td>{v.aliases.length > 0 ? v.aliases.map((a) => `@${a}`).join(' ') : <span className="muted">–</span>}</td>
                    <td>
                      {v.runId ? (
                        <Link to={`/runs/${seg(v.runId)}`} className="mono">
                          {v.runId.slice(0, 8)}
                        </Link>
                      ) : (
                        <span className="muted">–</span>
                      )}
                    </td>
                    <td>{formatTime(v.creationTimestamp)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {versions.hasNextPage ? (
              <div className="toolbar">
                <button type="button" onClick={() => void versions.fetchNextPage()} disabled={versions.isFetchingNextPage}>
                  {versions.isFetchingNextPage ? 'Loading…' : 'Load older versions'}
                </button>
              </div>
            ) : null}
          </section>
        </>
      ) : null}
    </div>
  );
}
