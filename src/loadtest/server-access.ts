/**
 * How a load test reaches its Slipway server: the `Authorization` header it sends
 * there (the caller's credentials, never sent to another origin and never written
 * into a result, report, recorded param or message) and the error a refusal becomes.
 */
import { SlipwayError } from '../core/errors.js';
import { specKeyNaming, type OptionNaming } from './option-naming.js';

/** Credentials for the Slipway server, and how messages name the option that holds them. */
export interface ServerAccess {
  /** `Authorization` header value, e.g. `Bearer <token>`. */
  authorization?: string;
  /** @default spec keys */
  naming?: OptionNaming;
}

/** The header to send to the server itself: `{ authorization }`, or nothing. */
export function authorizationHeader(access: ServerAccess): Record<string, string> {
  return access.authorization ? { authorization: access.authorization } : {};
}

/** True when `url` is on the server's own origin (scheme, host and port), the only place its credentials go. */
export function sameOrigin(url: string | URL, server: string | undefined): boolean {
  if (server === undefined) return false;
  try {
    return new URL(url).origin === new URL(server).origin;
  } catch {
    return false;
  }
}

/**
 * The error for a 401 or 403 from the server, naming the option that carries its
 * credentials; undefined for any other status. `what` says which call was refused.
 */
export function refusedByServer(status: number, origin: string, what: string, access: ServerAccess): SlipwayError | undefined {
  if (status !== 401 && status !== 403) return undefined;
  const option = (access.naming ?? specKeyNaming).brief('serverAuthorization');
  if (status === 401) {
    const why = access.authorization ? 'it did not accept the credentials sent' : 'it needs credentials and none were sent';
    return new SlipwayError('UNAUTHENTICATED', `The Slipway server at ${origin} answered 401 to ${what}: ${why}; give its credentials with ${option} (or sign in once with \`slipway login --server ${origin}\`).`, { status });
  }
  return new SlipwayError('PERMISSION_DENIED', `The Slipway server at ${origin} answered 403 to ${what}: the credentials sent may not do this; give credentials that may with ${option}.`, { status });
}
