/**
 * Text models served over real HTTP with the real onnxruntime: a bag-of-words classifier
 * whose ONNX graph takes strings (StringNormalizer → StringSplit → TfIdfVectorizer → linear →
 * Softmax), and a tiny transformer-style classifier served with its tokenizer step. Answers
 * are compared with what scikit-learn and PyTorch computed on the same holdout texts
 * (test/fixtures/text/make_text_fixtures.py).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../src/serving/mlflow-protocol.js';
import { fixture, maxRelativeError, servingApp, type ServingHarness } from './support/serving.js';

const texts = parseCsv(readFileSync(fixture('text/reviews_holdout.csv'), 'utf8')).slice(1).map((r) => r[0] as string);
const expectedRows = (name: string) => parseCsv(readFileSync(fixture(`text/${name}`), 'utf8')).slice(1).map((r) => r.map(Number));
const bowExpected = expectedRows('bow_expected.csv');
const transformerExpected = expectedRows('transformer_expected.csv');
const LABELS = ['negative', 'neutral', 'positive'];

type Output = { name: string; datatype: string; shape: number[]; data: unknown[]; parameters?: Record<string, unknown> };

/** The binary tensor extension: a JSON header, then each BYTES element as a 4-byte little-endian length and its UTF-8 bytes. */
function lengthPrefixed(values: Array<string | Buffer>): Buffer {
  return Buffer.concat(values.flatMap((v) => {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return [len, b];
  }));
}

/** A copy of the transformer's folder with its text settings changed. */
function transformerCopy(settings: Record<string, unknown>, tokenizer?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-text-model-'));
  cpSync(fixture('text/transformer'), dir, { recursive: true });
  writeFileSync(join(dir, 'text-model.json'), JSON.stringify(settings));
  if (tokenizer !== undefined) writeFileSync(join(dir, 'tokenizer.json'), tokenizer);
  return join(dir, 'model.onnx');
}

const softmax = (row: number[]) => {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('text models', () => {
  let h: ServingHarness;
  let url: string;

  beforeAll(async () => {
    h = await servingApp({ executor: 'inline', maxBatchSize: 64 });
    await h.manager.load('bow', fixture('text/bow_classifier.onnx'));
    await h.manager.load('reviews', fixture('text/transformer/model.onnx'));
    await h.manager.load('strict', transformerCopy({ max_length: 12, labels: LABELS }));
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'));
    url = await h.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => h.close());

  const post = async (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers, body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) });
    const buf = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, buf, json: () => JSON.parse(buf.toString('utf8')) as Record<string, unknown> };
  };
  const outputs = (body: Record<string, unknown>) => Object.fromEntries((body.outputs as Output[]).map((o) => [o.name, o]));

  describe('a graph with a string input (bag of words)', () => {
    it('shows the string input in its metadata', async () => {
      const meta = (await (await fetch(`${url}/v2/models/bow`)).json()) as Record<string, unknown>;
      expect(meta.inputs).toEqual([{ name: 'text', datatype: 'BYTES', shape: [-1, 1] }]);
      expect((meta.outputs as Output[]).map((o) => [o.name, o.datatype])).toEqual([['probabilities', 'FP32'], ['label', 'INT64']]);
    });

    it("answers V2 JSON with scikit-learn's probabilities", async () => {
      const res = await post('/v2/models/bow/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length, 1], data: texts }] });
      expect(res.status, res.buf.toString()).toBe(200);
      const out = outputs(res.json());
      expect(out.probabilities?.shape).toEqual([texts.length, 3]);
      maxRelativeError(out.probabilities?.data as number[], bowExpected.flat());
      expect(out.label?.data).toEqual(bowExpected.map((p) => p.indexOf(Math.max(...(p as number[])))));
    });

    it('answers the binary tensor extension, BYTES elements length-prefixed, with binary outputs', async () => {
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length, 1], parameters: { binary_data_size: lengthPrefixed(texts).length } }], parameters: { binary_data_output: true } }));
      const res = await post('/v2/models/bow/infer', Buffer.concat([header, lengthPrefixed(texts)]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
      expect(res.status, res.buf.toString()).toBe(200);
      const headLength = Number(res.headers.get('inference-header-content-length'));
      const doc = JSON.parse(res.buf.subarray(0, headLength).toString()) as { outputs: Array<{ name: string; parameters: { binary_data_size: number } }> };
      const size = doc.outputs[0]?.parameters.binary_data_size as number;
      const bytes = res.buf.subarray(headLength, headLength + size);
      maxRelativeError(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), bowExpected.flat());
    });

    it('scores /invocations from a string column (dataframe_split, dataframe_records, instances, inputs, text/csv)', async () => {
      const first = bowExpected.slice(0, 5).flat();
      const some = texts.slice(0, 5);
      const csv = `review\n${some.map((t) => `"${t.replaceAll('"', '""')}"`).join('\n')}\n`;
      for (const [body, headers] of [
        [{ dataframe_split: { columns: ['review'], data: some.map((t) => [t]) } }, undefined],
        [{ dataframe_records: some.map((t) => ({ text: t })) }, undefined],
        [{ instances: some }, undefined],
        [{ inputs: { text: some.map((t) => [t]) } }, undefined],
        [csv, { 'content-type': 'text/csv' }],
      ] as Array<[unknown, Record<string, string> | undefined]>) {
        const res = await post('/models/bow/invocations', body, headers);
        expect(res.status, res.buf.toString()).toBe(200);
        const predictions = res.json().predictions as Record<string, unknown[]>;
        maxRelativeError((predictions.probabilities as number[][]).flat(), first);
      }
    });

    it('answers 400 naming the input for text that is not UTF-8, numbers where text is expected and the reverse, and a wrong shape', async () => {
      const latin1 = Buffer.from('caf\xe9', 'latin1');
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [2, 1], parameters: { binary_data_size: lengthPrefixed(['ok', latin1]).length } }] }));
      const cases: Array<[string, unknown, RegExp, Record<string, string>?]> = [
        ['/v2/models/bow/infer', Buffer.concat([header, lengthPrefixed(['ok', latin1])]), /Input 'text' BYTES element 1 is not valid UTF-8\./, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }],
        ['/v2/models/bow/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2, 1], data: ['fine', 42] }] }, /Input 'text' element 1 is number 42, not a string \(BYTES\)\./],
        ['/v2/models/bow/infer', { inputs: [{ name: 'text', datatype: 'FP32', shape: [1, 1], data: [1] }] }, /Input 'text' has datatype FP32 but the model expects BYTES\./],
        ['/v2/models/bow/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['a', 'b'] }] }, /Input 'text' has shape \[2\] but the model expects \[-1, 1\]/],
        ['/v2/models/cancer/infer', { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: ['great food', ...new Array(29).fill(0)] }] }, /Input 'features' element 0 is the string "great food", not a number\./],
        ['/models/bow/invocations', { dataframe_split: { columns: ['text'], data: [['fine'], [3.5]] } }, /Row 1, column 'text' is 3.5, not a string/],
      ];
      for (const [path, body, message, headers] of cases) {
        const res = await post(path, body, headers);
        expect(res.status, `${path} ${res.buf.toString()}`).toBe(400);
        const answer = res.json();
        expect(String(answer.error ?? answer.message)).toMatch(message);
      }
    });

    it('answers 400 naming the element for an empty text, or one of only spaces, as its explanations do', async () => {
      for (const empty of ['', '  \t\n']) {
        const v2 = await post('/v2/models/bow/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2, 1], data: ['fine', empty] }] });
        expect(v2.status, v2.buf.toString()).toBe(400);
        expect(v2.json().error).toBe("Input 'text' element 1 is empty (or only spaces); a text model needs some text.");
        const mlflow = await post('/models/bow/invocations', { dataframe_split: { columns: ['text'], data: [['fine'], [empty]] } });
        expect(mlflow.status).toBe(400);
        expect(JSON.stringify(mlflow.json())).toContain("Input 'text' element 1 is empty");
      }
      expect((await post('/v2/models/bow/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1, 1], data: [' fine '] }] })).status).toBe(200);
    });

    it('answers 400 naming the element for bytes that are not UTF-8 in V2 JSON, MLflow JSON and CSV (not U+FFFD in the text)', async () => {
      const bytes = (...parts: Array<string | Buffer>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
      const e9 = Buffer.from([0xe9]);
      const cases: Array<[string, Buffer, string, string]> = [
        ['/v2/models/bow/infer', bytes('{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [3, 1], "data": [["fine"], ["caf', e9, '"], ["ok"]]}]}'), 'application/json', "Input 'text' element 1 is not valid UTF-8."],
        ['/v2/models/reviews/infer', bytes('{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": ["café ☕", "na', e9, 've"]}]}'), 'application/json', "Input 'text' element 1 is not valid UTF-8."],
        ['/models/bow/invocations', bytes('{"dataframe_split": {"columns": ["text"], "data": [["fine"], ["caf', e9, '"]]}}'), 'application/json', 'The request body is not valid UTF-8: the string at dataframe_split.data[1][0] holds bytes that are not.'],
        ['/models/reviews/invocations', bytes('{"instances": ["fine", "caf', e9, '"]}'), 'application/json', 'The request body is not valid UTF-8: the string at instances[1] holds bytes that are not.'],
        ['/models/bow/invocations', bytes('text\nfine\n"caf', e9, ' au lait"\n'), 'text/csv', "CSV line 3, column 'text' is not valid UTF-8."],
      ];
      for (const [path, body, type, message] of cases) {
        const res = await post(path, body, { 'content-type': type });
        expect(res.status, `${path} ${res.buf.toString()}`).toBe(400);
        const answer = res.json();
        expect(String(answer.error ?? answer.message), path).toBe(message);
      }
      // Valid UTF-8 beyond ASCII is read as before, in JSON and CSV.
      expect((await post('/models/bow/invocations', bytes('text\n"café ☕ great"\n'), { 'content-type': 'text/csv' })).status).toBe(200);
      expect((await post('/v2/models/bow/infer', bytes('{"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1, 1], "data": [["café ☕ \ufffd"]]}]}'))).status).toBe(200);
    });
  });

  describe('a transformer-style graph served with its tokenizer', () => {
    it('shows the text input the user sends, the tokenizer, and the label outputs', async () => {
      const meta = (await (await fetch(`${url}/v2/models/reviews`)).json()) as Record<string, unknown>;
      expect(meta.inputs).toEqual([
        { name: 'text', datatype: 'BYTES', shape: [-1], parameters: { tokenizer: 'WordPiece', max_length: 64, truncation: true, graph_inputs: ['input_ids', 'attention_mask', 'token_type_ids'] } },
      ]);
      expect((meta.outputs as Output[]).map((o) => [o.name, o.datatype, o.shape])).toEqual([['logits', 'FP32', [-1, 3]], ['labels', 'BYTES', [-1, 3]], ['scores', 'FP32', [-1, 3]]]);
    });

    it("answers V2 JSON with PyTorch's probabilities, best labels first", async () => {
      const res = await post('/v2/models/reviews/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }] });
      expect(res.status, res.buf.toString()).toBe(200);
      const out = outputs(res.json());
      const logits = out.logits?.data as number[];
      const probabilities = transformerExpected.map((_, i) => softmax(logits.slice(i * 3, i * 3 + 3)));
      expect(Math.max(...probabilities.flat().map((p, i) => Math.abs(p - (transformerExpected.flat()[i] as number))))).toBeLessThan(1e-5);
      transformerExpected.forEach((p, i) => {
        const order = [0, 1, 2].sort((a, b) => (p[b] as number) - (p[a] as number));
        expect(out.labels?.data.slice(i * 3, i * 3 + 3)).toEqual(order.map((c) => LABELS[c]));
        (out.scores?.data.slice(i * 3, i * 3 + 3) as number[]).forEach((s, j) => expect(s).toBeCloseTo(p[order[j] as number] as number, 5));
      });
    });

    it('answers single texts sent concurrently (batched together) as it answers each alone', async () => {
      const some = texts.slice(0, 24);
      const answers = await Promise.all(some.map((t) => post('/v2/models/reviews/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: [t] }], outputs: [{ name: 'scores' }] })));
      answers.forEach((res, i) => {
        expect(res.status).toBe(200);
        const p = [...(transformerExpected[i] as number[])].sort((a, b) => b - a);
        (outputs(res.json()).scores?.data as number[]).forEach((s, j) => expect(s).toBeCloseTo(p[j] as number, 5));
      });
    });

    it("serves the wider two-block encoder with the same tokenizer as PyTorch computed it", async () => {
      await h.manager.load('encoder', fixture('text/encoder_small/model.onnx'));
      const res = await post('/v2/models/encoder/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }], outputs: [{ name: 'logits' }] });
      expect(res.status, res.buf.toString()).toBe(200);
      const logits = outputs(res.json()).logits?.data as number[];
      const expected = expectedRows('encoder_small_expected.csv');
      const probabilities = expected.map((_, i) => softmax(logits.slice(i * 3, i * 3 + 3)));
      expect(Math.max(...probabilities.flat().map((p, i) => Math.abs(p - (expected.flat()[i] as number))))).toBeLessThan(1e-5);
    });

    it('takes the binary extension and /invocations, and returns labels as BYTES', async () => {
      const some = texts.slice(0, 4);
      const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [4], parameters: { binary_data_size: lengthPrefixed(some).length } }], outputs: [{ name: 'labels', parameters: { binary_data: true } }] }));
      const res = await post('/v2/models/reviews/infer', Buffer.concat([header, lengthPrefixed(some)]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) });
      expect(res.status, res.buf.toString()).toBe(200);
      const head = Number(res.headers.get('inference-header-content-length'));
      const labels: string[] = [];
      for (let at = head; at < res.buf.length; ) {
        const len = res.buf.readUInt32LE(at);
        labels.push(res.buf.toString('utf8', at + 4, at + 4 + len));
        at += 4 + len;
      }
      const best = (p: number[]) => LABELS[p.indexOf(Math.max(...p))];
      expect(labels.filter((_, j) => j % 3 === 0)).toEqual(transformerExpected.slice(0, 4).map((p) => best(p)));
      const inv = await post('/models/reviews/invocations', { dataframe_records: some.map((t) => ({ review: t })) });
      expect(inv.status, inv.buf.toString()).toBe(200);
      expect(((inv.json().predictions as Record<string, string[][]>).labels ?? []).map((r) => r[0])).toEqual(transformerExpected.slice(0, 4).map((p) => best(p)));
    });

    it('truncates a text longer than the maximum when configured, else answers 400 naming the element; an empty text is a 400', async () => {
      const long = Array.from({ length: 3000 }, () => 'great').join(' ');
      const atMax = Array.from({ length: 62 }, () => 'great').join(' ');
      const both = await post('/v2/models/reviews/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: [long, atMax] }], outputs: [{ name: 'logits' }] });
      expect(both.status, both.buf.toString()).toBe(200);
      const logits = outputs(both.json()).logits?.data as number[];
      expect(logits.slice(0, 3)).toEqual(logits.slice(3, 6));
      const words = Array.from({ length: 60 }, () => 'great').join(' ');
      const strict = await post('/v2/models/strict/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['fine', words] }] });
      expect(strict.status).toBe(400);
      expect(strict.buf.toString()).toContain("Input 'text' element 1 has 62 tokens but the model takes at most 12; shorten it, or set \\\"truncation\\\": true in text-model.json.");
      // A very long text: only its first max_length x 32 characters are tokenised (this once answered 500 or froze the server).
      const huge = 'the food was great and lovely '.repeat(15_000);
      const cut = await post('/v2/models/reviews/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: [huge, huge.slice(0, 1200)] }], outputs: [{ name: 'logits' }] });
      expect(cut.status, cut.buf.toString()).toBe(200);
      const cutLogits = outputs(cut.json()).logits?.data as number[];
      expect(cutLogits.slice(0, 3)).toEqual(cutLogits.slice(3, 6));
      const refused = await post('/v2/models/strict/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['fine', huge] }] });
      expect(refused.status).toBe(400);
      expect(refused.buf.toString()).toContain(`Input 'text' element 1 has ${huge.length} characters but the model takes texts of at most 384 characters (max_length 12 x 32); shorten it, or set \\"truncation\\": true in text-model.json.`);
      for (const empty of ['', '   \t', '\u0000\u0007']) {
        const res = await post('/v2/models/reviews/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['fine', empty] }] });
        expect(res.status).toBe(400);
        expect(res.buf.toString()).toContain("Input 'text' element 1 is empty (or only spaces and control characters); a text model needs some text.");
      }
      // The refused request did not leave the model in a bad state.
      expect((await post('/v2/models/strict/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['fine'] }] })).status).toBe(200);
    });

    it('answers the same with the worker executor, whose sessions run off the main thread', async () => {
      const w = await servingApp({ executor: 'worker', concurrency: 2 });
      try {
        await w.manager.load('reviews', fixture('text/transformer/model.onnx'));
        const res = await w.app.inject({ method: 'POST', url: '/v2/models/reviews/infer', payload: { inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: texts.slice(0, 3) }], outputs: [{ name: 'scores' }] } });
        expect(res.statusCode, res.body).toBe(200);
        const scores = (JSON.parse(res.body) as { outputs: Output[] }).outputs[0]?.data as number[];
        transformerExpected.slice(0, 3).forEach((p, i) => expect(scores[i * 3]).toBeCloseTo(Math.max(...p), 5));
      } finally {
        await w.close();
      }
    });

    it('refuses to load a model whose tokenizer does not parse, naming the file', async () => {
      const broken = await h.manager.load('broken', transformerCopy({ labels: LABELS }, '{"model": {"type": "WordPiece"'));
      expect(broken).toMatchObject({ state: 'UNAVAILABLE', errorCode: 'INVALID_ARGUMENT' });
      // Where the file breaks, without quoting it.
      expect(broken.reason).toMatch(/The tokenizer .*tokenizer\.json is not valid JSON \(at character \d+\)\./);
      expect(broken.reason).not.toContain('WordPiece');
      const mislabelled = await h.manager.load('mislabelled', transformerCopy({ labels: ['a', 'b'] }));
      expect(mislabelled.reason).toContain('The model has no FP32 [batch, 2] output for 2 labels; name the logits output with "logits".');
      const res = await post('/v2/models/broken/infer', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['fine'] }] });
      expect(res.status).toBe(503);
    });
  });
});
