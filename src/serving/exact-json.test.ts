import { describe, expect, it } from 'vitest';
import { decodeMlflowCsv, decodeMlflowJson, encodePredictions } from './mlflow-protocol.js';
import type { ModelSignature } from './model-signature.js';
import { parseJsonExact, stringifyJson } from './exact-json.js';
import { decodeV2Request, encodeV2Response, jsonData, parseJson } from './v2-protocol.js';

const BIG = '9007199254740993';
const MIN = '-9223372036854775808';
const MAX_U = '18446744073709551615';

const int64: ModelSignature = {
  inputs: [{ name: 'x', datatype: 'INT64', shape: [-1, 2] }],
  outputs: [{ name: 'y', datatype: 'INT64', shape: [-1, 2] }],
  batchable: true,
};

describe('exact 64-bit integers in JSON', () => {
  it('parses integer literals beyond ±2^53 as bigint and everything else as JSON.parse does', () => {
    const text = `{"a": [${BIG}, ${MIN}, 12, -0.5, 1e300, 12345678901234567.5], "b": {"__proto__": true, "s": "x\\"${BIG}"}, "c": [null, false, true, []]}`;
    const v = parseJsonExact(text) as { a: unknown[]; b: Record<string, unknown>; c: unknown[] };
    expect(v.a).toEqual([BigInt(BIG), BigInt(MIN), 12, -0.5, 1e300, Number("12345678901234567.5")]);
    expect(Object.getOwnPropertyNames(v.b)).toEqual(['__proto__', 's']);
    expect(Object.getPrototypeOf(v.b)).toBe(Object.prototype);
    expect(v.b.s).toBe(`x"${BIG}`);
    expect(v.c).toEqual([null, false, true, []]);
    expect(() => parseJsonExact('['.repeat(300) + ']'.repeat(300))).toThrow(/nested more than 256 levels/);
  });

  it('writes ExactIntegers digit for digit and leaves other bodies to JSON.stringify', () => {
    const t = { datatype: 'INT64' as const, shape: [3], data: BigInt64Array.from([BigInt(BIG), BigInt(MIN), 5n]) };
    const data = jsonData(t);
    expect(JSON.stringify(data)).toBe('[9007199254740992,-9223372036854776000,5]');
    expect(stringifyJson({ data })).toBe(`{"data":[9007199254740992,-9223372036854776000,5]}`);
    const res = encodeV2Response({ name: 'm', version: '1' }, { id: undefined, inputs: [], rows: 3, outputs: [{ spec: { name: 'y', datatype: 'INT64', shape: [-1] }, index: 0, binary: false }] }, [t]);
    expect(stringifyJson(res.json)).toBe(`{"model_name":"m","model_version":"1","outputs":[{"name":"y","datatype":"INT64","shape":[3],"data":[${BIG},${MIN},5]}]}`);
    const u = { datatype: 'UINT64' as const, shape: [1, 1], data: BigUint64Array.from([BigInt(MAX_U)]) };
    const sig: ModelSignature = { inputs: [], outputs: [{ name: 'u', datatype: 'UINT64', shape: [-1, 1] }], batchable: true };
    expect(stringifyJson({ predictions: encodePredictions(sig, [u], jsonData) })).toBe(`{"predictions":[${MAX_U}]}`);
    expect(stringifyJson({ a: 1, s: 'exact-00:1' })).toBe('{"a":1,"s":"exact-00:1"}');
  });

  it('hands INT64 inputs beyond 2^53 to the model exactly, from V2 JSON, binary headers, MLflow JSON and CSV', () => {
    const body = `{"inputs": [{"name": "x", "datatype": "INT64", "shape": [2, 2], "data": [[${BIG}, ${MIN}], [1, -2]]}]}`;
    const v2 = decodeV2Request(parseJson(Buffer.from(body)), int64, 'reject');
    expect([...(v2.inputs[0]?.data as BigInt64Array)]).toEqual([BigInt(BIG), BigInt(MIN), 1n, -2n]);
    const mlflow = decodeMlflowJson(parseJson(`{"dataframe_split": {"columns": ["a", "b"], "data": [[${BIG}, ${MIN}]]}}`), { signature: int64, columns: ['a', 'b'] }, 'reject');
    expect([...(mlflow.inputs[0]?.data as BigInt64Array)]).toEqual([BigInt(BIG), BigInt(MIN)]);
    const csv = decodeMlflowCsv(`a,b\n${BIG},${MIN}\n`, { signature: int64, columns: undefined }, 'reject');
    expect([...(csv.inputs[0]?.data as BigInt64Array)]).toEqual([BigInt(BIG), BigInt(MIN)]);
    // Beyond the INT64 range is still a 400 naming the element.
    expect(() => decodeV2Request(parseJson(body.replace(MIN, '-9223372036854775809')), int64, 'reject')).toThrow("Input 'x' element 1 (-9223372036854775809) is outside the INT64 range.");
    // A body parsed by something else is decoded as given.
    expect([...(decodeV2Request(JSON.parse(body), int64, 'reject').inputs[0]?.data as BigInt64Array)][0]).toBe(9007199254740992n);
  });
});
