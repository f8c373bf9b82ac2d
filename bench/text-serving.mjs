/**
 * What the tokenizer step costs, against same-run baselines.
 *
 *   npm run build && node bench/text-serving.mjs [seconds] [--native DIR]
 *
 * 1. Serving: the transformer-style classifiers of test/fixtures/text (the tiny one, 32 wide
 *    with one block, and the small encoder, 128 wide with two blocks) served by `slipway serve`
 *    with their tokenizer (V2 requests carrying text), each against the same ONNX graph served
 *    alone and fed pre-tokenised tensors (input_ids / attention_mask / token_type_ids, each
 *    request padded to its longest row, tokenised beforehand by the same tokenizer). Both are
 *    driven by wrk cycling through 1,500 distinct review texts, 1 and 16 rows per request.
 *    Target: with its tokenizer >= 70 % of the pre-tokenised rows/s.
 * 2. Tokenisation alone, in this process: @huggingface/tokenizers (what serving uses) against
 *    Hugging Face's Rust `tokenizers` through its Node bindings, when `--native DIR` names a
 *    folder whose node_modules holds them (they are not a dependency of the project: 64 MB of
 *    native builds). Corpus: the review texts plus the tokenizer test corpus (accents, CJK,
 *    emoji, a 10,000-character text). Target: >= 50 % of the bindings' texts/s.
 * 3. Where the time goes, in this process: the tiny graph on 16-row batches fed pre-tokenised
 *    tensors, the same batches from text through the tokenizer step, and the tokenizer alone.
 * Needs wrk (Debian: apt-get install -y wrk).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelRuntime } from '../dist/serving/model-runtime.js';
import { TextTokenizer } from '../dist/serving/text-model.js';
import { TextRuntime } from '../dist/serving/text-runtime.js';
import { parseCsv } from '../dist/serving/mlflow-protocol.js';
import { fmt, root, scratch, startServe } from './serving-common.mjs';

const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 8);
const nativeAt = process.argv.indexOf('--native');
const nativeDir = nativeAt > 0 ? process.argv[nativeAt + 1] : undefined;
console.log(`${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average at start ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);

const FIXTURES = join(root, 'test', 'fixtures', 'text');
const texts = parseCsv(readFileSync(join(FIXTURES, 'reviews_train.csv'), 'utf8')).slice(1).map((r) => r[0]);
const MODELS = [
  { name: 'tiny transformer (32 wide, 1 block, 67 kB)', folder: 'transformer' },
  { name: 'small encoder (128 wide, 2 blocks, 1 MB)', folder: 'encoder_small' },
];
const tokenizer = await TextTokenizer.load(join(FIXTURES, 'transformer', 'model.onnx'));

function textBody(group, outputs) {
  return { body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [group.length], data: group }], outputs: outputs.map((name) => ({ name })) }), headers: JSON_HEADERS };
}

// Every byte as a decimal escape: a Lua long string would turn the body's CR LF pairs into LF.
const luaString = (b) => `"${Array.from(Buffer.from(b), (x) => `\\${x}`).join('')}"`;
const luaTable = (headers) => `{ ${Object.entries(headers).map(([k, v]) => `["${k}"] = "${v}"`).join(', ')} }`;

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** The group tokenised and padded to its longest row: three INT64 tensors as JSON, or with the binary extension. */
function tensorBody(group, binary) {
  const rows = group.map((t) => tokenizer.encode(t, 'text'));
  const width = Math.max(...rows.map((r) => r.ids.length));
  const pad = (values, fill) => rows.flatMap((r) => [...values(r), ...new Array(width - r.ids.length).fill(fill)]);
  const tensors = [
    ['input_ids', pad((r) => r.ids, tokenizer.padId)],
    ['attention_mask', pad((r) => r.ids.map(() => 1), 0)],
    ['token_type_ids', pad((r) => r.typeIds, 0)],
  ];
  const shape = [rows.length, width];
  if (!binary) return { body: JSON.stringify({ inputs: tensors.map(([name, data]) => ({ name, datatype: 'INT64', shape, data })) }), headers: JSON_HEADERS };
  const header = Buffer.from(JSON.stringify({ inputs: tensors.map(([name, data]) => ({ name, datatype: 'INT64', shape, parameters: { binary_data_size: data.length * 8 } })) }));
  const raw = tensors.map(([, data]) => Buffer.from(BigInt64Array.from(data, BigInt).buffer));
  return { body: Buffer.concat([header, ...raw]), headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': String(header.length) } };
}

function groups(size) {
  const out = [];
  for (let i = 0; i + size <= texts.length; i += size) out.push(texts.slice(i, i + size));
  return out;
}

/** wrk cycling through `bodies`; rows/s is requests/s times the rows per request. */
function drive(url, bodies) {
  const script = join(scratch, `bodies-${Math.random().toString(36).slice(2)}.lua`);
  const list = bodies.map((b) => luaString(b.body)).join(',\n');
  // Headers per body: a binary body's JSON header length is its own.
  const headers = bodies.map((b) => luaTable(b.headers)).join(',\n');
  writeFileSync(script, `local bodies = {\n${list}\n}\nlocal headers = {\n${headers}\n}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n  return wrk.format("POST", nil, headers[i], bodies[i])\nend\n`);
  const r = spawnSync('wrk', ['-t1', '-c16', `-d${seconds}s`, '--timeout', '10s', '-s', script, url], { encoding: 'utf8', timeout: (seconds + 30) * 1000 });
  if (r.status !== 0) throw new Error(`wrk failed: ${r.stderr || r.error}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.stdout)?.[1] ?? 0);
  if (non2xx > 0) throw new Error(`${non2xx} requests failed against ${url}`);
  return rps;
}

console.log('\n1. Serving (slipway serve, default options; wrk: 1 thread, 16 connections, %d s per run)', seconds);
for (const model of MODELS) {
  const textModel = join(FIXTURES, model.folder, 'model.onnx');
  // The same graph with no text-model.json beside it: served as it is, fed tensors.
  const graphDir = join(scratch, `${model.folder}-graph-only`);
  mkdirSync(graphDir, { recursive: true });
  copyFileSync(textModel, join(graphDir, 'model.onnx'));
  console.log(`  ${model.name}`);
  const served = { text: await startServe(textModel, ['--name', 'reviews']), graph: await startServe(join(graphDir, 'model.onnx'), ['--name', 'graph']) };
  try {
    for (const size of [1, 16]) {
      const g = groups(size);
      const asJson = g.map((x) => tensorBody(x, false));
      const asBinary = g.map((x) => tensorBody(x, true));
      const graph = (bodies) => drive(`${served.graph.url}/v2/models/graph/infer`, bodies) * size;
      const text = (outputs) => drive(`${served.text.url}/v2/models/reviews/infer`, g.map((x) => textBody(x, outputs))) * size;
      // Baselines, text, baselines again: each baseline is the mean of its runs on either side.
      const json1 = graph(asJson);
      const bin1 = graph(asBinary);
      const logits = text(['logits']);
      const labels = text(['labels', 'scores']);
      const json2 = graph(asJson);
      const bin2 = graph(asBinary);
      const json = (json1 + json2) / 2;
      const bin = (bin1 + bin2) / 2;
      const pct = (v, base) => `${((100 * v) / base).toFixed(0)} %`;
      console.log(`    ${String(size).padStart(2)} rows/request, rows/s: pre-tokenised JSON ${fmt(json)} (${fmt(json1)}, ${fmt(json2)}), binary ${fmt(bin)} (${fmt(bin1)}, ${fmt(bin2)})`);
      console.log(`        text → logits ${fmt(logits)} = ${pct(logits, json)} of JSON, ${pct(logits, bin)} of binary; text → top-3 labels and scores ${fmt(labels)} = ${pct(labels, json)}, ${pct(labels, bin)}  (target >= 70 %)`);
    }
  } finally {
    await served.text.stop();
    await served.graph.stop();
  }
}

console.log('\n2. Tokenisation alone (this process, one thread)');
const hard = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer_expected.json'), 'utf8')).corpus;
const corpus = [...texts, ...hard];
const chars = corpus.reduce((n, t) => n + t.length, 0);
const json = JSON.parse(readFileSync(join(FIXTURES, 'transformer', 'tokenizer.json'), 'utf8'));
const js = new Tokenizer(json, {});

async function rate(label, encodeAll) {
  await encodeAll();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < 3000) {
    await encodeAll();
    n += corpus.length;
  }
  const perSecond = (n / (performance.now() - start)) * 1000;
  console.log(`  ${label.padEnd(58)} ${fmt(perSecond).padStart(8)} texts/s`);
  return perSecond;
}

const jsRate = await rate('@huggingface/tokenizers 0.2.0, encode()', async () => {
  for (const t of corpus) js.encode(t);
});
if (nativeDir) {
  const native = createRequire(join(nativeDir, 'package.json'))('tokenizers');
  const version = createRequire(join(nativeDir, 'package.json'))('tokenizers/package.json').version;
  const nt = native.Tokenizer.fromFile(join(FIXTURES, 'transformer', 'tokenizer.json'));
  const seq = await rate(`tokenizers ${version} (Rust bindings), encode() one at a time`, async () => {
    for (const t of corpus) await nt.encode(t);
  });
  const batch = await rate(`tokenizers ${version} (Rust bindings), encodeBatch() (all cores)`, () => nt.encodeBatch(corpus));
  const best = Math.max(seq, batch);
  console.log(`  pure JS / best of the bindings: ${((100 * jsRate) / best).toFixed(0)} %  (target >= 50 %)`);
} else {
  console.log('  (no --native DIR: the Rust bindings were not compared)');
}
console.log(`  corpus: ${corpus.length} texts, ${fmt(chars)} characters`);

console.log('\n3. Where the time goes: the tiny graph on 16-row batches, in this process (inline session, one thread)');
{
  const path = join(FIXTURES, 'transformer', 'model.onnx');
  const graph = await ModelRuntime.load(path, { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: true });
  const text = new TextRuntime(graph, tokenizer);
  const batches = groups(16);
  const feeds = batches.map((g) => {
    const rows = g.map((t) => tokenizer.encode(t, 'text'));
    const width = Math.max(...rows.map((r) => r.ids.length));
    const tensor = (value) => {
      const data = new BigInt64Array(rows.length * width);
      rows.forEach((r, i) => {
        for (let j = 0; j < r.ids.length; j++) data[i * width + j] = BigInt(value(r, j));
      });
      return { datatype: 'INT64', shape: [rows.length, width], data };
    };
    return [tensor((r, j) => r.ids[j]), tensor(() => 1), tensor((r, j) => r.typeIds[j])];
  });
  const perRow = async (label, step) => {
    await step(0);
    const start = performance.now();
    let rows = 0;
    for (let k = 0; performance.now() - start < 3000; k++) {
      await step(k % batches.length);
      rows += 16;
    }
    const us = (1000 * (performance.now() - start)) / rows;
    console.log(`  ${label.padEnd(58)} ${us.toFixed(1).padStart(6)} µs/row`);
  };
  await perRow('graph fed pre-tokenised tensors', (k) => graph.run(feeds[k]));
  await perRow('text: request check (tokenises) + batch run', async (k) => {
    const inputs = [{ datatype: 'BYTES', shape: [16], data: batches[k] }];
    text.prepare(inputs);
    await text.run(inputs);
  });
  await perRow('the tokenizer alone', async (k) => {
    for (const t of batches[k]) tokenizer.encode(t, 'text');
  });
  await text.release();
}
