/**
 * Which hosts a Slipway server may send load to when a load test is started over its
 * HTTP API: loopback addresses, the server itself, and the hosts its operator allows
 * (`loadtestAllowedHosts`). Without it, anyone who can call the API could make the
 * server flood any address it can reach. The CLI is not restricted: its user chooses
 * the target themselves.
 */
import { BlockList, isIP } from 'node:net';
import { SlipwayError } from '../core/errors.js';

/** How an operator names the option, for messages. */
export const ALLOWED_HOSTS_OPTION = 'loadtestAllowedHosts (env SLIPWAY_LOADTEST_ALLOWED_HOSTS, or server.loadtestAllowedHosts in slipway.yaml)';

/** Decides whether a host (as a URL spells it) may be load-tested. */
export interface TargetAllowList {
  allows(hostname: string): boolean;
}

// One DNS label: letters, digits and inner hyphens.
const LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const HOST_NAME = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

/** A URL's host without IPv6 brackets, a trailing dot or upper case, so `[::1]`, `LOCALHOST.` compare as `::1`, `localhost`. */
export function normalizeHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function addressFamily(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

/**
 * Builds the allow-list: loopback (127.0.0.0/8, ::1, `localhost`) always, plus each entry:
 * a host name (`models.internal`), a wildcard for its sub-domains (`*.example.com`), an IP
 * address, a CIDR range (`10.0.0.0/8`, `fd00::/8`) or `*` for any host.
 * Throws INVALID_ARGUMENT naming an entry that is none of these.
 */
export function createTargetAllowList(entries: readonly string[] = []): TargetAllowList {
  // node:net's BlockList matches addresses against ranges (IPv4-mapped IPv6 included); here it lists what is allowed.
  const addresses = new BlockList();
  addresses.addSubnet('127.0.0.0', 8, 'ipv4');
  addresses.addAddress('::1', 'ipv6');
  const names = new Set(['localhost']);
  const suffixes: string[] = [];
  let any = false;
  for (const raw of entries) {
    const entry = normalizeHost(raw.trim());
    if (entry === '') continue;
    if (entry === '*') {
      any = true;
      continue;
    }
    const slash = entry.indexOf('/');
    const ip = slash >= 0 ? normalizeHost(entry.slice(0, slash)) : '';
    if (slash >= 0 && isIP(ip) !== 0) {
      const bitsText = entry.slice(slash + 1);
      const bits = Number(bitsText);
      if (!/^\d{1,3}$/.test(bitsText) || bits > (isIP(ip) === 6 ? 128 : 32)) {
        throw new SlipwayError('INVALID_ARGUMENT', `Invalid entry '${raw}' in ${ALLOWED_HOSTS_OPTION}: a range must be an IP address and a prefix length, e.g. 10.0.0.0/8.`);
      }
      addresses.addSubnet(ip, bits, addressFamily(ip));
    } else if (isIP(entry) !== 0) {
      addresses.addAddress(entry, addressFamily(entry));
    } else if (HOST_NAME.test(entry)) {
      if (entry.startsWith('*.')) suffixes.push(entry.slice(1));
      else names.add(entry);
    } else {
      throw new SlipwayError('INVALID_ARGUMENT', `Invalid entry '${raw}' in ${ALLOWED_HOSTS_OPTION}: expected a host name, *.domain, an IP address, a CIDR range such as 10.0.0.0/8, or *.`);
    }
  }
  return {
    allows(hostname: string): boolean {
      if (any) return true;
      const host = normalizeHost(hostname);
      if (isIP(host) !== 0) return addresses.check(host, addressFamily(host));
      return names.has(host) || suffixes.some((s) => host.endsWith(s));
    },
  };
}

/**
 * Refuses (403 PERMISSION_DENIED) a URL whose host the allow-list does not allow, naming
 * the host and the option that would allow it. `what` names the request field. A value
 * that is not an http(s) URL is left to the option checks, which reject it with a 400.
 */
export function assertTargetAllowed(list: TargetAllowList, raw: string, what: string, sameAs?: string): void {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
  if (sameAs !== undefined && url.origin === new URL(sameAs).origin) return;
  if (list.allows(url.hostname)) return;
  const host = normalizeHost(url.hostname);
  throw new SlipwayError(
    'PERMISSION_DENIED',
    `Load tests started over the HTTP API may only send to loopback hosts, this server's models and allowed hosts; ${what} host '${host}' is not allowed. An operator can allow it with ${ALLOWED_HOSTS_OPTION}.`,
    { field: what, host },
  );
}
