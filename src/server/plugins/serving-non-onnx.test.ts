/**
 * A registered model whose versions are MLflow flavours without ONNX (as `mlflow.sklearn.log_model`
 * writes them) is not served; the answer says why and where the conversion guide is.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestApp } from '../native/native-api.test-support.js';

const MLP = readFileSync(join(import.meta.dirname, '../../../test/fixtures/breast_cancer_mlp.onnx'));
const SKLEARN_MLMODEL = [
  'artifact_path: model',
  'flavors:',
  '  python_function:',
  '    env:',
  '      conda: conda.yaml',
  '    loader_module: mlflow.sklearn',
  '    model_path: model.pkl',
  '  sklearn:',
  '    pickled_model: model.pkl',
  '    serialization_format: cloudpickle',
  'mlflow_version: 2.12.2',
  '',
].join('\n');

describe('serving a registered model that has no ONNX version', () => {
  const t = useTestApp();

  beforeAll(async () => {
    for (const run of ['sk-run', 'onnx-run']) {
      await t.ctx.store.db
        .insertInto('runs')
        .values({ run_uuid: run, name: run, experiment_id: 0, user_id: 'u', status: 'FINISHED', start_time: 1, end_time: 2, lifecycle_stage: 'active', artifact_uri: `mlflow-artifacts:/0/${run}/artifacts`, deleted_time: null })
        .execute();
    }
    await t.ctx.artifacts?.put('0/sk-run/artifacts/model/MLmodel', Buffer.from(SKLEARN_MLMODEL));
    await t.ctx.artifacts?.put('0/sk-run/artifacts/model/model.pkl', Buffer.from('pickled estimator bytes'));
    await t.ctx.artifacts?.put('0/onnx-run/artifacts/model/model.onnx', MLP);
    for (const [name, run] of [
      ['fraud-sk', 'sk-run'],
      ['cancer', 'onnx-run'],
    ] as const) {
      expect((await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', payload: { name } })).statusCode).toBe(200);
      const created = await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/model-versions/create', payload: { name, source: `runs:/${run}/model`, run_id: run } });
      expect(created.json().model_version).toMatchObject({ version: '1', status: 'READY' });
    }
  });

  it('names the missing ONNX version, the flavours found and the conversion guide, on both protocols', async () => {
    const v2 = await t.app.inject({ method: 'POST', url: '/v2/models/fraud-sk/infer', payload: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] } });
    expect(v2.statusCode).toBe(404);
    const message = (v2.json() as { error: string }).error;
    expect(message).toContain("Model 'fraud-sk' has no ONNX version, so it is not served: Slipway serves ONNX models only");
    expect(message).toContain('version 1 (runs:/sk-run/model), is an MLflow model of flavours python_function, sklearn with no .onnx file');
    expect(message).toContain('"Converting models to ONNX" in docs/serving.md');

    const scoring = await t.app.inject({ method: 'POST', url: '/models/fraud-sk/invocations', payload: { inputs: [[1, 2]] } });
    expect(scoring.statusCode).toBe(404);
    expect(scoring.json()).toEqual({ error_code: 'RESOURCE_DOES_NOT_EXIST', message });
  });

  it('serves the ONNX model registered the same way, and keeps the short answer for names not registered', async () => {
    const ok = await t.app.inject({ method: 'POST', url: '/v2/models/cancer/infer', payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: new Array(30).fill(0.5) }] } });
    expect(ok.statusCode, ok.body).toBe(200);
    const unknown = await t.app.inject({ method: 'POST', url: '/v2/models/nobody/infer', payload: { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [1] }] } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: "Model 'nobody' is not served here and has no registered ONNX version." });
  });
});
