/**
 * The Open Inference Protocol (KServe V2) infer request and response: JSON tensors
 * and the binary tensor extension (`Inference-Header-Content-Length`,
 * `binary_data_size`, `binary_data` / `binary_data_output`).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { SlipwayError } from '../core/errors.js';
import { nonTensorOutputReason, type ModelSignature, type TensorSpec } from './model-signature.js';
import { bigintJson, exactBody, holdsExact, markExact, rememberRaw, type ExactInteger } from './exact-json.js';
import { splitNumberLists } from './number-lists.js';
import { DATATYPES, type TensorData } from './tensor-types.js';
import { batchRows, checkDeclared, tensorFromBinary, tensorFromJson, type NonFinitePolicy } from './tensor-validation.js';

/** A decoded infer request, inputs in signature order. */
export interface V2Request {
  id: string | undefined;
  inputs: TensorData[];
  rows: number;
  /** Outputs to return, in order, each with whether to send it as binary. */
  outputs: Array<{ spec: TensorSpec; index: number; binary: boolean }>;
}

function bad(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message);
}

function malformed(message: string): SlipwayError {
  return new SlipwayError('MALFORMED_REQUEST', message);
}

/** Splits a body that carries binary tensors into its JSON header and the bytes after it. */
export function splitBinaryBody(body: Buffer, headerLength: string): { header: unknown; binary: Buffer } {
  const n = Number(headerLength);
  if (!/^\d+$/.test(headerLength) || !Number.isSafeInteger(n)) throw malformed(`Inference-Header-Content-Length '${headerLength}' is not a byte count.`);
  if (n > body.length) throw malformed(`Inference-Header-Content-Length is ${n} but the body has only ${body.length} bytes.`);
  return { header: parseJson(body.subarray(0, n)), binary: body.subarray(n) };
}

export { ExactInteger, stringifyJson } from './exact-json.js';

/**
 * Parses a JSON body, with a 400 naming the position of a syntax error. The text is
 * remembered with the result, so a model with INT64/UINT64 inputs can read integers
 * beyond ±2^53 exactly (see exact-json.ts).
 */
export function parseJson(bytes: Buffer | string): unknown {
  let parsed: unknown;
  const ascii = typeof bytes !== 'string' && isAscii(bytes);
  try {
    // An ASCII body (nearly all JSON) decodes as latin1 to a one-byte string, which V8 parses ~10 % faster.
    parsed = JSON.parse(typeof bytes === 'string' ? bytes : ascii ? bytes.toString('latin1') : bytes.toString('utf8'));
  } catch (err) {
    throw malformed(`The request body is not valid JSON: ${(err as Error).message}`);
  }
  // Decoding turns bytes that are not UTF-8 into U+FFFD; the decoders refuse such a body naming the string that held them.
  if (typeof bytes !== 'string' && !ascii && !isUtf8(bytes)) {
    if (typeof parsed !== 'object' || parsed === null) throw bad('The request body is not valid UTF-8.');
    NOT_UTF8.add(parsed);
  }
  rememberRaw(parsed, bytes);
  return parsed;
}

/** Documents parsed from a body that was not valid UTF-8. */
const NOT_UTF8 = new WeakSet<object>();

/**
 * Undefined when `parsed` came from a valid UTF-8 body (or not from parseJson); else the path of the
 * first string holding U+FFFD (where a bad byte was decoded), or '' when no string holds one.
 */
export function notUtf8At(parsed: unknown): string | undefined {
  if (typeof parsed !== 'object' || parsed === null || !NOT_UTF8.has(parsed)) return undefined;
  const walk = (v: unknown, path: string): string | undefined => {
    if (typeof v === 'string') return v.includes('\ufffd') ? path : undefined;
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) {
        const found = walk(x, `${path}[${i}]`);
        if (found !== undefined) return found;
      }
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        const found = k.includes('\ufffd') ? `${path}${path ? '.' : ''}${k}` : walk(x, `${path}${path ? '.' : ''}${k}`);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return walk(parsed, '') ?? '';
}

/** Throws a 400 naming the input and element when `parsed` came from a body that was not valid UTF-8. */
function refuseNotUtf8(parsed: unknown): void {
  const at = notUtf8At(parsed);
  if (at === undefined) return;
  const m = /^inputs\[(\d+)\]\.data((?:\[\d+\])+)$/.exec(at);
  const input = m ? ((parsed as { inputs: Array<{ name?: unknown; shape?: unknown }> }).inputs[Number(m[1])] ?? {}) : undefined;
  if (m && input && typeof input.name === 'string') {
    // The element's index in the flattened tensor: nested lists are read row-major.
    const indices = [...(m[2] as string).matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]));
    const data = (parsed as { inputs: Array<{ data: unknown }> }).inputs[Number(m[1])]?.data;
    throw bad(`Input '${input.name}' element ${flatIndex(data, indices)} is not valid UTF-8.`);
  }
  throw bad(at ? `The request body is not valid UTF-8 (at ${at}).` : 'The request body is not valid UTF-8.');
}

/** The row-major index of the element at `indices` in nested lists. */
function flatIndex(data: unknown, indices: number[]): number {
  let index = 0;
  let level: unknown = data;
  for (const i of indices) {
    if (!Array.isArray(level)) break;
    for (let k = 0; k < i; k++) index += leaves(level[k]);
    level = level[i];
  }
  return index;
}

function leaves(v: unknown): number {
  return Array.isArray(v) ? v.reduce((n: number, x) => n + leaves(x), 0) : 1;
}

/**
 * Decodes a JSON infer request body (no binary part): the same answer, or the same error,
 * as `decodeV2Request(parseJson(body), ...)`. For a model whose inputs are all FP32 or FP64,
 * the `data` number lists are first read straight from the bytes and only the rest of the
 * document goes through JSON.parse (number-lists.ts); a body that does not fit that path, or
 * fails any check on it, is then parsed and checked in full.
 */
export function decodeV2Body(body: Buffer, sig: ModelSignature, policy: NonFinitePolicy): V2Request {
  const datatype = sig.inputs[0]?.datatype;
  // Lists are stored straight in the inputs' own array type, so all inputs must share it.
  if ((datatype === 'FP32' || datatype === 'FP64') && sig.inputs.every((s) => s.datatype === datatype)) {
    const fast = decodeNumberLists(body, sig, policy, datatype === 'FP32' ? Float32Array : Float64Array);
    if (fast) return fast;
  }
  return decodeV2Request(parseJson(body), sig, policy);
}

function decodeNumberLists(body: Buffer, sig: ModelSignature, policy: NonFinitePolicy, ListArray: Float32ArrayConstructor | Float64ArrayConstructor): V2Request | undefined {
  const split = splitNumberLists<Float32Array | Float64Array>(body, sig.inputs.length, ListArray);
  if (!split) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(split.skeleton);
  } catch {
    return undefined;
  }
  // Every list must be the `data` of an input, in order; a list found anywhere else means the full path.
  if (!isObject(doc) || !Array.isArray(doc.inputs) || doc.inputs.length !== split.lists.length) return undefined;
  for (const [k, t] of doc.inputs.entries()) {
    if (!isObject(t) || t.data !== k) return undefined;
    t.data = split.lists[k];
  }
  try {
    return decodeV2Request(doc, sig, policy);
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes and validates an infer request against `sig`; `binary` holds the bytes after the JSON header, if any. */
export function decodeV2Request(parsed: unknown, sig: ModelSignature, policy: NonFinitePolicy, binary?: Buffer): V2Request {
  refuseNotUtf8(parsed);
  const body = exactBody(parsed, sig);
  if (!isObject(body)) throw malformed('The infer request must be a JSON object with an "inputs" list.');
  const { id, inputs, outputs, parameters } = body;
  if (id !== undefined && typeof id !== 'string') throw bad(`"id" must be a string, got ${typeof id}.`);
  if (!Array.isArray(inputs) || inputs.length === 0) throw bad('"inputs" must be a non-empty list of tensors.');
  if (parameters !== undefined && !isObject(parameters)) throw bad('"parameters" must be an object.');
  const byName = new Map<string, Record<string, unknown>>();
  for (const [i, t] of inputs.entries()) {
    if (!isObject(t) || typeof t.name !== 'string') throw bad(`inputs[${i}] must be an object with a string "name".`);
    if (byName.has(t.name)) throw bad(`Input '${t.name}' is given twice.`);
    if (!sig.inputs.some((s) => s.name === t.name)) {
      throw bad(`Unexpected input '${t.name}'; the model expects ${sig.inputs.map((s) => `'${s.name}'`).join(', ')}.`);
    }
    byName.set(t.name, t);
  }
  let offset = 0;
  const tensors = sig.inputs.map((spec) => {
    const t = byName.get(spec.name);
    if (!t) throw bad(`Missing input '${spec.name}' (${spec.datatype}, shape [${spec.shape.join(', ')}]).`);
    const { shape } = checkDeclared(spec, t.datatype, t.shape);
    const params = t.parameters;
    if (params !== undefined && !isObject(params)) throw bad(`Input '${spec.name}' "parameters" must be an object.`);
    const size = params?.binary_data_size;
    if (size !== undefined) {
      if (!binary) throw bad(`Input '${spec.name}' has binary_data_size but the request has no Inference-Header-Content-Length header (no binary part).`);
      if (!Number.isSafeInteger(size) || (size as number) < 0) throw bad(`Input '${spec.name}' binary_data_size must be a non-negative integer.`);
      if (t.data !== undefined) throw bad(`Input '${spec.name}' has both "data" and binary_data_size; send one.`);
      const end = offset + (size as number);
      if (end > binary.length) throw bad(`Input '${spec.name}' binary_data_size ${size} runs past the end of the body (${binary.length - offset} bytes left).`);
      const slice = binary.subarray(offset, end);
      offset = end;
      return tensorFromBinary(spec, shape, slice, policy);
    }
    if (t.data === undefined) throw bad(`Input '${spec.name}' has no "data" (and no binary_data_size).`);
    return tensorFromJson(spec, shape, t.data, policy);
  });
  if (binary && offset !== binary.length) {
    throw bad(`The binary part has ${binary.length} bytes but the inputs' binary_data_size add up to ${offset}.`);
  }
  const rows = sig.batchable ? batchRows(sig.inputs, tensors) : 1;
  const allBinary = parameters?.binary_data_output === true;
  let selected: V2Request['outputs'];
  if (outputs === undefined) {
    selected = sig.outputs.map((spec, index) => ({ spec, index, binary: allBinary }));
  } else {
    if (!Array.isArray(outputs)) throw bad('"outputs" must be a list of {name} objects.');
    selected = outputs.map((o, i) => {
      if (!isObject(o) || typeof o.name !== 'string') throw bad(`outputs[${i}] must be an object with a string "name".`);
      const index = sig.outputs.findIndex((s) => s.name === o.name);
      if (index < 0 && sig.nonTensorOutputs?.includes(o.name)) throw bad(nonTensorOutputReason(sig, o.name));
      if (index < 0) throw bad(`Unknown output '${o.name}'; the model has ${sig.outputs.map((s) => `'${s.name}'`).join(', ')}.`);
      const p = o.parameters;
      const binaryFlag = isObject(p) && typeof p.binary_data === 'boolean' ? p.binary_data : allBinary;
      return { spec: sig.outputs[index] as TensorSpec, index, binary: binaryFlag };
    });
  }
  return { id, inputs: tensors, rows, outputs: selected };
}

/**
 * An encoded response: a JSON document, and raw bytes to append when some outputs are binary.
 * Write `json` with `stringifyJson` so INT64/UINT64 values beyond ±2^53 stay exact.
 */
export interface V2Response {
  json: Record<string, unknown>;
  /** Present when binary outputs follow the JSON header. */
  binary?: Buffer[];
}

/** Encodes an infer response. */
export function encodeV2Response(model: { name: string; version: string }, req: V2Request, outputs: TensorData[]): V2Response {
  const binary: Buffer[] = [];
  const outs = req.outputs.map(({ spec, index, binary: asBinary }) => {
    const t = outputs[index] as TensorData;
    if (asBinary) {
      const bytes = tensorBytes(t);
      binary.push(bytes);
      return { name: spec.name, datatype: t.datatype, shape: t.shape, parameters: { binary_data_size: bytes.length } };
    }
    return { name: spec.name, datatype: t.datatype, shape: t.shape, data: jsonData(t) };
  });
  const json: Record<string, unknown> = { model_name: model.name, model_version: model.version, ...(req.id !== undefined ? { id: req.id } : {}), outputs: outs };
  if (outs.some((o) => holdsExact(o.data))) markExact(json);
  return binary.length > 0 ? { json, binary } : { json };
}

/**
 * The JSON text of a response whose outputs are all JSON and plain numbers (floats, or
 * integers of up to 32 bits), written straight from the typed arrays: the common 1-row
 * answer skips building the document and JSON.stringify walking it. Undefined when any
 * output is binary, BOOL, FP16, BYTES or 64-bit; those take `encodeV2Response`. The text
 * is what `stringifyJson(encodeV2Response(...).json)` gives.
 */
export function v2ResponseText(model: { name: string; version: string }, req: V2Request, outputs: TensorData[]): string | undefined {
  let text = `{"model_name":${JSON.stringify(model.name)},"model_version":${JSON.stringify(model.version)}`;
  if (req.id !== undefined) text += `,"id":${JSON.stringify(req.id)}`;
  text += ',"outputs":[';
  for (let k = 0; k < req.outputs.length; k++) {
    const o = req.outputs[k] as V2Request['outputs'][number];
    const t = outputs[o.index] as TensorData;
    const d = t.data;
    if (o.binary || Array.isArray(d) || t.datatype === 'BOOL' || t.datatype === 'FP16' || d instanceof BigInt64Array || d instanceof BigUint64Array) return undefined;
    text += `${k > 0 ? ',' : ''}{"name":${JSON.stringify(o.spec.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}],"data":[`;
    for (let i = 0; i < d.length; i++) {
      const v = d[i] as number;
      // JSON.stringify's number form: String(v) for finite values (-0 as 0), null otherwise.
      text += `${i > 0 ? ',' : ''}${Number.isFinite(v) ? v : 'null'}`;
    }
    text += ']}';
  }
  return `${text}]}`;
}

/**
 * Tensor values as JSON-friendly numbers, booleans or strings (row-major, flat); 64-bit
 * integers beyond ±2^53 as `ExactInteger`s, which `stringifyJson` writes digit for digit.
 */
export function jsonData(t: TensorData): Array<number | boolean | string | ExactInteger> {
  const d = t.data;
  if (Array.isArray(d)) return d;
  if (t.datatype === 'BOOL') return Array.from(d as Uint8Array, (v) => v !== 0);
  if (t.datatype === 'FP16') return Array.from(d as Uint16Array, halfToNumber);
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return bigintJson(d);
  return Array.from(d as Float32Array);
}

/** Raw little-endian bytes of a tensor (BYTES: 4-byte length + UTF-8 per element). */
export function tensorBytes(t: TensorData): Buffer {
  const d = t.data;
  if (Array.isArray(d)) {
    const parts: Buffer[] = [];
    for (const s of d) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
    }
    return Buffer.concat(parts);
  }
  return Buffer.from(d.buffer, d.byteOffset, d.length * DATATYPES[t.datatype].size);
}

function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 0x1f) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
