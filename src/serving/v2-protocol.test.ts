import { describe, expect, it } from 'vitest';
import type { TensorSpec } from './model-signature.js';
import type { TensorData } from './tensor-types.js';
import { encodeV2Response, stringifyJson, v2ResponseText, type V2Request } from './v2-protocol.js';

const spec = (name: string, datatype: TensorSpec['datatype']): TensorSpec => ({ name, datatype, shape: [-1, 2] });

describe('v2ResponseText', () => {
  const model = { name: 'm "quoted" ü', version: '7' };
  const outputs: TensorData[] = [
    { datatype: 'FP32', shape: [2, 2], data: Float32Array.from([0.1, -0, 3.4e38, 1e-45]) },
    { datatype: 'FP64', shape: [2, 2], data: Float64Array.from([NaN, Infinity, -Infinity, 1e21]) },
    { datatype: 'INT32', shape: [2, 2], data: Int32Array.from([-2147483648, 0, 7, 2147483647]) },
    { datatype: 'UINT8', shape: [1, 0], data: new Uint8Array(0) },
  ];
  const request = (over: Partial<V2Request> = {}): V2Request => ({
    id: 'r-"1"',
    inputs: [],
    rows: 2,
    outputs: [
      { spec: spec('a', 'FP32'), index: 0, binary: false },
      { spec: spec('b', 'FP64'), index: 1, binary: false },
      { spec: spec('c', 'INT32'), index: 2, binary: false },
      { spec: spec('d', 'UINT8'), index: 3, binary: false },
    ],
    ...over,
  });

  it('writes exactly what stringifyJson writes for the encoded document', () => {
    for (const req of [request(), request({ id: undefined }), request({ outputs: [{ spec: spec('c', 'INT32'), index: 2, binary: false }] })]) {
      expect(v2ResponseText(model, req, outputs)).toBe(stringifyJson(encodeV2Response(model, req, outputs).json));
    }
  });

  it('leaves binary, BOOL, FP16 and 64-bit outputs to the general encoder', () => {
    expect(v2ResponseText(model, request({ outputs: [{ spec: spec('a', 'FP32'), index: 0, binary: true }] }), outputs)).toBeUndefined();
    for (const t of [
      { datatype: 'BOOL', shape: [1], data: Uint8Array.from([1]) },
      { datatype: 'FP16', shape: [1], data: Uint16Array.from([0x3c00]) },
      { datatype: 'INT64', shape: [1], data: BigInt64Array.from([2n ** 60n]) },
    ] as TensorData[]) {
      expect(v2ResponseText(model, request({ outputs: [{ spec: spec('x', t.datatype), index: 0, binary: false }] }), [t])).toBeUndefined();
    }
  });
});
