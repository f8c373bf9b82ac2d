import { describe, expect, it } from 'vitest';
import type { TensorSpec } from './model-signature.js';
import { tensorFromBinary, tensorFromJson } from './tensor-validation.js';

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

describe('BYTES tensors', () => {
  const text: TensorSpec = { name: 'text', datatype: 'BYTES', shape: [-1, 1] };
  const lengthPrefixed = (...parts: Buffer[]): Buffer =>
    Buffer.concat(parts.flatMap((p) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(p.length);
      return [len, p];
    }));

  it('reads JSON strings and length-prefixed UTF-8 elements, accents, CJK and emoji included', () => {
    const words = ['café crème', '日本語のテキスト', 'ok 👍🏽', ''];
    expect(tensorFromJson(text, [4, 1], words, 'reject').data).toEqual(words);
    const binary = tensorFromBinary(text, [4, 1], lengthPrefixed(...words.map((w) => Buffer.from(w, 'utf8'))), 'reject');
    expect(binary.data).toEqual(words);
  });

  it('rejects bytes that are not UTF-8 and strings with a lone surrogate, naming the input and element', () => {
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9]); // "café" in Latin-1
    expect(() => tensorFromBinary(text, [2, 1], lengthPrefixed(Buffer.from('ok'), latin1), 'reject')).toThrow("Input 'text' BYTES element 1 is not valid UTF-8.");
    expect(() => tensorFromJson(text, [1, 1], ['bad \ud800 half'], 'reject')).toThrow("Input 'text' element 0 is not valid Unicode text");
    expect(tensorFromJson(text, [1, 1], ['pair 😀'], 'reject').data).toEqual(['pair 😀']);
  });

  it('rejects numbers where text is expected and text where numbers are expected', () => {
    expect(() => tensorFromJson(text, [2, 1], ['fine', 3], 'reject')).toThrow("Input 'text' element 1 is number 3, not a string (BYTES).");
    expect(() => tensorFromJson(fp32, [1, 3], [1, 'two', 3], 'reject')).toThrow(`Input 'x' element 1 is the string "two", not a number.`);
  });

  it('rejects a truncated length prefix and an element longer than the bytes left', () => {
    expect(() => tensorFromBinary(text, [1, 1], Buffer.from([5, 0]), 'reject')).toThrow("Input 'text' BYTES data is truncated");
    expect(() => tensorFromBinary(text, [1, 1], Buffer.from([9, 0, 0, 0, 0x61]), 'reject')).toThrow("Input 'text' BYTES element 0 claims 9 bytes but only 1 remain.");
  });
});
