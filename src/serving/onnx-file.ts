/**
 * Reading ONNX files before onnxruntime does: a quick check that a path is a
 * readable ONNX model (so a wrong path gets one clear sentence, not onnxruntime's
 * text), and the protobuf field walking the graph rewrites build on.
 *
 * The protobuf wire format is read by hand: only a handful of ModelProto fields
 * are needed, and no protobuf library is among the dependencies.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';

/** One protobuf field: its number, wire type, and for length-delimited fields the bytes. */
export interface ProtoField {
  field: number;
  wire: number;
  /** Varint value (wire type 0). */
  int?: bigint;
  /** Payload of a length-delimited field (wire type 2). */
  bytes?: Buffer;
  /** The whole field as encoded (key included), to copy it unchanged. */
  raw: Buffer;
}

function readVarint(buf: Buffer, at: number): { value: bigint; next: number } | undefined {
  let value = 0n;
  let shift = 0n;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i] as number;
    value |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
    shift += 7n;
  }
  return undefined;
}

/** The fields of one protobuf message, in order; throws on malformed data. */
export function protoFields(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  let at = 0;
  while (at < buf.length) {
    const start = at;
    const k = readVarint(buf, at);
    if (!k) throw new Error(`truncated field key at byte ${at}`);
    const field = Number(k.value >> 3n);
    const wire = Number(k.value & 7n);
    at = k.next;
    if (field === 0) throw new Error(`field number 0 at byte ${start}`);
    let f: ProtoField;
    if (wire === 0) {
      const v = readVarint(buf, at);
      if (!v) throw new Error(`truncated varint at byte ${at}`);
      at = v.next;
      f = { field, wire, int: v.value, raw: buf.subarray(start, at) };
    } else if (wire === 2) {
      const len = readVarint(buf, at);
      if (!len || len.next + Number(len.value) > buf.length) throw new Error(`length-delimited field ${field} runs past the end at byte ${start}`);
      const end = len.next + Number(len.value);
      f = { field, wire, bytes: buf.subarray(len.next, end), raw: buf.subarray(start, end) };
      at = end;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
      if (at > buf.length) throw new Error(`fixed-size field ${field} runs past the end`);
      f = { field, wire, raw: buf.subarray(start, at) };
    } else {
      throw new Error(`unsupported wire type ${wire} at byte ${start}`);
    }
    out.push(f);
  }
  return out;
}

/** Encodes a varint. */
export function varint(n: number | bigint): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

/** Encodes a length-delimited field. */
export function lengthDelimited(field: number, payload: Buffer | string): Buffer {
  const b = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([varint((field << 3) | 2), varint(b.length), b]);
}

/** Encodes a varint field. */
export function varintField(field: number, n: number | bigint): Buffer {
  return Buffer.concat([varint(field << 3), varint(n)]);
}

// ModelProto: ir_version = 1, graph = 7. Anything else at the top level is copied through.
const MODEL_IR_VERSION = 1;
const MODEL_GRAPH = 7;
/** Top-level fields read before giving up on finding the graph (real models have a dozen). */
const MAX_TOP_LEVEL_FIELDS = 100_000;

/**
 * Why `path` cannot be an ONNX model — `file not found`, `not readable (permission
 * denied)`, `a directory, not a file`, `not a valid ONNX model (…)` — or undefined when
 * it looks like one. Reads only the key and length of each top-level protobuf field, so
 * it costs a few small reads whatever the size of the weights.
 */
export async function onnxFileProblem(path: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'file not found';
    if (code === 'EACCES' || code === 'EPERM') return 'file not readable (permission denied)';
    if (code === 'EISDIR') return 'it is a directory, not an .onnx file';
    return `file not readable (${(err as Error).message})`;
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) return 'it is a directory, not an .onnx file';
    if (info.size === 0) return 'not a valid ONNX model (the file is empty)';
    const head = Buffer.alloc(20);
    let at = 0;
    let sawGraph = false;
    let sawIrVersion = false;
    for (let n = 0; at < info.size && n < MAX_TOP_LEVEL_FIELDS; n++) {
      const { bytesRead } = await handle.read(head, 0, head.length, at);
      const chunk = head.subarray(0, bytesRead);
      const k = readVarint(chunk, 0);
      const field = k ? Number(k.value >> 3n) : 0;
      const wire = k ? Number(k.value & 7n) : -1;
      if (!k || field === 0 || ![0, 1, 2, 5].includes(wire)) return notOnnx(at);
      let next = k.next;
      if (wire === 0) {
        const v = readVarint(chunk, next);
        if (!v) return notOnnx(at);
        next = v.next;
        if (field === MODEL_IR_VERSION) sawIrVersion = true;
      } else if (wire === 2) {
        const len = readVarint(chunk, next);
        if (!len) return notOnnx(at);
        next = len.next + Number(len.value);
        if (field === MODEL_GRAPH) sawGraph = true;
      } else {
        next += wire === 1 ? 8 : 4;
      }
      if (at + next > info.size) return 'not a valid ONNX model (it is truncated or not ONNX protobuf data)';
      at += next;
    }
    if (!sawGraph || !sawIrVersion) return `not a valid ONNX model (it has no ${sawGraph ? 'IR version' : 'graph'})`;
    return undefined;
  } catch (err) {
    return `file not readable (${(err as Error).message})`;
  } finally {
    await handle.close();
  }
}

function notOnnx(at: number): string {
  return at === 0 ? 'not a valid ONNX model (it is not ONNX protobuf data)' : `not a valid ONNX model (malformed protobuf at byte ${at})`;
}

// GraphProto: node = 1, input = 11, output = 12. NodeProto: input = 1, output = 2, name = 3,
// op_type = 4, attribute = 5, domain = 7. AttributeProto: name = 1, ints = 8, strings = 9.
// ValueInfoProto: name = 1.
const GRAPH_NODE = 1;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;

/** An output whose ZipMap was taken away: it now returns the probabilities the ZipMap read. */
export interface ZipMapOutput {
  name: string;
  /** The class labels, in the order of the probability columns. */
  classes: Array<number | string>;
}

function text(f: ProtoField | undefined): string {
  return f?.bytes?.toString('utf8') ?? '';
}

function repeatedInts(fields: ProtoField[], field: number): bigint[] {
  const out: bigint[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire === 0) out.push(f.int as bigint);
    else if (f.wire === 2) {
      // Packed encoding: varints back to back.
      const bytes = f.bytes as Buffer;
      let at = 0;
      while (at < bytes.length) {
        const v = readVarint(bytes, at);
        if (!v) throw new Error('truncated packed varint');
        out.push(v.value);
        at = v.next;
      }
    }
  }
  // int64 values travel as two's complement varints.
  return out.map((v) => BigInt.asIntN(64, v));
}

/**
 * Rewrites a model whose outputs end in scikit-learn's ZipMap (ai.onnx.ml; a sequence of
 * {class: probability} maps, which onnxruntime-node cannot return) so that each such output
 * returns the ZipMap's input instead: an FP32 tensor [N, classes] with one probability column
 * per class. Returns undefined when there is nothing to rewrite. A model that keeps its
 * weights in external data files is rewritten too: load it with `fromMemoryOptions`, so
 * onnxruntime finds those files beside the original.
 */
export function stripZipMap(model: Buffer): { model: Buffer; outputs: ZipMapOutput[] } | undefined {
  const top = protoFields(model);
  const graphField = top.find((f) => f.field === MODEL_GRAPH && f.wire === 2);
  if (!graphField) return undefined;
  const graph = protoFields(graphField.bytes as Buffer);
  const outputNames = new Set(graph.filter((f) => f.field === GRAPH_OUTPUT).map((f) => text(protoFields(f.bytes as Buffer).find((v) => v.field === 1))));
  const replaced = new Map<ProtoField, { input: string; output: ZipMapOutput }>();
  for (const f of graph) {
    if (f.field !== GRAPH_NODE) continue;
    const node = protoFields(f.bytes as Buffer);
    if (text(node.find((x) => x.field === 4)) !== 'ZipMap' || text(node.find((x) => x.field === 7)) !== 'ai.onnx.ml') continue;
    const inputs = node.filter((x) => x.field === 1).map(text);
    const outputs = node.filter((x) => x.field === 2).map(text);
    const out = outputs[0];
    if (inputs.length !== 1 || outputs.length !== 1 || out === undefined || !outputNames.has(out)) continue;
    let classes: Array<number | string> = [];
    for (const a of node.filter((x) => x.field === 5)) {
      const attr = protoFields(a.bytes as Buffer);
      const name = text(attr.find((x) => x.field === 1));
      if (name === 'classlabels_int64s') classes = repeatedInts(attr, 8).map((v) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()));
      else if (name === 'classlabels_strings') classes = attr.filter((x) => x.field === 9).map(text);
    }
    if (classes.length === 0) continue;
    replaced.set(f, { input: inputs[0] as string, output: { name: out, classes } });
  }
  if (replaced.size === 0) return undefined;
  const byOutput = new Map([...replaced.values()].map((r) => [r.output.name, r.output]));
  // The batch dimension keeps the name of the first input's, so the rewritten output batches with it.
  const firstInput = graph.find((f) => f.field === GRAPH_INPUT);
  const batchDim = firstInput ? firstDim(firstInput.bytes as Buffer) : undefined;
  const parts = graph.map((f) => {
    const r = replaced.get(f);
    if (r) return lengthDelimited(GRAPH_NODE, Buffer.concat([lengthDelimited(1, r.input), lengthDelimited(2, r.output.name), lengthDelimited(3, `served_${r.output.name}`), lengthDelimited(4, 'Identity')]));
    if (f.field === GRAPH_OUTPUT) {
      const name = text(protoFields(f.bytes as Buffer).find((v) => v.field === 1));
      const z = byOutput.get(name);
      if (z) {
        const batch = batchDim ?? lengthDelimited(1, lengthDelimited(2, 'N'));
        const shape = lengthDelimited(2, Buffer.concat([batch, lengthDelimited(1, varintField(1, z.classes.length))]));
        const tensorType = lengthDelimited(1, Buffer.concat([varintField(1, 1), shape]));
        return lengthDelimited(GRAPH_OUTPUT, Buffer.concat([lengthDelimited(1, name), lengthDelimited(2, tensorType)]));
      }
    }
    return f.raw;
  });
  const rebuilt = top.map((f) => (f === graphField ? lengthDelimited(MODEL_GRAPH, Buffer.concat(parts)) : f.raw));
  return { model: Buffer.concat(rebuilt), outputs: [...byOutput.values()] };
}

// The first dimension (encoded TensorShapeProto.Dimension field) of a tensor ValueInfoProto, if any.
function firstDim(valueInfo: Buffer): Buffer | undefined {
  try {
    const type = protoFields(valueInfo).find((f) => f.field === 2);
    const tensor = type && protoFields(type.bytes as Buffer).find((f) => f.field === 1);
    const shape = tensor && protoFields(tensor.bytes as Buffer).find((f) => f.field === 2);
    const dim = shape && protoFields(shape.bytes as Buffer).find((f) => f.field === 1);
    return dim?.raw;
  } catch {
    return undefined;
  }
}

/**
 * Session options for a model rewritten from the file at `onnxPath` and loaded from memory:
 * onnxruntime resolves the external data files of a model loaded from bytes only within the
 * folder this names, the original file's.
 */
export function fromMemoryOptions(onnxPath: string, options: InferenceSession.SessionOptions = {}): InferenceSession.SessionOptions {
  const extra = (options.extra ?? {}) as Record<string, unknown>;
  const session = (extra.session ?? {}) as Record<string, unknown>;
  return { ...options, extra: { ...extra, session: { ...session, model_external_initializers_file_folder_path: dirname(resolve(onnxPath)) } } };
}

/**
 * For a model with non-tensor outputs: the model with its ZipMaps taken away (see
 * `stripZipMap`), or undefined when that cannot help (other kinds of outputs).
 */
export async function withoutZipMaps(onnxPath: string): Promise<{ model: Buffer; outputs: ZipMapOutput[] } | undefined> {
  try {
    return stripZipMap(await readFile(onnxPath));
  } catch {
    // onnxruntime has read the file already; anything this reader cannot follow is served as it is.
    return undefined;
  }
}
