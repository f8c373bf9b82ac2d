import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../test/support/dialects.js';
import { perceptron } from '../../test/support/onnx-models.js';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import type { SlipwayError } from '../core/errors.js';
import { openStore, type Store } from '../store/store.js';
import { RegistryModelSource } from './registry-model-source.js';
import { RegistryService } from './registry-service.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures');
const MLP = readFileSync(join(FIXTURES, 'breast_cancer_mlp.onnx'));
const TRAIN_HEADER = readFileSync(join(FIXTURES, 'breast_cancer_train.csv'), 'utf8').split('\n')[0] as string;

for (const dialect of DIALECTS) {
  describe(`registry model source on ${dialect.name}`, () => {
    let store: Store;
    let uri: string;
    let dispose: () => Promise<void>;
    let dir: string;
    let registry: RegistryService;
    let source: RegistryModelSource;
    let artifacts: LocalArtifactStore;

    beforeAll(async () => {
      const opened = await dialect.open();
      ({ store, uri, dispose } = opened);
      dir = mkdtempSync(join(tmpdir(), 'slipway-source-'));
      artifacts = new LocalArtifactStore(dir);
      registry = new RegistryService({ store, artifacts });
      source = new RegistryModelSource(registry);
      await artifacts.put('m/model.onnx', MLP);
      await artifacts.put('bad/model.onnx', Buffer.from('nope'));
      await registry.createRegisteredModel({ name: 'cancer' });
      await registry.createModelVersion({ name: 'cancer', source: 'm', tags: { 'slipway.columns': '["a","b"]' } });
      await registry.createModelVersion({ name: 'cancer', source: 'm' });
      await registry.createModelVersion({ name: 'cancer', source: 'bad' });
      await registry.createModelVersion({ name: 'cancer', source: 's3://elsewhere/model' });
      await registry.setAlias('cancer', 'champion', '1');
    });
    afterAll(async () => {
      source.close();
      await dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it('resolves an alias to a local ONNX file and the columns named by the version tag', async () => {
      const resolved = await source.resolve({ name: 'cancer', alias: 'champion' });
      expect(resolved).toMatchObject({ name: 'cancer', version: '1', columns: ['a', 'b'] });
      expect(existsSync(resolved.onnxPath)).toBe(true);
      expect(readFileSync(resolved.onnxPath).equals(MLP)).toBe(true);
    });

    it('materialises a model with its external weights file beside it, and a lone model file in place', async () => {
      const external = perceptron({ externalData: 'model.onnx.data' });
      await artifacts.put('ext/model.onnx', external.onnx);
      await artifacts.put('ext/model.onnx.data', external.data as Buffer);
      await registry.createRegisteredModel({ name: 'external' });
      const v = await registry.createModelVersion({ name: 'external', source: 'ext' });
      expect(v.status).toBe('READY');
      const resolved = await source.resolve({ name: 'external', version: v.version });
      expect(readFileSync(resolved.onnxPath).equals(external.onnx)).toBe(true);
      expect(readFileSync(join(dirname(resolved.onnxPath), 'model.onnx.data')).equals(external.data as Buffer)).toBe(true);
      // Resolving again gives the same path, so serving does not reload an unchanged version.
      expect((await source.resolve({ name: 'external', version: v.version })).onnxPath).toBe(resolved.onnxPath);
      expect((await source.resolve({ name: 'cancer', version: '1' })).onnxPath).toBe(await artifacts.localPath('m/model.onnx'));
    });

    it('takes the columns from the training dataset logged on the run when no tag names them', async () => {
      await store.db
        .insertInto('runs')
        .values({ run_uuid: 'train-run', name: 'train', experiment_id: 0, user_id: 'u', status: 'FINISHED', start_time: 1, end_time: 2, lifecycle_stage: 'active', artifact_uri: 'mlflow-artifacts:/0/train-run/artifacts', deleted_time: null })
        .execute();
      const colspec = TRAIN_HEADER.split(',').map((name) => ({ type: 'double', name }));
      await store.db
        .insertInto('datasets')
        .values({ dataset_uuid: 'ds1', experiment_id: 0, name: 'train', digest: 'd', source_type: 'local', source: '{}', schema: JSON.stringify({ mlflow_colspec: colspec }), profile: null })
        .execute();
      await store.db.insertInto('inputs').values({ input_uuid: 'in1', source_type: 'DATASET', source_id: 'ds1', destination_type: 'RUN', destination_id: 'train-run' }).execute();
      await store.db.insertInto('input_tags').values({ input_uuid: 'in1', name: 'mlflow.data.context', value: 'training' }).execute();
      const v = await registry.createModelVersion({ name: 'cancer', source: 'm', runId: 'train-run' });
      const resolved = await source.resolve({ name: 'cancer', version: v.version });
      expect(resolved.columns).toHaveLength(30);
      expect(resolved.columns?.[0]).toBe('mean_radius');
      expect(resolved.columns).not.toContain('target');
    });

    it('refuses versions that cannot be served, naming why', async () => {
      await expect(source.resolve({ name: 'cancer', version: '3' })).rejects.toMatchObject({ code: 'MODEL_NOT_READY' });
      await expect(source.resolve({ name: 'cancer', version: '4' })).rejects.toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/no ONNX file/) });
      await expect(source.resolve({ name: 'cancer', alias: 'nobody' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      const err = (await source.resolve({ name: 'ghost', version: '1' }).catch((e: unknown) => e)) as SlipwayError;
      expect(err.code).toBe('NOT_FOUND');
    });

    it('lists the newest servable version and the aliases of each model', async () => {
      const refs = await source.list();
      expect(refs).toContainEqual({ name: 'cancer', alias: 'champion' });
      const newest = refs.find((r) => r.name === 'cancer' && r.version !== undefined);
      expect(newest?.version).toBe('5');
    });

    it('announces alias moves made in this process at once, and those made by another process on the next poll', async () => {
      const heard: string[] = [];
      const off = source.onChange((n) => heard.push(n));
      await source.poll();
      await registry.setAlias('cancer', 'champion', '2');
      expect(heard).toEqual(['cancer']);
      // Another process moves the same model before this one looks again: the look announces it, though this
      // process announced its own change of the model a moment ago (listeners look the model up again).
      const other = await openStore(uri);
      try {
        const elsewhere = new RegistryService({ store: other });
        await elsewhere.setAlias('cancer', 'challenger', '1');
        await elsewhere.transitionStage('cancer', '1', 'Production', false);
      } finally {
        await other.close();
      }
      await source.poll();
      expect(heard).toEqual(['cancer', 'cancer']);
      // Nothing changed since: nothing is announced.
      await source.poll();
      expect(heard).toEqual(['cancer', 'cancer']);
      off();
    });
  });
}
