import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';
import { registryOf } from './services.js';

const ONNX = readFileSync(new URL('../../../test/fixtures/breast_cancer_mlp.onnx', import.meta.url));

describe.each(DIALECTS)('native model API on $name', (dialect) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.ctx.artifacts?.put('models/bc/model.onnx', ONNX);
  });
  afterAll(() => t.close());

  const post = (url: string, payload: unknown) => t.app.inject({ method: 'POST', url, payload: payload as object });

  it('creates a model and versions, reads the ONNX signature, lists newest first', async () => {
    const created = await post('/api/v1/models', { name: 'breast-cancer', description: 'MLP', tags: { team: 'risk' } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ name: 'breast-cancer', description: 'MLP', tags: { team: 'risk' }, aliases: [], latestVersions: [] });

    const v1 = await post('/api/v1/models/breast-cancer/versions', { source: 'mlflow-artifacts:/models/bc', description: 'first' });
    expect(v1.statusCode).toBe(201);
    const version = v1.json() as { version: string; status: string; signature: { inputs: unknown[]; outputs: unknown[] } };
    expect(version).toMatchObject({ version: '1', status: 'READY', currentStage: 'None' });
    expect(version.signature.inputs).toEqual([{ name: 'features', type: 'float32', shape: [expect.anything(), 30] }]);
    expect(version.signature.outputs).toEqual([{ name: 'probabilities', type: 'float32', shape: [expect.anything(), 1] }]);
    expect((await post('/api/v1/models/breast-cancer/versions', { source: 'mlflow-artifacts:/models/bc' })).statusCode).toBe(201);

    const list = (await t.app.inject({ url: '/api/v1/models/breast-cancer/versions' })).json() as { versions: Array<{ version: string }> };
    expect(list.versions.map((v) => v.version)).toEqual(['2', '1']);
    const got = (await t.app.inject({ url: '/api/v1/models/breast-cancer/versions/1' })).json() as { description: string; signature?: unknown };
    expect(got.description).toBe('first');
    expect(got.signature).toBeDefined();
    const models = (await t.app.inject({ url: '/api/v1/models?filter=' + encodeURIComponent("name LIKE 'breast%'") })).json() as { models: Array<{ name: string }> };
    expect(models.models.map((m) => m.name)).toEqual(['breast-cancer']);
  });

  it('moves aliases and stages, and records each change in the audit trail', async () => {
    // Serving listens on the server's shared registry: a move through this API must reach it.
    const announced: string[] = [];
    const unsubscribe = registryOf(t.ctx).onChange((name) => announced.push(name));
    const set = await t.app.inject({ method: 'PUT', url: '/api/v1/models/breast-cancer/aliases/champion', payload: { version: 1 }, headers: { 'x-request-id': 'deploy-42' } });
    expect(set.headers['x-request-id']).toBe('deploy-42');
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ version: '1', aliases: ['champion'] });
    await t.app.inject({ method: 'PUT', url: '/api/v1/models/breast-cancer/aliases/champion', payload: { version: '2' } });
    expect((await t.app.inject({ url: '/api/v1/models/breast-cancer/aliases/champion' })).json()).toMatchObject({ version: '2' });
    unsubscribe();
    expect(announced).toEqual(['breast-cancer', 'breast-cancer']);

    const staged = await post('/api/v1/models/breast-cancer/versions/1/stage', { stage: 'production' });
    expect(staged.json()).toMatchObject({ currentStage: 'Production' });
    const again = await post('/api/v1/models/breast-cancer/versions/2/stage', { stage: 'Production', archiveExistingVersions: true });
    expect(again.json()).toMatchObject({ currentStage: 'Production' });
    expect((await t.app.inject({ url: '/api/v1/models/breast-cancer/versions/1' })).json()).toMatchObject({ currentStage: 'Archived' });

    const del = await t.app.inject({ method: 'DELETE', url: '/api/v1/models/breast-cancer/aliases/champion' });
    expect(del.statusCode).toBe(204);
    const model = (await t.app.inject({ url: '/api/v1/models/breast-cancer' })).json() as { aliases: unknown[]; latestVersions: Array<{ version: string; currentStage: string }> };
    expect(model.aliases).toEqual([]);
    expect(model.latestVersions).toContainEqual(expect.objectContaining({ version: '2', currentStage: 'Production' }));

    const audit = (await t.app.inject({ url: '/api/v1/audit/events?entityType=registered_model&entityId=breast-cancer' })).json() as { events: Array<{ action: string; requestId: string | null }> };
    expect(audit.events.map((e) => e.action)).toEqual(['registered_model.create', 'registered_model.set_alias', 'registered_model.set_alias', 'registered_model.delete_alias']);
    expect(audit.events.every((e) => typeof e.requestId === 'string' && e.requestId.length > 0)).toBe(true);
    expect(audit.events[1]?.requestId).toBe('deploy-42');
  });

  it('deletes a version and a whole model, answers 404 for them afterwards, and audits both', async () => {
    await post('/api/v1/models', { name: 'short-lived' });
    for (let i = 0; i < 2; i++) expect((await post('/api/v1/models/short-lived/versions', { source: 'mlflow-artifacts:/models/bc' })).statusCode).toBe(201);
    await t.app.inject({ method: 'PUT', url: '/api/v1/models/short-lived/aliases/champion', payload: { version: 1 } });
    const delVersion = await t.app.inject({ method: 'DELETE', url: '/api/v1/models/short-lived/versions/1', headers: { 'x-request-id': 'cleanup-1' } });
    expect(delVersion.statusCode).toBe(204);
    expect(delVersion.body).toBe('');
    const gone = await t.app.inject({ url: '/api/v1/models/short-lived/versions/1' });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('short-lived') } });
    expect((await t.app.inject({ url: '/api/v1/models/short-lived' })).json()).toMatchObject({ aliases: [] });
    const again = await t.app.inject({ method: 'DELETE', url: '/api/v1/models/short-lived/versions/1' });
    expect(again.statusCode).toBe(404);
    const listed = (await t.app.inject({ url: '/api/v1/models/short-lived/versions' })).json() as { versions: Array<{ version: string }> };
    expect(listed.versions.map((v) => v.version)).toEqual(['2']);

    const delModel = await t.app.inject({ method: 'DELETE', url: '/api/v1/models/short-lived' });
    expect(delModel.statusCode).toBe(204);
    const missing = await t.app.inject({ url: '/api/v1/models/short-lived' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('short-lived') } });
    expect((await t.app.inject({ url: '/api/v1/models/short-lived/versions/2' })).statusCode).toBe(404);
    const unknown = await t.app.inject({ method: 'DELETE', url: '/api/v1/models/never-registered' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('never-registered') } });
    const badVersion = await t.app.inject({ method: 'DELETE', url: '/api/v1/models/breast-cancer/versions/latest' });
    expect(badVersion.statusCode).toBe(400);
    expect(badVersion.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining("path parameter 'version'") } });

    const versionEvents = (await t.app.inject({ url: '/api/v1/audit/events?action=model_version.delete&entityId=short-lived%2F1' })).json() as { events: Array<{ requestId: string }> };
    expect(versionEvents.events.map((e) => e.requestId)).toEqual(['cleanup-1']);
    const modelEvents = (await t.app.inject({ url: '/api/v1/audit/events?entityType=registered_model&entityId=short-lived&action=registered_model.delete' })).json() as { events: unknown[] };
    expect(modelEvents.events).toHaveLength(1);
  });

  it('answers unknown models, versions and bad input with clear errors', async () => {
    const missing = await t.app.inject({ url: '/api/v1/models/nope/versions' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: { code: 'NOT_FOUND', message: expect.stringContaining('nope') } });
    expect((await t.app.inject({ url: '/api/v1/models/breast-cancer/versions/99' })).statusCode).toBe(404);
    const badVersion = await t.app.inject({ url: '/api/v1/models/breast-cancer/versions/one' });
    expect(badVersion.statusCode).toBe(400);
    expect(badVersion.json()).toMatchObject({ error: { code: 'INVALID_ARGUMENT', message: expect.stringContaining("path parameter 'version'") } });
    const noName = await post('/api/v1/models', { description: 'x' });
    expect(noName.statusCode).toBe(400);
    expect(noName.json()).toMatchObject({ error: { code: 'MISSING_ARGUMENT', message: expect.stringContaining("'name'") } });
    const dup = await post('/api/v1/models', { name: 'breast-cancer' });
    expect(dup.statusCode).toBe(400);
    expect(dup.json()).toMatchObject({ error: { code: 'ALREADY_EXISTS' } });
    const badStage = await post('/api/v1/models/breast-cancer/versions/1/stage', { stage: 'Live' });
    expect(badStage.statusCode).toBe(400);
    expect(badStage.json()).toMatchObject({ error: { message: expect.stringContaining('must be one of None, Staging, Production, Archived') } });
    const badJson = await t.app.inject({ method: 'POST', url: '/api/v1/models', payload: '{"name":', headers: { 'content-type': 'application/json' } });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ error: { code: 'MALFORMED_REQUEST' } });
  });
});
