/**
 * A registered scikit-learn-style classifier ending in a ZipMap shows the signature it is
 * served with: its probabilities as a float32 [rows, classes] tensor with the class labels,
 * not as an opaque non-tensor output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../src/artifacts/local-artifact-store.js';
import { inspectArtifacts } from '../src/registry/onnx-signature.js';
import { sequenceOutputModel, zipMapClassifier } from './support/onnx-models.js';

describe('the registry signature of a ZipMap classifier', () => {
  let root: string;
  let store: LocalArtifactStore;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'slipway-zipmap-sig-'));
    store = new LocalArtifactStore(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lists the probabilities as a float32 tensor, one column per class, with the labels', async () => {
    await store.put('1/run/artifacts/model/model.onnx', zipMapClassifier({ labels: ['cat', 'dog', 'fish'] }).onnx);
    const outcome = await inspectArtifacts(store, '1/run/artifacts/model');
    expect(outcome.kind).toBe('signature');
    const outputs = outcome.kind === 'signature' ? outcome.signature.outputs : [];
    expect(outputs).toEqual([
      { name: 'output_label', type: 'int64', shape: ['N'] },
      { name: 'output_probability', type: 'float32', shape: ['N', 3], classes: ['cat', 'dog', 'fish'] },
    ]);
  });

  it('still marks outputs that are not a ZipMap as non-tensor', async () => {
    await store.put('2/run/artifacts/model/model.onnx', sequenceOutputModel());
    const outcome = await inspectArtifacts(store, '2/run/artifacts/model');
    expect(outcome.kind === 'signature' && outcome.signature.outputs.some((o) => o.type === 'non-tensor')).toBe(true);
  });
});
