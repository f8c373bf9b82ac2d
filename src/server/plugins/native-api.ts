/**
 * The native JSON API under /api/v1: experiments, runs, models and the audit
 * trail, every request validated by zod schemas that also generate the OpenAPI
 * document served at /api/v1/openapi.json.
 */
import { z } from 'zod';
import type { DomainPlugin } from '../app.js';
import { auditRoutes } from '../native/audit-routes.js';
import { nativeRoute, registerNativeRoutes, type NativeRoute } from '../native/native-route.js';
import { buildOpenApiDocument } from '../native/openapi.js';

/** Where the native API is mounted. */
export const NATIVE_PREFIX = '/api/v1';

const API_VERSION = '1.0.0';

const nativeApi: DomainPlugin = async (app, ctx) => {
  const routes: NativeRoute[] = [...auditRoutes(ctx)];
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
