import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import { listAuditEvents, verifyAuditTrail } from '../audit/audit-trail.js';
import type { SlipwayError } from '../core/errors.js';
import type { Store } from '../store/store.js';
import { RegistryService } from './registry-service.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures');
const MLP = readFileSync(join(FIXTURES, 'breast_cancer_mlp.onnx'));
const FOREST = readFileSync(join(FIXTURES, 'diabetes_forest.onnx'));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as SlipwayError).code;
  }
  return 'no error';
}

for (const dialect of DIALECTS) {
  describe(`registry on ${dialect.name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    let artifactsDir: string;
    let artifacts: LocalArtifactStore;
    let registry: RegistryService;
    let now = 1_700_000_000_000;

    beforeAll(async () => {
      const opened = await dialect.open();
      store = opened.store;
      dispose = opened.dispose;
      artifactsDir = mkdtempSync(join(tmpdir(), 'slipway-registry-'));
      artifacts = new LocalArtifactStore(artifactsDir);
      registry = new RegistryService({ store, artifacts, clock: { now: () => ++now } });
    });
    afterAll(async () => {
      await dispose();
      rmSync(artifactsDir, { recursive: true, force: true });
    });

    async function createRun(runId: string): Promise<void> {
      await store.db
        .insertInto('runs')
        .values({
          run_uuid: runId,
          name: runId,
          experiment_id: 0,
          user_id: 'u',
          status: 'FINISHED',
          start_time: now,
          end_time: null,
          lifecycle_stage: 'active',
          artifact_uri: `mlflow-artifacts:/0/${runId}/artifacts`,
          deleted_time: null,
        })
        .execute();
    }

    it('creates, gets, updates, renames and deletes registered models, auditing each change', async () => {
      const created = await registry.createRegisteredModel({ name: 'crud', description: 'first', tags: { team: 'ml' } }, { actor: 'alice', requestId: 'r1' });
      expect(created).toMatchObject({ name: 'crud', description: 'first', tags: { team: 'ml' }, aliases: [], latestVersions: [] });
      expect(await codeOf(registry.createRegisteredModel({ name: 'crud' }))).toBe('ALREADY_EXISTS');
      expect(await codeOf(registry.createRegisteredModel({ name: '' }))).toBe('MISSING_ARGUMENT');
      expect(await codeOf(registry.getRegisteredModel('nope'))).toBe('NOT_FOUND');

      const updated = await registry.updateRegisteredModel('crud', { description: 'second' });
      expect(updated.description).toBe('second');
      expect(updated.lastUpdatedTimestamp).toBeGreaterThan(created.lastUpdatedTimestamp);

      await registry.createModelVersion({ name: 'crud', source: 'models/crud-src' });
      await registry.setAlias('crud', 'champion', '1');
      await registry.createRegisteredModel({ name: 'crud-taken' });
      expect(await codeOf(registry.renameRegisteredModel('crud', 'crud-taken'))).toBe('ALREADY_EXISTS');
      const renamed = await registry.renameRegisteredModel('crud', 'crud-renamed');
      expect(renamed).toMatchObject({ name: 'crud-renamed', tags: { team: 'ml' }, aliases: [{ alias: 'champion', version: '1' }] });
      expect((await registry.getModelVersion('crud-renamed', '1')).name).toBe('crud-renamed');
      expect(await codeOf(registry.getRegisteredModel('crud'))).toBe('NOT_FOUND');

      await registry.deleteRegisteredModel('crud-renamed');
      expect(await codeOf(registry.getRegisteredModel('crud-renamed'))).toBe('NOT_FOUND');
      expect(await codeOf(registry.deleteRegisteredModel('crud-renamed'))).toBe('NOT_FOUND');
      expect(await store.db.selectFrom('model_versions').select('version').where('name', '=', 'crud-renamed').execute()).toEqual([]);

      const events = await listAuditEvents(store.db, { entityType: 'registered_model' });
      const actions = events.filter((e) => e.entity_id.startsWith('crud')).map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining(['registered_model.create', 'registered_model.update', 'registered_model.set_alias', 'registered_model.rename', 'registered_model.delete']),
      );
      const first = events.find((e) => e.entity_id === 'crud' && e.action === 'registered_model.create');
      expect(first).toMatchObject({ actor: 'alice', request_id: 'r1' });
      expect((await verifyAuditTrail(store.db)).ok).toBe(true);
    });

    it('registers a version from runs:/ and reads the ONNX signature of model/model.onnx', async () => {
      await createRun('run-mlp');
      await artifacts.put('0/run-mlp/artifacts/model/model.onnx', MLP);
      await artifacts.put('0/run-mlp/artifacts/model/MLmodel', Buffer.from('flavors: {}\n'));
      await registry.createRegisteredModel({ name: 'cancer' });
      const v = await registry.createModelVersion({ name: 'cancer', source: 'runs:/run-mlp/model', description: 'mlp', tags: { owner: 'bob' } });
      expect(v).toMatchObject({
        name: 'cancer',
        version: '1',
        status: 'READY',
        currentStage: 'None',
        runId: 'run-mlp',
        source: 'runs:/run-mlp/model',
        storageLocation: 'mlflow-artifacts:/0/run-mlp/artifacts/model',
        description: 'mlp',
        tags: { owner: 'bob' },
      });
      expect(v.signature).toEqual({
        format: 'onnx',
        path: '0/run-mlp/artifacts/model/model.onnx',
        inputs: [{ name: 'features', type: 'float32', shape: ['batch', 30] }],
        outputs: [{ name: 'probabilities', type: 'float32', shape: ['batch', 1] }],
      });
      // MLflow answers the source itself as the download URI; the client resolves runs:/ through the run.
      expect(await registry.getDownloadUri('cancer', '1')).toBe('runs:/run-mlp/model');
      const model = await registry.getRegisteredModel('cancer');
      expect(model.latestVersions.map((x) => [x.version, x.currentStage])).toEqual([['1', 'None']]);
    });

    it('resolves plain paths, mlflow-artifacts: and models:/ sources, and keeps foreign URIs as given', async () => {
      await artifacts.put('models/diabetes/model.onnx', FOREST);
      await registry.createRegisteredModel({ name: 'diabetes' });
      const plain = await registry.createModelVersion({ name: 'diabetes', source: 'models/diabetes/model.onnx' });
      expect(plain.storageLocation).toBe('mlflow-artifacts:/models/diabetes/model.onnx');
      expect(plain.signature?.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 10] }]);
      expect(plain.signature?.outputs).toEqual([{ name: 'prediction', type: 'float32', shape: ['batch', 1] }]);

      const scheme = await registry.createModelVersion({ name: 'diabetes', source: 'mlflow-artifacts://127.0.0.1:5000/models/diabetes' });
      expect(scheme.storageLocation).toBe('mlflow-artifacts:/models/diabetes');
      expect(scheme.signature?.path).toBe('models/diabetes/model.onnx');

      await registry.setAlias('diabetes', 'champion', '2');
      const copied = await registry.createModelVersion({ name: 'diabetes', source: 'models:/diabetes@champion' });
      expect(copied).toMatchObject({ version: '3', storageLocation: 'mlflow-artifacts:/models/diabetes', status: 'READY' });
      expect(copied.signature?.path).toBe('models/diabetes/model.onnx');

      const s3 = await registry.createModelVersion({ name: 'diabetes', source: 's3://bucket/model' });
      expect(s3).toMatchObject({ storageLocation: 's3://bucket/model', status: 'READY' });
      expect(s3.signature).toBeUndefined();

      // A run this server does not know is registered as MLflow does: the source kept as given, unread.
      const unknownRun = await registry.createModelVersion({ name: 'diabetes', source: 'runs:/no-such-run/model', runId: 'other-run' });
      expect(unknownRun).toMatchObject({ storageLocation: 'runs:/no-such-run/model', runId: 'other-run', status: 'READY' });
      expect(unknownRun.signature).toBeUndefined();
      expect(await registry.getDownloadUri('diabetes', unknownRun.version)).toBe('runs:/no-such-run/model');
      expect(await codeOf(registry.createModelVersion({ name: 'diabetes', source: '../../etc/passwd' }))).toBe('PATH_NOT_ALLOWED');
      // Decoded, %2e%2e is '..': MLflow's relative-path rule refuses it before the artifact path is looked at.
      expect(await codeOf(registry.createModelVersion({ name: 'diabetes', source: 'mlflow-artifacts:/a/%2e%2e/b' }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.createModelVersion({ name: 'diabetes', source: 'mlflow-artifacts:/a/%2e%2eb' }))).toBe('PATH_NOT_ALLOWED');
      expect(await codeOf(registry.createModelVersion({ name: 'diabetes', source: 's3://bucket/a/../b' }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.createModelVersion({ name: 'no-model', source: 'x' }))).toBe('NOT_FOUND');
      expect(await codeOf(registry.createModelVersion({ name: 'diabetes', source: '' }))).toBe('MISSING_ARGUMENT');
    });

    it('marks a version FAILED_REGISTRATION with a message when its ONNX file is unreadable, and READY without a signature when there is none', async () => {
      await artifacts.put('broken/model.onnx', Buffer.from('this is not an onnx model'));
      await artifacts.put('plain/weights.bin', Buffer.from([1, 2, 3]));
      await registry.createRegisteredModel({ name: 'odd' });
      const broken = await registry.createModelVersion({ name: 'odd', source: 'broken' });
      expect(broken.status).toBe('FAILED_REGISTRATION');
      expect(broken.statusMessage).toMatch(/The ONNX file 'broken\/model.onnx' could not be read/);
      const none = await registry.createModelVersion({ name: 'odd', source: 'plain' });
      expect(none.status).toBe('READY');
      expect(none.signature).toBeUndefined();
    });

    it('sets, moves, reads and deletes aliases and tells listeners', async () => {
      await artifacts.put('alias/model.onnx', MLP);
      await registry.createRegisteredModel({ name: 'aliased' });
      await registry.createModelVersion({ name: 'aliased', source: 'alias' });
      await registry.createModelVersion({ name: 'aliased', source: 'alias' });
      const heard: string[] = [];
      const off = registry.onChange((n) => heard.push(n));

      await registry.setAlias('aliased', 'champion', '1');
      await registry.setAlias('aliased', 'challenger', 2);
      expect((await registry.getVersionByAlias('aliased', 'champion')).version).toBe('1');
      await registry.setAlias('aliased', 'champion', '2');
      const v2 = await registry.getVersionByAlias('aliased', 'champion');
      expect(v2.aliases).toEqual(['challenger', 'champion']);
      expect((await registry.getRegisteredModel('aliased')).aliases).toEqual([
        { alias: 'challenger', version: '2' },
        { alias: 'champion', version: '2' },
      ]);
      await registry.deleteAlias('aliased', 'challenger');
      await registry.deleteAlias('aliased', 'challenger');
      expect(await codeOf(registry.getVersionByAlias('aliased', 'challenger'))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.getVersionByAlias('nope', 'champion'))).toBe('NOT_FOUND');
      expect(await codeOf(registry.setAlias('aliased', 'champion', '9'))).toBe('NOT_FOUND');
      expect(await codeOf(registry.setAlias('aliased', 'latest', '1'))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.setAlias('aliased', 'v3', '1'))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.setAlias('aliased', 'x', 'one'))).toBe('INVALID_ARGUMENT');
      off();
      await registry.setAlias('aliased', 'champion', '1');
      // set, set, move, delete (the second delete of a missing alias changes nothing)
      expect(heard).toEqual(['aliased', 'aliased', 'aliased', 'aliased']);
    });

    it('transitions stages, archiving the versions already there, and answers get-latest-versions', async () => {
      await registry.createRegisteredModel({ name: 'staged' });
      for (let i = 0; i < 3; i++) await registry.createModelVersion({ name: 'staged', source: 's3://b/m' });
      const heard: string[] = [];
      const off = registry.onChange((n) => heard.push(n));
      await registry.transitionStage('staged', '1', 'production', false);
      await registry.transitionStage('staged', '2', 'Staging', false);
      const v3 = await registry.transitionStage('staged', '3', 'Production', true);
      off();
      expect(v3.currentStage).toBe('Production');
      expect((await registry.getModelVersion('staged', '1')).currentStage).toBe('Archived');
      expect((await registry.getModelVersion('staged', '2')).currentStage).toBe('Staging');
      expect(heard).toEqual(['staged', 'staged', 'staged']);

      const latest = await registry.getLatestVersions('staged');
      expect(latest.map((v) => [v.currentStage, v.version]).sort()).toEqual([
        ['Archived', '1'],
        ['Production', '3'],
        ['Staging', '2'],
      ]);
      expect((await registry.getLatestVersions('staged', ['production'])).map((v) => v.version)).toEqual(['3']);
      expect((await registry.resolveRef({ name: 'staged', version: 'Staging' })).version).toBe('2');
      expect((await registry.resolveRef({ name: 'staged', version: 'latest' })).version).toBe('3');
      expect(await codeOf(registry.getLatestVersions('staged', ['Live']))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.transitionStage('staged', '1', 'Archived', true))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.transitionStage('staged', '1', 'Nowhere', false))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.transitionStage('staged', '7', 'Staging', false))).toBe('NOT_FOUND');
    });

    it('deletes a version without reusing its number, dropping its aliases and tags', async () => {
      await registry.createRegisteredModel({ name: 'gone' });
      await registry.createModelVersion({ name: 'gone', source: 's3://b/1' });
      await registry.createModelVersion({ name: 'gone', source: 's3://b/2' });
      await registry.setAlias('gone', 'champion', '2');
      await registry.setModelVersionTag('gone', '2', 'k', 'v');
      await registry.deleteModelVersion('gone', '2');
      expect(await codeOf(registry.getModelVersion('gone', '2'))).toBe('NOT_FOUND');
      expect(await codeOf(registry.deleteModelVersion('gone', '2'))).toBe('NOT_FOUND');
      expect((await registry.getRegisteredModel('gone')).aliases).toEqual([]);
      const next = await registry.createModelVersion({ name: 'gone', source: 's3://b/3' });
      expect(next.version).toBe('3');
      expect(next.tags).toEqual({});
      const listed = await registry.searchModelVersions({ filter: "name = 'gone'" });
      expect(listed.items.map((v) => v.version)).toEqual(['3', '1']);
    });

    it('sets and deletes tags on models and versions', async () => {
      await registry.createRegisteredModel({ name: 'tagged' });
      await registry.createModelVersion({ name: 'tagged', source: 's3://b/1' });
      await registry.setRegisteredModelTag('tagged', 'team', 'a');
      await registry.setRegisteredModelTag('tagged', 'team', 'b');
      await registry.setModelVersionTag('tagged', '1', 'validated', 'yes');
      expect((await registry.getRegisteredModel('tagged')).tags).toEqual({ team: 'b' });
      expect((await registry.getModelVersion('tagged', '1')).tags).toEqual({ validated: 'yes' });
      await registry.deleteRegisteredModelTag('tagged', 'team');
      await registry.deleteModelVersionTag('tagged', '1', 'validated');
      expect((await registry.getRegisteredModel('tagged')).tags).toEqual({});
      expect(await codeOf(registry.deleteRegisteredModelTag('tagged', 'team'))).toBe('NOT_FOUND');
      expect(await codeOf(registry.deleteModelVersionTag('tagged', '1', 'validated'))).toBe('NOT_FOUND');
      expect(await codeOf(registry.setModelVersionTag('tagged', '1', 'big', 'x'.repeat(5001)))).toBe('LIMIT_EXCEEDED');
      expect(await codeOf(registry.setRegisteredModelTag('tagged', '', 'x'))).toBe('MISSING_ARGUMENT');
    });

    it('searches registered models by name and tags, ordered and paged', async () => {
      for (const n of ['Search-A', 'search-b', 'search-c', 'search-d']) await registry.createRegisteredModel({ name: n, tags: { kind: n.endsWith('b') ? 'tree' : 'mlp' } });
      const like = await registry.searchRegisteredModels({ filter: "name LIKE 'search-%'" });
      expect(like.items.map((m) => m.name)).toEqual(['search-b', 'search-c', 'search-d']);
      const ilike = await registry.searchRegisteredModels({ filter: "name ILIKE 'search-%'" });
      expect(ilike.items.map((m) => m.name)).toEqual(['Search-A', 'search-b', 'search-c', 'search-d']);
      const tagged = await registry.searchRegisteredModels({ filter: "name ILIKE 'search%' and tags.kind = 'mlp'", orderBy: ['name DESC'] });
      expect(tagged.items.map((m) => m.name)).toEqual(['search-d', 'search-c', 'Search-A']);
      expect((await registry.searchRegisteredModels({ filter: "name = 'search-c'" })).items.map((m) => m.name)).toEqual(['search-c']);
      expect((await registry.searchRegisteredModels({ filter: "name != 'search-c' and name LIKE 'search%'" })).items.map((m) => m.name)).toEqual(['search-b', 'search-d']);

      const byTime = await registry.searchRegisteredModels({ filter: "name ILIKE 'search-%'", orderBy: ['last_updated_timestamp DESC'] });
      expect(byTime.items.map((m) => m.name)).toEqual(['search-d', 'search-c', 'search-b', 'Search-A']);

      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await registry.searchRegisteredModels({ filter: "name ILIKE 'search-%'", maxResults: 3, pageToken: token });
        seen.push(...page.items.map((m) => m.name));
        token = page.nextPageToken;
      } while (token);
      expect(seen).toEqual(['Search-A', 'search-b', 'search-c', 'search-d']);

      expect(await codeOf(registry.searchRegisteredModels({ maxResults: 1001 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.searchRegisteredModels({ maxResults: 0 }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.searchRegisteredModels({ pageToken: 'garbage' }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.searchRegisteredModels({ filter: "owner = 'x'" }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.searchRegisteredModels({ orderBy: ['size DESC'] }))).toBe('INVALID_ARGUMENT');
    });

    it('searches model versions by name, run_id, source_path, version_number and tags', async () => {
      await createRun('run-s1');
      await createRun('run-s2');
      await registry.createRegisteredModel({ name: 'vs' });
      await registry.createModelVersion({ name: 'vs', source: 'runs:/run-s1/model' });
      await registry.createModelVersion({ name: 'vs', source: 'runs:/run-s2/model', tags: { stage: 'candidate' } });
      await registry.createModelVersion({ name: 'vs', source: 's3://other/model', runId: 'run-s2' });
      const names = (p: { items: Array<{ version: string }> }) => p.items.map((v) => v.version);
      expect(names(await registry.searchModelVersions({ filter: "name = 'vs'" }))).toEqual(['3', '2', '1']);
      expect(names(await registry.searchModelVersions({ filter: "name = 'vs' and run_id = 'run-s2'" }))).toEqual(['3', '2']);
      expect(names(await registry.searchModelVersions({ filter: "run_id IN ('run-s1', 'run-s2') and name = 'vs'", orderBy: ['version_number ASC'] }))).toEqual(['1', '2', '3']);
      expect(names(await registry.searchModelVersions({ filter: "name = 'vs' and source_path LIKE 'runs:/%'" }))).toEqual(['2', '1']);
      expect(names(await registry.searchModelVersions({ filter: "name = 'vs' and version_number > 1" }))).toEqual(['3', '2']);
      expect(names(await registry.searchModelVersions({ filter: "name = 'vs' and tags.stage = 'candidate'" }))).toEqual(['2']);
      const page = await registry.searchModelVersions({ filter: "name = 'vs'", maxResults: 2 });
      expect(names(page)).toEqual(['3', '2']);
      expect(names(await registry.searchModelVersions({ filter: "name = 'vs'", maxResults: 2, pageToken: page.nextPageToken }))).toEqual(['1']);
      expect(await codeOf(registry.searchModelVersions({ filter: "version_number > 'x'" }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.searchModelVersions({ filter: "name = 'vs' or name = 'x'" }))).toBe('INVALID_ARGUMENT');
      expect(await codeOf(registry.searchModelVersions({ maxResults: 200_001 }))).toBe('INVALID_ARGUMENT');
    });

    it('lets exactly one of several concurrent creators of a name win; the others get ALREADY_EXISTS', async () => {
      const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => registry.createRegisteredModel({ name: 'race' })));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as SlipwayError).code] : []))).toEqual(['ALREADY_EXISTS', 'ALREADY_EXISTS', 'ALREADY_EXISTS']);
    });

    it('numbers concurrent registrations of one model without gaps or duplicates', async () => {
      await registry.createRegisteredModel({ name: 'busy' });
      const created = await Promise.all(Array.from({ length: 6 }, () => registry.createModelVersion({ name: 'busy', source: 's3://b/m' })));
      expect(created.map((v) => Number(v.version)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    });
  });
}
