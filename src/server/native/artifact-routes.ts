/**
 * Artifacts under /api/v1, streamed both ways: a run's files (`/runs/{runId}/artifacts…`,
 * below the store path its artifact_uri names) and store-level files (`/artifacts/…`), which
 * is how a model file is uploaded before it is registered as `mlflow-artifacts:/<path>`.
 * Paths are validated as the MLflow artifact routes validate them (artifact-access.ts).
 */
import { artifactPathSegments } from '../../artifacts/artifact-path.js';
import { SlipwayError, isSlipwayError, errors } from '../../core/errors.js';
import { ArtifactListing, ListRunArtifactsQuery, PresignedArtifact, PresignQuery, RunArtifactParams, StoreArtifactParams, StoredArtifact, StoredStoreArtifact } from '../../client/schemas/artifacts.js';
import { RunIdParams } from '../../client/schemas/runs.js';
import { ARTIFACTS_SCHEME } from '../../registry/version-source.js';
import type { ServerContext } from '../context.js';
import { artifactStoreOf, joinArtifactPath, runArtifactRoot, sendArtifact, uploadArtifact } from './artifact-access.js';
import { nativeRoute, type NativeRoute } from './native-route.js';

/** `path` relative to `root` (a store path at or below it). */
function relativeTo(root: string, path: string): string {
  return root === '' ? path : path.slice(root.length + 1);
}

/** The artifact routes over the server's artifact store. */
export function artifactRoutes(ctx: ServerContext): NativeRoute[] {
  return [
    nativeRoute({
      method: 'GET',
      path: '/runs/:runId/artifacts',
      tag: 'artifacts',
      operationId: 'listRunArtifacts',
      summary: "List one folder of a run's artifacts (the root by default), with paths relative to the run's artifact root.",
      params: RunIdParams,
      query: ListRunArtifactsQuery,
      response: ArtifactListing,
      async handler({ params, query }) {
        const root = await runArtifactRoot(ctx, params.runId);
        const dir = joinArtifactPath(root.path, query.path);
        const entries = await artifactStoreOf(ctx).list(dir);
        const files = entries.map((e) => ({ path: relativeTo(root.path, e.path), isDir: e.isDir, ...(e.isDir ? {} : { size: e.size ?? 0 }) }));
        return { rootUri: root.uri, files };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/runs/:runId/artifacts/*',
      tag: 'artifacts',
      operationId: 'downloadRunArtifact',
      summary: "Download one of a run's artifact files (streamed), with its Content-Length and ETag.",
      params: RunArtifactParams,
      streamsResponse: true,
      async handler({ params, reply }) {
        const relative = artifactPathSegments(params.path).join('/');
        const root = await runArtifactRoot(ctx, params.runId);
        try {
          return await sendArtifact(reply, artifactStoreOf(ctx), joinArtifactPath(root.path, relative));
        } catch (err) {
          if (isSlipwayError(err) && err.code === 'NOT_FOUND') {
            throw errors.notFound(`Run ${params.runId} has no artifact file '${relative}'; list its files with GET /api/v1/runs/${params.runId}/artifacts.`, { runId: params.runId, path: relative });
          }
          throw err;
        }
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/runs/:runId/artifact-url/*',
      tag: 'artifacts',
      operationId: 'presignRunArtifact',
      summary: "A time-limited URL that downloads one of a run's artifact files straight from the object store (S3 artifact stores only), so large files skip the server.",
      params: RunArtifactParams,
      query: PresignQuery,
      response: PresignedArtifact,
      async handler({ params, query }) {
        const relative = artifactPathSegments(params.path).join('/');
        const root = await runArtifactRoot(ctx, params.runId);
        const store = artifactStoreOf(ctx);
        if (!store.presignedUrl) {
          throw new SlipwayError(
            'NOT_IMPLEMENTED',
            `This server keeps artifacts in a local folder, which has no presigned URLs (they come with --artifacts-destination s3://…); download the file with GET /api/v1/runs/${params.runId}/artifacts/${relative}.`,
          );
        }
        try {
          const signed = await store.presignedUrl(joinArtifactPath(root.path, relative), query.expires);
          return { url: signed.url, expiresAt: signed.expiresAt.toISOString(), size: signed.size, sha256: signed.sha256 };
        } catch (err) {
          if (isSlipwayError(err) && err.code === 'NOT_FOUND') {
            throw errors.notFound(`Run ${params.runId} has no artifact file '${relative}'; list its files with GET /api/v1/runs/${params.runId}/artifacts.`, { runId: params.runId, path: relative });
          }
          throw err;
        }
      },
    }),
    nativeRoute({
      method: 'PUT',
      path: '/runs/:runId/artifacts/*',
      tag: 'artifacts',
      operationId: 'uploadRunArtifact',
      summary: "Upload one of a run's artifact files: the request body is the raw bytes (streamed, any size the store has room for), replacing any file at that path.",
      params: RunArtifactParams,
      rawBody: true,
      response: StoredArtifact,
      async handler({ params, request, reply }) {
        const relative = artifactPathSegments(params.path).join('/');
        const stored = await uploadArtifact(ctx, request, reply, async () => {
          const root = await runArtifactRoot(ctx, params.runId);
          if (root.deleted) {
            throw errors.notFound(`Run ${params.runId} is deleted; restore it (POST /api/v1/runs/${params.runId}/restore) before uploading artifacts to it.`, { runId: params.runId });
          }
          return joinArtifactPath(root.path, relative);
        });
        return { path: relative, size: stored.size, sha256: stored.sha256 };
      },
    }),
    nativeRoute({
      method: 'GET',
      path: '/artifacts/*',
      tag: 'artifacts',
      operationId: 'downloadArtifact',
      summary: 'Download a file of the artifact store by its path (streamed), with its Content-Length and ETag.',
      params: StoreArtifactParams,
      streamsResponse: true,
      async handler({ params, reply }) {
        return sendArtifact(reply, artifactStoreOf(ctx), artifactPathSegments(params.path).join('/'));
      },
    }),
    nativeRoute({
      method: 'PUT',
      path: '/artifacts/*',
      tag: 'artifacts',
      operationId: 'uploadArtifact',
      summary: 'Upload a file to the artifact store (e.g. models/<uuid>/model.onnx) and get the mlflow-artifacts: URI to register it as a model version.',
      params: StoreArtifactParams,
      rawBody: true,
      response: StoredStoreArtifact,
      async handler({ params, request, reply }) {
        const path = artifactPathSegments(params.path).join('/');
        const stored = await uploadArtifact(ctx, request, reply, async () => path);
        return { path: stored.path, size: stored.size, sha256: stored.sha256, uri: `${ARTIFACTS_SCHEME}/${stored.path}` };
      },
    }),
  ];
}
