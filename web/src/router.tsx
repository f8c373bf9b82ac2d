/**
 * Hash routing: `/#/runs/<id>?tab=metrics`. The page's state lives in the hash (path and
 * query), so any view is a link to share, and the server answers one shell at `/` without
 * having to tell UI paths from its API paths (MLflow's UI does the same).
 *
 * Written here: it is a few dozen lines, and routers on npm either keep the query outside
 * the hash or bring a data layer this UI takes from React Query.
 */
import { useCallback, useSyncExternalStore, type AnchorHTMLAttributes, type ReactNode } from 'react';

/** The current location inside the hash. */
export interface HashLocation {
  path: string;
  query: URLSearchParams;
}

function readHash(): string {
  const raw = window.location.hash.replace(/^#/, '');
  return raw.startsWith('/') ? raw : `/${raw}`;
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener('hashchange', onChange);
  window.addEventListener('popstate', onChange);
  return () => {
    window.removeEventListener('hashchange', onChange);
    window.removeEventListener('popstate', onChange);
  };
}

function split(hash: string): HashLocation {
  const q = hash.indexOf('?');
  return { path: q < 0 ? hash : hash.slice(0, q), query: new URLSearchParams(q < 0 ? '' : hash.slice(q + 1)) };
}

/** The location, re-rendering on every change. */
export function useLocation(): HashLocation {
  const hash = useSyncExternalStore(subscribe, readHash, () => '/');
  return split(hash);
}

/** Builds a hash href from a path and query values (empty values are left out). */
export function href(path: string, query: Record<string, string | number | boolean | undefined | null> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '' && v !== false) params.set(k, String(v));
  const qs = params.toString();
  return `#${path}${qs ? `?${qs}` : ''}`;
}

/** Goes to a hash href; `replace` keeps the history entry (for state that changes as the user types). */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  const target = to.startsWith('#') ? to : `#${to}`;
  if (opts.replace) {
    window.history.replaceState(window.history.state, '', target);
    window.dispatchEvent(new PopStateEvent('popstate'));
  } else {
    window.location.hash = target.slice(1);
  }
}

/**
 * One query parameter as state: reading it from the URL, writing it back (replacing the entry),
 * so a reload or a shared link shows the same view.
 */
export function useQueryParam(name: string, fallback = ''): [string, (value: string | undefined) => void] {
  const { query } = useLocation();
  const value = query.get(name) ?? fallback;
  const set = useCallback(
    (next: string | undefined) => {
      const current = split(readHash());
      if (next === undefined || next === '' || next === fallback) current.query.delete(name);
      else current.query.set(name, next);
      const qs = current.query.toString();
      navigate(`${current.path}${qs ? `?${qs}` : ''}`, { replace: true });
    },
    [name, fallback],
  );
  return [value, set];
}

/** Sets several query parameters at once (undefined or '' removes one). */
export function setQueryParams(values: Record<string, string | undefined>, opts: { replace?: boolean } = { replace: true }): void {
  const current = split(readHash());
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === '') current.query.delete(k);
    else current.query.set(k, v);
  }
  const qs = current.query.toString();
  navigate(`${current.path}${qs ? `?${qs}` : ''}`, opts);
}

/** Matches a pattern such as `/runs/:runId` against a path; the decoded params, or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/').filter(Boolean);
  const s = path.split('/').filter(Boolean);
  if (p.length !== s.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const part = p[i] as string;
    const seg = s[i] as string;
    if (part.startsWith(':')) {
      try {
        params[part.slice(1)] = decodeURIComponent(seg);
      } catch {
        return undefined;
      }
    } else if (part !== seg) return undefined;
  }
  return params;
}

/** A link to a hash href that behaves as a normal link (middle click, copy link address). */
export function Link({ to, children, ...rest }: { to: string; children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>): ReactNode {
  return (
    <a href={to.startsWith('#') ? to : `#${to}`} {...rest}>
      {children}
    </a>
  );
}

/** Encodes a path segment (model names may hold slashes and spaces). */
export function seg(value: string | number): string {
  return encodeURIComponent(String(value));
}
