import { describe, expect, it } from 'vitest';
import type { TensorSpec } from './model-signature.js';
import { tensorFromJson } from './tensor-validation.js';

const fp32: TensorSpec = { name: 'x', datatype: 'FP32', shape: [-1, 3] };
const fp64: TensorSpec = { name: 'x', datatype: 'FP64', shape: [-1, 3] };

describe('tensorFromJson', () => {
  it('reads flat and nested lists of numbers into the same typed array', () => {
    const flat = tensorFromJson(fp32, [2, 3], [1, 2.5, -3, 0, 1e-3, 4], 'reject');
    const nested = tensorFromJson(fp32, [2, 3], [[1, 2.5, -3], [0, 1e-3, 4]], 'reject');
    expect(flat.data).toBeInstanceOf(Float32Array);
    expect(Array.from(flat.data as Float32Array)).toEqual(Array.from(nested.data as Float32Array));
    expect(Array.from(tensorFromJson(fp64, [1, 3], [0.1, 0.2, 0.3], 'reject').data as Float64Array)).toEqual([0.1, 0.2, 0.3]);
  });

  it('names the element that is not a number or not finite, in a flat list as in a nested one', () => {
    expect(() => tensorFromJson(fp32, [1, 3], [1, '2', 3], 'reject')).toThrow(`Input 'x' element 1 is the string "2", not a number.`);
    expect(() => tensorFromJson(fp32, [1, 3], [[1, '2', 3]], 'reject')).toThrow(`Input 'x' element 1 is the string "2", not a number.`);
    expect(() => tensorFromJson(fp32, [1, 3], [1, 2, null], 'reject')).toThrow("Input 'x' element 2 is null, not a number.");
    // 1e39 is a finite double but Infinity as FP32.
    expect(() => tensorFromJson(fp32, [1, 3], [1, 1e39, 3], 'reject')).toThrow("Input 'x' element 1 (1e+39) is not finite as FP32");
    expect(Array.from(tensorFromJson(fp32, [1, 3], [1, 1e39, 3], 'allow').data as Float32Array)).toEqual([1, Infinity, 3]);
  });

  it('rejects a flat list of the wrong length with the count it needs', () => {
    expect(() => tensorFromJson(fp32, [2, 3], [1, 2, 3, 4, 5], 'reject')).toThrow("Input 'x' has 5 elements but its shape [2, 3] needs 6.");
  });
});
