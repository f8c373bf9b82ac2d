/** The app shell: skip link, navigation, the page of the current hash path, and sign-in handling. */
import { Component, Suspense, useEffect, useState, type ErrorInfo, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { HEALTH_KEY, fetchHealth } from './api/health';
import { onUnauthenticated, sendJson, api } from './api/http';
import { clearSession, currentSession } from './api/session';
import { Loading, ErrorMessage } from './components/states';
import { PageHeader } from './components/page-header';
import { Link, matchPath, navigate, useLocation } from './router';
import { NAV, ROUTES } from './routes';

/** Catches a page that throws while rendering, so the shell and navigation stay usable. */
class PageBoundary extends Component<{ children: ReactNode; path: string }, { error: unknown }> {
  override state: { error: unknown } = { error: undefined };
  static getDerivedStateFromError(error: unknown): { error: unknown } {
    return { error };
  }
  override componentDidUpdate(prev: { path: string }): void {
    if (prev.path !== this.props.path && this.state.error !== undefined) this.setState({ error: undefined });
  }
  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error('page failed', error, info.componentStack);
  }
  override render(): ReactNode {
    if (this.state.error !== undefined) return <ErrorMessage title="This page failed to display" error={this.state.error} />;
    return this.props.children;
  }
}

function NotFound({ path }: { path: string }): ReactNode {
  return (
    <>
      <PageHeader title="Page not found" />
      <div className="error-box" role="alert">
        <p>
          There is no page at <code>{path}</code>. It may have been renamed, or the link is incomplete.
        </p>
        <p>
          <Link to="/experiments">Go to the experiments</Link>
        </p>
      </div>
    </>
  );
}

function SessionBar(): ReactNode {
  const session = currentSession();
  const queryClient = useQueryClient();
  if (!session) return null;
  const signOut = async (): Promise<void> => {
    // Revoke the token on the server so a copy of it stops working too.
    await sendJson('DELETE', api('tokens', session.tokenId)).catch(() => undefined);
    clearSession();
    queryClient.clear();
    navigate('/login');
  };
  return (
    <div className="session">
      <span>
        Signed in as <strong>{session.username}</strong>
      </span>
      <button type="button" className="link-button" onClick={() => void signOut()}>
        Sign out
      </button>
    </div>
  );
}

/** The whole UI. */
export function App(): ReactNode {
  const { path } = useLocation();
  const queryClient = useQueryClient();
  const [, setTick] = useState(0);
  useEffect(
    () =>
      onUnauthenticated(() => {
        const current = window.location.hash.replace(/^#/, '') || '/experiments';
        if (!current.startsWith('/login')) {
          queryClient.cancelQueries().catch(() => undefined);
          navigate(`/login?next=${encodeURIComponent(current)}`, { replace: true });
        }
        setTick((t) => t + 1);
      }),
    [queryClient],
  );
  useEffect(() => {
    if (path === '/' || path === '') navigate('/experiments', { replace: true });
  }, [path]);
  // With access control on, a visitor without a session goes to the login page at once, whatever
  // the page (one that sends no request would otherwise never meet the 401 that redirects).
  const health = useQuery({ queryKey: HEALTH_KEY, queryFn: fetchHealth, retry: false, staleTime: 60_000 });
  const authRequired = health.data?.auth === true;
  useEffect(() => {
    if (!authRequired || currentSession() || path.startsWith('/login')) return;
    const current = window.location.hash.replace(/^#/, '') || '/experiments';
    navigate(`/login?next=${encodeURIComponent(current)}`, { replace: true });
  }, [authRequired, path]);
  let content: ReactNode = null;
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, path);
    if (params) {
      const Page = route.page;
      content = <Page params={params} />;
      break;
    }
  }
  if (content === null && path !== '/' && path !== '') content = <NotFound path={path} />;
  const section = NAV.find((n) => path === n.to || path.startsWith(`${n.to}/`) || (n.to === '/experiments' && (path.startsWith('/runs/') || path === '/compare')));
  return (
    <>
      <a className="skip-link" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/experiments" className="brand" aria-label="Slipway home">
          <img src="/favicon.svg" alt="" width={22} height={22} />
          <span>Slipway</span>
        </Link>
        <nav aria-label="Main" className="mainnav">
          <ul>
            {NAV.map((n) => (
              <li key={n.to}>
                <Link to={n.to} aria-current={section?.to === n.to ? 'page' : undefined}>
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <SessionBar />
      </header>
      <main id="main" tabIndex={-1}>
        <PageBoundary path={path}>
          <Suspense fallback={<Loading what="Loading the page" />}>{content}</Suspense>
        </PageBoundary>
      </main>
    </>
  );
}
