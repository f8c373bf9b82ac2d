import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import { sequenceOutputModel, zipMapClassifier } from '../../test/support/onnx-models.js';
import { inspectArtifacts } from './onnx-signature.js';

// Just enough protobuf to write a ModelProto whose initializer lives in an external-data file.
function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}
const int = (field: number, n: number) => Buffer.concat([varint(field << 3), varint(n)]);
const bytes = (field: number, b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([varint((field << 3) | 2), varint(buf.length), buf]);
};
const msg = (field: number, parts: Buffer[]) => bytes(field, Buffer.concat(parts));
const entry = (key: string, value: string) => msg(13, [bytes(1, key), bytes(2, value)]);
const valueInfo = (field: number, name: string) =>
  msg(field, [bytes(1, name), msg(2, [msg(1, [int(1, 1), msg(2, [msg(1, [bytes(2, 'batch')]), msg(1, [int(1, 4)])])])])]);

/** `y = x + bias` over float[batch, 4], with `bias` stored in the file `weightsFile` beside the model, as MLflow 2.x's ONNX flavour saves weights. */
function externalDataModel(weightsFile: string): { model: Buffer; weights: Buffer } {
  const weights = Buffer.from(new Float32Array([1, 2, 3, 4]).buffer);
  const bias = msg(5, [int(1, 4), int(2, 1), bytes(8, 'bias'), entry('location', weightsFile), entry('offset', '0'), entry('length', String(weights.length)), int(14, 1)]);
  const node = msg(1, [bytes(1, 'x'), bytes(1, 'bias'), bytes(2, 'y'), bytes(4, 'Add')]);
  const graph = msg(7, [node, bytes(2, 'g'), bias, valueInfo(11, 'x'), valueInfo(12, 'y')]);
  const model = Buffer.concat([int(1, 8), msg(8, [bytes(1, ''), int(2, 13)]), graph]);
  return { model, weights };
}

describe('ONNX signatures', () => {
  let root: string;
  let store: LocalArtifactStore;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'slipway-onnx-sig-'));
    store = new LocalArtifactStore(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads a model whose weights are an external-data file beside it (mlflow.onnx.log_model)', async () => {
    const weightsFile = '9bb65a3e-ea37-11f1-b7a4-02fc00000001';
    const { model, weights } = externalDataModel(weightsFile);
    await store.put('1/run/artifacts/model/model.onnx', model);
    await store.put(`1/run/artifacts/model/${weightsFile}`, weights);
    await store.put('1/run/artifacts/model/MLmodel', Buffer.from('flavors: {}\n'));

    const outcome = await inspectArtifacts(store, '1/run/artifacts/model');

    expect(outcome).toEqual({
      kind: 'signature',
      signature: {
        format: 'onnx',
        path: '1/run/artifacts/model/model.onnx',
        inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
        outputs: [{ name: 'y', type: 'float32', shape: ['batch', 4] }],
      },
    });
  });

  it('reports a model whose external-data file is missing as unreadable, and leaves no scratch folder behind', async () => {
    const { model } = externalDataModel('weights.bin');
    await store.put('m/model.onnx', model);
    const before = readdirSync(tmpdir()).filter((n) => n.startsWith('slipway-onnx-')).length;

    const outcome = await inspectArtifacts(store, 'm');

    expect(outcome.kind).toBe('unreadable');
    expect(outcome.kind === 'unreadable' && outcome.message).toMatch(/^The ONNX file 'm\/model\.onnx' could not be read: .*weights\.bin/);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('slipway-onnx-')).length).toBe(before);
  });

  it('shows the probabilities of a ZipMap classifier as serving returns them: a float32 tensor, one column per class, with the labels', async () => {
    await store.put('1/run/artifacts/model/model.onnx', zipMapClassifier({ labels: ['cat', 'dog', 'fish'] }).onnx);
    const outcome = await inspectArtifacts(store, '1/run/artifacts/model');
    expect(outcome.kind).toBe('signature');
    const outputs = outcome.kind === 'signature' ? outcome.signature.outputs : [];
    expect(outputs).toEqual([
      { name: 'output_label', type: 'int64', shape: ['N'] },
      { name: 'output_probability', type: 'float32', shape: ['N', 3], classes: ['cat', 'dog', 'fish'] },
    ]);
  });

  it("shows a text model logged as a folder (model.onnx, tokenizer.json, text-model.json) with the text its users send", async () => {
    const folder = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'text', 'transformer');
    for (const name of ['model.onnx', 'tokenizer.json', 'text-model.json']) await store.put(`3/run/artifacts/model/${name}`, readFileSync(join(folder, name)));
    const outcome = await inspectArtifacts(store, '3/run/artifacts/model');
    expect(outcome.kind).toBe('signature');
    const signature = outcome.kind === 'signature' ? outcome.signature : undefined;
    expect(signature?.inputs).toEqual([{ name: 'text', type: 'string', shape: ['batch'] }]);
    expect(signature?.text).toMatchObject({ tokenizer: 'tokenizer.json', model: 'WordPiece', labels: ['negative', 'neutral', 'positive'] });
    expect(signature?.text?.graphInputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'token_type_ids']);

    await store.put('4/run/artifacts/model/model.onnx', readFileSync(join(folder, 'model.onnx')));
    await store.put('4/run/artifacts/model/text-model.json', Buffer.from('{}'));
    await store.put('4/run/artifacts/model/tokenizer.json', Buffer.from('{"model": '));
    const broken = await inspectArtifacts(store, '4/run/artifacts/model');
    expect(broken.kind === 'unreadable' && broken.message).toMatch(/^The ONNX file '4\/run\/artifacts\/model\/model\.onnx' could not be read: The tokenizer .*tokenizer\.json is not valid JSON/);
  });

  it('marks other outputs that are not tensors as non-tensor', async () => {
    await store.put('2/run/artifacts/model/model.onnx', sequenceOutputModel());
    const outcome = await inspectArtifacts(store, '2/run/artifacts/model');
    expect(outcome.kind === 'signature' && outcome.signature.outputs.some((o) => o.type === 'non-tensor')).toBe(true);
  });
});
