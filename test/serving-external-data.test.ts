/**
 * A model whose weights live in an external data file (model.onnx + model.onnx.data),
 * uploaded through the MLflow artifact routes and registered on a real `slipway server`,
 * is served from the registry and answers exactly like the same model with inline weights.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from './e2e/server-process.js';
import { perceptron } from './support/onnx-models.js';

describe('serving a registered model with external weights', () => {
  let home: string;
  let server: ServerProcess;

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const register = async (name: string, files: Record<string, Buffer>) => {
    for (const [file, content] of Object.entries(files)) {
      const res = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/models/${name}/${file}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: content });
      expect(res.status, file).toBe(200);
    }
    expect((await call('POST', '/api/2.0/mlflow/registered-models/create', { name })).status).toBe(200);
    const created = await call('POST', '/api/2.0/mlflow/model-versions/create', { name, source: `mlflow-artifacts:/models/${name}` });
    expect(created.status).toBe(200);
    let version = (created.body.model_version as { status: string; status_message?: string }) ?? { status: '' };
    for (let i = 0; i < 50 && version.status === 'PENDING_REGISTRATION'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      version = (await call('GET', `/api/2.0/mlflow/model-versions/get?name=${name}&version=1`)).body.model_version as typeof version;
    }
    expect(version, JSON.stringify(version)).toMatchObject({ status: 'READY' });
  };

  beforeAll(async () => {
    home = freshHome();
    server = await startServerProcess(home);
    const external = perceptron({ externalData: 'model.onnx.data' });
    await register('external', { 'model.onnx': external.onnx, 'model.onnx.data': external.data as Buffer, MLmodel: Buffer.from('flavors:\n  onnx:\n    data: model.onnx\n') });
    await register('inline', { 'model.onnx': perceptron().onnx });
  }, 60_000);
  afterAll(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    removeHome(home);
  });

  const rows = [
    [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8],
    [1, 2, 3, 4, 5, 6, 7, 8],
  ];

  it('answers V2 and MLflow requests with the same predictions as the inline-weights model', async () => {
    const body = { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 8], data: rows }] };
    const external = await call('POST', '/v2/models/external/infer', body);
    expect(external.status, JSON.stringify(external.body)).toBe(200);
    const inline = await call('POST', '/v2/models/inline/infer', body);
    expect(inline.status).toBe(200);
    const [ext] = external.body.outputs as Array<{ name: string; shape: number[]; data: number[] }>;
    const [inl] = inline.body.outputs as Array<{ data: number[] }>;
    expect(ext).toMatchObject({ name: 'y', shape: [2, 3] });
    expect(ext?.data).toEqual(inl?.data);
    // The weights really are in use: different rows give different answers.
    expect(ext?.data.slice(0, 3)).not.toEqual(ext?.data.slice(3));

    const scored = await call('POST', '/models/external/invocations', { inputs: rows });
    expect(scored.status).toBe(200);
    expect(scored.body.predictions).toEqual([inl?.data.slice(0, 3), inl?.data.slice(3)]);
  });

  it('lists the model as ready in the repository index', async () => {
    const index = await call('POST', '/v2/repository/index', { ready: true });
    expect(index.body).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'external', version: '1', state: 'READY' })]));
  });
});
