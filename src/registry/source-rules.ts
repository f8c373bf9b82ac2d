/**
 * MLflow's rules for the source of a new model version, as its server (2.12) applies them:
 * a source is local (a path without a scheme, or a `file:` URI naming this machine) or not;
 * a non-local source must name an absolute path without `.` or `..` segments, even once
 * percent-decoded; and a `file:` URI naming another host is refused.
 *
 * The URI is split the way Python's `urllib.parse.urlparse` splits it, by hand: the WHATWG
 * `URL` parser normalises dot segments away (so `..` could not be seen) and refuses hosts
 * such as `123.456.789.123` outright, and no npm library reproduces Python's splitting.
 */
import { SlipwayError, errors } from '../core/errors.js';

/** The parts of a URI that the rules look at. */
export interface SplitUri {
  /** Lower-cased scheme, '' when there is none. */
  scheme: string;
  /** What follows `//` up to the path ('' when there is no `//`). */
  netloc: string;
  /** The path, without query, fragment or `;params`. */
  path: string;
}

const SCHEME_CHARS = /^[A-Za-z][A-Za-z0-9+.-]*$/;
// The schemes whose last path segment may carry `;params` (Python's urllib.parse.uses_params).
const USES_PARAMS = new Set(['', 'ftp', 'hdl', 'prospero', 'http', 'imap', 'https', 'shttp', 'rtsp', 'rtspu', 'sip', 'sips', 'mms', 'sftp', 'tel']);

/** Splits `uri` into scheme, netloc and path as Python's `urlparse` does. */
export function splitUri(uri: string): SplitUri {
  let rest = uri.replace(/[\t\r\n]/g, '');
  let scheme = '';
  const colon = rest.indexOf(':');
  if (colon > 0 && SCHEME_CHARS.test(rest.slice(0, colon))) {
    scheme = rest.slice(0, colon).toLowerCase();
    rest = rest.slice(colon + 1);
  }
  let netloc = '';
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/);
    netloc = end < 0 ? rest.slice(2) : rest.slice(2, 2 + end);
    rest = end < 0 ? '' : rest.slice(2 + end);
  }
  rest = rest.split('#', 1)[0] as string;
  rest = rest.split('?', 1)[0] as string;
  if (USES_PARAMS.has(scheme) && rest.includes(';')) {
    const lastSlash = rest.lastIndexOf('/');
    const semi = lastSlash < 0 ? rest.indexOf(';') : rest.indexOf(';', lastSlash);
    if (semi >= 0) rest = rest.slice(0, semi);
  }
  return { scheme, netloc, path: rest };
}

/** The host of a netloc as Python's `hostname` gives it: no user info, no port, lower case; undefined when empty. */
function hostnameOf(netloc: string): string | undefined {
  const host = netloc.slice(netloc.lastIndexOf('@') + 1);
  const bare = host.startsWith('[') ? host.slice(1, host.indexOf(']') < 0 ? undefined : host.indexOf(']')) : (host.split(':', 1)[0] as string);
  return bare === '' ? undefined : bare.toLowerCase();
}

/** Percent-decodes `text` once, as Python's `unquote` (UTF-8, malformed bytes replaced). */
export function unquote(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

/** What kind of source a model version names. */
export type SourceKind =
  /** A path on this machine: an absolute path, or a `file:` URI without a host (or naming localhost). */
  | { kind: 'local'; path: string }
  /** A `file:` URI naming another machine. */
  | { kind: 'remote-file' }
  /** A URI of another scheme (`runs:`, `models:`, `mlflow-artifacts:`, `s3:` …). */
  | { kind: 'uri' }
  /** A relative path without a scheme: Slipway reads it as a path in its artifact store. */
  | { kind: 'artifact-path' };

/** Tells what kind of source `source` is, with MLflow's notion of a local one. */
export function sourceKind(source: string): SourceKind {
  const { scheme, netloc, path } = splitUri(source);
  if (scheme === '') return source.startsWith('/') ? { kind: 'local', path: unquote(source) } : { kind: 'artifact-path' };
  if (scheme !== 'file') return { kind: 'uri' };
  const host = hostnameOf(netloc);
  if (host !== undefined && host !== '.' && !host.startsWith('localhost') && !host.startsWith('127.0.0.1')) return { kind: 'remote-file' };
  return { kind: 'local', path: unquote(path) };
}

/** The error MLflow answers for a `file:` source that names another machine: 500 INTERNAL_ERROR, which its own tests expect. */
export function remoteFileSourceError(source: string): SlipwayError {
  return new SlipwayError(
    'INTERNAL',
    `${source} is not a valid remote uri. For remote access on windows, please consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>). ` +
      'A file: source must name a path on the server (file:///path).',
    { field: 'source' },
  );
}

/** The error for a local source that is neither in the run's artifact directory nor in a folder the operator allowed. */
export function localSourceError(shown: string): SlipwayError {
  return errors.invalid(
    `Invalid model version source: '${shown}'. To use a local path as a model version source, the run_id request parameter has to be specified ` +
      'and the local path has to be contained within the artifact directory of the run specified by the run_id.',
    { field: 'source' },
  );
}

/**
 * Refuses a non-local source whose path is not absolute or holds `.` or `..` segments, after
 * percent-decoding it until it no longer changes (`..%2f` is `../`) and collapsing repeated
 * slashes (`foo///bar` is accepted); a NUL anywhere is refused too. MLflow's message.
 */
export function checkNoRelativeReferences(source: string): void {
  let decoded = source;
  // Each round removes a '+' or a %XX, so this ends.
  for (let next = unquote(decoded.replace(/\+/g, ' ')); next !== decoded; next = unquote(decoded.replace(/\+/g, ' '))) decoded = next;
  const path = splitUri(decoded).path.replace(/\/+$/, '').replace(/\/+/g, '/');
  const segments = path.split('/').slice(1);
  const absoluteAndPlain = path.startsWith('/') && !path.includes('\u0000') && !segments.some((s) => s === '.' || s === '..');
  if (!absoluteAndPlain) {
    throw errors.invalid(
      `Invalid model version source: '${source}'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, ` +
        'an absolute path must be provided without relative path references present. Please provide an absolute path.',
      { field: 'source' },
    );
  }
}
