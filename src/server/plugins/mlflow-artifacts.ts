/**
 * MLflow's artifact routes, streaming both ways: the proxy over the artifact store
 * (`/api/2.0/mlflow-artifacts/artifacts/<path>`: PUT, GET, DELETE, list; off with
 * --no-serve-artifacts), the run listing (`/api/2.0/mlflow/artifacts/list`), and the UI
 * downloads (`/get-artifact`, `/model-versions/get-artifact`). The same under /ajax-api/2.0.
 * A run whose artifacts live in the folder of a local default artifact root is listed and
 * read from that folder. Every answer, errors included, is in MLflow's shape.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { artifactPathSegments, type ArtifactPathOptions } from '../../artifacts/artifact-path.js';
import type { ArtifactEntry } from '../../artifacts/artifact-store.js';
import { SlipwayError, errors } from '../../core/errors.js';
import type { DomainPlugin } from '../app.js';
import { endpointNotFound, errorBody, toHttpError } from '../http-errors.js';
import type { ServerContext } from '../context.js';
import { artifactPlaceOf, artifactStoreOf, auditArtifactChange, joinArtifactPath, runArtifactLocation, sendArtifact, uploadArtifact } from '../native/artifact-access.js';

const PREFIXES = ['/api/2.0', '/ajax-api/2.0'] as const;

/** One MLflow FileInfo. */
interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
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

/** MLflow reads '.' as the folder itself and refuses nothing else that Slipway accepts, so it is dropped here. */
const MLFLOW_PATHS: Omit<ArtifactPathOptions, 'allowRoot'> = { dropDotSegments: true };
/** How many times a path is percent-decoded before MLflow's rules look at it (MLflow decodes until nothing changes). */
const MAX_DECODES = 8;

/**
 * Applies MLflow's own path rule (validate_path_is_safe) with its answer, "Invalid path": after decoding, no '#',
 * no '..' segment, not absolute (POSIX or Windows), a file: URI read as its path. Slipway's stricter rules (control
 * characters, encoded separators, empty segments, lengths) follow in artifactPathSegments with their own messages.
 */
function mlflowSafePath(raw: string): string {
  let decoded = raw;
  for (let i = 0; i < MAX_DECODES; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      break;
    }
    if (next === decoded) break;
    decoded = next;
  }
  const path = decoded.replace(/^file:(\/\/[^/]*)?/i, '');
  const unsafe = decoded.includes('#') || path.split('/').includes('..') || path.startsWith('/') || path.startsWith('\\\\') || /^[A-Za-z]:[\\/]/.test(path);
  if (unsafe) throw errors.invalid('Invalid path', { path: raw });
  return raw;
}

/** A path from a query or a URL under MLflow's rule, then Slipway's, relative to `root`. */
function mlflowJoin(root: string, raw: string | undefined): string {
  return joinArtifactPath(root, raw === undefined ? undefined : mlflowSafePath(raw), MLFLOW_PATHS);
}

/** A path naming one file or folder (not the root) under both rules. */
function mlflowFilePath(raw: string): string {
  return artifactPathSegments(mlflowSafePath(raw), MLFLOW_PATHS).join('/');
}

function toFileInfo(entry: ArtifactEntry, base: string): FileInfo {
  const path = base === '' ? entry.path : entry.path.slice(base.length + 1);
  return entry.isDir ? { path, is_dir: true } : { path, is_dir: false, file_size: entry.size ?? 0 };
}

function proxyRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  const base = `${prefix}/mlflow-artifacts/artifacts`;
  // Off with --no-serve-artifacts: clients then write to the experiments' local folders themselves.
  const served = () => {
    if (ctx.config.serveArtifacts !== false) return;
    throw new SlipwayError(
      'NOT_IMPLEMENTED',
      `This server does not serve artifacts (--no-serve-artifacts): clients read and write them at the experiment's artifact location (new experiments: ${ctx.config.defaultArtifactRoot}/<experiment id>). Start it with --serve-artifacts to use ${prefix}/mlflow-artifacts/.`,
    );
  };

  app.put(`${base}/*`, async (request, reply) => {
    await uploadArtifact(ctx, request, reply, async () => {
      served();
      return mlflowFilePath(pathParam(request));
    });
    return {};
  });

  app.get(`${base}/*`, async (request, reply) => {
    served();
    return sendArtifact(reply, artifactStoreOf(ctx), mlflowFilePath(pathParam(request)));
  });

  app.delete(`${base}/*`, async (request) => {
    served();
    const path = mlflowFilePath(pathParam(request));
    await artifactStoreOf(ctx).delete(path);
    await auditArtifactChange(ctx, request, 'artifact.delete', path, null);
    return {};
  });

  // Multipart upload exists for cloud stores. The MLflow client (with MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD)
  // falls back to a single PUT when the answer's message starts with exactly this sentence.
  app.post(`${prefix}/mlflow-artifacts/mpu/:operation/*`, async (request) => {
    const { operation } = request.params as { operation: string };
    if (!['create', 'complete', 'abort'].includes(operation)) throw endpointNotFound(request.method, request.url);
    served();
    throw new SlipwayError('NOT_IMPLEMENTED', 'Multipart upload is not supported for the current artifact repository; upload the file with a single PUT.');
  });

  app.get(base, async (request) => {
    served();
    const dir = mlflowJoin('', queryString(request, 'path'));
    // MLflow lists basenames here; the client joins them with the path it asked for.
    const files = (await artifactStoreOf(ctx).list(dir)).map((e) => toFileInfo(e, dir));
    return files.length > 0 ? { files } : {};
  });
}

function trackingRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  app.get(`${prefix}/mlflow/artifacts/list`, async (request) => {
    const runId = requireQuery(request, 'run_id', 'run_uuid');
    const relative = queryString(request, 'path');
    const root = await runArtifactLocation(ctx, runId);
    const dir = mlflowJoin(root.path, relative);
    // MLflow lists paths relative to the run's artifact root here.
    const files = (await root.files.list(dir)).map((e) => toFileInfo(e, root.path));
    return files.length > 0 ? { root_uri: root.uri, files } : { root_uri: root.uri };
  });
}

function downloadRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  app.get(`${prefix}/get-artifact`, async (request, reply) => {
    const runId = requireQuery(request, 'run_id', 'run_uuid');
    const path = requireQuery(request, 'path');
    mlflowSafePath(path);
    const root = await runArtifactLocation(ctx, runId);
    return sendArtifact(reply, root.files, mlflowJoin(root.path, path));
  });

  app.get(`${prefix}/model-versions/get-artifact`, async (request, reply) => {
    const name = requireQuery(request, 'name');
    const version = requireQuery(request, 'version');
    const path = requireQuery(request, 'path');
    mlflowSafePath(path);
    if (!/^\d+$/.test(version)) throw errors.invalid(`Model version must be a positive integer, got '${version}'.`, { field: 'version' });
    const row = await ctx.store.db
      .selectFrom('model_versions')
      .select(['storage_location'])
      .where('name', '=', name)
      .where('version', '=', Number(version))
      .executeTakeFirst();
    if (!row) throw errors.notFound(`Model Version (name=${name}, version=${version}) not found`, { name, version });
    if (!row.storage_location) throw errors.notFound(`Model Version (name=${name}, version=${version}) has no stored artifacts.`, { name, version });
    const root = artifactPlaceOf(ctx, row.storage_location, `model version ${name}/${version}`);
    return sendArtifact(reply, root.files, mlflowJoin(root.path, path));
  });
}

const mlflowArtifacts: DomainPlugin = async (app, ctx) => {
  // Artifact bodies are opaque bytes whatever their Content-Type (the MLflow client sends the file's
  // guessed type, often application/json): hand the raw stream to the handler instead of parsing it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  // The UI downloads (/get-artifact, /model-versions/get-artifact) sit outside /api/2.0 but are MLflow's routes
  // too: every route here answers errors in MLflow's shape, as the app's handler otherwise does for /api/2.0 only.
  app.setErrorHandler(async (err, request, reply) => {
    const mapped = toHttpError(err, request.id, { contentType: request.headers['content-type'], bodyLimit: ctx.config.bodyLimit });
    if (mapped.internal) ctx.logger.error({ err, reqId: request.id, method: request.method, url: request.url }, 'request failed');
    const retryAfter = mapped.details?.retryAfterSeconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
    return reply.code(mapped.status).type('application/json; charset=utf-8').send(errorBody(mapped, true));
  });
  for (const prefix of PREFIXES) {
    proxyRoutes(app, ctx, prefix);
    trackingRoutes(app, ctx, prefix);
  }
  downloadRoutes(app, ctx, '');
  // MLflow's UI joins its static prefix and the route with a '/', and its server (Flask) folds the doubled slash.
  downloadRoutes(app, ctx, '/');
  downloadRoutes(app, ctx, '/ajax-api/2.0/mlflow');
};

export default mlflowArtifacts;
