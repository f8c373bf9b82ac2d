/**
 * Artifact access shared by the MLflow artifact routes and the native /api/v1 artifact
 * routes: where a run's artifacts live in the store, path joining under a validated
 * root, streamed downloads with their headers, streamed uploads and their audit events.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { artifactPathSegments } from '../../artifacts/artifact-path.js';
import type { ArtifactStore, PutResult } from '../../artifacts/artifact-store.js';
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

/**
 * `relative` (validated: no '..', no absolute path, no encoded traversal) below `root`; `root` itself
 * when `relative` is undefined or names the root. Throws PATH_NOT_ALLOWED for a bad path.
 */
export function joinArtifactPath(root: string, relative: string | undefined): string {
  if (relative === undefined) return root;
  const rel = artifactPathSegments(relative, { allowRoot: true }).join('/');
  if (rel === '') return root;
  return root === '' ? rel : `${root}/${rel}`;
}

/**
 * Streams the file at `path` with its length, ETag (sha256) and an attachment disposition,
 * as opaque bytes that a browser will not sniff. NOT_FOUND when absent.
 */
export async function sendArtifact(reply: FastifyReply, artifacts: ArtifactStore, path: string): Promise<FastifyReply> {
  // Headers and bytes from one open file: a stat() then a get() could straddle an overwrite.
  const { body, size, sha256 } = await artifacts.read(path);
  const name = path.slice(path.lastIndexOf('/') + 1);
  return reply
    .header('content-length', String(size))
    .header('etag', `"${sha256}"`)
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
export async function uploadArtifact(ctx: ServerContext, request: FastifyRequest, reply: FastifyReply, target: () => Promise<string>): Promise<PutResult> {
  let result: PutResult;
  try {
    const artifacts = artifactStoreOf(ctx);
    result = await artifacts.put(await target(), request.raw);
  } catch (err) {
    // The rest of a refused or failed upload's body is never read: close the connection after the
    // answer, or it would sit with unread bytes and hold up a graceful shutdown.
    if (!request.raw.complete) reply.header('connection', 'close');
    throw err;
  }
  await auditArtifactChange(ctx, request, 'artifact.put', result.path, { sha256: result.sha256, size: result.size });
  return result;
}
