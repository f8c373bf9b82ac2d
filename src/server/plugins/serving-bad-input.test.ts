import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, holdout, servingApp, type ServingHarness } from '../../../test/support/serving.js';

const cancer = holdout('breast_cancer');
const rows = cancer.rows.slice(0, 2);

describe('serving routes under hostile input', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp();
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns);
  });
  afterAll(() => h.close());

  const infer = (body: unknown) => h.app.inject({ method: 'POST', url: '/v2/models/cancer/infer', payload: body as object });

  it('answers a V2 id that cannot be a header with the prediction, the id in the body and a generated x-request-id', async () => {
    for (const id of ['a\u0000b', 'caf\u00e9 \u{1F4A5}', 'x'.repeat(70_000)]) {
      const res = await infer({ id, inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: rows }] });
      expect(res.statusCode).toBe(200);
      expect(res.json().id).toBe(id);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    const plain = await infer({ id: 'req-7', inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: rows }] });
    expect(plain.headers['x-request-id']).toBe('req-7');
  });

  it('refuses a shape far larger than the data sent with 400, without allocating it', async () => {
    for (const shape of [[2 ** 31, 30], [2 ** 40, 30], [50_000, 30]]) {
      const res = await infer({ inputs: [{ name: 'features', datatype: 'FP32', shape, data: rows }] });
      expect(res.statusCode, JSON.stringify(shape)).toBe(400);
      expect(res.json().error).toBe(`Input 'features' has 60 elements but its shape [${shape.join(', ')}] needs ${shape[0]! * 30}.`);
    }
  });
});

describe('serving a model whose registered column list does not fit its input', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp();
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), ['a', 'b']);
  });
  afterAll(() => h.close());

  it('answers dataframe requests with the mismatch named, and instances still predict', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/models/cancer/invocations', payload: { dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toBe("The model's column list names 2 column(s) but input 'features' takes 30; correct the version's slipway.columns tag or send 'instances'.");
    const ok = await h.app.inject({ method: 'POST', url: '/models/cancer/invocations', payload: { instances: rows } });
    expect(ok.statusCode).toBe(200);
  });
});

describe('the repository load API under hostile uris', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp({}, undefined, { modelControl: 'explicit' });
  });
  afterAll(() => h.close());

  it('refuses a uri that is neither a models:/ reference nor an .onnx file, without touching the path', async () => {
    for (const uri of ['/etc/shadow', '', 'http://example.invalid/m.onnx', '.']) {
      const res = await h.app.inject({ method: 'POST', url: '/v2/repository/models/probe/load', payload: { parameters: { uri } } });
      expect(res.statusCode, uri).toBe(400);
      expect(res.json().error).toBe(`parameters.uri must be models:/NAME@ALIAS, models:/NAME/VERSION or the path of an .onnx file, got '${uri}'.`);
    }
    const ok = await h.app.inject({ method: 'POST', url: '/v2/repository/models/probe/load', payload: { parameters: { uri: fixture('breast_cancer_mlp.onnx') } } });
    expect(ok.json()).toMatchObject({ name: 'probe', state: 'READY' });
  });
});
