/**
 * The native JSON API under /api/v1: experiments, runs, models, artifacts and the
 * audit trail, every request validated by zod schemas that also generate the OpenAPI
 * document served at /api/v1/openapi.json.
 */
import { z } from 'zod';
import { Health } from '../../client/schemas/health.js';
import type { DomainPlugin } from '../app.js';
import { accessRoutes } from '../native/access-routes.js';
import { artifactRoutes } from '../native/artifact-routes.js';
import { auditRoutes } from '../native/audit-routes.js';
import { datasetRoutes } from '../native/dataset-routes.js';
import { experimentRoutes } from '../native/experiment-routes.js';
import { governanceRoutes } from '../native/governance-routes.js';
import { modelRoutes } from '../native/model-routes.js';
import { runRoutes } from '../native/run-routes.js';
import { datasetsOf, registryOf, trackingOf } from '../native/services.js';
import { declaredRoutes, nativeRoute, registerNativeRoutes, type NativeRoute } from '../native/native-route.js';
import { registeredRoutes } from '../native/route-table.js';
import { buildOpenApiDocument } from '../native/openapi.js';

/** Where the native API is mounted. */
export const NATIVE_PREFIX = '/api/v1';

const API_VERSION = '1.0.0';

const nativeApi: DomainPlugin = async (app, ctx) => {
  // Resolved per request so the routes use whichever shared instance another plugin opened first.
  const tracking = () => trackingOf(ctx);
  const routes: NativeRoute[] = [
    ...experimentRoutes(tracking),
    ...runRoutes(tracking, ctx.clock),
    ...modelRoutes(() => registryOf(ctx)),
    ...artifactRoutes(ctx),
    ...auditRoutes(ctx),
    ...accessRoutes(ctx),
    ...governanceRoutes(ctx),
    ...datasetRoutes(() => datasetsOf(ctx), tracking),
    nativeRoute({
      method: 'GET',
      path: '/health',
      tag: 'meta',
      operationId: 'getHealth',
      summary: 'Server health: 200 when the metadata store answers, 503 when it does not.',
      response: Health,
      documentedOnly: true,
      async handler() {
        throw new Error('served by the health plugin');
      },
    }),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push(
    nativeRoute({
      method: 'GET',
      path: '/openapi.json',
      tag: 'meta',
      operationId: 'getOpenApiDocument',
      summary: 'This OpenAPI 3.1 document.',
      response: z.record(z.string(), z.unknown()),
      async handler() {
        // Built on first request, once every plugin has registered its routes; immutable afterwards.
        document ??= buildOpenApiDocument(declaredRoutes(ctx), registeredRoutes(app, NATIVE_PREFIX), API_VERSION);
        return document;
      },
    }),
  );
  registerNativeRoutes(app, NATIVE_PREFIX, routes, ctx);
};

export default nativeApi;
