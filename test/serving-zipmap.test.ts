/**
 * A scikit-learn-style classifier whose probabilities end in a ZipMap (a sequence of
 * {class: probability} maps, which onnxruntime-node cannot return) is served over real
 * HTTP with its probabilities as a tensor, one column per class, and its class labels
 * in the metadata — on both executors and both protocols.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifierProbabilities, sequenceOutputModel, writeModelFolder, zipMapClassifier } from './support/onnx-models.js';
import { servingApp, type ServingHarness } from './support/serving.js';

const rows = [
  [0.5, -1.2, 3.3, 0.1],
  [-2, 0.7, 0.2, 1.9],
  [1, 1, 1, 1],
];
const intClassifier = zipMapClassifier();
const stringClassifier = zipMapClassifier({ labels: ['cat', 'dog', 'fish'] });
// The same classifier with its weights in a data file beside the model (ONNX external data).
const externalClassifier = zipMapClassifier({ externalData: 'classifier.weights' });
const expected = rows.map((r) => classifierProbabilities(r, intClassifier.weights, intClassifier.bias, intClassifier.classes));
const argmax = (p: number[]) => p.indexOf(Math.max(...p));

function file(name: string, content: Buffer): string {
  const dir = writeModelFolder({});
  writeFileSync(join(dir, name), content);
  return join(dir, name);
}

for (const executor of ['inline', 'worker'] as const) {
  describe(`a ZipMap classifier served with the ${executor} executor`, () => {
    let h: ServingHarness;
    let url: string;

    beforeAll(async () => {
      h = await servingApp({ executor, concurrency: 1 });
      await h.manager.load('iris', file('classifier.onnx', intClassifier.onnx));
      await h.manager.load('pets', file('pets.onnx', stringClassifier.onnx));
      await h.manager.load('parts', file('parts.onnx', sequenceOutputModel()));
      const dir = writeModelFolder({ 'model.onnx': externalClassifier.onnx, 'classifier.weights': externalClassifier.data as Buffer });
      await h.manager.load('external', join(dir, 'model.onnx'));
      url = await h.app.listen({ host: '127.0.0.1', port: 0 });
    });
    afterAll(() => h.close());

    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${url}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const v2 = (extra: Record<string, unknown> = {}) => ({ inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows }], ...extra });

    it('loads, and its metadata shows the probabilities as an FP32 tensor with the class labels', async () => {
      const meta = await call('GET', '/v2/models/iris');
      expect(meta.status).toBe(200);
      expect(meta.body.outputs).toEqual([
        { name: 'output_label', datatype: 'INT64', shape: [-1] },
        { name: 'output_probability', datatype: 'FP32', shape: [-1, 3], parameters: { classes: [0, 1, 2], zipmap: expect.stringContaining('one probability column per class') } },
      ]);
      const pets = await call('GET', '/v2/models/pets');
      expect((pets.body.outputs as Array<{ parameters?: unknown }>)[1]?.parameters).toMatchObject({ classes: ['cat', 'dog', 'fish'] });
    });

    it('returns labels and class probabilities over V2', async () => {
      const res = await call('POST', '/v2/models/iris/infer', v2());
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const [label, proba] = res.body.outputs as Array<{ name: string; shape: number[]; data: number[] }>;
      expect(label).toMatchObject({ name: 'output_label', shape: [3], data: expected.map(argmax) });
      expect(proba).toMatchObject({ name: 'output_probability', shape: [3, 3] });
      proba?.data.forEach((p, i) => expect(p).toBeCloseTo(expected[Math.floor(i / 3)]?.[i % 3] as number, 5));
      const only = await call('POST', '/v2/models/iris/infer', v2({ outputs: [{ name: 'output_probability' }] }));
      expect((only.body.outputs as Array<{ name: string }>).map((o) => o.name)).toEqual(['output_probability']);
    });

    it('serves a classifier whose weights are external data files without its ZipMap too', async () => {
      const meta = await call('GET', '/v2/models/external');
      expect((meta.body.outputs as Array<{ name: string; datatype: string }>)[1]).toMatchObject({ name: 'output_probability', datatype: 'FP32', parameters: { classes: [0, 1, 2] } });
      const res = await call('POST', '/v2/models/external/infer', v2());
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const proba = (res.body.outputs as Array<{ data: number[] }>)[1];
      proba?.data.forEach((p, i) => expect(p).toBeCloseTo(expected[Math.floor(i / 3)]?.[i % 3] as number, 5));
    });

    it('returns them over MLflow scoring, one list of probabilities per row', async () => {
      const res = await call('POST', '/models/iris/invocations', { dataframe_split: { columns: ['a', 'b', 'c', 'd'], data: rows } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      const predictions = res.body.predictions as { output_label: number[]; output_probability: number[][] };
      expect(predictions.output_label).toEqual(expected.map(argmax));
      predictions.output_probability.forEach((row, i) => row.forEach((p, c) => expect(p).toBeCloseTo(expected[i]?.[c] as number, 5)));
    });

    it('serves the tensor outputs of a model with another kind of non-tensor output, and answers 400 naming it when asked for', async () => {
      const meta = await call('GET', '/v2/models/parts');
      expect(meta.body.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 2] }]);
      expect(meta.body.parameters).toEqual({ non_tensor_outputs: ['parts'] });
      const body = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] };
      const ok = await call('POST', '/v2/models/parts/infer', body);
      expect(ok.status).toBe(200);
      expect((ok.body.outputs as Array<{ data: number[] }>)[0]?.data).toEqual([1, 2]);
      const asked = await call('POST', '/v2/models/parts/infer', { ...body, outputs: [{ name: 'parts' }] });
      expect(asked.status).toBe(400);
      expect(asked.body.error).toBe("Output 'parts' is not a tensor (it is a sequence or map, which onnxruntime-node cannot return), so it is not served; the model's served outputs are 'y'.");
    });
  });
}
