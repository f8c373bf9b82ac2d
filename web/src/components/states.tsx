/** What a page shows while it loads, when a request failed, and when there is nothing to show. */
import type { ReactNode } from 'react';
import { ApiError } from '../api/http';

/** A loading line, announced politely to screen readers. */
export function Loading({ what = 'Loading' }: { what?: string }): ReactNode {
  return (
    <p className="muted" role="status" aria-live="polite">
      {what}…
    </p>
  );
}

/** A failed request: the server's message and code, in an alert region. */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }): ReactNode {
  const e = error instanceof ApiError ? error : undefined;
  const message = e ? e.message : error instanceof Error ? error.message : String(error);
  return (
    <div className="error-box" role="alert">
      <strong>{title ?? (e?.status === 404 ? 'Not found' : e?.status === 403 ? 'Permission denied' : 'Something went wrong')}</strong>
      <p>{message}</p>
      {e && e.status > 0 ? (
        <p className="muted small">
          {e.code} · HTTP {e.status}
        </p>
      ) : null}
    </div>
  );
}

/** Nothing to show, with what the user can do about it. */
export function Empty({ children }: { children: ReactNode }): ReactNode {
  return <div className="empty">{children}</div>;
}

/** Renders loading, error or the content of a query result. */
export function QueryView<T>({ query, what, children }: { query: { isPending: boolean; error: unknown; data: T | undefined }; what?: string; children: (data: T) => ReactNode }): ReactNode {
  if (query.error) return <ErrorMessage error={query.error} />;
  if (query.isPending || query.data === undefined) return <Loading {...(what ? { what } : {})} />;
  return <>{children(query.data)}</>;
}
