import { describe, expect, it } from 'vitest';
import { decodeMlflowCsv, encodePredictions, parseCsv } from './mlflow-protocol.js';
import type { ModelSignature } from './model-signature.js';
import { jsonData } from './v2-protocol.js';

const twoInputs: ModelSignature = {
  inputs: [
    { name: 'a', datatype: 'FP32', shape: [-1, 1] },
    { name: 'b', datatype: 'INT64', shape: [-1] },
  ],
  outputs: [
    { name: 'score', datatype: 'FP32', shape: [-1, 2] },
    { name: 'label', datatype: 'INT64', shape: [-1] },
  ],
  batchable: true,
};

describe('MLflow scoring codec', () => {
  it('reads CSV with quoted fields, doubled quotes, CRLF and a missing final newline', () => {
    expect(parseCsv('x,"y, z"\r\n1,"say ""hi"""\r\n2,3')).toEqual([
      ['x', 'y, z'],
      ['1', 'say "hi"'],
      ['2', '3'],
    ]);
    expect(() => parseCsv('a\n"open')).toThrow('ends inside a quoted field');
  });

  it('maps one column per input by name for a model with several inputs', () => {
    const req = decodeMlflowCsv('b,a,unused\n7,0.5,x\n8,1.5,y\n', { signature: twoInputs, columns: undefined }, 'reject');
    expect(req.rows).toBe(2);
    expect(req.inputs[0]).toEqual({ datatype: 'FP32', shape: [2, 1], data: Float32Array.from([0.5, 1.5]) });
    expect(req.inputs[1]).toEqual({ datatype: 'INT64', shape: [2], data: BigInt64Array.from([7n, 8n]) });
  });

  it('answers one list per row for wide outputs and an object for several outputs', () => {
    const score = { datatype: 'FP32' as const, shape: [2, 2], data: Float32Array.from([0.25, 0.75, 1, 0]) };
    const label = { datatype: 'INT64' as const, shape: [2], data: BigInt64Array.from([1n, 0n]) };
    expect(encodePredictions(twoInputs, [score, label], jsonData)).toEqual({ score: [[0.25, 0.75], [1, 0]], label: [1, 0] });
    expect(encodePredictions({ ...twoInputs, outputs: [twoInputs.outputs[0] as ModelSignature['outputs'][number]] }, [score], jsonData)).toEqual([[0.25, 0.75], [1, 0]]);
  });
});
