import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { openTestApp, type TestApp } from '../native/native-api.test-support.js';

const MLP = readFileSync(join(import.meta.dirname, '../../../test/fixtures/breast_cancer_mlp.onnx'));

for (const dialect of DIALECTS) {
  describe(`MLflow registry routes on ${dialect.name}`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await openTestApp(dialect);
      await t.ctx.store.db
        .insertInto('runs')
        .values({ run_uuid: 'r1', name: 'r1', experiment_id: 0, user_id: 'u', status: 'FINISHED', start_time: 1, end_time: 2, lifecycle_stage: 'active', artifact_uri: 'mlflow-artifacts:/0/r1/artifacts', deleted_time: null })
        .execute();
      await t.ctx.artifacts?.put('0/r1/artifacts/model/model.onnx', MLP);
    });
    afterAll(async () => t.close());

    const call = async (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, payload?: Record<string, unknown>, prefix = '/api/2.0/mlflow') => {
      const res =
        method === 'GET'
          ? await t.app.inject({ method, url: `${prefix}${path}`, query: payload as Record<string, string> })
          : await t.app.inject({ method, url: `${prefix}${path}`, payload });
      // Response bodies are untyped JSON that each test navigates.
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return { status: res.statusCode, body: res.json() as Record<string, any> };
    };

    it('walks the register_model flow of the MLflow client: create, version from runs:/, poll until READY, alias, stage', async () => {
      const created = await call('POST', '/registered-models/create', { name: 'cancer', tags: [{ key: 'team', value: 'ml' }], description: 'd' });
      expect(created.status).toBe(200);
      expect(created.body.registered_model).toMatchObject({ name: 'cancer', description: 'd', tags: [{ key: 'team', value: 'ml' }] });
      expect(typeof created.body.registered_model.creation_timestamp).toBe('number');
      expect(created.body.registered_model).not.toHaveProperty('latest_versions');

      const v = await call('POST', '/model-versions/create', { name: 'cancer', source: 'mlflow-artifacts:/0/r1/artifacts/model', run_id: 'r1' });
      expect(v.status).toBe(200);
      expect(v.body.model_version).toMatchObject({ name: 'cancer', version: '1', status: 'READY', current_stage: 'None', run_id: 'r1', source: 'mlflow-artifacts:/0/r1/artifacts/model' });
      // MLflow-shaped: Slipway's extra fields stay out of MLflow responses.
      expect(v.body.model_version).not.toHaveProperty('signature');
      expect(v.body.model_version).not.toHaveProperty('storage_location');

      const polled = await call('GET', '/model-versions/get', { name: 'cancer', version: '1' });
      expect(polled.body.model_version.status).toBe('READY');

      expect((await call('POST', '/registered-models/alias', { name: 'cancer', alias: 'champion', version: '1' })).body).toEqual({});
      const byAlias = await call('GET', '/registered-models/alias', { name: 'cancer', alias: 'champion' });
      expect(byAlias.body.model_version).toMatchObject({ version: '1', aliases: ['champion'] });
      const model = await call('GET', '/registered-models/get', { name: 'cancer' });
      expect(model.body.registered_model.aliases).toEqual([{ alias: 'champion', version: '1' }]);
      expect(model.body.registered_model.latest_versions).toHaveLength(1);

      const moved = await call('POST', '/model-versions/transition-stage', { name: 'cancer', version: '1', stage: 'Production', archive_existing_versions: true });
      expect(moved.body.model_version.current_stage).toBe('Production');
      const latest = await call('POST', '/registered-models/get-latest-versions', { name: 'cancer', stages: ['Production'] });
      expect(latest.body.model_versions.map((x: { version: string }) => x.version)).toEqual(['1']);
      const latestGet = await t.app.inject({ method: 'GET', url: '/api/2.0/mlflow/registered-models/get-latest-versions?name=cancer&stages=Production&stages=Staging' });
      expect(latestGet.json().model_versions).toHaveLength(1);

      const uri = await call('GET', '/model-versions/get-download-uri', { name: 'cancer', version: '1' });
      expect(uri.body).toEqual({ artifact_uri: 'mlflow-artifacts:/0/r1/artifacts/model' });
      const fromRun = await call('POST', '/model-versions/create', { name: 'cancer', source: 'runs:/r1/model', run_id: 'r1' });
      const runUri = await call('GET', '/model-versions/get-download-uri', { name: 'cancer', version: fromRun.body.model_version.version });
      expect(runUri.body).toEqual({ artifact_uri: 'runs:/r1/model' });

      // DELETE of an alias carries a JSON body, as the client sends it.
      expect((await call('DELETE', '/registered-models/alias', { name: 'cancer', alias: 'champion' })).status).toBe(200);
      const gone = await call('GET', '/registered-models/alias', { name: 'cancer', alias: 'champion' });
      expect(gone.status).toBe(400);
      expect(gone.body.error_code).toBe('INVALID_PARAMETER_VALUE');
    });

    it('serves the same routes under /ajax-api', async () => {
      const res = await call('GET', '/registered-models/get', { name: 'cancer' }, '/ajax-api/2.0/mlflow');
      expect(res.status).toBe(200);
      expect(res.body.registered_model.name).toBe('cancer');
    });

    it('updates, tags, renames, searches and deletes through the REST API', async () => {
      await call('POST', '/registered-models/create', { name: 'other' });
      await call('POST', '/model-versions/create', { name: 'other', source: 'runs:/r1/model', tags: [{ key: 'k', value: 'v' }] });
      expect((await call('PATCH', '/registered-models/update', { name: 'other', description: 'new' })).body.registered_model.description).toBe('new');
      expect((await call('PATCH', '/model-versions/update', { name: 'other', version: '1', description: 'vd' })).body.model_version.description).toBe('vd');
      expect((await call('POST', '/registered-models/set-tag', { name: 'other', key: 'a', value: 'b' })).body).toEqual({});
      expect((await call('POST', '/model-versions/set-tag', { name: 'other', version: '1', key: 'c', value: 'd' })).body).toEqual({});
      expect((await call('DELETE', '/model-versions/delete-tag', { name: 'other', version: '1', key: 'k' })).status).toBe(200);
      expect((await call('DELETE', '/registered-models/delete-tag', { name: 'other', key: 'a' })).status).toBe(200);

      const search = await t.app.inject({ method: 'GET', url: "/api/2.0/mlflow/registered-models/search?filter=name%20LIKE%20'%25e%25'&order_by=name%20DESC&max_results=1" });
      expect(search.statusCode).toBe(200);
      expect(search.json().registered_models.map((m: { name: string }) => m.name)).toEqual(['other']);
      const next = await call('GET', '/registered-models/search', { filter: "name LIKE '%e%'", order_by: 'name DESC', max_results: '1', page_token: search.json().next_page_token });
      expect(next.body.registered_models.map((m: { name: string }) => m.name)).toEqual(['cancer']);
      expect(next.body).not.toHaveProperty('next_page_token');

      const versions = await call('GET', '/model-versions/search', { filter: "run_id = 'r1' and tags.c = 'd'" });
      expect(versions.body.model_versions.map((m: { name: string }) => m.name)).toEqual(['other']);
      expect((await call('GET', '/model-versions/search', { filter: "name = 'none'" })).body).toEqual({});

      const renamed = await call('POST', '/registered-models/rename', { name: 'other', new_name: 'renamed' });
      expect(renamed.body.registered_model.name).toBe('renamed');
      expect((await call('DELETE', '/model-versions/delete', { name: 'renamed', version: '1' })).body).toEqual({});
      expect((await call('DELETE', '/registered-models/delete', { name: 'renamed' })).body).toEqual({});
      expect((await call('GET', '/registered-models/get', { name: 'renamed' })).status).toBe(404);
    });

    it.each([
      ['GET', '/registered-models/get', { name: 'missing' }, 404, 'RESOURCE_DOES_NOT_EXIST', /Registered Model with name=missing not found/],
      ['GET', '/registered-models/get', {}, 400, 'INVALID_PARAMETER_VALUE', /name/],
      ['POST', '/registered-models/create', { name: 'cancer' }, 400, 'RESOURCE_ALREADY_EXISTS', /already exists/],
      ['POST', '/registered-models/create', { name: 42 }, 400, 'INVALID_PARAMETER_VALUE', /parameter 'name'.*must be a string/],
      ['POST', '/registered-models/create', { name: 'x', tags: 'nope' }, 400, 'INVALID_PARAMETER_VALUE', /tags/],
      ['GET', '/model-versions/get', { name: 'cancer', version: 'abc' }, 400, 'INVALID_PARAMETER_VALUE', /^Model version must be an integer, got 'abc'$/],
      ['GET', '/model-versions/get', { name: 'cancer', version: '99' }, 404, 'RESOURCE_DOES_NOT_EXIST', /version=99/],
      ['POST', '/model-versions/create', { name: 'cancer' }, 400, 'INVALID_PARAMETER_VALUE', /source/],
      ['POST', '/model-versions/create', { name: 'cancer', source: '/etc', run_id: 'nope' }, 404, 'RESOURCE_DOES_NOT_EXIST', /Run with id=nope not found/],
      ['POST', '/model-versions/create', { name: 'cancer', source: '../../etc' }, 400, 'INVALID_PARAMETER_VALUE', /not allowed/],
      ['POST', '/model-versions/transition-stage', { name: 'cancer', version: '1', stage: 'Live', archive_existing_versions: false }, 400, 'INVALID_PARAMETER_VALUE', /stage/],
      ['POST', '/model-versions/transition-stage', { name: 'cancer', version: '1', stage: 'Staging' }, 400, 'INVALID_PARAMETER_VALUE', /archive_existing_versions/],
      ['POST', '/registered-models/alias', { name: 'cancer', alias: 'latest', version: '1' }, 400, 'INVALID_PARAMETER_VALUE', /reserved/],
      ['GET', '/registered-models/search', { max_results: '5000' }, 400, 'INVALID_PARAMETER_VALUE', /max_results/],
      ['GET', '/registered-models/search', { filter: "name = 'a' OR name = 'b'" }, 400, 'INVALID_PARAMETER_VALUE', /OR is not supported/],
      ['GET', '/model-versions/search', { page_token: '!!' }, 400, 'INVALID_PARAMETER_VALUE', /page token/],
    ] as const)('%s %s %j answers %i %s', async (method, path, payload, status, code, message) => {
      const res = await call(method, path, payload);
      expect(res.status).toBe(status);
      expect(res.body.error_code).toBe(code);
      expect(res.body.message).toMatch(message);
    });

    it('answers a malformed JSON body and a non-object body with 400, never 500', async () => {
      const bad = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', headers: { 'content-type': 'application/json' }, payload: '{"name":' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error_code).toBe('MALFORMED_REQUEST');
      const array = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', payload: [1, 2] });
      expect(array.statusCode).toBe(400);
      expect(array.json().error_code).toBe('MALFORMED_REQUEST');
      expect((await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/search' })).statusCode).toBe(404);
    });

    it('gives serving a model source that resolves registered aliases', async () => {
      await call('POST', '/registered-models/alias', { name: 'cancer', alias: 'prod', version: '1' });
      const resolved = await t.ctx.modelSource?.resolve({ name: 'cancer', alias: 'prod' });
      expect(resolved).toMatchObject({ name: 'cancer', version: '1' });
      expect(readFileSync(resolved?.onnxPath as string).equals(MLP)).toBe(true);
    });

    it('tells serving at once when an alias or stage moves through the REST API', async () => {
      const heard: string[] = [];
      const off = t.ctx.modelSource?.onChange?.((name) => heard.push(name));
      await call('POST', '/registered-models/alias', { name: 'cancer', alias: 'prod', version: '1' });
      await call('POST', '/model-versions/transition-stage', { name: 'cancer', version: '1', stage: 'Staging', archive_existing_versions: false });
      await call('DELETE', '/registered-models/alias', { name: 'cancer', alias: 'prod' });
      off?.();
      expect(heard).toEqual(['cancer', 'cancer', 'cancer']);
    });
  });
}
