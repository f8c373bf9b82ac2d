/**
 * The signed-in user: a token the login page created with the user's password, kept in
 * the browser's localStorage so new tabs and shared links stay signed in. Tokens made here
 * expire after 12 hours; signing out revokes the token on the server.
 */
const KEY = 'slipway.session';

/** What the browser keeps of a session. */
export interface Session {
  token: string;
  tokenId: string;
  username: string;
  expiresTime: number | null;
}

/** The session, if one is stored and not expired. */
export function currentSession(): Session | undefined {
  try {
    const raw = window.localStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Session;
    if (typeof s.token !== 'string' || (s.expiresTime !== null && s.expiresTime < Date.now())) {
      window.localStorage.removeItem(KEY);
      return undefined;
    }
    return s;
  } catch {
    return undefined;
  }
}

/** The token to send, if signed in. */
export function sessionToken(): string | undefined {
  return currentSession()?.token;
}

/** Stores a new session. */
export function saveSession(session: Session): void {
  window.localStorage.setItem(KEY, JSON.stringify(session));
}

/** Forgets the session (the token stays valid on the server until it expires or is revoked). */
export function clearSession(): void {
  try {
    window.localStorage.removeItem(KEY);
  } catch {
    // Storage may be disabled; nothing to clear then.
  }
}

/** How long a token made by the login page lives. */
export const SESSION_SECONDS = 12 * 3600;
