import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokenFile, fixture, holdout, identityFile, maxRelativeError, mlpFile, servingApp, type ServingHarness } from '../../../test/support/serving.js';

const cancer = holdout('breast_cancer');
const diabetes = holdout('diabetes');

function v2Body(rows: number[][], extra: Record<string, unknown> = {}) {
  return { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, rows[0]?.length ?? 0], data: rows }], ...extra };
}

/** A binary-extension body: JSON header then raw tensor bytes. */
function binaryBody(header: unknown, ...tensors: Buffer[]): { payload: Buffer; headers: Record<string, string> } {
  const json = Buffer.from(JSON.stringify(header));
  return { payload: Buffer.concat([json, ...tensors]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) } };
}

describe('serving routes over real onnxruntime', () => {
  let h: ServingHarness;

  beforeAll(async () => {
    h = await servingApp({ bodyLimit: 2 * 1024 * 1024 }, undefined, { modelControl: 'explicit' });
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns);
    await h.manager.load('diabetes', fixture('diabetes_forest.onnx'), diabetes.columns);
    await h.manager.load('types', identityFile());
    await h.manager.load('fixed', mlpFile([4, 3], { batch: 1 }));
  });
  afterAll(() => h.close());

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) => h.app.inject({ method: 'POST', url, payload: payload as string, headers });

  describe('Open Inference Protocol', () => {
    it('answers health, server metadata, model metadata and readiness', async () => {
      expect((await h.app.inject('/v2/health/live')).json()).toEqual({ live: true });
      expect((await h.app.inject('/v2/health/ready')).json()).toEqual({ ready: true });
      const server = (await h.app.inject('/v2')).json();
      expect(server.extensions).toEqual(expect.arrayContaining(['binary_tensor_data', 'model_repository']));
      const meta = (await h.app.inject('/v2/models/cancer')).json();
      expect(meta).toMatchObject({ name: 'cancer', versions: ['1'], platform: 'onnx_onnxv1' });
      expect(meta.inputs).toEqual([{ name: 'features', datatype: 'FP32', shape: [-1, 30] }]);
      expect(meta.outputs).toEqual([{ name: 'probabilities', datatype: 'FP32', shape: [-1, 1] }]);
      expect((await h.app.inject('/v2/models/cancer/versions/1')).statusCode).toBe(200);
      expect((await h.app.inject('/v2/models/cancer/versions/1/ready')).json()).toMatchObject({ ready: true });
      const wrongVersion = await h.app.inject('/v2/models/cancer/versions/7/ready');
      expect(wrongVersion.statusCode).toBe(404);
      expect(wrongVersion.json().error).toContain("no version '7'");
      const unknown = await h.app.inject('/v2/models/nope');
      expect(unknown.statusCode).toBe(404);
      expect(unknown.json()).toEqual({ error: "Model 'nope' is not served here." });
    });

    it('matches the PyTorch MLP predictions in one batch request, with id echoed', async () => {
      const res = await post('/v2/models/cancer/infer', v2Body(cancer.rows, { id: 'req-1' }));
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({ model_name: 'cancer', model_version: '1', id: 'req-1' });
      expect(body.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [171, 1] });
      maxRelativeError(body.outputs[0].data, cancer.expected);
    });

    it('matches the scikit-learn forest predictions with 1-row requests batched together', async () => {
      const replies = await Promise.all(diabetes.rows.map((row) => post('/v2/models/diabetes/infer', v2Body([row]))));
      const got = replies.map((r) => {
        expect(r.statusCode).toBe(200);
        return r.json().outputs[0].data[0] as number;
      });
      maxRelativeError(got, diabetes.expected);
      const metrics = await h.registry.getSingleMetricAsString('slipway_serving_batch_size_rows');
      // 133 concurrent requests: batches held more than one row.
      expect(metrics).toMatch(/slipway_serving_batch_size_rows_bucket\{le="1",model="diabetes",version="1"\} (\d+)/);
      const ones = Number(/le="1",model="diabetes",version="1"\} (\d+)/.exec(metrics)?.[1]);
      const count = Number(/slipway_serving_batch_size_rows_count\{model="diabetes",version="1"\} (\d+)/.exec(metrics)?.[1]);
      expect(count).toBeLessThan(133);
      expect(ones).toBeLessThan(count + 1);
    });

    it('accepts flat data and returns only the selected outputs', async () => {
      const row = cancer.rows[0] as number[];
      const res = await post('/v2/models/cancer/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }], outputs: [{ name: 'probabilities' }] });
      expect(res.statusCode).toBe(200);
      maxRelativeError(res.json().outputs[0].data, [cancer.expected[0] as number]);
    });

    it('round-trips every JSON datatype an ONNX input can have', async () => {
      const samples: Record<string, unknown[]> = {
        BOOL: [true, false, false, true],
        UINT8: [0, 255, 7, 8],
        INT8: [-128, 127, 0, 1],
        UINT16: [0, 65535, 1, 2],
        INT16: [-32768, 32767, 3, 4],
        INT32: [-2147483648, 2147483647, 5, 6],
        INT64: [-9007199254740991, 9007199254740991, 7, 8],
        UINT32: [0, 4294967295, 9, 10],
        UINT64: [0, 9007199254740991, 11, 12],
        FP32: [1.5, -2.25, 0, 3.125],
        FP64: [1e300, -1e-300, 0.1, 2],
        BYTES: ['a', 'héllo', '', 'z'],
      };
      const datatypes = [...Object.keys(samples), 'FP16'];
      const inputs = datatypes.map((dt) =>
        dt === 'FP16' ? { name: 'in_FP16', datatype: 'FP16', shape: [2, 2], parameters: { binary_data_size: 8 } } : { name: `in_${dt}`, datatype: dt, shape: [2, 2], data: samples[dt] },
      );
      // FP16 cannot be JSON; 1.0, -2.0, 0.5, 0 as half floats.
      const half = Buffer.from(new Uint16Array([0x3c00, 0xc000, 0x3800, 0]).buffer);
      const { payload, headers } = binaryBody({ inputs }, half);
      const res = await post('/v2/models/types/infer', payload, headers);
      expect(res.statusCode, res.body).toBe(200);
      const outs = Object.fromEntries((res.json().outputs as Array<{ name: string; datatype: string; data: unknown[] }>).map((o) => [o.datatype, o.data]));
      for (const dt of Object.keys(samples)) expect(outs[dt], dt).toEqual(samples[dt]);
      expect(outs.FP16).toEqual([1, -2, 0.5, 0]);
      const fp16Json = await post('/v2/models/types/infer', { inputs: [...inputs.slice(0, -1), { name: 'in_FP16', datatype: 'FP16', shape: [2, 2], data: [1, 2, 3, 4] }] });
      expect(fp16Json.statusCode).toBe(400);
      expect(fp16Json.json().error).toContain('binary tensor extension');
    });

    it('takes binary inputs and returns binary outputs that match the model', async () => {
      const rows = cancer.rows.slice(0, 5);
      const bytes = Buffer.from(new Float32Array(rows.flat()).buffer);
      const { payload, headers } = binaryBody(
        { inputs: [{ name: 'features', datatype: 'FP32', shape: [5, 30], parameters: { binary_data_size: bytes.length } }], parameters: { binary_data_output: true } },
        bytes,
      );
      const res = await post('/v2/models/cancer/infer', payload, headers);
      expect(res.statusCode).toBe(200);
      const headerLength = Number(res.headers['inference-header-content-length']);
      const raw = res.rawPayload;
      const header = JSON.parse(raw.subarray(0, headerLength).toString());
      expect(header.outputs[0]).toMatchObject({ name: 'probabilities', shape: [5, 1], parameters: { binary_data_size: 20 } });
      const out = new Float32Array(raw.buffer.slice(raw.byteOffset + headerLength, raw.byteOffset + headerLength + 20));
      maxRelativeError(out, cancer.expected.slice(0, 5));
    });

    it('runs a model with a fixed batch dimension one request at a time', async () => {
      const replies = await Promise.all(
        Array.from({ length: 6 }, (_, i) => post('/v2/models/fixed/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [i, 1, 2, 3] }] })),
      );
      for (const r of replies) expect(r.json().outputs[0].shape).toEqual([1, 3]);
      const twoRows = await post('/v2/models/fixed/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] }] });
      expect(twoRows.statusCode).toBe(400);
      expect(twoRows.json().error).toBe("Input 'x' has shape [2, 4] but the model expects [1, 4] (-1 = any size).");
    });
  });

  describe('bad input gets a 4xx naming the problem', () => {
    const row = () => [...(cancer.rows[0] as number[])];
    const cases: Array<[string, () => { payload: unknown; headers?: Record<string, string> }, number, RegExp]> = [
      ['bad JSON', () => ({ payload: '{"inputs": [', headers: { 'content-type': 'application/json' } }), 400, /not valid JSON/],
      ['empty body', () => ({ payload: '', headers: { 'content-type': 'application/json' } }), 400, /not valid JSON/],
      ['not an object', () => ({ payload: [1, 2] }), 400, /JSON object with an "inputs" list/],
      ['no inputs', () => ({ payload: { inputs: [] } }), 400, /"inputs" must be a non-empty list/],
      ['missing input', () => ({ payload: { inputs: [{ name: 'other', datatype: 'FP32', shape: [1, 30], data: row() }] } }), 400, /Unexpected input 'other'; the model expects 'features'/],
      ['extra input', () => ({ payload: { inputs: [v2Body([row()]).inputs[0], { name: 'extra', datatype: 'FP32', shape: [1], data: [1] }] } }), 400, /Unexpected input 'extra'/],
      ['duplicate input', () => ({ payload: { inputs: [v2Body([row()]).inputs[0], v2Body([row()]).inputs[0]] } }), 400, /given twice/],
      ['wrong datatype', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 30], data: row() }] } }), 400, /datatype FP64 but the model expects FP32/],
      ['unknown datatype', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FLOAT', shape: [1, 30], data: row() }] } }), 400, /'FLOAT', which is not a protocol datatype/],
      ['wrong shape', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 29], data: row().slice(1) }] } }), 400, /shape \[1, 29\] but the model expects \[-1, 30\]/],
      ['negative shape', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30], data: row() }] } }), 400, /list of non-negative integers/],
      ['too few elements', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: row() }] } }), 400, /has 30 elements but its shape \[2, 30\] needs 60/],
      ['too many elements', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: [...row(), 1] }] } }), 400, /more than the 30 elements/],
      ['string element', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: ['x', ...row().slice(1)] }] } }), 400, /element 0 is the string "x", not a number/],
      ['non-finite element', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: [1e39, ...row().slice(1)] }] } }), 400, /element 0 \(1e\+39\) is not finite as FP32/],
      ['id not a string', () => ({ payload: { id: 5, ...v2Body([row()]) } }), 400, /"id" must be a string/],
      ['unknown output', () => ({ payload: v2Body([row()], { outputs: [{ name: 'logits' }] }) }), 400, /Unknown output 'logits'; the model has 'probabilities'/],
      ['unsupported content type', () => ({ payload: 'x', headers: { 'content-type': 'application/xml' } }), 415, /Unsupported content type 'application\/xml'/],
      ['huge payload', () => ({ payload: { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: new Array(400_000).fill(1.2345) }] } }), 413, /larger than the limit of 2097152 bytes/],
      ['bad deadline header', () => ({ payload: v2Body([row()]), headers: { 'x-slipway-deadline-ms': 'soon' } }), 400, /x-slipway-deadline-ms must be a deadline in milliseconds/],
    ];
    it.each(cases)('%s', async (_label, make, status, message) => {
      const { payload, headers } = make();
      const res = await post('/v2/models/cancer/infer', payload, headers);
      expect(res.statusCode).toBe(status);
      expect(res.json().error).toMatch(message);
    });

    const bytes = Buffer.from(new Float32Array(30).fill(1).buffer);
    const input = (size: number) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], parameters: { binary_data_size: size } }] });
    const binaryCases: Array<[string, () => { payload: Buffer; headers: Record<string, string> }, RegExp]> = [
      ['header length past the body', () => ({ payload: bytes, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': '99999' } }), /Inference-Header-Content-Length is 99999 but the body has only 120 bytes/],
      ['header length not a number', () => ({ payload: bytes, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': 'abc' } }), /is not a byte count/],
      ['header length cuts the JSON', () => { const b = binaryBody(input(120), bytes); return { payload: b.payload, headers: { ...b.headers, 'inference-header-content-length': '10' } }; }, /not valid JSON/],
      ['binary_data_size past the end', () => binaryBody(input(240), bytes), /binary_data_size 240 runs past the end of the body \(120 bytes left\)/],
      ['binary_data_size not matching the shape', () => binaryBody(input(116), bytes.subarray(0, 116)), /binary_data_size 116 bytes but shape \[1, 30\] of FP32 needs 120/],
      ['trailing bytes', () => binaryBody(input(120), bytes, Buffer.alloc(8)), /binary part has 128 bytes but the inputs' binary_data_size add up to 120/],
      ['binary NaN', () => binaryBody(input(120), Buffer.from(new Float32Array(30).fill(NaN).buffer)), /element 0 \(NaN\) is not finite/],
    ];
    it.each(binaryCases)('binary: %s', async (_label, make, message) => {
      const { payload, headers } = make();
      const res = await post('/v2/models/cancer/infer', payload, headers);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatch(message);
    });

    it('binary_data_size without the header is refused', async () => {
      const res = await post('/v2/models/cancer/infer', input(120));
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatch(/no Inference-Header-Content-Length header/);
    });
  });

  describe('MLflow scoring', () => {
    const predictions = (res: { statusCode: number; json(): { predictions: number[] } }) => {
      expect(res.statusCode).toBe(200);
      return res.json().predictions;
    };

    it('answers ping, health and version', async () => {
      expect((await h.app.inject('/ping')).statusCode).toBe(200);
      expect((await h.app.inject('/health')).statusCode).toBe(200);
      expect((await h.app.inject('/version')).body).toMatch(/^\d+\.\d+\.\d+/);
    });

    it('maps dataframe_split columns by name (extra columns ignored, order free) and matches the MLP', async () => {
      const columns = [...cancer.columns].reverse();
      const data = cancer.rows.map((r) => [...r].reverse().concat([7]));
      const got = predictions(await post('/models/cancer/invocations', { dataframe_split: { columns: [...columns, 'target'], data } }));
      maxRelativeError(got, cancer.expected);
    });

    it('scores dataframe_records, instances, inputs and text/csv against the forest', async () => {
      const records = diabetes.rows.map((r) => Object.fromEntries(diabetes.columns.map((c, i) => [c, r[i]])));
      maxRelativeError(predictions(await post('/models/diabetes/invocations', { dataframe_records: records })), diabetes.expected);
      maxRelativeError(predictions(await post('/models/diabetes/invocations', { instances: diabetes.rows })), diabetes.expected);
      maxRelativeError(predictions(await post('/models/diabetes/invocations', { inputs: { features: diabetes.rows } })), diabetes.expected);
      const csv = `${diabetes.columns.join(',')}\n${diabetes.rows.map((r) => r.join(',')).join('\n')}\n`;
      maxRelativeError(predictions(await post('/models/diabetes/invocations', csv, { 'content-type': 'text/csv' })), diabetes.expected);
    });

    it('refuses the bare /invocations path when several models are served, naming the per-model path', async () => {
      const res = await post('/invocations', { instances: diabetes.rows.slice(0, 1) });
      expect(res.statusCode).toBe(400);
      expect(res.json().message).toMatch(/POST to \/models\/<name>\/invocations/);
    });

    const bad: Array<[string, unknown, Record<string, string>, RegExp, string]> = [
      ['two formats', { instances: [[1]], inputs: [[1]] }, {}, /holds instances and inputs; send exactly one format/, 'MALFORMED_REQUEST'],
      ['no format', { rows: [[1]] }, {}, /exactly one of dataframe_split, dataframe_records, instances, inputs; found 'rows'/, 'MALFORMED_REQUEST'],
      ['missing column', { dataframe_split: { columns: ['age'], data: [[1]] } }, {}, /Column 'sex' is missing; the model expects columns age, sex/, 'INVALID_PARAMETER_VALUE'],
      ['null cell', { dataframe_records: [{ age: null, sex: 1, bmi: 1, bp: 1, s1: 1, s2: 1, s3: 1, s4: 1, s5: 1, s6: 1 }] }, {}, /Row 0, column 'age' is null, not a number/, 'INVALID_PARAMETER_VALUE'],
      ['wrong width', { instances: [[1, 2, 3]] }, {}, /shape \[1, 3\] but the model expects \[-1, 10\]/, 'INVALID_PARAMETER_VALUE'],
      ['csv NaN', 'age,sex,bmi,bp,s1,s2,s3,s4,s5,s6\n1,2,,4,5,6,7,8,9,10\n', { 'content-type': 'text/csv' }, /Row 0, column 'bmi' is NaN \(missing or not finite\)/, 'INVALID_PARAMETER_VALUE'],
      ['csv ragged', 'age,sex\n1\n', { 'content-type': 'text/csv' }, /CSV line 2 has 1 fields but the header has 2/, 'INVALID_PARAMETER_VALUE'],
      ['bad JSON', '{"instances": [[', { 'content-type': 'application/json' }, /not valid JSON/, 'MALFORMED_REQUEST'],
    ];
    it.each(bad)('%s → 400 with error_code', async (_label, payload, headers, message, code) => {
      const res = await post('/models/diabetes/invocations', payload, headers);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error_code: code });
      expect(res.json().message).toMatch(message);
    });

    it('refuses other content types with 415', async () => {
      const res = await post('/models/diabetes/invocations', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.statusCode).toBe(415);
      expect(res.json().message).toMatch(/Unsupported content type/);
    });
  });

  describe('repository, metrics and live monitoring', () => {
    it('loads a new version, keeps it when a later load fails, reports why, and unloads', async () => {
      const load = (uri: string) => post('/v2/repository/models/swap/load', { parameters: { uri } });
      expect((await load(fixture('diabetes_forest.onnx'))).json()).toMatchObject({ name: 'swap', version: '1', state: 'READY' });
      expect((await load(fixture('diabetes_forest.onnx'))).json()).toMatchObject({ version: '2' });
      const failed = await load(brokenFile());
      expect(failed.statusCode).toBe(400);
      expect(failed.json().error).toMatch(/still serving version 2: Cannot load .*broken\.onnx: not a valid ONNX model/);
      const ok = await post('/v2/models/swap/infer', v2Body([diabetes.rows[0] as number[]]));
      expect(ok.json().model_version).toBe('2');
      const index = (await post('/v2/repository/index', {})).json() as Array<{ name: string; state: string; reason: string; version: string }>;
      const swap = index.find((m) => m.name === 'swap');
      expect(swap).toMatchObject({ state: 'READY', version: '2' });
      expect(swap?.reason).toMatch(/failed, still serving version 2/);
      expect((await post('/v2/repository/models/swap/unload', {})).statusCode).toBe(200);
      const after = await post('/v2/models/swap/infer', v2Body([diabetes.rows[0] as number[]]));
      expect(after.statusCode).toBe(503);
      expect(after.json().error).toMatch(/not ready \(unavailable: unloaded\)/);
      const ready = (await post('/v2/repository/index', { ready: true })).json() as Array<{ name: string }>;
      expect(ready.map((m) => m.name)).not.toContain('swap');
      expect((await post('/v2/repository/models/never/unload', {})).statusCode).toBe(404);
      expect((await post('/v2/repository/models/bad/load', { parameters: { uri: 5 } })).json().error).toBe('parameters.uri must be a string.');
    });

    it('exposes Prometheus metrics by model, version and status', async () => {
      await post('/v2/models/cancer/infer', v2Body([cancer.rows[0] as number[]]));
      await post('/v2/models/cancer/infer', { inputs: [] });
      const res = await h.app.inject('/metrics');
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toMatch(/slipway_serving_requests_total\{model="cancer",version="1",protocol="v2",status="200"\} \d+/);
      expect(res.body).toMatch(/slipway_serving_requests_total\{model="cancer",version="1",protocol="v2",status="400"\} \d+/);
      for (const name of ['slipway_serving_request_duration_seconds_bucket', 'slipway_serving_queue_duration_seconds_bucket', 'slipway_serving_model_load_duration_seconds_bucket', 'slipway_serving_queue_depth', 'slipway_serving_inflight_batches', 'slipway_serving_model_load_failures_total{model="swap"} 1']) {
        expect(res.body).toContain(name);
      }
    });

    it('reports each prediction to live monitoring with the request id, inputs and outputs', async () => {
      h.records.length = 0;
      const rows = cancer.rows.slice(0, 2);
      await post('/v2/models/cancer/infer', v2Body(rows), { 'x-request-id': 'trace-42' });
      const rec = h.records.at(-1);
      expect(rec).toMatchObject({ model: 'cancer', version: '1', requestId: 'trace-42', rows: 2, columns: cancer.columns, outputWidth: 1 });
      expect(Array.from(rec?.inputs ?? [])).toEqual(Array.from(new Float32Array(rows.flat())));
      maxRelativeError(Array.from(rec?.outputs ?? []), cancer.expected.slice(0, 2));
      expect(rec?.latencyMs).toBeGreaterThan(0);
      await post('/v2/models/cancer/infer', v2Body(rows, { id: 'v2-id' }));
      expect(h.records.at(-1)?.requestId).toBe('v2-id');
    });
  });
});

describe('model names', () => {
  it('serves a registered-style name with spaces and punctuation, URL-encoded in the path, and refuses a name with a slash', async () => {
    const h = await servingApp({}, undefined, { modelControl: 'explicit' });
    try {
      await h.manager.load('Breast cancer (v2)', fixture('breast_cancer_mlp.onnx'));
      const res = await h.app.inject({ method: 'POST', url: `/v2/models/${encodeURIComponent('Breast cancer (v2)')}/infer`, payload: v2Body([cancer.rows[0] as number[]]) });
      expect(res.statusCode).toBe(200);
      expect(res.json().model_name).toBe('Breast cancer (v2)');
      const bad = await h.app.inject({ method: 'POST', url: '/v2/repository/models/a%2Fb/load', payload: { parameters: { uri: fixture('breast_cancer_mlp.onnx') } } });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error).toMatch(/without '\/', '@' or control characters/);
    } finally {
      await h.close();
    }
  });
});
