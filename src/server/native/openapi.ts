/**
 * Builds the OpenAPI 3.1 document of the native API from the routes' zod schemas
 * (zod's own JSON Schema output, draft 2020-12, which OpenAPI 3.1 uses as is).
 */
import { z } from 'zod';
import { ApiErrorBody, apiSchemas } from '../../client/schemas/common.js';
import { WILDCARD_PARAM, type NativeRoute } from './native-route.js';
import type { RegisteredRoute } from './route-table.js';

type JsonSchema = Record<string, unknown>;

const COMPONENT = '#/components/schemas/';

/** Converts one schema; named schemas become components and are referenced. */
function convert(schema: z.ZodType, io: 'input' | 'output', components: Record<string, JsonSchema>): JsonSchema {
  const json = z.toJSONSchema(schema, { metadata: apiSchemas, io, unrepresentable: 'any', reused: 'inline' }) as JsonSchema;
  const defs = (json.$defs ?? {}) as Record<string, JsonSchema>;
  delete json.$defs;
  delete json.$schema;
  // zod emits `#/$defs/<id>` (or `#` for the root itself); OpenAPI wants component references.
  const rewrite = (node: unknown, rootId: string | undefined): unknown => {
    if (Array.isArray(node)) return node.map((n) => rewrite(n, rootId));
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out[k] = v === '#' && rootId ? COMPONENT + rootId : v.replace('#/$defs/', COMPONENT);
      else out[k] = rewrite(v, rootId);
    }
    return out;
  };
  const rootId = apiSchemas.get(schema)?.id;
  for (const [id, def] of Object.entries(defs)) components[id] ??= rewrite(def, rootId) as JsonSchema;
  const root = rewrite(json, rootId) as JsonSchema;
  if (rootId) {
    components[rootId] ??= root;
    return { $ref: COMPONENT + rootId };
  }
  return root;
}

/** Path and query parameters as OpenAPI parameter objects. */
function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: where, required: where === 'path' || (json.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest };
  });
}

/** `/runs/:runId` → `/runs/{runId}`; a trailing wildcard (`/artifacts/*`) becomes `{path}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, `/{${WILDCARD_PARAM}}`);
}

/** Opaque bytes, as OpenAPI 3.1 describes a binary body. */
const BINARY = { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } };

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** A minimal operation for a route another plugin registered without declaring schemas. */
function undeclaredOperation(route: RegisteredRoute, errorRef: JsonSchema): Record<string, unknown> {
  const segments = route.path.split('/').filter((s) => s && s !== 'api' && s !== 'v1');
  const params = [...openApiPath(route.path).matchAll(/\{([A-Za-z0-9_]+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
  const operation: Record<string, unknown> = {
    operationId: `${route.method.toLowerCase()}_${segments.map((s) => s.replace(/^:/, 'by_').replace(/[^A-Za-z0-9]+/g, '_')).join('_')}`,
    summary: `See the documentation of the ${segments[0] ?? 'server'} feature for the request and response fields.`,
    tags: [segments[0] ?? 'meta'],
    parameters: params,
    responses: {
      '200': { description: 'Success.', content: { 'application/json': { schema: {} } } },
      '400': { description: 'Invalid request.', content: { 'application/json': { schema: errorRef } } },
      default: { description: 'Any other error.', content: { 'application/json': { schema: errorRef } } },
    },
  };
  if (BODY_METHODS.has(route.method)) operation.requestBody = { required: true, content: { 'application/json': { schema: { type: 'object' } } } };
  return operation;
}

/**
 * The OpenAPI 3.1 document: `declared` routes (full paths) in detail from their schemas,
 * and every other `registered` route with a minimal entry, so the document lists all of them.
 */
export function buildOpenApiDocument(declared: readonly NativeRoute[], registered: readonly RegisteredRoute[], version: string): JsonSchema {
  const components: Record<string, JsonSchema> = {};
  const errorRef = convert(ApiErrorBody, 'output', components);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of declared) {
    const responses: Record<string, unknown> = {};
    const status = String(route.status ?? (route.response || route.streamsResponse ? 200 : 204));
    responses[status] = route.streamsResponse
      ? {
          description: 'The bytes, with their length and an ETag (the quoted sha256 of the content).',
          headers: { 'content-length': { schema: { type: 'integer' } }, etag: { schema: { type: 'string' } } },
          content: BINARY,
        }
      : route.response
        ? { description: 'Success.', content: { 'application/json': { schema: convert(route.response, 'output', components) } } }
        : { description: 'Success, no content.' };
    const error = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });
    responses['400'] = error('Invalid request: a field is missing, of the wrong type or out of range.');
    if (route.params) responses['404'] = error('The resource named in the path does not exist.');
    responses.default = error('Any other error (see the error catalogue for codes and statuses).');
    const operation: Record<string, unknown> = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      responses,
    };
    if (route.rawBody) operation.requestBody = { required: true, description: 'The raw bytes, streamed; any Content-Type.', content: BINARY };
    else if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: convert(route.body, 'input', components) } } };
    (paths[openApiPath(route.path)] ??= {})[route.method.toLowerCase()] = operation;
  }
  for (const route of registered) {
    const ops = (paths[openApiPath(route.path)] ??= {});
    ops[route.method.toLowerCase()] ??= undeclaredOperation(route, errorRef);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Slipway native API',
      version,
      description: 'Experiments, runs, registered models, the audit trail and the other /api/v1 features. Errors are `{"error":{"code","message","details"}}`.',
    },
    servers: [{ url: '/' }],
    paths,
    components: { schemas: components },
  };
}
