/**
 * A text model: the tokenizer step in front of a transformer-style ONNX graph that takes
 * `input_ids` / `attention_mask` / `token_type_ids`. Users send text (a BYTES input); each
 * batch is tokenised and padded to its longest row (or to the maximum length), run, and
 * optionally mapped to the top-k labels with their softmax scores.
 */
import { SlipwayError } from '../core/errors.js';
import type { Runtime } from './model-runtime.js';
import type { ModelSignature, TensorSpec } from './model-signature.js';
import type { TensorData } from './tensor-types.js';
import { TOKEN_INPUTS, type Encoded, type TextTokenizer } from './text-model.js';

function bad(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message);
}

/** Tokenised texts kept from the request check for the batch run; bounded, since a request may never run. */
const CACHE_LIMIT = 4096;
/** Most characters of text held as keys of those kept (texts are already cut to the tokenizer's maxChars). */
const CACHE_CHARS = 8 * 1024 * 1024;

/** A graph wrapped with its tokenizer; its signature shows the text input the user sends. */
export class TextRuntime implements Runtime {
  readonly signature: ModelSignature;
  readonly tokenizer: TextTokenizer;
  readonly #inner: Runtime;
  readonly #graphInputs: TensorSpec[];
  readonly #logitsIndex: number | undefined;
  // Texts checked on the request path, so the batch run does not tokenise them twice.
  readonly #cache = new Map<string, Encoded>();
  #cachedChars = 0;

  constructor(inner: Runtime, tokenizer: TextTokenizer) {
    this.#inner = inner;
    this.tokenizer = tokenizer;
    const config = tokenizer.config;
    const graph = inner.signature;
    for (const spec of graph.inputs) {
      if (!(TOKEN_INPUTS as readonly string[]).includes(spec.name)) {
        throw bad(`The model's input '${spec.name}' is not one a tokenizer feeds (${TOKEN_INPUTS.join(', ')}).`);
      }
      if ((spec.datatype !== 'INT64' && spec.datatype !== 'INT32') || spec.shape.length !== 2) {
        throw bad(`The model's input '${spec.name}' is ${spec.datatype} [${spec.shape.join(', ')}]; a tokenizer feeds INT64 or INT32 [batch, sequence].`);
      }
    }
    if (!graph.inputs.some((s) => s.name === 'input_ids')) throw bad(`The model has no 'input_ids' input for the tokenizer to feed.`);
    this.#graphInputs = graph.inputs;
    const outputs = [...graph.outputs];
    if (config.labels) {
      const n = config.labels.length;
      const candidates = graph.outputs.map((s, i) => ({ s, i })).filter(({ s }) => (config.logits ? s.name === config.logits : s.datatype === 'FP32' && s.shape.length === 2 && s.shape[1] === n));
      const found = candidates[0];
      if (!found || (!config.logits && candidates.length > 1)) {
        throw bad(config.logits ? `The model has no output '${config.logits}' (named by "logits").` : `The model has ${candidates.length === 0 ? 'no' : 'more than one'} FP32 [batch, ${n}] output for ${n} labels; name the logits output with "logits".`);
      }
      if (found.s.datatype !== 'FP32' || found.s.shape.length !== 2 || (found.s.shape[1] !== n && found.s.shape[1] !== -1)) {
        throw bad(`The logits output '${found.s.name}' is ${found.s.datatype} [${found.s.shape.join(', ')}]; ${n} labels need FP32 [batch, ${n}].`);
      }
      this.#logitsIndex = found.i;
      const k = config.topK;
      outputs.push({ name: 'labels', datatype: 'BYTES', shape: [-1, k], parameters: { labels: config.labels } }, { name: 'scores', datatype: 'FP32', shape: [-1, k] });
    }
    const text: TensorSpec = {
      name: config.input,
      datatype: 'BYTES',
      shape: [-1],
      parameters: { tokenizer: tokenizer.kind, max_length: config.maxLength, truncation: config.truncation, graph_inputs: graph.inputs.map((s) => s.name) },
    };
    this.signature = { inputs: [text], outputs, batchable: true };
  }

  /**
   * Tokenises each text of a request before it is queued, so a bad one fails alone with a 400, and
   * returns the inputs to queue: each text cut to the part the tokenizer reads (TextTokenizer.bounded),
   * whose tokens are kept for the batch run, so a text is tokenised once and a long one is not held whole.
   */
  prepare(inputs: TensorData[]): TensorData[] {
    const texts = (inputs[0] as TensorData).data as string[];
    const read = texts.map((text, i) => {
      const where = `Input '${this.tokenizer.config.input}' element ${i}`;
      const cut = this.tokenizer.bounded(text, where);
      if (this.#cache.has(cut)) return cut;
      const encoded = this.tokenizer.encode(cut, where);
      // At most CACHE_LIMIT texts and CACHE_CHARS characters are held, so refused or timed-out requests cannot pile up memory.
      if (this.#cache.size >= CACHE_LIMIT || this.#cachedChars + cut.length > CACHE_CHARS) {
        this.#cache.clear();
        this.#cachedChars = 0;
      }
      this.#cache.set(cut, encoded);
      this.#cachedChars += cut.length;
      return cut;
    });
    return read.every((t, i) => t === texts[i]) ? inputs : [{ ...(inputs[0] as TensorData), data: read }, ...inputs.slice(1)];
  }

  async run(inputs: TensorData[]): Promise<TensorData[]> {
    const texts = (inputs[0] as TensorData).data as string[];
    const rows = texts.map((t, i) => {
      const hit = this.#cache.get(t);
      if (hit) {
        this.#cache.delete(t);
        this.#cachedChars -= t.length;
        return hit;
      }
      return this.tokenizer.encode(t, `Input '${this.tokenizer.config.input}' element ${i}`);
    });
    const width = this.tokenizer.config.padding === 'max_length' ? this.tokenizer.config.maxLength : rows.reduce((m, r) => Math.max(m, r.ids.length), 0);
    const feeds = this.#graphInputs.map((spec) => tokenTensor(spec, rows, width, this.tokenizer.padId));
    const outputs = await this.#inner.run(feeds);
    if (this.#logitsIndex === undefined) return outputs;
    return [...outputs, ...topK(outputs[this.#logitsIndex] as TensorData, this.tokenizer.config.labels as string[], this.tokenizer.config.topK)];
  }

  release(): Promise<void> {
    this.#cache.clear();
    this.#cachedChars = 0;
    return this.#inner.release();
  }
}

// Token ids are small non-negative integers: an INT64 tensor is filled through a 32-bit view of its
// low words (little-endian), which spares a BigInt per element.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function tokenTensor(spec: TensorSpec, rows: Encoded[], width: number, padId: number): TensorData {
  const n = rows.length * width;
  const wide = spec.datatype === 'INT64';
  const data = wide ? new BigInt64Array(n) : new Int32Array(n);
  const words = wide && LITTLE_ENDIAN ? new Int32Array(data.buffer) : undefined;
  const put = words ? (i: number, v: number) => (words[2 * i] = v) : wide ? (i: number, v: number) => ((data as BigInt64Array)[i] = BigInt(v)) : (i: number, v: number) => ((data as Int32Array)[i] = v);
  const value = spec.name === 'input_ids' ? (r: Encoded, j: number) => r.ids[j] as number : spec.name === 'attention_mask' ? () => 1 : (r: Encoded, j: number) => r.typeIds[j] as number;
  rows.forEach((r, row) => {
    const at = row * width;
    const len = r.ids.length;
    for (let j = 0; j < len; j++) {
      const v = value(r, j);
      if (v !== 0) put(at + j, v);
    }
    if (spec.name === 'input_ids' && padId !== 0) for (let j = len; j < width; j++) put(at + j, padId);
  });
  return { datatype: spec.datatype, shape: [rows.length, width], data };
}

/** Softmax over each row of `logits`, then the `k` best labels and their probabilities. */
function topK(logits: TensorData, labels: string[], k: number): [TensorData, TensorData] {
  const data = logits.data as Float32Array;
  const n = labels.length;
  const rows = logits.shape[0] as number;
  if (logits.shape[1] !== n) throw new SlipwayError('INTERNAL', `The model returned ${logits.shape[1]} logits per row for ${n} labels.`);
  const names: string[] = [];
  const scores = new Float32Array(rows * k);
  const p = new Float64Array(n);
  const order = Array.from({ length: n }, (_, j) => j);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, data[r * n + j] as number);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += p[j] = Math.exp((data[r * n + j] as number) - max);
    order.sort((a, b) => (p[b] as number) - (p[a] as number) || a - b);
    for (let j = 0; j < k; j++) {
      const c = order[j] as number;
      names.push(labels[c] as string);
      scores[r * k + j] = (p[c] as number) / sum;
    }
  }
  return [
    { datatype: 'BYTES', shape: [rows, k], data: names },
    { datatype: 'FP32', shape: [rows, k], data: scores },
  ];
}
