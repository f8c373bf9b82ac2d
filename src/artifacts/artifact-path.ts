/**
 * Logical artifact paths: relative, '/'-separated, and unable to escape their root.
 * Every artifact store validates paths here before touching storage.
 */
import { SlipwayError } from '../core/errors.js';

// Percent-encoded '.', '/', '\', NUL and '%' itself (double encoding): a decoded
// path still carrying them was encoded to slip a traversal past a decoder.
const ENCODED_TRAVERSAL = /%(2e|2f|5c|00|25)/i;
// C0 control characters (NUL included) have no place in a file name.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const WINDOWS_DRIVE = /^[A-Za-z]:/;
/** The longest path segment most filesystems accept, in UTF-8 bytes. */
const MAX_SEGMENT_BYTES = 255;
/** The longest logical path accepted, in UTF-8 bytes. */
const MAX_PATH_BYTES = 4096;

function reject(path: string, why: string): never {
  throw new SlipwayError('PATH_NOT_ALLOWED', `Artifact path '${printable(path)}' is not allowed: ${why}.`, { path: printable(path) });
}

function printable(path: string): string {
  // eslint-disable-next-line no-control-regex
  return path.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** How a path may be written. */
export interface ArtifactPathOptions {
  /** Accept `''` (the root) and trailing '/' (directory listings). */
  allowRoot?: boolean;
  /** Read a '.' segment as "this folder" and leave it out, as MLflow's artifact routes do ('..' stays refused). */
  dropDotSegments?: boolean;
}

/**
 * Validates a logical artifact path and returns its segments. `''` (the root) is
 * accepted only with `allowRoot`; trailing '/' is tolerated only with `allowRoot`
 * (directory listings). Throws PATH_NOT_ALLOWED naming the problem otherwise.
 */
export function artifactPathSegments(path: unknown, opts: ArtifactPathOptions = {}): string[] {
  if (typeof path !== 'string') throw new SlipwayError('PATH_NOT_ALLOWED', 'Artifact path must be a string.');
  let p = path;
  if (opts.allowRoot) p = p.replace(/\/+$/, '');
  if (p === '') {
    if (opts.allowRoot) return [];
    reject(path, 'it is empty');
  }
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) reject(path, `it is longer than ${MAX_PATH_BYTES} bytes`);
  if (CONTROL.test(p)) reject(path, 'it contains a NUL or control character');
  if (p.includes('\\')) reject(path, 'it contains a backslash');
  if (p.startsWith('/')) reject(path, 'it is absolute');
  if (WINDOWS_DRIVE.test(p)) reject(path, 'it names a drive');
  if (ENCODED_TRAVERSAL.test(p)) reject(path, "it contains a percent-encoded '.', '/', '\\', '%' or NUL");
  const segments: string[] = [];
  for (const s of p.split('/')) {
    if (s === '') reject(path, 'it contains an empty segment');
    if (s === '.' && opts.dropDotSegments) continue;
    if (s === '.' || s === '..') reject(path, `it contains a '${s}' segment`);
    if (Buffer.byteLength(s) > MAX_SEGMENT_BYTES) reject(path, `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    segments.push(s);
  }
  if (segments.length === 0 && !opts.allowRoot) reject(path, 'it names no file');
  return segments;
}

/** Validates a logical path and returns it normalised (no trailing '/'). */
export function normalizeArtifactPath(path: unknown, opts: ArtifactPathOptions = {}): string {
  return artifactPathSegments(path, opts).join('/');
}
