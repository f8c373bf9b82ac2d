/**
 * Tensor datatypes as the Open Inference Protocol names them, and how each maps
 * onto onnxruntime's element types and typed arrays.
 */

/** A datatype of the Open Inference Protocol. */
export type V2Datatype = 'BOOL' | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'INT8' | 'INT16' | 'INT32' | 'INT64' | 'FP16' | 'FP32' | 'FP64' | 'BYTES';

/** An onnxruntime element type that serving supports. */
export type OrtType = 'bool' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'int8' | 'int16' | 'int32' | 'int64' | 'float16' | 'float32' | 'float64' | 'string';

/** Element storage of a tensor: a typed array, or strings for BYTES. */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A tensor as serving passes it around: datatype, full shape (batch included) and row-major values. */
export interface TensorData {
  datatype: V2Datatype;
  shape: number[];
  data: TensorValues;
}

type TypedArrayCtor = {
  new (length: number): Exclude<TensorValues, string[]>;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): Exclude<TensorValues, string[]>;
  BYTES_PER_ELEMENT: number;
};

/** How one datatype is stored and checked. */
export interface DatatypeInfo {
  ort: OrtType;
  /** Typed array constructor; undefined for BYTES. */
  array: TypedArrayCtor | undefined;
  /** Bytes per element in the binary extension; 0 for BYTES (length-prefixed). */
  size: number;
  kind: 'float' | 'int' | 'bigint' | 'bool' | 'bytes' | 'fp16';
  /** Inclusive value range for integer kinds. */
  min?: number | bigint;
  max?: number | bigint;
}

/** Every supported datatype. */
export const DATATYPES: Record<V2Datatype, DatatypeInfo> = {
  BOOL: { ort: 'bool', array: Uint8Array, size: 1, kind: 'bool' },
  UINT8: { ort: 'uint8', array: Uint8Array, size: 1, kind: 'int', min: 0, max: 255 },
  UINT16: { ort: 'uint16', array: Uint16Array, size: 2, kind: 'int', min: 0, max: 65535 },
  UINT32: { ort: 'uint32', array: Uint32Array, size: 4, kind: 'int', min: 0, max: 4294967295 },
  UINT64: { ort: 'uint64', array: BigUint64Array, size: 8, kind: 'bigint', min: 0n, max: 18446744073709551615n },
  INT8: { ort: 'int8', array: Int8Array, size: 1, kind: 'int', min: -128, max: 127 },
  INT16: { ort: 'int16', array: Int16Array, size: 2, kind: 'int', min: -32768, max: 32767 },
  INT32: { ort: 'int32', array: Int32Array, size: 4, kind: 'int', min: -2147483648, max: 2147483647 },
  INT64: { ort: 'int64', array: BigInt64Array, size: 8, kind: 'bigint', min: -9223372036854775808n, max: 9223372036854775807n },
  FP16: { ort: 'float16', array: Uint16Array, size: 2, kind: 'fp16' },
  FP32: { ort: 'float32', array: Float32Array, size: 4, kind: 'float' },
  FP64: { ort: 'float64', array: Float64Array, size: 8, kind: 'float' },
  BYTES: { ort: 'string', array: undefined, size: 0, kind: 'bytes' },
};

const FROM_ORT: Record<string, V2Datatype> = Object.fromEntries(
  Object.entries(DATATYPES).map(([dt, info]) => [info.ort, dt as V2Datatype]),
);

/** The protocol datatype for an onnxruntime element type, or undefined when unsupported. */
export function datatypeFromOrt(type: string): V2Datatype | undefined {
  return FROM_ORT[type];
}

/** True when `s` names a protocol datatype. */
export function isDatatype(s: unknown): s is V2Datatype {
  return typeof s === 'string' && Object.hasOwn(DATATYPES, s);
}

/** Product of the dimensions (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates zero-filled storage for `count` elements of `datatype`. */
export function allocate(datatype: V2Datatype, count: number): TensorValues {
  const ctor = DATATYPES[datatype].array;
  return ctor ? new ctor(count) : new Array<string>(count).fill('');
}

/** Formats a shape for messages, e.g. `[-1, 30]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
