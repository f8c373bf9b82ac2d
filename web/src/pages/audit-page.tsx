/**
 * The audit trail: every recorded change, filtered by action, actor, entity and time (the
 * filters live in the URL, so a link reproduces the view), paged with "Load more", and the
 * chain's head with its verification.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { useInfiniteQuery, useQueryClient } from '@tanstack/react-query';
import { AUDIT_FILTER_KEYS, fetchAuditEvents, type AuditFilters } from '../api/audit';
import { AuditEventTable } from '../components/audit-event-table';
import { AuditVerifyPanel } from '../components/audit-verify-panel';
import { PageHeader } from '../components/page-header';
import { Empty, ErrorMessage, Loading } from '../components/states';
import { setQueryParams, useLocation } from '../router';

type FilterKey = (typeof AUDIT_FILTER_KEYS)[number];

const LABELS: Record<FilterKey, { label: string; placeholder: string }> = {
  action: { label: 'Action', placeholder: 'e.g. registered_model.set_alias' },
  actor: { label: 'Actor', placeholder: 'e.g. admin' },
  entityType: { label: 'Entity type', placeholder: 'e.g. run, registered_model' },
  entityId: { label: 'Entity id', placeholder: 'e.g. fraud' },
  since: { label: 'Since', placeholder: '2024-05-01T12:00:00Z or epoch ms' },
  until: { label: 'Until (exclusive)', placeholder: '2024-05-02 or epoch ms' },
};

function filtersFrom(query: URLSearchParams): AuditFilters {
  const filters: AuditFilters = {};
  for (const key of AUDIT_FILTER_KEYS) {
    const value = query.get(key)?.trim();
    if (value) filters[key] = value;
  }
  return filters;
}

/** The filter inputs; applied to the URL on submit, so typing does not send a request per key. */
function FilterForm({ filters }: { filters: AuditFilters }): ReactNode {
  const [draft, setDraft] = useState<AuditFilters>(filters);
  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    const values: Record<string, string | undefined> = {};
    for (const key of AUDIT_FILTER_KEYS) values[key] = draft[key]?.trim() || undefined;
    setQueryParams(values, { replace: false });
  };
  const clear = (): void => {
    setDraft({});
    setQueryParams(Object.fromEntries(AUDIT_FILTER_KEYS.map((k) => [k, undefined])), { replace: false });
  };
  const active = AUDIT_FILTER_KEYS.some((k) => filters[k]);
  return (
    <form className="audit-filters" onSubmit={onSubmit} role="search" aria-label="Filter audit events">
      {AUDIT_FILTER_KEYS.map((key) => (
        <div className="field" key={key}>
          <label htmlFor={`audit-filter-${key}`}>{LABELS[key].label}</label>
          <input
            id={`audit-filter-${key}`}
            name={key}
            placeholder={LABELS[key].placeholder}
            spellCheck={false}
            autoComplete="off"
            value={draft[key] ?? ''}
            onChange={(e) => setDraft((d) => ({ ...d, [key]: e.target.value }))}
          />
        </div>
      ))}
      <div className="audit-filter-actions">
        <button type="submit" className="primary">
          Apply filters
        </button>
        <button type="button" onClick={clear} disabled={!active && !AUDIT_FILTER_KEYS.some((k) => draft[k])}>
          Clear
        </button>
      </div>
    </form>
  );
}

/** The audit page. */
export default function AuditPage(): ReactNode {
  const { query } = useLocation();
  const filters = filtersFrom(query);
  const filterKey = JSON.stringify(filters);
  const queryClient = useQueryClient();
  const events = useInfiniteQuery({
    queryKey: ['audit', 'events', filters],
    queryFn: ({ pageParam, signal }) => fetchAuditEvents(filters, pageParam, signal),
    initialPageParam: 0,
    getNextPageParam: (last) => last.nextAfter,
    retry: false,
  });
  const rows = events.data?.pages.flatMap((p) => p.events) ?? [];
  const active = AUDIT_FILTER_KEYS.some((k) => filters[k]);
  return (
    <>
      <PageHeader
        title="Audit trail"
        subtitle="Every change recorded by Slipway, oldest first: hash-chained and signed, so tampering shows when the chain is verified."
        actions={
          <button type="button" onClick={() => void queryClient.invalidateQueries({ queryKey: ['audit'] })} disabled={events.isFetching}>
            Refresh
          </button>
        }
      />
      <AuditVerifyPanel />
      <section aria-labelledby="audit-events-title">
        <h2 id="audit-events-title">Events</h2>
        <FilterForm key={filterKey} filters={filters} />
        {events.isPending ? (
          <Loading what="Loading audit events" />
        ) : events.error && rows.length === 0 ? (
          <ErrorMessage title="The events could not be listed" error={events.error} />
        ) : rows.length === 0 ? (
          <Empty>{active ? 'No event matches these filters. Clear a filter or widen the time range.' : 'No change has been recorded yet.'}</Empty>
        ) : (
          <>
            <p className="muted small" aria-live="polite">
              {rows.length} event{rows.length === 1 ? '' : 's'} shown{events.hasNextPage ? ', more follow' : ''}
              {active ? ' (filtered)' : ''}.
            </p>
            <AuditEventTable events={rows} filters={filters} />
            {events.error ? <ErrorMessage title="The next events could not be loaded" error={events.error} /> : null}
            {events.hasNextPage ? (
              <p>
                <button type="button" onClick={() => void events.fetchNextPage()} disabled={events.isFetchingNextPage}>
                  {events.isFetchingNextPage ? 'Loading…' : 'Load more'}
                </button>
              </p>
            ) : null}
          </>
        )}
      </section>
    </>
  );
}
