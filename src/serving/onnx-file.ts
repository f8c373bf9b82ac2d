/**
 * Reading ONNX files before onnxruntime does: a quick check that a path is a
 * readable ONNX model (so a wrong path gets one clear sentence, not onnxruntime's
 * text), and the protobuf field walking the graph rewrites build on.
 *
 * The protobuf wire format is read by hand: only a handful of ModelProto fields
 * are needed, and no protobuf library is among the dependencies.
 */
import { open } from 'node:fs/promises';

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
