/**
 * The native JSON API under /api/v1: experiments, runs, models and the audit
 * trail, every request validated by zod schemas that also generate the OpenAPI
 * document served at /api/v1/openapi.json.
 */
import { z } from 'zod';
import { Health } from '../../client/schemas/health.js';
import type { DomainPlugin } from '../app.js';
import { auditRoutes } from '../native/audit-routes.js';
import { experimentRoutes } from '../native/experiment-routes.js';
import { modelRoutes } from '../native/model-routes.js';
import { runRoutes } from '../native/run-routes.js';
import { registryOf, trackingOf } from '../native/services.js';
import { nativeRoute, registerNativeRoutes, type NativeRoute } from '../native/native-route.js';
import { buildOpenApiDocument } from '../native/openapi.js';

/** Where the native API is mounted. */
export const NATIVE_PREFIX = '/api/v1';

const API_VERSION = '1.0.0';

const nativeApi: DomainPlugin = async (app, ctx) => {
  // One service of each per app (unless the server already opened them), built on first use.
  let tracking: ReturnType<typeof trackingOf> | undefined;
  let registry: ReturnType<typeof registryOf> | undefined;
  const trackingNow = () => (tracking ??= trackingOf(ctx));
  const routes: NativeRoute[] = [
    ...experimentRoutes(trackingNow),
    ...runRoutes(trackingNow, ctx.clock),
    ...modelRoutes(() => (registry ??= registryOf(ctx))),
    ...auditRoutes(ctx),
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
        // Built on first request: keeps server start fast and the document is immutable afterwards.
        document ??= buildOpenApiDocument(routes, NATIVE_PREFIX, API_VERSION);
        return document;
      },
    }),
  );
  registerNativeRoutes(app, NATIVE_PREFIX, routes);
};

export default nativeApi;
