import { describe, expect, it } from 'vitest';
import type { ModelSignature } from './model-signature.js';
import { splitNumberLists } from './number-lists.js';
import { decodeV2Body, decodeV2Request, parseJson } from './v2-protocol.js';

const fp = (datatype: 'FP32' | 'FP64', names = ['x']): ModelSignature => ({
  inputs: names.map((name) => ({ name, datatype, shape: [-1, 3] })),
  outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 1] }],
  batchable: true,
});

/** What the general path answers: the decoded request, or the error message. */
function general(body: string, sig: ModelSignature): unknown {
  try {
    return decodeV2Request(parseJson(Buffer.from(body)), sig, 'reject');
  } catch (err) {
    return (err as Error).message;
  }
}

function viaBody(body: string, sig: ModelSignature): unknown {
  try {
    return decodeV2Body(Buffer.from(body), sig, 'reject');
  } catch (err) {
    return (err as Error).message;
  }
}

describe('splitNumberLists', () => {
  it('reads each data list into a typed array and leaves its index in the rest of the document', () => {
    const split = splitNumberLists(Buffer.from('{"inputs": [{"name": "a", "data" : [ 1, -2.5 ,3e2 ]}, {"name": "b", "data":[]}]}'), 2, Float64Array);
    expect(split?.skeleton).toBe('{"inputs": [{"name": "a", "data" : 0}, {"name": "b", "data":1}]}');
    expect(split?.lists.map((l) => Array.from(l))).toEqual([[1, -2.5, 300], []]);
  });

  it('gives up on nested lists, strings, malformed numbers, non-ASCII text and too many lists', () => {
    for (const body of ['{"data":[[1,2]]}', '{"data":["1"]}', '{"data":[01]}', '{"data":[1.]}', '{"data":[-]}', '{"data":[1,]}', '{"data":[1 2]}', '{"n":"é","data":[1]}', '{"data":[1],"data":[2]}', '{"data":[1', '{"x":1}']) {
      expect(splitNumberLists(Buffer.from(body), 1, Float64Array), body).toBeUndefined();
    }
    // The word "data" as a value is not a key.
    expect(splitNumberLists(Buffer.from('{"name":"data","data":[4]}'), 1, Float64Array)?.skeleton).toBe('{"name":"data","data":0}');
  });

  it('reads a list longer than its reusable buffer, and small lists after it', () => {
    const long = Array.from({ length: 100_000 }, (_, i) => (i % 7) - 3 + i / 1000);
    const split = splitNumberLists(Buffer.from(JSON.stringify({ data: long })), 1, Float64Array);
    expect(split?.lists[0]?.length).toBe(100_000);
    expect(Array.from(split?.lists[0] ?? [])).toEqual(long);
    expect(Array.from(splitNumberLists(Buffer.from('{"data":[1.5,2]}'), 1, Float64Array)?.lists[0] ?? [])).toEqual([1.5, 2]);
  });

  it('reads every number as JSON.parse does, to the last bit', () => {
    const numbers = ['0', '-0', '7', '-7', '0.1', '0.30000000000000004', '0.30000001192092896', '123456789012345', '1234567890123456789', '9007199254740993', '1e-7', '1E+30', '-2.5e-3', '3.4028235e38', '1e39', '1e400', '0.000001', '123.456000000000000001', '4.9e-324'];
    const text = `{"data":[${numbers.join(',')}]}`;
    const expected = (JSON.parse(text) as { data: number[] }).data;
    const f64 = splitNumberLists(Buffer.from(text), 1, Float64Array)?.lists[0];
    const f32 = splitNumberLists(Buffer.from(text), 1, Float32Array)?.lists[0];
    expect(Array.from(f64 ?? [])).toEqual(expected);
    expect(Array.from(f32 ?? [])).toEqual(Array.from(Float32Array.from(expected)));
    expect(Object.is(f64?.[1], -0)).toBe(true);
  });
});

describe('decodeV2Body', () => {
  it('answers exactly as parsing the whole body does, for well-formed and malformed requests', () => {
    const sig = fp('FP32');
    const bodies = [
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2.5,-3]}]}',
      '{"id": "r1", "inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3], "data": [0.1, 0.2, 0.3, 1e-3, 5, 6]}], "outputs": [{"name": "y"}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[[1,2,3]]}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2]}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,1e39]}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,"3"]}]}',
      '{"inputs":[{"name":"x","datatype":"FP64","shape":[1,3],"data":[1,2,3]}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}],"parameters":{"data":[9]}}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"parameters":{"data":[1,2,3]}}]}',
      '{"inputs":[{"name":"z","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}],"outputs":[{"name":"nope"}]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]},]}',
      '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]',
      '{"inputs":[{"name":"x\\"data","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}',
    ];
    for (const body of bodies) expect(viaBody(body, sig), body).toEqual(general(body, sig));
    const two = fp('FP64', ['a', 'b']);
    for (const body of [
      '{"inputs":[{"name":"b","datatype":"FP64","shape":[1,3],"data":[4,5,6]},{"name":"a","datatype":"FP64","shape":[1,3],"data":[1,2,3]}]}',
      '{"inputs":[{"name":"a","datatype":"FP64","shape":[1,3],"data":[1,2,3],"data":[7,8,9]},{"name":"b","datatype":"FP64","shape":[1,3],"data":[[4,5,6]]}]}',
    ]) {
      expect(viaBody(body, two), body).toEqual(general(body, two));
    }
  });

  it('stores a row in the input’s own array type', () => {
    const req = decodeV2Body(Buffer.from('{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[0.1,0.2,0.3]}]}'), fp('FP32'), 'reject');
    expect(req.inputs[0]?.data).toEqual(Float32Array.from([0.1, 0.2, 0.3]));
  });
});
