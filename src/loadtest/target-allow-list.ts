/**
 * Which hosts a Slipway server may send load to when a load test is started over its
 * HTTP API: this server itself (its own port on loopback) and the hosts its operator
 * allows (`loadtestAllowedHosts`, added to `outboundAllowedHosts`), under the server's
 * one outbound policy (`core/outbound-policy.ts`). Without it, anyone who can call the
 * API could make the server flood any address it can reach, a database on loopback
 * included. The CLI is not restricted: its user chooses the target themselves.
 */
import { lookup } from 'node:dns/promises';
import { createOutboundPolicy, portOf, resolveAllowed, type HostResolver, type OutboundPolicy } from '../core/outbound-policy.js';

export { normalizeHost, withoutForbiddenHeaders } from '../core/outbound-policy.js';

/** How an operator names the options, for messages. */
export const ALLOWED_HOSTS_OPTION =
  'loadtestAllowedHosts (env SLIPWAY_LOADTEST_ALLOWED_HOSTS, or server.loadtestAllowedHosts in slipway.yaml) or outboundAllowedHosts (env SLIPWAY_OUTBOUND_ALLOWED_HOSTS)';

/** The system resolver, every address of a name. */
export const systemResolver: HostResolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * The load-test policy: no host without an entry (public ones included), loopback only on
 * `ownPorts` (this server) or listed `host:port`, link-local only by address.
 * Throws INVALID_ARGUMENT naming an entry that is not a host.
 */
export function createLoadTestPolicy(entries: readonly string[] = [], ownPorts: () => readonly number[] = () => []): OutboundPolicy {
  return createOutboundPolicy({ what: 'Load tests started over the HTTP API', option: ALLOWED_HOSTS_OPTION, allowedHosts: entries, allowPublic: false, ownPorts });
}

/**
 * Refuses (403 PERMISSION_DENIED) a URL the policy refuses, naming the host and the
 * option that would allow it; resolves a host name and checks each of its addresses too.
 * `what` names the request field. A value that is not an http(s) URL is left to the option
 * checks, which reject it with a 400.
 */
export async function assertTargetAllowed(policy: OutboundPolicy, raw: string, what: string, resolve: HostResolver = systemResolver): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
  policy.checkUrl(raw, what);
  // The load generators connect by name; checking what the name resolves to now closes the simple case of an allowed name pointing at a refused address.
  await resolveAllowed(policy, url.hostname, portOf(url), resolve, what).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'PERMISSION_DENIED') throw err;
    // A name that does not resolve fails the load test itself, with the client's own message.
  });
}
