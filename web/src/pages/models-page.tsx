/** Registered models: `#/models?q=fraud&sort=updated`, a name search and pages loaded on demand. */
import { useEffect, useState, type ReactNode } from 'react';
import { MODELS_PAGE_SIZE, nameFilter, useModels } from '../api/registry';
import { formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import { RegistryAliasList, VersionBadges } from '../components/registry-badges';
import { Empty, ErrorMessage, Loading } from '../components/states';
import { href, Link, seg, setQueryParams, useQueryParam } from '../router';

/** The models page. */
export default function ModelsPage(): ReactNode {
  const [q] = useQueryParam('q');
  const [sort] = useQueryParam('sort', 'name');
  const [text, setText] = useState(q);
  // Back, forward or a followed link may change the search under the box.
  useEffect(() => setText(q), [q]);
  // The URL follows the search box a moment after typing stops, so each key does not add a request.
  useEffect(() => {
    if (text === q) return;
    const timer = setTimeout(() => setQueryParams({ q: text.trim() === '' ? undefined : text }), 250);
    return () => clearTimeout(timer);
  }, [text, q]);
  const filter = nameFilter(q);
  const order = sort === 'updated' ? 'updated' : 'name';
  const models = useModels(filter ?? '', order);
  const list = models.data?.pages.flatMap((p) => p.models) ?? [];

  return (
    <div className="reg-page">
      <PageHeader title="Registered models" subtitle="Models, their versions and aliases. Open one to move an alias or read a version's lineage." />
      <div className="toolbar" role="search">
        <label className="reg-field grow">
          Search by name{' '}
          <input type="search" value={text} onChange={(e) => setText(e.target.value)} placeholder="part of a model name" />
        </label>
        <label className="reg-field">
          Sort by{' '}
          <select value={order} onChange={(e) => setQueryParams({ sort: e.target.value === 'name' ? undefined : e.target.value })}>
            <option value="name">Name</option>
            <option value="updated">Last update</option>
          </select>
        </label>
      </div>
      {filter === undefined ? (
        <div className="error-box" role="alert">
          <strong>This search cannot be run</strong>
          <p>A name search may hold single quotes or double quotes, not both.</p>
        </div>
      ) : models.error ? (
        <ErrorMessage error={models.error} />
      ) : models.isPending ? (
        <Loading what="Loading the models" />
      ) : list.length === 0 ? (
        <Empty>
          {q.trim() !== '' ? (
            <>
              No model name contains <q>{q.trim()}</q>. <Link to={href('/models', { sort: sort === 'name' ? '' : sort })}>Show every model</Link>
            </>
          ) : (
            <>
              No models are registered yet. Register one from a run with the SDK's <code>models.createVersion</code>, MLflow's{' '}
              <code>mlflow.register_model</code>, or <code>POST /api/v1/models</code>.
            </>
          )}
        </Empty>
      ) : (
        <>
          <table className="data">
            <caption className="visually-hidden">Registered models</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest versions</th>
                <th scope="col">Aliases</th>
                <th scope="col">Last update</th>
              </tr>
            </thead>
            <tbody>
              {list.map((m) => (
                <tr key={m.name}>
                  <th scope="row">
                    <Link to={`/models/${seg(m.name)}`}>{m.name}</Link>
                  </th>
                  <td>
                    <VersionBadges model={m.name} versions={m.latestVersions} />
                  </td>
                  <td>
                    <RegistryAliasList model={m.name} aliases={m.aliases} />
                  </td>
                  <td>{formatTime(m.lastUpdatedTimestamp)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="toolbar">
            <span className="muted" role="status">
              {list.length} model{list.length === 1 ? '' : 's'} shown{models.hasNextPage ? `, more to load (${MODELS_PAGE_SIZE} per page)` : ''}
            </span>
            {models.hasNextPage ? (
              <button type="button" onClick={() => void models.fetchNextPage()} disabled={models.isFetchingNextPage}>
                {models.isFetchingNextPage ? 'Loading…' : 'Load more models'}
              </button>
            ) : null}
          </div>
        </>
      )}
    </div>
  );
}
