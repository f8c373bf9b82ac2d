/**
 * One native API route, declared once: its zod schemas validate the request and
 * describe it in the OpenAPI document, so the two can never disagree.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SlipwayError } from '../../core/errors.js';

/** The parts of a request a route validates. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** A native API route: method, path, schemas, and a handler that receives validated input. */
export interface NativeRoute {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below /api/v1 in fastify syntax, e.g. `/runs/:runId`. */
  path: string;
  /** One-line summary for the OpenAPI document. */
  summary: string;
  /** OpenAPI tag (the resource). */
  tag: string;
  /** Stable operation id; the SDK method of the same name calls this route. */
  operationId: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The success response body; undefined for 204 No Content. */
  response?: z.ZodType;
  /** Success status. @default 200 (204 when there is no response schema) */
  status?: number;
  handler(input: RouteInput<unknown, unknown, unknown>): Promise<unknown>;
  /** Served by another plugin; listed here only so the OpenAPI document covers all of /api/v1. */
  documentedOnly?: boolean;
  /**
   * The body is raw bytes the handler streams from `request.raw`: no parser reads it (whatever its
   * Content-Type), the JSON bodyLimit does not apply, and the document lists it as application/octet-stream.
   */
  rawBody?: boolean;
  /** The handler sends the answer itself (a byte stream) and returns the reply; documented as application/octet-stream. */
  streamsResponse?: boolean;
}

/** Declares a route with typed handler input inferred from its schemas. */
export function nativeRoute<P extends z.ZodType = z.ZodUndefined, Q extends z.ZodType = z.ZodUndefined, B extends z.ZodType = z.ZodUndefined, R extends z.ZodType = z.ZodVoid>(route: {
  method: NativeRoute['method'];
  path: string;
  summary: string;
  tag: string;
  operationId: string;
  params?: P;
  query?: Q;
  body?: B;
  response?: R;
  status?: number;
  documentedOnly?: boolean;
  rawBody?: boolean;
  streamsResponse?: boolean;
  handler(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<z.input<R> | FastifyReply>;
}): NativeRoute {
  return route as unknown as NativeRoute;
}

const WHERE = { params: 'path parameter', query: 'query parameter', body: 'request body field' } as const;
const WHOLE = { params: 'path', query: 'query string', body: 'request body' } as const;

/** Validates one part of the request; a failure names every offending field. */
function parsePart(schema: z.ZodType | undefined, value: unknown, part: keyof typeof WHERE): unknown {
  if (!schema) return undefined;
  // A POST without a body arrives as undefined; treat it as an empty object so "missing field" errors name the field.
  const result = schema.safeParse(part === 'body' && (value === undefined || value === null) ? {} : value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message, code: i.code }));
  const text = issues.map((i) => (i.path ? `${WHERE[part]} '${i.path}': ${i.message}` : `${WHOLE[part]}: ${i.message}`)).join('; ');
  const missing = result.error.issues.every((i) => i.code === 'invalid_type' && /received undefined/.test(i.message));
  throw new SlipwayError(missing ? 'MISSING_ARGUMENT' : 'INVALID_ARGUMENT', `Invalid request: ${text}.`, { issues });
}

// Declared routes per server (keyed by its context), with full paths, for the OpenAPI document.
const declared = new WeakMap<object, NativeRoute[]>();

/** The routes declared with `registerNativeRoutes` for one server, with full paths. */
export function declaredRoutes(server: object): readonly NativeRoute[] {
  return declared.get(server) ?? [];
}

/** The name a route's trailing wildcard (`/artifacts/*`) takes in its params schema and in the OpenAPI document. */
export const WILDCARD_PARAM = 'path';

/** Fastify names a trailing wildcard `*`; routes and the document call it `path`. */
function namedParams(params: unknown): unknown {
  if (params === null || typeof params !== 'object' || !('*' in params)) return params;
  const { '*': tail, ...rest } = params as Record<string, unknown>;
  return { ...rest, [WILDCARD_PARAM]: tail };
}

function addRoute(app: FastifyInstance, prefix: string, route: NativeRoute): void {
  app.route({
    method: route.method,
    url: `${prefix}${route.path}`,
    handler: async (request, reply) => {
      let result: unknown;
      try {
        const params = parsePart(route.params, namedParams(request.params), 'params');
        const query = parsePart(route.query, request.query, 'query');
        const body = route.rawBody ? undefined : parsePart(route.body, request.body, 'body');
        result = await route.handler({ params, query, body, request, reply });
      } catch (err) {
        // A raw body refused before it was read (a bad path, an unknown run) is never read: close the
        // connection after the answer, or it would sit with unread bytes and hold up a graceful shutdown.
        if (route.rawBody && !request.raw.complete) reply.header('connection', 'close');
        throw err;
      }
      // A handler that sent its own answer (another status or media type) returned the reply: leave it as sent.
      if (route.streamsResponse || result === reply) return result;
      if (!route.response) {
        reply.code(route.status ?? 204);
        return reply.send();
      }
      reply.code(route.status ?? 200);
      return result;
    },
  });
}

/**
 * Registers routes on `app` under `prefix` and declares them for the OpenAPI document
 * of `server` (the ServerContext). Any plugin may use it for its /api/v1 routes.
 */
export function registerNativeRoutes(app: FastifyInstance, prefix: string, routes: readonly NativeRoute[], server: object): void {
  const list = declared.get(server) ?? [];
  declared.set(server, list);
  for (const route of routes) list.push({ ...route, path: `${prefix}${route.path}` });
  const served = routes.filter((r) => !r.documentedOnly);
  for (const route of served) if (!route.rawBody) addRoute(app, prefix, route);
  const raw = served.filter((r) => r.rawBody);
  if (raw.length === 0) return;
  // Content-type parsers belong to an encapsulation context, not to a route: raw-body routes get a child
  // context of their own whose only parser leaves the body unread, so uploads of any type and size
  // stream to the handler while the sibling routes keep the JSON parser and its bodyLimit.
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', (_request, _payload, done) => done(null));
    for (const route of raw) addRoute(child, prefix, route);
  });
}
