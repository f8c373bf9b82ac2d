/**
 * Artifact access shared by the MLflow artifact routes and the native /api/v1 artifact
 * routes: where a run's artifacts live (the store, or the folder of a local default
 * artifact root), path joining under a validated root, streamed downloads with their
 * headers, streamed uploads and their audit events.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { artifactPathSegments, type ArtifactPathOptions } from '../../artifacts/artifact-path.js';
import type { ArtifactFiles, ArtifactStore, PutResult } from '../../artifacts/artifact-store.js';
import { LocalFolderArtifacts } from '../../artifacts/local-folder-artifacts.js';
import { appendAuditEvent, appendAuditEventSync } from '../../audit/audit-trail.js';
import { SlipwayError, errors } from '../../core/errors.js';
import { artifactPathOf } from '../../registry/version-source.js';
import { writeSqlite } from '../../tracking/sqlite-writer.js';
import type { ServerContext } from '../context.js';
import { mutationOf } from './services.js';

/** The server's artifact store; NOT_IMPLEMENTED when none is configured. */
export function artifactStoreOf(ctx: ServerContext): ArtifactStore {
  if (!ctx.artifacts) throw new SlipwayError('NOT_IMPLEMENTED', 'This server has no artifact store configured.');
  return ctx.artifacts;
}

/** Where a stored `mlflow-artifacts:` location lives in the store; other schemes are not served here. */
export function storePathOf(location: string, what: string): string {
  const path = artifactPathOf(location);
  if (path === undefined) throw new SlipwayError('NOT_IMPLEMENTED', `The artifacts of ${what} live at '${location}', which this server does not serve.`, { location });
  return path;
}

/** Where an artifact location lives on this server: what holds its files, and its path there. */
export interface ArtifactPlace {
  files: ArtifactFiles;
  path: string;
  /** The location's URI, for messages and audit events. */
  uri: string;
}

/** The absolute local path of a `file:` URI (this machine only) or an absolute path; undefined for anything else. */
function localPathOf(location: string): string | undefined {
  if (isAbsolute(location)) return resolve(location);
  if (!/^file:/i.test(location)) return undefined;
  try {
    return resolve(fileURLToPath(location));
  } catch {
    // file://otherhost/… names another machine's files.
    return undefined;
  }
}

/**
 * Where `location` (an experiment's or run's artifact location, a version's storage location) lives:
 * `mlflow-artifacts:` paths in the store; `file:` URIs and absolute paths only inside the folder of the
 * server's local default artifact root, read and written there without following links. Any other
 * location — another local folder included — is NOT_IMPLEMENTED, so a location a client chose cannot
 * make the server read or write its own files.
 */
export function artifactPlaceOf(ctx: ServerContext, location: string, what: string): ArtifactPlace {
  const storePath = artifactPathOf(location);
  if (storePath !== undefined) return { files: artifactStoreOf(ctx), path: storePath, uri: location };
  const local = localPathOf(location);
  const root = ctx.config.defaultArtifactRootFolder;
  if (local !== undefined && root !== undefined && (local === root || local.startsWith(root.endsWith(sep) ? root : root + sep))) {
    const path = artifactPathSegments(relative(root, local).split(sep).join('/'), { allowRoot: true }).join('/');
    return { files: new LocalFolderArtifacts(root), path, uri: location };
  }
  if (local !== undefined) {
    const where = root === undefined ? 'this server has no local artifact root (--default-artifact-root file:///…)' : `the server reads and writes local artifacts only inside its --default-artifact-root folder ${root}`;
    throw new SlipwayError('NOT_IMPLEMENTED', `The artifacts of ${what} live at '${location}', a local folder this server does not serve: ${where}.`, { location });
  }
  throw new SlipwayError('NOT_IMPLEMENTED', `The artifacts of ${what} live at '${location}', which this server does not serve.`, { location });
}

/** A run's artifact root: its artifact_uri and the store path it names. */
export interface RunArtifactRoot {
  uri: string;
  path: string;
  /** True when the run is marked deleted (restorable). */
  deleted: boolean;
}

/** The artifact root of a run, from its artifact_uri; NOT_FOUND for an unknown run. */
export async function runArtifactRoot(ctx: ServerContext, runId: string): Promise<RunArtifactRoot> {
  const run = await ctx.store.db.selectFrom('runs').select(['artifact_uri', 'lifecycle_stage']).where('run_uuid', '=', runId).executeTakeFirst();
  if (!run) throw errors.notFound(`Run with id=${runId} not found`, { runId });
  return { uri: run.artifact_uri, path: storePathOf(run.artifact_uri, `run ${runId}`), deleted: run.lifecycle_stage === 'deleted' };
}

/** A run's artifact root wherever it lives (the store or a local root's folder), with its artifact_uri. */
export interface RunArtifactLocation extends ArtifactPlace {
  /** True when the run is marked deleted (restorable). */
  deleted: boolean;
}

/** The artifact root of a run, store or local folder; NOT_FOUND for an unknown run, NOT_IMPLEMENTED where this server does not serve it. */
export async function runArtifactLocation(ctx: ServerContext, runId: string): Promise<RunArtifactLocation> {
  const run = await ctx.store.db.selectFrom('runs').select(['artifact_uri', 'lifecycle_stage']).where('run_uuid', '=', runId).executeTakeFirst();
  if (!run) throw errors.notFound(`Run with id=${runId} not found`, { runId });
  return { ...artifactPlaceOf(ctx, run.artifact_uri, `run ${runId}`), deleted: run.lifecycle_stage === 'deleted' };
}

/**
 * `relative` (validated: no '..', no absolute path, no encoded traversal) below `root`; `root` itself
 * when `relative` is undefined or names the root. Throws PATH_NOT_ALLOWED for a bad path.
 */
export function joinArtifactPath(root: string, relative: string | undefined, opts: Omit<ArtifactPathOptions, 'allowRoot'> = {}): string {
  if (relative === undefined) return root;
  const rel = artifactPathSegments(relative, { ...opts, allowRoot: true }).join('/');
  if (rel === '') return root;
  return root === '' ? rel : `${root}/${rel}`;
}

/**
 * Streams the file at `path` with its length, ETag (sha256; size and time, weak, for a plain folder)
 * and an attachment disposition, as opaque bytes that a browser will not sniff. NOT_FOUND when absent.
 */
export async function sendArtifact(reply: FastifyReply, artifacts: Pick<ArtifactFiles, 'read'>, path: string): Promise<FastifyReply> {
  // Headers and bytes from one open file: a stat() then a get() could straddle an overwrite.
  const { body, size, sha256, modifiedMs } = await artifacts.read(path);
  const name = path.slice(path.lastIndexOf('/') + 1);
  return reply
    .header('content-length', String(size))
    .header('etag', sha256 !== undefined ? `"${sha256}"` : `W/"${size}-${modifiedMs ?? 0}"`)
    .header('x-content-type-options', 'nosniff')
    .header('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(name)}`)
    .type('application/octet-stream')
    .send(body);
}

/** Records an artifact change in the audit trail, with the request's id and actor. */
export async function auditArtifactChange(ctx: ServerContext, request: FastifyRequest, action: string, path: string, change: unknown): Promise<void> {
  const input = { ...mutationOf(request), action, entityType: 'artifact', entityId: path, change, time: ctx.clock.now() };
  const raw = ctx.store.sqlite;
  // The raw handle keeps the append synchronous, so no other write interleaves with it on SQLite.
  if (raw) await writeSqlite(raw, () => appendAuditEventSync(raw, input));
  else await ctx.store.db.transaction().execute((trx) => appendAuditEvent(trx, ctx.store.dialect, input));
}

/**
 * Streams the request body into the store at the path `target()` resolves to, then audits it as
 * `artifact.put`. The store writes a temp file and renames it into place only once every byte has
 * arrived, so an upload that fails or that the client aborts leaves nothing visible. The body is
 * never buffered whole; its size is bounded only by the store's free space (507 when it runs out).
 */
export async function uploadArtifact(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, target: () => Promise<string | ArtifactPlace>): Promise<PutResult> {
  let result: PutResult;
  let audited: string;
  try {
    const to = await target();
    const place = typeof to === 'string' ? { files: artifactStoreOf(ctx), path: to, uri: to } : to;
    result = await place.files.put(place.path, request.raw);
    // A file in the store is named by its logical path, one in a local root's folder by its URI.
    audited = place.files === ctx.artifacts ? result.path : place.uri;
  } catch (err) {
    // The rest of a refused or failed upload's body is never read: close the connection after the
    // answer, or it would sit with unread bytes and hold up a graceful shutdown.
    if (!request.raw.complete) reply.header('connection', 'close');
    throw err;
  }
  await auditArtifactChange(ctx, request, 'artifact.put', audited, { sha256: result.sha256, size: result.size });
  return result;
}

/**
 * Streams the request body to `relative` under the run's artifact root, wherever that root lives (the store, or a
 * local root's folder), and audits it; for routes that upload to a run (MLflow's upload-artifact).
 */
export async function uploadRunArtifact(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, runId: string, relative: string): Promise<PutResult> {
  return uploadArtifact(ctx, request, reply, async () => {
    const root = await runArtifactLocation(ctx, runId);
    const rel = artifactPathSegments(relative).join('/');
    return { files: root.files, path: joinArtifactPath(root.path, rel), uri: `${root.uri.replace(/\/+$/, '')}/${rel}` };
  });
}
