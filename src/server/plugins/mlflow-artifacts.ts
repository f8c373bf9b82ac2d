/**
 * MLflow's artifact routes over the artifact store, streaming both ways:
 * the proxy (`/api/2.0/mlflow-artifacts/artifacts/<path>`: PUT, GET, DELETE, list),
 * the run listing (`/api/2.0/mlflow/artifacts/list`), and the UI downloads
 * (`/get-artifact`, `/model-versions/get-artifact`). The same under /ajax-api/2.0.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { artifactPathSegments } from '../../artifacts/artifact-path.js';
import type { ArtifactEntry } from '../../artifacts/artifact-store.js';
import { SlipwayError, errors } from '../../core/errors.js';
import type { DomainPlugin } from '../app.js';
import { endpointNotFound } from '../http-errors.js';
import type { ServerContext } from '../context.js';
import { artifactStoreOf, auditArtifactChange, joinArtifactPath, runArtifactRoot, sendArtifact, storePathOf, uploadArtifact } from '../native/artifact-access.js';

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

function toFileInfo(entry: ArtifactEntry, base: string): FileInfo {
  const path = base === '' ? entry.path : entry.path.slice(base.length + 1);
  return entry.isDir ? { path, is_dir: true } : { path, is_dir: false, file_size: entry.size ?? 0 };
}

function proxyRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  const base = `${prefix}/mlflow-artifacts/artifacts`;

  app.put(`${base}/*`, async (request, reply) => {
    await uploadArtifact(ctx, request, reply, async () => pathParam(request));
    return {};
  });

  app.get(`${base}/*`, async (request, reply) => {
    const path = artifactPathSegments(pathParam(request)).join('/');
    return sendArtifact(reply, artifactStoreOf(ctx), path);
  });

  app.delete(`${base}/*`, async (request) => {
    const path = artifactPathSegments(pathParam(request)).join('/');
    await artifactStoreOf(ctx).delete(path);
    await auditArtifactChange(ctx, request, 'artifact.delete', path, null);
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
    const dir = joinArtifactPath('', queryString(request, 'path'));
    // MLflow lists basenames here; the client joins them with the path it asked for.
    const files = (await artifactStoreOf(ctx).list(dir)).map((e) => toFileInfo(e, dir));
    return files.length > 0 ? { files } : {};
  });
}

function trackingRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  app.get(`${prefix}/mlflow/artifacts/list`, async (request) => {
    const runId = requireQuery(request, 'run_id', 'run_uuid');
    const relative = queryString(request, 'path');
    const root = await runArtifactRoot(ctx, runId);
    const dir = joinArtifactPath(root.path, relative);
    // MLflow lists paths relative to the run's artifact root here.
    const files = (await artifactStoreOf(ctx).list(dir)).map((e) => toFileInfo(e, root.path));
    return files.length > 0 ? { root_uri: root.uri, files } : { root_uri: root.uri };
  });
}

function downloadRoutes(app: FastifyInstance, ctx: ServerContext, prefix: string): void {
  app.get(`${prefix}/get-artifact`, async (request, reply) => {
    const runId = requireQuery(request, 'run_id', 'run_uuid');
    const path = requireQuery(request, 'path');
    const root = await runArtifactRoot(ctx, runId);
    return sendArtifact(reply, artifactStoreOf(ctx), joinArtifactPath(root.path, path));
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
    return sendArtifact(reply, artifactStoreOf(ctx), joinArtifactPath(root, path));
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
