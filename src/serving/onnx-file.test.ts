import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { perceptron, zipMapClassifier } from '../../test/support/onnx-models.js';
import { fixture } from '../../test/support/serving.js';
import { onnxFileProblem, protoFields, stripZipMap } from './onnx-file.js';

describe('onnxFileProblem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-onnx-file-'));
  const write = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('accepts real ONNX models, with or without external data', async () => {
    expect(await onnxFileProblem(fixture('breast_cancer_mlp.onnx'))).toBeUndefined();
    expect(await onnxFileProblem(fixture('diabetes_forest.onnx'))).toBeUndefined();
    expect(await onnxFileProblem(write('ext.onnx', perceptron({ externalData: 'ext.data' }).onnx))).toBeUndefined();
    expect(await onnxFileProblem(write('zip.onnx', zipMapClassifier().onnx))).toBeUndefined();
  });

  it('names what is wrong with anything else', async () => {
    expect(await onnxFileProblem(join(dir, 'absent.onnx'))).toBe('file not found');
    expect(await onnxFileProblem(join(dir, 'absent', 'deeper.onnx'))).toBe('file not found');
    expect(await onnxFileProblem(dir)).toBe('it is a directory, not an .onnx file');
    expect(await onnxFileProblem(write('empty.onnx', ''))).toBe('not a valid ONNX model (the file is empty)');
    expect(await onnxFileProblem(write('text.onnx', 'this is not an onnx model'))).toBe('not a valid ONNX model (it is not ONNX protobuf data)');
    expect(await onnxFileProblem(write('cut.onnx', perceptron().onnx.subarray(0, 30)))).toBe('not a valid ONNX model (it is truncated or not ONNX protobuf data)');
    // A protobuf message that is not a model: one varint field and no graph.
    expect(await onnxFileProblem(write('other.pb', Buffer.from([0x08, 0x01])))).toBe('not a valid ONNX model (it has no graph)');
    if (process.getuid?.() !== 0) {
      const locked = write('locked.onnx', perceptron().onnx);
      chmodSync(locked, 0);
      expect(await onnxFileProblem(locked)).toBe('file not readable (permission denied)');
    }
  });

  it('takes a ZipMap off a classifier, and leaves models it cannot help alone', () => {
    const stripped = stripZipMap(zipMapClassifier({ labels: [10, -3, 7] }).onnx);
    expect(stripped?.outputs).toEqual([{ name: 'output_probability', classes: [10, -3, 7] }]);
    const graph = protoFields(protoFields(stripped?.model as Buffer).find((f) => f.field === 7)?.bytes as Buffer);
    const ops = graph.filter((f) => f.field === 1).map((f) => protoFields(f.bytes as Buffer).find((x) => x.field === 4)?.bytes?.toString());
    expect(ops).toEqual(['MatMul', 'Add', 'Softmax', 'ArgMax', 'Identity']);
    expect(stripZipMap(perceptron().onnx)).toBeUndefined();
    expect(stripZipMap(perceptron({ externalData: 'w.bin' }).onnx)).toBeUndefined();
  });
});
