/**
 * The runs of one experiment: an MLflow filter, server-side sorting on any column, a column
 * chooser, paging as the user scrolls a virtualised table, and a selection to compare. The
 * whole view (filter, order, columns, lifecycle view) lives in the URL.
 */
import { useCallback, useId, useMemo, useState, type FormEvent, type ReactNode } from 'react';
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import type { RunPage } from '../../../src/client/schemas/runs.js';
import { ApiError } from '../api/http';
import {
  columnToken,
  getExperiment,
  parseColumns,
  parseSort,
  parseView,
  sameColumn,
  searchRuns,
  sortClause,
  sortValue,
  toRow,
  type ColumnId,
  type RunRow,
} from '../api/tracking';
import { PageHeader } from '../components/page-header';
import { Empty, ErrorMessage, Loading } from '../components/states';
import { RunsColumnChooser, type SeenKeys } from '../components/runs-columns';
import { RunsTable } from '../components/runs-table';
import { Link, setQueryParams, useQueryParam } from '../router';

/** Runs asked for per request: a few screens' worth, small enough to answer at once at any store size. */
const PAGE_SIZE = 200;
/** Metric columns shown when the URL names none. */
const DEFAULT_METRIC_COLUMNS = 8;
/** The `cols` value meaning "no key columns" (an absent `cols` means the default ones). */
const NO_COLUMNS = '-';

// Rows and keys are derived once per fetched page, never again for pages already loaded.
const rowsByPage = new WeakMap<RunPage, RunRow[]>();
const keysByPage = new WeakMap<RunPage, SeenKeys>();

function rowsOf(page: RunPage): RunRow[] {
  let rows = rowsByPage.get(page);
  if (!rows) {
    rows = page.runs.map(toRow);
    rowsByPage.set(page, rows);
  }
  return rows;
}

function keysOf(page: RunPage): SeenKeys {
  let keys = keysByPage.get(page);
  if (!keys) {
    const metrics = new Set<string>();
    const params = new Set<string>();
    const tags = new Set<string>();
    for (const run of page.runs) {
      for (const m of run.data.metrics) metrics.add(m.key);
      for (const p of run.data.params) params.add(p.key);
      for (const t of run.data.tags) tags.add(t.key);
    }
    keys = { metrics: [...metrics], params: [...params], tags: [...tags] };
    keysByPage.set(page, keys);
  }
  return keys;
}

function unionKeys(pages: readonly RunPage[]): SeenKeys {
  const metrics = new Set<string>();
  const params = new Set<string>();
  const tags = new Set<string>();
  for (const page of pages) {
    const k = keysOf(page);
    for (const x of k.metrics) metrics.add(x);
    for (const x of k.params) params.add(x);
    for (const x of k.tags) tags.add(x);
  }
  const sorted = (s: Set<string>): string[] => [...s].sort((a, b) => a.localeCompare(b));
  return { metrics: sorted(metrics), params: sorted(params), tags: sorted(tags) };
}

/** The runs page. */
export default function RunsPage({ params }: { params: Record<string, string> }): ReactNode {
  const experimentId = params.experimentId ?? '';
  const [filter] = useQueryParam('filter');
  const [order] = useQueryParam('order');
  const [cols, setCols] = useQueryParam('cols');
  const [viewParam, setView] = useQueryParam('view', 'active');
  const view = parseView(viewParam);
  const sort = useMemo(() => parseSort(order), [order]);
  const queryClient = useQueryClient();
  const ids = useId();

  const experiment = useQuery({ queryKey: ['experiment', experimentId], queryFn: ({ signal }) => getExperiment(experimentId, signal) });

  const orderBy = useMemo(() => (sort ? [sortClause(sort)] : []), [sort]);
  const searchKey = useMemo(() => ['runs-search', experimentId, filter, orderBy.join('|'), view], [experimentId, filter, orderBy, view]);
  const search = useInfiniteQuery({
    queryKey: searchKey,
    queryFn: ({ pageParam, signal }) => searchRuns({ experimentIds: [experimentId], filter, orderBy, view, maxResults: PAGE_SIZE, ...(pageParam ? { pageToken: pageParam } : {}) }, signal),
    initialPageParam: '',
    getNextPageParam: (last: RunPage) => last.nextPageToken || undefined,
    // A refetch of an infinite query asks again for every loaded page: refreshing is the user's call.
    staleTime: 60_000,
  });

  const pages = search.data?.pages;
  const rows = useMemo(() => (pages ? pages.flatMap(rowsOf) : []), [pages]);
  const seen = useMemo(() => unionKeys(pages ?? []), [pages]);
  const firstPage = pages?.[0];

  // An absent `cols` shows the metrics of the first page, so the default does not shift while scrolling.
  const defaultColumns = useMemo<ColumnId[]>(
    () =>
      firstPage
        ? keysOf(firstPage)
            .metrics.slice()
            .sort((a, b) => a.localeCompare(b))
            .slice(0, DEFAULT_METRIC_COLUMNS)
            .map((key) => ({ kind: 'metrics', key }))
        : [],
    [firstPage],
  );
  const columns = useMemo(() => (cols === '' ? defaultColumns : cols === NO_COLUMNS ? [] : parseColumns(cols)), [cols, defaultColumns]);
  const setColumns = useCallback((next: ColumnId[]) => setCols(next.length === 0 ? NO_COLUMNS : next.map(columnToken).join(',')), [setCols]);

  const onSort = useCallback(
    (column: ColumnId) => {
      const ascending = sort && sameColumn(sort.column, column) ? !sort.ascending : true;
      setQueryParams({ order: sortValue({ column, ascending }) });
    },
    [sort],
  );

  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const onToggle = useCallback((runId: string) => {
    setSelected((prev) => {
      const next = new Set(prev);
      if (next.has(runId)) next.delete(runId);
      else next.add(runId);
      return next;
    });
  }, []);

  const { hasNextPage, isFetchingNextPage, isFetchNextPageError, fetchNextPage } = search;
  const onNearEnd = useCallback(() => {
    if (!isFetchNextPageError) void fetchNextPage();
  }, [fetchNextPage, isFetchNextPageError]);

  // The box edits a draft; the URL's filter (what the table shows) changes on Enter or Search.
  const [draft, setDraft] = useState(filter);
  const [shownFilter, setShownFilter] = useState(filter);
  if (shownFilter !== filter) {
    setShownFilter(filter);
    setDraft(filter);
  }
  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const next = draft.trim();
    if (next === filter) void queryClient.resetQueries({ queryKey: searchKey, exact: true });
    else setQueryParams({ filter: next || undefined });
  };
  const refresh = (): void => void queryClient.resetQueries({ queryKey: searchKey, exact: true });

  const title = experiment.data?.name ?? `Experiment ${experimentId}`;
  const crumbs = [{ label: 'Experiments', to: '/experiments' }];
  if (experiment.error) {
    const notFound = experiment.error instanceof ApiError && (experiment.error.status === 404 || experiment.error.status === 400);
    return (
      <>
        <PageHeader title={title} crumbs={crumbs} />
        <ErrorMessage error={experiment.error} title={notFound ? `There is no experiment with id ${experimentId}` : 'The experiment could not be loaded'} />
        <p>
          <Link to="/experiments">See every experiment</Link>
        </p>
      </>
    );
  }

  const selectedIds = [...selected];
  const searchError = search.error && !search.isFetchNextPageError ? search.error : undefined;
  const errorId = `${ids}-error`;
  const actions = (
    <>
      {selectedIds.length > 0 ? (
        <button type="button" onClick={() => setSelected(new Set())}>
          Clear selection
        </button>
      ) : null}
      {selectedIds.length >= 2 ? (
        <a className="button primary-link" href={`#/compare?runs=${selectedIds.map(encodeURIComponent).join(',')}`}>
          Compare ({selectedIds.length})
        </a>
      ) : (
        <button type="button" disabled title="Select at least two runs to compare them">
          Compare ({selectedIds.length})
        </button>
      )}
    </>
  );

  return (
    <>
      <PageHeader
        title={title}
        crumbs={crumbs}
        actions={actions}
        subtitle={
          <>
            Experiment id <span className="mono">{experimentId}</span>
            {experiment.data?.lifecycleStage === 'deleted' ? (
              <>
                {' '}
                · <span className="badge bad">Deleted</span> its runs are listed under “Deleted”
              </>
            ) : null}
          </>
        }
      />
      <form className="toolbar runs-search" role="search" onSubmit={submit}>
        <label htmlFor={`${ids}-filter`} className="visually-hidden">
          Filter runs
        </label>
        <input
          id={`${ids}-filter`}
          type="search"
          className="grow mono"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          placeholder="metrics.rmse < 1 and params.lr = '0.1'"
          spellCheck={false}
          autoComplete="off"
          aria-invalid={searchError instanceof ApiError && searchError.status === 400 ? true : undefined}
          aria-describedby={searchError ? errorId : `${ids}-hint`}
        />
        <button type="submit">Search</button>
        <label htmlFor={`${ids}-view`}>Show</label>
        <select id={`${ids}-view`} value={view} onChange={(e) => setView(e.target.value)}>
          <option value="active">Active runs</option>
          <option value="deleted">Deleted runs</option>
          <option value="all">All runs</option>
        </select>
        <RunsColumnChooser seen={seen} chosen={columns} onChange={setColumns} />
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </form>
      <p id={`${ids}-hint`} className="muted small runs-hint">
        MLflow’s filter: <code>metrics.</code>, <code>params.</code>, <code>tags.</code>, <code>attributes.</code> keys with <code>= != &lt; &lt;= &gt; &gt;= LIKE ILIKE IN</code>, joined by <code>and</code>.
      </p>
      {searchError ? (
        <div id={errorId}>
          <ErrorMessage error={searchError} title={searchError instanceof ApiError && searchError.status === 400 ? 'The search could not be run' : 'The runs could not be loaded'} />
        </div>
      ) : search.isPending ? (
        <Loading what="Loading the runs" />
      ) : rows.length === 0 ? (
        <Empty>{filter ? 'No runs match this filter.' : view === 'active' ? 'This experiment has no active runs.' : view === 'deleted' ? 'This experiment has no deleted runs.' : 'This experiment has no runs.'}</Empty>
      ) : (
        <>
          <p className="muted small runs-count" role="status">
            {rows.length.toLocaleString()} {rows.length === 1 ? 'run' : 'runs'} loaded ·{' '}
            {hasNextPage ? (isFetchingNextPage ? 'loading more…' : 'more load as you scroll') : 'all loaded'}
            {search.isFetching && !isFetchingNextPage ? ' · refreshing…' : ''}
          </p>
          <RunsTable rows={rows} columns={columns} sort={sort} onSort={onSort} selected={selected} onToggle={onToggle} hasMore={hasNextPage} loadingMore={isFetchingNextPage} onNearEnd={onNearEnd} />
          {isFetchNextPageError ? (
            <div className="toolbar">
              <ErrorMessage error={search.error} title="The next runs could not be loaded" />
              <button type="button" onClick={() => void fetchNextPage()}>
                Try again
              </button>
            </div>
          ) : null}
        </>
      )}
    </>
  );
}
