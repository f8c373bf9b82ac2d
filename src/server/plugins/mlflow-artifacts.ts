/**
 * MLflow's artifact routes over the artifact store, streaming both ways:
 * the proxy (`/api/2.0/mlflow-artifacts/artifacts/<path>`: PUT, GET, DELETE, list),
 * the run listing (`/api/2.0/mlflow/artifacts/list`), and the UI downloads
 * (`/get-artifact`, `/model-versions/get-artifact`). The same under /ajax-api/2.0.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { artifactPathSegments } from '../../artifacts/artifact-path.js';
import type { ArtifactEntry, ArtifactStore } from '../../artifacts/artifact-store.js';
import { appendAuditEvent, appendAuditEventSync } from '../../audit/audit-trail.js';
import { SlipwayError, errors } from '../../core/errors.js';
import { artifactPathOf } from '../../registry/version-source.js';
import { writeSqlite } from '../../tracking/sqlite-writer.js';
import type { DomainPlugin } from '../app.js';
import { endpointNotFound } from '../http-errors.js';
import type { ServerContext } from '../context.js';

const PREFIXES = ['/api/2.0', '/ajax-api/2.0'] as const;

/** One MLflow FileInfo. */
interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

function storeOf(ctx: ServerContext): ArtifactStore {
  if (!ctx.artifacts) throw new SlipwayError('NOT_IMPLEMENTED', 'This server has no artifact store configured.');
  return ctx.artifacts;
}

/** The wildcard tail of an artifact URL, already percent-decoded once by the router. */
function pathParam(request: FastifyRequest): string {
  return (request.params as Record<string, string | undefined>)['*'] ?? '';
}

function queryString(request: FastifyRequest, field: string): string | undefined {
  const value = (request.query as Record<string, unknown>)[field];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw errors.invalid(`Query parameter '${field}' must be given once.`, { field });
  return value;
}

function requireQuery(request: FastifyRequest, ...fields: string[]): string {
  for (const f of fields) {
    const v = queryString(request, f);
    if (v !== undefined) return v;
  }
  throw errors.missing(fields[0] as string);
}

function joinPath(root: string, relative: string | undefined): string {
  if (relative === undefined) return root;
  const rel = artifactPathSegments(relative, { allowRoot: true }).join('/');
  if (rel === '') return root;
  return root === '' ? rel : `${root}/${rel}`;
}

function toFileInfo(entry: ArtifactEntry, base: string): FileInfo {
  const path = base === '' ? entry.path : entry.path.slice(base.length + 1);
  return entry.isDir ? { path, is_dir: true } : { path, is_dir: false, file_size: entry.size ?? 0 };
}

/** Where a stored `mlflow-artifacts:` location lives in the store; other schemes are not served here. */
function storePathOf(location: string, what: string): string {
  const path = artifactPathOf(location);
  if (path === undefined) throw new SlipwayError('NOT_IMPLEMENTED', `The artifacts of ${what} live at '${location}', which this server does not serve.`, { location });
  return path;
}

async function sendFile(reply: FastifyReply, artifacts: ArtifactStore, path: string): Promise<FastifyReply> {
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

async function audit(ctx: ServerContext, request: FastifyRequest, action: string, path: string, change: unknown): Promise<void> {
  const input = { action, entityType: 'artifact', entityId: path, requestId: request.id, change, time: ctx.clock.now() };
  const raw = ctx.store.sqlite;
  // The raw handle keeps the append synchronous, so no other write interleaves with it on SQLite.
  if (raw) await writeSqlite(raw, () => appendAuditEventSync(raw, input));
  else await ctx.store.db.transaction().execute((trx) => appendAuditEvent(trx, ctx.store.dialect, input));
}

async function runArtifactRoot(ctx: ServerContext, runId: string): Promise<{ uri: string; path: string }> {
  const run = await ctx.store.db.selectFrom('runs').select(['artifact_uri']).where('run_uuid', '=', runId).executeTakeFirst();
  if (!run) throw errors.notFound(`Run with id=${runId} not found`, { runId });
  return { uri: run.artifact_uri, path: storePathOf(run.artifact_uri, `run ${runId}`) };
}

function proxyRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  const base = `${prefix}/mlflow-artifacts/artifacts`;

  app.put(`${base}/*`, async (request, reply) => {
    const path = pathParam(request);
    let result;
    try {
      result = await storeOf(ctx).put(path, request.raw);
    } catch (err) {
      // The rest of a failed upload's body is never read: close the connection after the answer, or it
      // would sit with unread bytes and hold up a graceful shutdown.
      if (!request.raw.complete) reply.header('connection', 'close');
      throw err;
    }
    await audit(ctx, request, 'artifact.put', result.path, { sha256: result.sha256, size: result.size });
    return {};
  });

  app.get(`${base}/*`, async (request, reply) => {
    const path = artifactPathSegments(pathParam(request)).join('/');
    return sendFile(reply, storeOf(ctx), path);
  });

  app.delete(`${base}/*`, async (request) => {
    const path = artifactPathSegments(pathParam(request)).join('/');
    await storeOf(ctx).delete(path);
    await audit(ctx, request, 'artifact.delete', path, null);
    return {};
  });

  // Multipart upload exists for cloud stores. The MLflow client (with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD)
  // falls back to a single PUT when the answer's message starts with exactly this sentence.
  app.post(`${prefix}/mlflow-artifacts/mpu/:operation/*`, async (request) => {
    const { operation } = request.params as { operation: string };
    if (!['create', 'complete', 'abort'].includes(operation)) throw endpointNotFound(request.method, request.url);
    throw new SlipwayError('NOT_IMPLEMENTED', 'Multipart upload is not supported for the current artifact repository; upload the file with a single PUT.');
  });

  app.get(base, async (request) => {
    const dir = joinPath('', queryString(request, 'path'));
    // MLflow lists basenames here; the client joins them with the path it asked for.
    const files = (await storeOf(ctx).list(dir)).map((e) => toFileInfo(e, dir));
    return files.length > 0 ? { files } : {};
  });
}

function trackingRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  app.get(`${prefix}/mlflow/artifacts/list`, async (request) => {
    const runId = requireQuery(request, 'run_id', 'run_uuid');
    const relative = queryString(request, 'path');
    const root = await runArtifactRoot(ctx, runId);
    const dir = joinPath(root.path, relative);
    // MLflow lists paths relative to the run's artifact root here.
    const files = (await storeOf(ctx).list(dir)).map((e) => toFileInfo(e, root.path));
    return files.length > 0 ? { root_uri: root.uri, files } : { root_uri: root.uri };
  });
}

function downloadRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  app.get(`${prefix}/get-artifact`, async (request, reply) => {
    const runId = requireQuery(request, 'run_id', 'run_uuid');
    const path = requireQuery(request, 'path');
    const root = await runArtifactRoot(ctx, runId);
    return sendFile(reply, storeOf(ctx), joinPath(root.path, path));
  });

  app.get(`${prefix}/model-versions/get-artifact`, async (request, reply) => {
    const name = requireQuery(request, 'name');
    const version = requireQuery(request, 'version');
    const path = requireQuery(request, 'path');
    if (!/^\d+$/.test(version)) throw errors.invalid(`Model version must be a positive integer, got '${version}'.`, { field: 'version' });
    const row = await ctx.store.db
      .selectFrom('model_versions')
      .select(['storage_location'])
      .where('name', '=', name)
      .where('version', '=', Number(version))
      .executeTakeFirst();
    if (!row) throw errors.notFound(`Model Version (name=${name}, version=${version}) not found`, { name, version });
    if (!row.storage_location) throw errors.notFound(`Model Version (name=${name}, version=${version}) has no stored artifacts.`, { name, version });
    const root = storePathOf(row.storage_location, `model version ${name}/${version}`);
    return sendFile(reply, storeOf(ctx), joinPath(root, path));
  });
}

const mlflowArtifacts: DomainPlugin = async (app, ctx) => {
  // Artifact bodies are opaque bytes whatever their Content-Type (the MLflow client sends the file's
  // guessed type, often application/json): hand the raw stream to the handler instead of parsing it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  for (const prefix of PREFIXES) {
    proxyRoutes(app, ctx, prefix);
    trackingRoutes(app, ctx, prefix);
  }
  downloadRoutes(app, ctx, '');
  downloadRoutes(app, ctx, '/ajax-api/2.0/mlflow');
};

export default mlflowArtifacts;
