import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';
import { buildOpenApiDocument, openApiPath } from './openapi.js';
import { registeredRoutes } from './route-table.js';

describe('native API OpenAPI document', () => {
  let t: TestApp;
  let doc: { openapi: string; paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
  beforeAll(async () => {
    t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    const res = await t.app.inject({ url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json() as typeof doc;
  });
  afterAll(() => t.close());

  it('is OpenAPI 3.1 and documents every registered /api/v1 route', () => {
    expect(doc.openapi).toBe('3.1.0');
    const routes = registeredRoutes(t.app, '/api/v1');
    expect(routes.length).toBeGreaterThan(20);
    const missing = routes.filter((r) => !doc.paths[openApiPath(r.path)]?.[r.method.toLowerCase()]);
    expect(missing).toEqual([]);
    // …and documents nothing that does not exist.
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
    expect(documented.sort()).toEqual(routes.map((r) => `${r.method} ${openApiPath(r.path)}`).sort());
  });

  it('gives every operation a unique id and resolves every $ref to a component', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] as string);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      expect(ref).toMatch(/^#\/components\/schemas\//);
      expect(doc.components.schemas[ref.slice('#/components/schemas/'.length)], ref).toBeDefined();
    }
  });

  it('describes request bodies and errors from the same schemas the server validates with', () => {
    const create = doc.paths['/api/v1/experiments']?.post as unknown as { requestBody: { content: { 'application/json': { schema: { required: string[]; properties: Record<string, unknown> } } } }; responses: Record<string, unknown> };
    expect(create.requestBody.content['application/json'].schema.required).toEqual(['name']);
    expect(Object.keys(create.requestBody.content['application/json'].schema.properties).sort()).toEqual(['artifactLocation', 'name', 'tags']);
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '400', 'default']));
    expect(doc.components.schemas.ApiError).toMatchObject({ type: 'object', required: ['error'] });
    const version = doc.components.schemas.ModelVersion as { properties: Record<string, unknown> };
    expect(version.properties.signature).toEqual({ $ref: '#/components/schemas/ModelSignature' });
  });

  it('describes artifact uploads and downloads as raw bytes, with the file path as a parameter', () => {
    type Op = { parameters: Array<{ name: string; in: string }>; requestBody?: { content: Record<string, unknown> }; responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }> };
    const upload = doc.paths['/api/v1/runs/{runId}/artifacts/{path}']?.put as unknown as Op;
    expect(upload.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(['path:runId', 'path:path']);
    expect(Object.keys(upload.requestBody?.content ?? {})).toEqual(['application/octet-stream']);
    expect(upload.responses['200']?.content?.['application/json']).toEqual({ schema: { $ref: '#/components/schemas/StoredArtifact' } });
    const download = doc.paths['/api/v1/artifacts/{path}']?.get as unknown as Op;
    expect(Object.keys(download.responses['200']?.content ?? {})).toEqual(['application/octet-stream']);
    expect(Object.keys(download.responses['200']?.headers ?? {})).toEqual(['content-length', 'etag']);
    const list = doc.paths['/api/v1/runs/{runId}/artifacts']?.get as unknown as Op;
    expect(list.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(['path:runId', 'query:path']);
  });
});

describe('native API OpenAPI document: releases', () => {
  it('documents the release routes with their schemas under the releases tag', async () => {
    const t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    try {
      const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId: string; tags: string[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
      const ops = Object.values(doc.paths).flatMap((p) => Object.values(p)).filter((o) => o.tags.includes('releases'));
      expect(ops.map((o) => o.operationId).sort()).toEqual(['abortRelease', 'approveRelease', 'createRelease', 'deleteReleasePolicy', 'getRelease', 'getReleasePolicy', 'getTraffic', 'listReleasePolicies', 'listReleases', 'postTrafficStats', 'putReleasePolicy', 'rollbackModel', 'trafficHeartbeat']);
      expect(doc.paths['/api/v1/releases']?.post?.responses['201']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Release' });
      expect(doc.paths['/api/v1/models/{name}/rollback']?.post?.responses['200']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/RollbackResult' });
    } finally {
      await t.close();
    }
  });
});

describe('native API OpenAPI document: access', () => {
  it('documents the user, token and permission routes under the access tag', async () => {
    const t = await openTestApp(DIALECTS[0] as (typeof DIALECTS)[number]);
    try {
      const doc = (await t.app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, { operationId: string; tags: string[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>> };
      const ops = Object.values(doc.paths).flatMap((p) => Object.values(p)).filter((o) => o.tags.includes('access'));
      expect(ops.map((o) => o.operationId).sort()).toEqual(['createToken', 'createUser', 'deletePermission', 'deleteUser', 'getUser', 'listPermissions', 'listTokens', 'listUsers', 'revokeToken', 'setPermission', 'updateUser']);
      expect(doc.paths['/api/v1/tokens']?.post?.responses['201']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/CreatedToken' });
    } finally {
      await t.close();
    }
  });
});

describe('OpenAPI document builder', () => {
  it('lists a route another plugin registered without schemas, with its path parameters', () => {
    const doc = buildOpenApiDocument([], [{ method: 'POST', path: '/api/v1/widgets/:widgetId/spin' }], '1.0.0') as { paths: Record<string, Record<string, { operationId: string; tags: string[]; parameters: unknown[]; requestBody?: unknown }>> };
    const op = doc.paths['/api/v1/widgets/{widgetId}/spin']?.post;
    expect(op).toMatchObject({ operationId: 'post_widgets_by_widgetId_spin', tags: ['widgets'], parameters: [{ name: 'widgetId', in: 'path', required: true }] });
    expect(op?.requestBody).toBeDefined();
  });
});
