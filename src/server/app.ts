/**
 * buildApp(ctx) composes one Fastify plugin per domain; `listen` happens elsewhere,
 * so tests call `app.inject()` without a port. The app owns what every route
 * shares: request ids, the JSON body parser, error mapping and the 404 answer.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { ServerContext } from './context.js';
import { FastRoutes, httpServerFactory } from './http-server.js';
import { answerClientError } from './http-connections.js';
import { endpointNotFound, errorBody, isMlflowPath, toHttpError } from './http-errors.js';
import { installHttpMetrics } from './http-metrics.js';
import { parseJsonBody } from './json-body-parser.js';
import { getMetricsRegistry } from './metrics-registry.js';
import { createRequestGuard } from './request-guard.js';
import { accessGate } from './access-gate.js';
import { installAccessControl } from './plugins/access.js';
import { REQUEST_ID_HEADER, requestIdFor } from './request-id.js';

/** Longest path parameter accepted, in encoded characters. */
export const MAX_PARAM_LENGTH = 8192;

/** A domain's routes: registered with the shared context. */
export type DomainPlugin = (app: FastifyInstance, ctx: ServerContext) => Promise<void>;

/** The domain plugins by name, in registration order. Each domain adds its line here. */
const PLUGINS = {
  health: () => import('./plugins/health.js'),
  'native-api': () => import('./plugins/native-api.js'),
  'mlflow-artifacts': () => import('./plugins/mlflow-artifacts.js'),
  'mlflow-tracking': () => import('./plugins/mlflow-tracking.js'),
  'mlflow-ajax': () => import('./plugins/mlflow-ajax.js'),
  'mlflow-registry': () => import('./plugins/mlflow-registry.js'),
  'mlflow-auth': () => import('./plugins/mlflow-auth.js'),
  serving: () => import('./plugins/serving.js'),
  releases: () => import('./plugins/releases.js'),
  monitoring: () => import('./plugins/monitoring.js'),
  loadtest: () => import('./plugins/loadtest.js'),
  'web-ui': () => import('./plugins/web-ui.js'),
} satisfies Record<string, () => Promise<{ default: DomainPlugin }>>;

/** The name of a domain plugin. */
export type PluginName = keyof typeof PLUGINS;

/** What to build. */
export interface BuildAppOptions {
  /**
   * Only these plugins, still in registration order: the command line answers its own requests in-process with
   * the API plugins alone, without starting serving or live monitoring. @default every plugin
   */
  plugins?: readonly PluginName[];
}

function noFastifySchemas(): never {
  throw new Error('Fastify JSON schemas are not used here: validate with zod through nativeRoute (src/server/native/native-route.ts).');
}

/** Builds the Slipway HTTP app over an open context. */
export async function buildApp(ctx: ServerContext, opts: BuildAppOptions = {}): Promise<FastifyInstance> {
  // Access logs at debug level are written by a Fastify hook, so fast routes stay off then.
  const debug = (ctx.logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('debug') === true;
  const fastRoutes = new FastRoutes();
  if (!debug) ctx.fastRoutes = fastRoutes;
  const app = Fastify({
    serverFactory: httpServerFactory(
      { requestTimeoutMs: ctx.config.requestTimeoutMs, ...(ctx.drainTimeoutMs !== undefined ? { drainTimeoutMs: ctx.drainTimeoutMs } : {}) },
      fastRoutes,
      createRequestGuard({ listenHost: ctx.config.host, allowedHosts: ctx.config.allowedHosts, corsAllowedOrigins: ctx.config.corsAllowedOrigins }),
      ctx.access ? accessGate(ctx.access) : undefined,
    ),
    bodyLimit: ctx.config.bodyLimit,
    logger: false,
    // Routes validate with zod (native-route.ts) or by hand; none gives Fastify a JSON schema, so its ajv and
    // fast-json-stringify compilers are never loaded (tens of ms at every start). A schema added later fails loudly.
    schemaController: { compilersFactory: { buildValidator: noFastifySchemas, buildSerializer: noFastifySchemas } },
    requestIdHeader: false,
    genReqId: requestIdFor,
    // The HTTP server answers requests that arrive during the drain with 503 in each route family's shape (http-connections.ts).
    return503OnClosing: false,
    // Unparsable requests get an answer the client can read even while it is still sending.
    clientErrorHandler: answerClientError,
    // Names travel in paths percent-encoded: a 256-character model name can take 3 KiB (the default allows 100).
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Malformed percent-encoding and overlong segments are answered before routing; give them the usual error body.
    frameworkErrors: (err, request, reply) => {
      const mapped = toHttpError(err, request.id);
      void (reply as unknown as FastifyReply).code(mapped.status).type('application/json; charset=utf-8').send(errorBody(mapped, isMlflowPath(request.url)));
    },
  });

  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  installHttpMetrics(app, getMetricsRegistry());
  // Access logs only at debug level: the hook would cost every request something even when it logs nothing.
  if (debug) {
    app.addHook('onResponse', async (request, reply) => {
      ctx.logger.debug({ reqId: request.id, method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    });
  }

  app.setErrorHandler(async (err, request, reply) => {
    const mapped = toHttpError(err, request.id, { contentType: request.headers['content-type'], bodyLimit: ctx.config.bodyLimit });
    if (mapped.internal) ctx.logger.error({ err, reqId: request.id, method: request.method, url: request.url }, 'request failed');
    const retryAfter = mapped.details?.retryAfterSeconds;
    if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
    return reply.code(mapped.status).type('application/json; charset=utf-8').send(errorBody(mapped, isMlflowPath(request.url)));
  });
  app.setNotFoundHandler(async (request) => {
    throw endpointNotFound(request.method, request.url);
  });

  // Before any plugin: root hooks reach every route of every plugin registered after them.
  installAccessControl(app, ctx);

  // Loaded together (their file reads overlap), registered in order.
  const names = (Object.keys(PLUGINS) as PluginName[]).filter((name) => !opts.plugins || opts.plugins.includes(name));
  const plugins = await Promise.all(names.map(async (name) => (await PLUGINS[name]()).default));
  for (const plugin of plugins) {
    // Encapsulated: a domain may set its own error handler or content parsers without touching the others.
    await app.register(async (child) => plugin(child, ctx));
  }
  return app;
}
