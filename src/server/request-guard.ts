/**
 * Refuses requests a web page could make on the user's behalf, before fast routes and
 * Fastify see them:
 * - a `Host` the server does not answer to (DNS rebinding: a page's own name re-pointed
 *   at this server). Loopback names, IP addresses (which no rebinding produces), the
 *   listen host and `allowedHosts` are answered; a server listening on every interface
 *   without `allowedHosts` answers any Host, since the names it is reached by are unknown.
 * - a state-changing request (POST, PUT, PATCH, DELETE) whose `Origin` is not the
 *   server's own or one of `corsAllowedOrigins`, or which a browser marks cross-site
 *   (`Sec-Fetch-Site`) while carrying a type a form could send (no CORS preflight).
 * Clients that are not browsers (MLflow's, curl, tritonclient, the SDK) send neither
 * header and are not affected.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isMlflowPath } from './http-errors.js';

/** Answers a refused request itself and returns true, or returns false without touching it. */
export type RequestGuard = (req: IncomingMessage, res: ServerResponse) => boolean;

/** What the guard accepts besides its defaults. */
export interface RequestGuardOptions {
  /** The interface the server listens on (its name is always answered). */
  listenHost: string;
  /** Extra Host values: names (any port), `name:port`, `*.domain`, or `*` for any. */
  allowedHosts: readonly string[];
  /** Extra origins (`https://app.example.com`, or `*`) whose state-changing requests are accepted. */
  corsAllowedOrigins: readonly string[];
}

const STATE_CHANGING: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
// Types a page may send cross-site without a CORS preflight.
const SIMPLE_TYPES: ReadonlySet<string> = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);
// Remembered answered Host values, so the usual request costs one Set lookup.
const MAX_REMEMBERED = 256;

function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

// `[::1]:5000` → `[::1]`, `Example.org.:80` → `example.org`.
function hostnameOf(host: string): string {
  let name: string;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    name = close < 0 ? host : host.slice(0, close + 1);
  } else {
    const colon = host.indexOf(':');
    name = colon < 0 ? host : host.slice(0, colon);
  }
  name = name.toLowerCase();
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function isIpLiteral(name: string): boolean {
  return name.startsWith('[') ? isIPv6(name.slice(1, -1)) : isIPv4(name);
}

/** Builds the guard the HTTP server runs first on every request. */
export function createRequestGuard(options: RequestGuardOptions): RequestGuard {
  const listen = bracketed(options.listenHost.toLowerCase());
  const wildcardListen = listen === '0.0.0.0' || listen === '[::]';
  const names = new Set(['localhost', '127.0.0.1', '[::1]', listen]);
  const hostPorts = new Set<string>();
  const suffixes: string[] = [];
  let anyHost = wildcardListen && options.allowedHosts.length === 0;
  for (const raw of options.allowedHosts) {
    const entry = raw.trim().toLowerCase();
    if (entry === '*') anyHost = true;
    else if (entry.startsWith('*.')) suffixes.push(entry.slice(1));
    else if (isIPv6(entry)) names.add(`[${entry}]`);
    else if (hostnameOf(entry) !== entry.replace(/\.$/, '')) hostPorts.add(entry);
    else names.add(bracketed(entry.replace(/\.$/, '')));
  }
  const origins = new Set(options.corsAllowedOrigins.map((o) => o.trim().toLowerCase().replace(/\/+$/, '')));
  const anyOrigin = origins.has('*');
  const remembered = new Set<string>();

  const hostAllowed = (host: string): boolean => {
    if (remembered.has(host)) return true;
    const name = hostnameOf(host);
    const ok = names.has(name) || hostPorts.has(host.toLowerCase()) || isIpLiteral(name) || suffixes.some((s) => name.endsWith(s));
    if (ok && remembered.size < MAX_REMEMBERED) remembered.add(host);
    return ok;
  };

  const originAllowed = (origin: string, host: string | undefined): boolean => {
    const o = origin.toLowerCase();
    if (host !== undefined) {
      const h = host.toLowerCase();
      if (o === `http://${h}` || o === `https://${h}`) return true;
    }
    return anyOrigin || origins.has(o);
  };

  return (req, res) => {
    const host = req.headers.host;
    if (host !== undefined && !anyHost && !hostAllowed(host)) {
      return refuse(req, res, `This server does not answer to Host '${host}'; an operator can add it with allowedHosts (--allowed-hosts, env SLIPWAY_ALLOWED_HOSTS).`, { host });
    }
    if (!STATE_CHANGING.has(req.method ?? '')) return false;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (originAllowed(origin, host)) return false;
      return refuse(req, res, `Requests that change state are refused from Origin '${origin}', another site than this server; an operator can allow it with corsAllowedOrigins (env SLIPWAY_CORS_ALLOWED_ORIGINS).`, { origin });
    }
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') {
      const type = req.headers['content-type'];
      const essence = type === undefined ? '' : (type.split(';')[0] ?? '').trim().toLowerCase();
      if (essence === '' || SIMPLE_TYPES.has(essence)) {
        return refuse(req, res, `Requests that change state are refused when a browser sends them from another site (Sec-Fetch-Site: ${site}) as ${essence === '' ? 'a body-less request' : `'${essence}'`}.`, { secFetchSite: site });
      }
    }
    return false;
  };
}

// 403 in the shape the path's clients read: V2 `{"error"}`, MLflow `{"error_code", "message"}`, else the native body.
function refuse(req: IncomingMessage, res: ServerResponse, message: string, details: Record<string, string>): true {
  const url = req.url ?? '/';
  const body = url.startsWith('/v2/') || url === '/v2' ? { error: message } : isMlflowPath(url) || url.startsWith('/invocations') ? { error_code: 'PERMISSION_DENIED', message } : { error: { code: 'PERMISSION_DENIED', message, details } };
  const text = JSON.stringify(body);
  // The request body is left unread: close the connection rather than parse what follows.
  res.writeHead(403, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), connection: 'close' });
  res.end(text);
  return true;
}
