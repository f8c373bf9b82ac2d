/**
 * Every experiment, newest first: a name search, the active / deleted / all view, sorting by
 * any column on the server, and more pages on demand. The view lives in the URL.
 */
import { useEffect, useId, useMemo, useState, type ReactNode } from 'react';
import { useInfiniteQuery } from '@tanstack/react-query';
import type { ExperimentPage } from '../../../src/client/schemas/experiments.js';
import { listExperiments, parseView } from '../api/tracking';
import { formatTime } from '../components/format';
import { PageHeader } from '../components/page-header';
import { Empty, ErrorMessage, Loading } from '../components/states';
import { Link, seg, setQueryParams, useQueryParam } from '../router';

const PAGE_SIZE = 100;
/** Typing pauses this long before the search is sent. */
const SEARCH_DELAY_MS = 250;

const COLUMNS: Array<{ key: string; label: string }> = [
  { key: 'name', label: 'Name' },
  { key: 'experiment_id', label: 'ID' },
  { key: 'last_update_time', label: 'Last update' },
  { key: 'creation_time', label: 'Created' },
];

/** A filter matching names containing `text`, case-insensitively; quotes chosen so the text needs no escaping. */
function nameFilter(text: string): string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  const quote = t.includes("'") ? '"' : "'";
  return `name ILIKE ${quote}%${quote === '"' ? t.replace(/"/g, '') : t}%${quote}`;
}

/** The experiments page. */
export default function ExperimentsPage(): ReactNode {
  const [q, setQ] = useQueryParam('q');
  const [viewParam, setView] = useQueryParam('view', 'active');
  const [order] = useQueryParam('order');
  const view = parseView(viewParam);
  const ids = useId();

  // The box updates the URL after a pause, so each keystroke is not a request.
  const [draft, setDraft] = useState(q);
  const [shownQ, setShownQ] = useState(q);
  if (shownQ !== q) {
    setShownQ(q);
    setDraft(q);
  }
  useEffect(() => {
    if (draft === q) return;
    const timer = setTimeout(() => setQ(draft.trim() ? draft : undefined), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [draft, q, setQ]);

  const sort = useMemo(() => {
    const m = /^(\w+) (ASC|DESC)$/.exec(order);
    return m && COLUMNS.some((c) => c.key === m[1]) ? { key: m[1] as string, ascending: m[2] === 'ASC' } : undefined;
  }, [order]);
  const filter = nameFilter(q);
  const list = useInfiniteQuery({
    queryKey: ['experiments', filter, order, view],
    queryFn: ({ pageParam, signal }) =>
      listExperiments({ ...(filter ? { filter } : {}), ...(sort ? { orderBy: `${sort.key} ${sort.ascending ? 'ASC' : 'DESC'}` } : {}), view, maxResults: PAGE_SIZE, ...(pageParam ? { pageToken: pageParam } : {}) }, signal),
    initialPageParam: '',
    getNextPageParam: (last: ExperimentPage) => last.nextPageToken || undefined,
  });
  const experiments = useMemo(() => list.data?.pages.flatMap((p) => p.experiments) ?? [], [list.data]);

  const onSort = (key: string): void => {
    // Names read best A→Z first; times and ids newest first.
    const ascending = sort?.key === key ? !sort.ascending : key === 'name';
    setQueryParams({ order: `${key} ${ascending ? 'ASC' : 'DESC'}` });
  };

  return (
    <>
      <PageHeader title="Experiments" />
      <div className="toolbar" role="search">
        <label htmlFor={`${ids}-q`} className="visually-hidden">
          Search experiments by name
        </label>
        <input id={`${ids}-q`} type="search" className="grow" placeholder="Search by name" value={draft} onChange={(e) => setDraft(e.target.value)} autoComplete="off" />
        <label htmlFor={`${ids}-view`}>Show</label>
        <select id={`${ids}-view`} value={view} onChange={(e) => setView(e.target.value)}>
          <option value="active">Active experiments</option>
          <option value="deleted">Deleted experiments</option>
          <option value="all">All experiments</option>
        </select>
      </div>
      {list.error && !list.isFetchNextPageError ? (
        <ErrorMessage error={list.error} title="The experiments could not be loaded" />
      ) : list.isPending ? (
        <Loading what="Loading the experiments" />
      ) : experiments.length === 0 ? (
        <Empty>{q ? `No ${view === 'all' ? '' : `${view} `}experiment has a name containing “${q.trim()}”.` : view === 'deleted' ? 'No experiment is deleted.' : 'There are no experiments yet. Runs logged without one go to the Default experiment.'}</Empty>
      ) : (
        <>
          <table className="data experiments-table">
            <thead>
              <tr>
                {COLUMNS.map((c) => {
                  const active = sort?.key === c.key;
                  return (
                    <th key={c.key} scope="col" aria-sort={active ? (sort.ascending ? 'ascending' : 'descending') : undefined}>
                      <button type="button" className="runs-sort-button" onClick={() => onSort(c.key)}>
                        <span className="runs-col-label">{c.label}</span>
                        <span aria-hidden="true" className="runs-sort-mark">
                          {active ? (sort.ascending ? '▲' : '▼') : ''}
                        </span>
                      </button>
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {experiments.map((e) => (
                <tr key={e.experimentId}>
                  <td>
                    <Link to={`/experiments/${seg(e.experimentId)}`}>{e.name}</Link>
                    {e.lifecycleStage === 'deleted' ? (
                      <>
                        {' '}
                        <span className="badge bad">Deleted</span>
                      </>
                    ) : null}
                  </td>
                  <td className="mono">{e.experimentId}</td>
                  <td>{formatTime(e.lastUpdateTime)}</td>
                  <td>{formatTime(e.creationTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div className="toolbar">
            <span className="muted small" role="status">
              {experiments.length.toLocaleString()} {experiments.length === 1 ? 'experiment' : 'experiments'}
              {list.hasNextPage ? ' shown' : ''}
            </span>
            {list.hasNextPage ? (
              <button type="button" onClick={() => void list.fetchNextPage()} disabled={list.isFetchingNextPage}>
                {list.isFetchingNextPage ? 'Loading…' : `Show ${PAGE_SIZE} more`}
              </button>
            ) : null}
          </div>
          {list.isFetchNextPageError ? <ErrorMessage error={list.error} title="More experiments could not be loaded" /> : null}
        </>
      )}
    </>
  );
}
