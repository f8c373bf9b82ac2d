/**
 * Signing in: the typed password is sent once, as HTTP Basic, to create a token that lives
 * SESSION_SECONDS; the browser keeps only that token, so signing out (revoking it) ends the
 * session everywhere. After signing in the user goes back to the page that asked for it.
 */
import { useState, type FormEvent, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { CreatedToken } from '../../../src/client/schemas/access.js';
import { HEALTH_KEY, fetchHealth } from '../api/health';
import { ApiError, api, request } from '../api/http';
import { SESSION_SECONDS, currentSession, saveSession } from '../api/session';
import { PageHeader } from '../components/page-header';
import { ErrorMessage, Loading } from '../components/states';
import { Link, navigate, useQueryParam } from '../router';

const DEFAULT_NEXT = '/experiments';

/**
 * Where to go after signing in: a path of this UI only. Anything else (`//host`, `https://…`,
 * a backslash that browsers read as a slash) would make the login page an open redirect.
 */
function safeNext(next: string | undefined | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.includes('\\') || [...next].some((c) => c.charCodeAt(0) < 0x20)) return DEFAULT_NEXT;
  if (next === '/login' || next.startsWith('/login?') || next.startsWith('/login/')) return DEFAULT_NEXT;
  return next;
}

/** "Chrome on Linux": names the token so the user can tell it apart in `slipway tokens list`. */
function browserName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /OPR\//.test(ua) ? 'Opera' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'browser';
  const os = /Windows/.test(ua) ? 'Windows' : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Basic credentials; the username and password may hold any Unicode. */
function basic(username: string, password: string): string {
  const bytes = new TextEncoder().encode(`${username}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/** What a failed sign-in tells the user. */
function signInProblem(error: unknown): { title: string; message: string } {
  if (error instanceof ApiError) {
    const wait = error.retryAfterSeconds ?? (/retry after (\d+) s/.exec(error.message) ? Number(/retry after (\d+) s/.exec(error.message)?.[1]) : undefined);
    if (error.status === 429 || wait !== undefined) {
      const seconds = Math.max(1, Math.ceil(wait ?? 60));
      const at = new Date(Date.now() + seconds * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
      return { title: 'Too many failed sign-ins', message: `Sign-in is locked for now after too many failed attempts. Try again in ${seconds} s (at ${at}).` };
    }
    if (error.status === 401) return { title: 'Wrong username or password', message: 'The server did not accept this username and password. Check them and try again.' };
    if (error.status === 0) return { title: 'The server cannot be reached', message: error.message };
    return { title: 'Signing in failed', message: `${error.message} (${error.code} · HTTP ${error.status})` };
  }
  return { title: 'Signing in failed', message: error instanceof Error ? error.message : String(error) };
}

function SignInForm({ next }: { next: string }): ReactNode {
  const queryClient = useQueryClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const signIn = useMutation({
    mutationFn: async (): Promise<CreatedToken> => {
      const res = await request('POST', api('tokens'), {
        headers: { authorization: basic(username, password) },
        body: { name: `web UI (${browserName()})`, expiresInSeconds: SESSION_SECONDS },
      });
      return (await res.json()) as CreatedToken;
    },
    onSuccess: (token) => {
      saveSession({ token: token.secret, tokenId: token.id, username: token.username, expiresTime: token.expiresTime ?? null });
      setPassword('');
      // Answers cached while signed out (401s) must not show on the page the user returns to.
      queryClient.clear();
      navigate(next, { replace: true });
    },
  });
  const onSubmit = (e: FormEvent): void => {
    e.preventDefault();
    if (!signIn.isPending) signIn.mutate();
  };
  const problem = signIn.error ? signInProblem(signIn.error) : undefined;
  return (
    <form className="login-form" onSubmit={onSubmit} aria-describedby={problem ? 'login-problem' : undefined}>
      <div className="field">
        <label htmlFor="login-username">Username</label>
        <input id="login-username" name="username" autoComplete="username" autoCapitalize="none" spellCheck={false} required value={username} onChange={(e) => setUsername(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor="login-password">Password</label>
        <input id="login-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      {problem ? (
        <div className="error-box" role="alert" id="login-problem">
          <strong>{problem.title}</strong>
          <p>{problem.message}</p>
        </div>
      ) : null}
      <button type="submit" className="primary" disabled={signIn.isPending}>
        {signIn.isPending ? 'Signing in…' : 'Sign in'}
      </button>
      <p className="muted small">
        You stay signed in in this browser for {SESSION_SECONDS / 3600} hours, or until you sign out. Scripts and the command line use tokens: <code>slipway login</code> or{' '}
        <code>slipway tokens create</code>.
      </p>
    </form>
  );
}

/** The login page. */
export default function LoginPage(): ReactNode {
  const [nextParam] = useQueryParam('next');
  const next = safeNext(nextParam);
  const health = useQuery({ queryKey: HEALTH_KEY, queryFn: fetchHealth, retry: false, staleTime: 60_000 });
  const session = currentSession();
  let body: ReactNode;
  if (session) {
    body = (
      <div className="login-box">
        <p>
          You are signed in as <strong>{session.username}</strong>.
        </p>
        <p>
          <Link to={next}>Continue</Link>
        </p>
      </div>
    );
  } else if (health.isPending) {
    body = <Loading what="Asking the server whether signing in is needed" />;
  } else if (health.data && !health.data.auth) {
    body = (
      <div className="login-box">
        <p>Access control is off on this server: no sign-in is needed, and every request acts as the anonymous admin.</p>
        <p>
          <Link to={next === DEFAULT_NEXT ? DEFAULT_NEXT : next}>{next === DEFAULT_NEXT ? 'Go to the experiments' : 'Continue where you were'}</Link>
          {next === DEFAULT_NEXT ? null : (
            <>
              {' '}
              or <Link to={DEFAULT_NEXT}>go to the experiments</Link>
            </>
          )}
        </p>
      </div>
    );
  } else {
    // A server that failed its health check may still sign in; the form stays, with what went wrong above it.
    body = (
      <div className="login-box">
        {health.error && !(health.error instanceof ApiError && health.error.status === 401) ? <ErrorMessage title="The server's health check failed" error={health.error} /> : null}
        <SignInForm next={next} />
      </div>
    );
  }
  return (
    <>
      <PageHeader title="Sign in" subtitle={health.data?.auth === false ? undefined : 'Sign in with your Slipway username and password.'} />
      {body}
    </>
  );
}
