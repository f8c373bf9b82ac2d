import { describe, expect, it } from 'vitest';
import type { ModelSignature } from './registry-types.js';
import { signatureDifferences } from './signature-compatibility.js';

const signature = (inputs: ModelSignature['inputs'], outputs: ModelSignature['outputs'] = [{ name: 'y', type: 'float32', shape: ['batch', 1] }]): ModelSignature => ({
  format: 'onnx',
  path: 'model.onnx',
  inputs,
  outputs,
});

describe('signatureDifferences', () => {
  const base = signature([{ name: 'features', type: 'float32', shape: ['batch', 30] }]);

  it('finds none when names, types and fixed sizes agree, free dimensions matching any size', () => {
    expect(signatureDifferences(base, signature([{ name: 'features', type: 'float32', shape: ['?', 30] }]))).toEqual([]);
    expect(signatureDifferences(base, signature([{ name: 'features', type: 'float32', shape: [1, 30] }], [{ name: 'y', type: 'float32', shape: [1, 1] }]))).toEqual([]);
    expect(signatureDifferences(base, signature([{ name: 'features', type: 'float32', shape: [] }]))).toEqual([]);
  });

  it('names a changed width, datatype or rank, showing free dimensions as -1', () => {
    expect(signatureDifferences(base, signature([{ name: 'features', type: 'float32', shape: ['batch', 10] }]))).toEqual(["input 'features' was float32 [-1,30], now float32 [-1,10]"]);
    expect(signatureDifferences(base, signature([{ name: 'features', type: 'float64', shape: ['batch', 30] }]))).toEqual(["input 'features' was float32 [-1,30], now float64 [-1,30]"]);
    expect(signatureDifferences(base, signature([{ name: 'features', type: 'float32', shape: ['batch', 30, 1] }]))).toEqual(["input 'features' was float32 [-1,30], now float32 [-1,30,1]"]);
  });

  it('names inputs and outputs that went missing or are new', () => {
    const after = signature([{ name: 'x', type: 'float32', shape: ['batch', 30] }], [{ name: 'label', type: 'int64', shape: ['batch'] }]);
    expect(signatureDifferences(base, after)).toEqual([
      "input 'features' was float32 [-1,30], now missing",
      "input 'x' is new: float32 [-1,30]",
      "output 'y' was float32 [-1,1], now missing",
      "output 'label' is new: int64 [-1]",
    ]);
  });
});
