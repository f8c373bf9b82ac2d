/**
 * Where the server may send requests of its own (alert webhooks, load tests started over
 * the API): one policy of schemes, hosts, ports and address classes, so a caller of the
 * API cannot aim the server at cloud metadata services, databases on loopback or other
 * machines. Pure: callers resolve host names and ask `checkAddress` about each address
 * they are about to connect to, so a name that later resolves elsewhere (DNS rebinding)
 * is still refused.
 */
import { BlockList, isIP } from 'node:net';
import { SlipwayError } from './errors.js';
import { redactUri } from './redact-uri.js';

/** A URL's host without IPv6 brackets, a trailing dot or upper case, so `[::1]`, `LOCALHOST.` compare as `::1`, `localhost`. */
export function normalizeHost(hostname: string): string {
  let h = hostname.toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

function family(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

function blockList(ranges: Array<[string, number]>): BlockList {
  const list = new BlockList();
  for (const [ip, bits] of ranges) list.addSubnet(ip, bits, family(ip));
  return list;
}

// BlockList also matches IPv4-mapped IPv6 addresses (::ffff:a9fe:a9fe) against IPv4 ranges.
const LOOPBACK = blockList([
  ['127.0.0.0', 8],
  ['::1', 128],
]);
// Link-local addresses host the cloud metadata services (169.254.169.254, AWS's fd00:ec2::254).
const LINK_LOCAL = blockList([
  ['169.254.0.0', 16],
  ['fe80::', 10],
  ['fd00:ec2::254', 128],
]);
// Not reachable on the internet: private, shared, unspecified, multicast and reserved ranges.
const NON_PUBLIC = blockList([
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
  ['::', 128],
  ['fc00::', 7],
  ['ff00::', 8],
]);
const METADATA_NAMES: ReadonlySet<string> = new Set(['metadata.google.internal', 'metadata.goog', 'instance-data.ec2.internal']);

/** What an IP address is, for the policy. */
export type AddressClass = 'loopback' | 'link-local' | 'private' | 'public';

/** Classifies an IP address (brackets allowed). */
export function classifyAddress(address: string): AddressClass {
  const ip = normalizeHost(address);
  const f = family(ip);
  if (LOOPBACK.check(ip, f)) return 'loopback';
  if (LINK_LOCAL.check(ip, f)) return 'link-local';
  if (NON_PUBLIC.check(ip, f)) return 'private';
  return 'public';
}

/** The entries an operator allows: host names, `*.domain`, IP addresses, CIDR ranges, each optionally with `:port`, or `*`. */
export interface HostAllowList {
  /** Whether `*` was listed. */
  readonly any: boolean;
  /** Whether a name or `*.domain` entry names this host (and port, when the entry has one). */
  allowsName(host: string, port: number): boolean;
  /** Whether an IP or CIDR entry covers this address (and port, when the entry has one). */
  allowsAddress(ip: string, port: number): boolean;
}

// One DNS label: letters, digits and inner hyphens.
const LABEL = '[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?';
const HOST_NAME = new RegExp(`^(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*$`);

// Splits `host:port`, `[v6]:port`; a bare IPv6 address or range has several colons and no port.
function splitPort(entry: string): { host: string; port: number | undefined } | undefined {
  let host = entry;
  let portText: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) return undefined;
    if (entry[close + 1] === ':') {
      host = entry.slice(0, close + 1);
      portText = entry.slice(close + 2);
    }
  } else if (entry.split(':').length === 2) {
    const colon = entry.indexOf(':');
    host = entry.slice(0, colon);
    portText = entry.slice(colon + 1);
  }
  if (portText === undefined) return { host, port: undefined };
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/**
 * Parses allow-list entries: a host name (`models.internal`), a wildcard for its
 * sub-domains (`*.example.com`), an IP address, a CIDR range (`10.0.0.0/8`, `fd00::/8`),
 * any of these but a range with `:port` (`127.0.0.1:9000`, `[::1]:9000`), or `*`.
 * Throws INVALID_ARGUMENT naming an entry that is none of these and `option`.
 */
export function parseHostAllowList(entries: readonly string[], option: string): HostAllowList {
  const anyPort = new BlockList();
  const byPort = new Map<number, BlockList>();
  const names = new Map<string, Set<number> | null>();
  const suffixes: Array<{ suffix: string; port: number | undefined }> = [];
  let any = false;
  const invalid = (raw: string, why: string) => new SlipwayError('INVALID_ARGUMENT', `Invalid entry '${raw}' in ${option}: ${why}`);
  for (const raw of entries) {
    const trimmed = raw.trim().toLowerCase();
    if (trimmed === '') continue;
    if (trimmed === '*') {
      any = true;
      continue;
    }
    const split = splitPort(trimmed);
    if (split === undefined) throw invalid(raw, 'a port must be a number from 1 to 65535, e.g. 127.0.0.1:9000.');
    const { port } = split;
    const entry = normalizeHost(split.host);
    const slash = entry.indexOf('/');
    const ip = slash >= 0 ? normalizeHost(entry.slice(0, slash)) : '';
    if (slash >= 0 && isIP(ip) !== 0) {
      const bitsText = entry.slice(slash + 1);
      const bits = Number(bitsText);
      if (port !== undefined || !/^\d{1,3}$/.test(bitsText) || bits > (isIP(ip) === 6 ? 128 : 32)) {
        throw invalid(raw, 'a range must be an IP address and a prefix length, e.g. 10.0.0.0/8 (without a port).');
      }
      anyPort.addSubnet(ip, bits, family(ip));
    } else if (isIP(entry) !== 0) {
      if (port === undefined) anyPort.addAddress(entry, family(entry));
      else {
        const list = byPort.get(port) ?? new BlockList();
        list.addAddress(entry, family(entry));
        byPort.set(port, list);
      }
    } else if (HOST_NAME.test(entry)) {
      if (entry.startsWith('*.')) suffixes.push({ suffix: entry.slice(1), port });
      else if (port === undefined) names.set(entry, null);
      else {
        const ports = names.get(entry);
        if (ports !== null) names.set(entry, (ports ?? new Set<number>()).add(port));
      }
    } else {
      throw invalid(raw, 'expected a host name, *.domain, an IP address, a CIDR range such as 10.0.0.0/8, any of them but a range with :port, or *.');
    }
  }
  return {
    any,
    allowsName(hostname: string, port: number): boolean {
      const host = normalizeHost(hostname);
      const ports = names.get(host);
      if (ports === null || ports?.has(port) === true) return true;
      return suffixes.some((s) => host.endsWith(s.suffix) && (s.port === undefined || s.port === port));
    },
    allowsAddress(address: string, port: number): boolean {
      const ip = normalizeHost(address);
      if (isIP(ip) === 0) return false;
      return anyPort.check(ip, family(ip)) || byPort.get(port)?.check(ip, family(ip)) === true;
    },
  };
}

/** How one kind of outbound request is governed. */
export interface OutboundPolicyOptions {
  /** Who sends, for messages: "Alert webhooks". */
  what: string;
  /** How an operator names the allow-list option, for messages. */
  option: string;
  /** The operator's entries (see `parseHostAllowList`). */
  allowedHosts: readonly string[];
  /** Whether public addresses are allowed without an entry (webhooks: yes; load tests: no). */
  allowPublic: boolean;
  /** Loopback ports allowed without an entry (this server's own). */
  ownPorts?: () => readonly number[];
}

/** Decides where one kind of outbound request may go. */
export interface OutboundPolicy {
  /** The option that widens the policy, for messages. */
  readonly option: string;
  /** Checks a URL before anything is sent: scheme, then host and port (IP literals fully). Throws; returns the parsed URL. */
  checkUrl(raw: string, field?: string): URL;
  /** Checks one address `hostname` resolved to, right before connecting to it. Throws PERMISSION_DENIED. */
  checkAddress(hostname: string, address: string, port: number, field?: string): void;
}

/** The port a URL connects to. */
export function portOf(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

/** Builds a policy; throws INVALID_ARGUMENT for a bad allow-list entry. */
export function createOutboundPolicy(options: OutboundPolicyOptions): OutboundPolicy {
  const list = parseHostAllowList(options.allowedHosts, options.option);
  const own = (port: number): boolean => options.ownPorts?.().includes(port) === true;
  const refuse = (host: string, port: number, why: string, field?: string): never => {
    const whose = field !== undefined ? `${field} host` : 'host';
    throw new SlipwayError('PERMISSION_DENIED', `${options.what} may not send to ${whose} '${host}' port ${port}: ${why}. An operator can allow it with ${options.option}.`, {
      host,
      port,
      ...(field !== undefined ? { field } : {}),
    });
  };
  const checkAddress = (hostname: string, address: string, port: number, field?: string): void => {
    const ip = normalizeHost(address);
    const name = normalizeHost(hostname);
    const shown = name === ip ? ip : `${name} (${ip})`;
    if (list.allowsAddress(ip, port)) return;
    const cls = classifyAddress(ip);
    // Only an address or range entry opens link-local addresses: a name entry or `*` never reaches a metadata service.
    if (cls === 'link-local') refuse(shown, port, 'link-local addresses (such as the cloud metadata service) are refused unless their address is listed', field);
    if (name !== ip && list.allowsName(name, port)) return;
    if (cls === 'loopback') {
      if (own(port)) return;
      refuse(shown, port, 'loopback ports other than this server\'s own are refused unless listed as host:port', field);
    }
    if (list.any) return;
    if (cls === 'public' && options.allowPublic) return;
    refuse(shown, port, cls === 'private' ? 'private and internal addresses are refused unless listed' : 'the host is not on the allow-list', field);
  };
  return {
    option: options.option,
    checkUrl(raw: string, field?: string): URL {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new SlipwayError('INVALID_ARGUMENT', `${options.what} need an http(s) URL, got '${redactUri(raw)}'.`, field !== undefined ? { field } : undefined);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new SlipwayError('INVALID_ARGUMENT', `${options.what} need an http(s) URL, got scheme '${url.protocol.slice(0, -1)}'.`, field !== undefined ? { field } : undefined);
      }
      const host = normalizeHost(url.hostname);
      const port = portOf(url);
      if (isIP(host) !== 0) {
        checkAddress(host, host, port, field);
        return url;
      }
      if (list.allowsName(host, port)) return url;
      if (METADATA_NAMES.has(host)) refuse(host, port, 'it names a cloud metadata service', field);
      if (host === 'localhost' || host.endsWith('.localhost')) {
        if (own(port)) return url;
        refuse(host, port, 'loopback ports other than this server\'s own are refused unless listed as host:port', field);
      }
      // Anything else is decided again on the addresses the name resolves to.
      if (list.any || options.allowPublic) return url;
      return refuse(host, port, 'the host is not on the allow-list', field);
    },
    checkAddress(hostname: string, address: string, port: number, field?: string): void {
      checkAddress(hostname, address, port, field);
    },
  };
}

/** Resolves a host name to all its addresses (`dns.promises.lookup(name, { all: true })` in production, a fake in tests). */
export type HostResolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** Resolves `hostname` and checks every address against the policy; throws PERMISSION_DENIED if any is refused. */
export async function resolveAllowed(policy: OutboundPolicy, hostname: string, port: number, resolve: HostResolver, field?: string): Promise<Array<{ address: string; family: number }>> {
  const host = normalizeHost(hostname);
  if (isIP(host) !== 0) {
    policy.checkAddress(host, host, port, field);
    return [{ address: host, family: isIP(host) }];
  }
  const addresses = await resolve(host);
  // Refuse when any address is refused: a client could connect to any of them.
  for (const a of addresses) policy.checkAddress(host, a.address, port, field);
  return addresses;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | Array<{ address: string; family: number }>, family?: number) => void;

/**
 * A `lookup` for net.connect / tls.connect (undici's `connect` option) that resolves with
 * `resolve` and refuses the connection when the policy refuses an address, so the check
 * holds for the address actually connected to.
 */
export function policyLookup(policy: OutboundPolicy, port: number, resolve: HostResolver): (hostname: string, options: { all?: boolean }, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    resolveAllowed(policy, hostname, port, resolve).then(
      (addresses) => {
        const first = addresses[0];
        if (options.all === true) callback(null, addresses);
        else if (first === undefined) callback(Object.assign(new Error(`No address for '${hostname}'.`), { code: 'ENOTFOUND' }), '', 0);
        else callback(null, first.address, first.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

// Headers that address the connection or the host rather than the request: a caller may not set them.
const FORBIDDEN_HEADERS: ReadonlySet<string> = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'expect', 'http2-settings']);

/** The caller's headers without `Host` and the hop-by-hop and framing headers the client sets itself. */
export function withoutForbiddenHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !FORBIDDEN_HEADERS.has(k.toLowerCase())));
}
