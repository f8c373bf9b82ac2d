/**
 * Checks request tensors against the model's signature and converts them into
 * typed arrays in one pass. Every error is a 400 naming the input and what was
 * expected. JSON numbers go straight into the target typed array; binary tensors
 * become views on the request bytes when aligned.
 */
import { isUtf8 } from 'node:buffer';
import { SlipwayError } from '../core/errors.js';
import type { TensorSpec } from './model-signature.js';
import { DATATYPES, allocate, elementCount, formatShape, isDatatype, type TensorData, type TensorValues, type V2Datatype } from './tensor-types.js';

/** What to do with NaN and ±Infinity. */
export type NonFinitePolicy = 'reject' | 'allow';

function bad(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message);
}

/** Checks a declared datatype and shape against the input's spec; returns the typed shape. */
export function checkDeclared(spec: TensorSpec, datatype: unknown, shape: unknown): { datatype: V2Datatype; shape: number[] } {
  const name = spec.name;
  if (!isDatatype(datatype)) throw bad(`Input '${name}' has datatype '${String(datatype)}', which is not a protocol datatype; the model expects ${spec.datatype}.`);
  if (datatype !== spec.datatype) throw bad(`Input '${name}' has datatype ${datatype} but the model expects ${spec.datatype}.`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`Input '${name}' has shape ${JSON.stringify(shape)}; a shape is a list of non-negative integers (the model expects ${formatShape(spec.shape)}).`);
  }
  const dims = shape as number[];
  if (dims.length !== spec.shape.length || spec.shape.some((d, i) => d >= 0 && d !== dims[i])) {
    throw bad(`Input '${name}' has shape ${formatShape(dims)} but the model expects ${formatShape(spec.shape)} (-1 = any size).`);
  }
  return { datatype, shape: dims };
}

/** Converts JSON `data` (flat or nested, row-major) into a tensor of `shape`. */
export function tensorFromJson(spec: TensorSpec, shape: number[], data: unknown, policy: NonFinitePolicy): TensorData {
  const name = spec.name;
  const datatype = spec.datatype;
  if (datatype === 'FP16') throw bad(`Input '${name}' is FP16, which JSON cannot carry; send it with the binary tensor extension.`);
  const count = elementCount(shape);
  const info = DATATYPES[datatype];
  if (data instanceof Float32Array || data instanceof Float64Array) {
    // Numbers read from the body by number-lists.ts, already in the input's array type; the
    // caller decodes the body in full when this throws.
    if (data.constructor !== info.array || data.length !== count) throw bad(`Input '${name}' has ${data.length} ${datatype} elements but its shape ${formatShape(shape)} needs ${count}.`);
    if (policy === 'reject' && !allFinite(data)) throw bad(`Input '${name}' holds a value that is not finite as ${datatype}; NaN and Infinity are rejected.`);
    return { datatype, shape, data };
  }
  // A declared shape far larger than the data sent ([2147483648, 30]) must not allocate gigabytes first.
  if (count > PRECOUNT_ABOVE) {
    const sent = countLeaves(data, count);
    if (sent !== count) throw bad(`Input '${name}' has ${sent > count ? `more than ${count}` : sent} elements but its shape ${formatShape(shape)} needs ${count}.`);
  }
  const out = allocate(datatype, count);
  // Flat lists of plain numbers for a float input (nearly every request) are copied in one
  // tight loop; anything else, including every error, takes the general walk below.
  if (info.kind === 'float' && Array.isArray(data) && data.length === count && copyFlatNumbers(data, out as Float32Array | Float64Array, policy === 'reject')) {
    return { datatype, shape, data: out };
  }
  let at = 0;
  const put = (v: unknown): void => {
    if (at >= count) throw bad(`Input '${name}' has more than the ${count} elements its shape ${formatShape(shape)} holds.`);
    switch (info.kind) {
      case 'float':
        // A bigint is an integer literal beyond ±2^53 (read exactly for a 64-bit input of the same model).
        if (typeof v === 'bigint') v = Number(v);
        if (typeof v !== 'number') throw bad(`Input '${name}' element ${at} is ${describe(v)}, not a number.`);
        (out as Float32Array)[at] = v;
        if (policy === 'reject' && !Number.isFinite((out as Float32Array)[at] as number)) {
          throw bad(`Input '${name}' element ${at} (${v}) is not finite as ${datatype}; NaN and Infinity are rejected.`);
        }
        break;
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < (info.min as number) || v > (info.max as number)) {
          throw bad(`Input '${name}' element ${at} is ${describe(v)}, not an integer in the ${datatype} range [${info.min}, ${info.max}].`);
        }
        (out as Int32Array)[at] = v;
        break;
      case 'bigint': {
        if (typeof v !== 'bigint' && (typeof v !== 'number' || !Number.isInteger(v))) throw bad(`Input '${name}' element ${at} is ${describe(v)}, not an integer (${datatype}).`);
        const b = BigInt(v);
        if (b < (info.min as bigint) || b > (info.max as bigint)) throw bad(`Input '${name}' element ${at} (${v}) is outside the ${datatype} range.`);
        (out as BigInt64Array)[at] = b;
        break;
      }
      case 'bool':
        if (typeof v !== 'boolean') throw bad(`Input '${name}' element ${at} is ${describe(v)}, not true or false (BOOL).`);
        (out as Uint8Array)[at] = v ? 1 : 0;
        break;
      case 'bytes':
        if (typeof v !== 'string') throw bad(`Input '${name}' element ${at} is ${describe(v)}, not a string (BYTES).`);
        // A lone surrogate (`"\ud800"` in JSON) has no UTF-8 form: the model would see U+FFFD instead.
        if (!isWellFormed(v)) throw bad(`Input '${name}' element ${at} is not valid Unicode text (it holds a lone surrogate, which has no UTF-8 form).`);
        (out as string[])[at] = v;
        break;
      default:
        throw bad(`Input '${name}' has an unsupported datatype ${datatype}.`);
    }
    at++;
  };
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (depth > shape.length) throw bad(`Input '${name}' data is nested deeper than its shape ${formatShape(shape)}.`);
      for (const x of v) walk(x, depth + 1);
    } else {
      put(v);
    }
  };
  if (!Array.isArray(data)) {
    if (shape.length === 0 || count === 1) put(data);
    else throw bad(`Input '${name}' data must be a list of ${count} elements (shape ${formatShape(shape)}).`);
  } else {
    walk(data, 0);
  }
  if (at !== count) throw bad(`Input '${name}' has ${at} elements but its shape ${formatShape(shape)} needs ${count}.`);
  return { datatype, shape, data: out };
}

/** Copies `data` into `out` if every element is a number (finite ones only when `finite`); false otherwise. */
function copyFlatNumbers(data: unknown[], out: Float32Array | Float64Array, finite: boolean): boolean {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number') return false;
    out[i] = v;
  }
  // Checked on the stored values: a double beyond the FP32 range becomes Infinity there.
  return !finite || allFinite(out);
}

function allFinite(values: Float32Array | Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

// Below this many elements the allocation is cheap enough to let the single conversion pass find a mismatch.
const PRECOUNT_ABOVE = 1 << 20;

// Counts scalar leaves of nested lists, stopping once past `limit`.
function countLeaves(data: unknown, limit: number): number {
  if (!Array.isArray(data)) return 1;
  let n = 0;
  const stack: unknown[][] = [data];
  while (stack.length > 0 && n <= limit) {
    for (const v of stack.pop() as unknown[]) {
      if (Array.isArray(v)) stack.push(v);
      else n++;
    }
  }
  return n;
}

/** Reads a binary tensor of `shape` from `bytes` (little-endian; BYTES as 4-byte length + bytes). */
export function tensorFromBinary(spec: TensorSpec, shape: number[], bytes: Buffer, policy: NonFinitePolicy): TensorData {
  const name = spec.name;
  const datatype = spec.datatype;
  const info = DATATYPES[datatype];
  const count = elementCount(shape);
  if (!info.array) {
    const strings: string[] = [];
    let off = 0;
    while (off < bytes.length) {
      if (off + 4 > bytes.length) throw bad(`Input '${name}' BYTES data is truncated: an element length prefix is cut off at byte ${off}.`);
      const len = bytes.readUInt32LE(off);
      off += 4;
      if (off + len > bytes.length) throw bad(`Input '${name}' BYTES element ${strings.length} claims ${len} bytes but only ${bytes.length - off} remain.`);
      // onnxruntime string tensors hold text: invalid bytes would silently become U+FFFD.
      if (!isUtf8(bytes.subarray(off, off + len))) throw bad(`Input '${name}' BYTES element ${strings.length} is not valid UTF-8.`);
      strings.push(bytes.toString('utf8', off, off + len));
      off += len;
    }
    if (strings.length !== count) throw bad(`Input '${name}' has ${strings.length} BYTES elements but its shape ${formatShape(shape)} needs ${count}.`);
    return { datatype, shape, data: strings };
  }
  const need = count * info.size;
  if (bytes.length !== need) {
    throw bad(`Input '${name}' has binary_data_size ${bytes.length} bytes but shape ${formatShape(shape)} of ${datatype} needs ${need}.`);
  }
  let data: Exclude<TensorValues, string[]>;
  if (bytes.byteOffset % info.size === 0) {
    data = new info.array(bytes.buffer, bytes.byteOffset, count);
  } else {
    // Typed arrays need aligned offsets; an unaligned slice is copied once.
    const copy = new Uint8Array(need);
    copy.set(bytes);
    data = new info.array(copy.buffer, 0, count);
  }
  if (policy === 'reject') checkFinite(name, datatype, data);
  return { datatype, shape, data };
}

/** Throws when a float tensor holds NaN or ±Infinity. */
export function checkFinite(name: string, datatype: V2Datatype, data: TensorValues): void {
  if (datatype === 'FP32' || datatype === 'FP64') {
    const arr = data as Float32Array;
    for (let i = 0; i < arr.length; i++) {
      if (!Number.isFinite(arr[i] as number)) throw bad(`Input '${name}' element ${i} (${arr[i]}) is not finite; NaN and Infinity are rejected.`);
    }
  } else if (datatype === 'FP16') {
    const arr = data as Uint16Array;
    for (let i = 0; i < arr.length; i++) {
      if (((arr[i] as number) & 0x7c00) === 0x7c00) throw bad(`Input '${name}' element ${i} is not finite (FP16 NaN or Infinity); NaN and Infinity are rejected.`);
    }
  }
}

/** Checks that every batched input has the same first dimension; returns the row count. */
export function batchRows(specs: TensorSpec[], tensors: TensorData[]): number {
  let rows: number | undefined;
  specs.forEach((spec, i) => {
    const t = tensors[i] as TensorData;
    const r = t.shape.length === 0 ? 1 : (t.shape[0] as number);
    if (rows === undefined) rows = r;
    else if (r !== rows) throw bad(`Input '${spec.name}' has ${r} rows but input '${(specs[0] as TensorSpec).name}' has ${rows}; batched inputs must agree on the first dimension.`);
  });
  return rows ?? 1;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when a string has no lone surrogate, so it encodes to UTF-8 as it is. */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'bigint') return `the integer ${v}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
