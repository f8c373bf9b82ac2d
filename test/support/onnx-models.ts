/**
 * Small ONNX models written straight as protobuf bytes, for serving tests that
 * need what the bench builder does not make: weights in an external data file,
 * a scikit-learn-style classifier ending in a ZipMap (ai.onnx.ml), and 64-bit
 * integer graphs. No network, no Python.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { varint } from '../../src/serving/onnx-file.js';

const ELEM = { FP32: 1, INT64: 7, STRING: 8 } as const;
type Elem = keyof typeof ELEM;

const key = (field: number, wire: number) => varint((field << 3) | wire);
const int = (field: number, n: number | bigint) => Buffer.concat([key(field, 0), varint(n)]);
const float = (field: number, f: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(f);
  return Buffer.concat([key(field, 5), b]);
};
function bytes(field: number, value: string | Buffer): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([key(field, 2), varint(b.length), b]);
}
const msg = (field: number, parts: Buffer[]) => bytes(field, Buffer.concat(parts));

const dim = (d: number | string) => msg(1, [typeof d === 'number' ? int(1, d) : bytes(2, d)]);
const tensorType = (elem: Elem, shape: Array<number | string>) => msg(1, [int(1, ELEM[elem]), msg(2, shape.map(dim))]);

/** A graph input (field 11) or output (field 12) holding a tensor. */
function tensorValue(field: number, name: string, elem: Elem, shape: Array<number | string>): Buffer {
  return msg(field, [bytes(1, name), msg(2, [tensorType(elem, shape)])]);
}

/** A graph output of type seq(map(key, tensor(float))), as ZipMap produces. */
function seqMapValue(name: string, keyElem: Elem): Buffer {
  const valueType = msg(2, [msg(1, [int(1, ELEM.FP32), msg(2, [])])]);
  const mapType = msg(5, [int(1, ELEM[keyElem]), valueType]);
  return msg(12, [bytes(1, name), msg(2, [msg(4, [msg(1, [mapType])])])]);
}

type Attr = { name: string } & ({ i: number } | { ints: number[] } | { strings: string[] } | { f: number });

function attribute(a: Attr): Buffer {
  if ('i' in a) return msg(5, [bytes(1, a.name), int(3, a.i), int(20, 2)]);
  if ('f' in a) return msg(5, [bytes(1, a.name), float(2, a.f), int(20, 1)]);
  if ('ints' in a) return msg(5, [bytes(1, a.name), ...a.ints.map((v) => int(8, v)), int(20, 7)]);
  return msg(5, [bytes(1, a.name), ...a.strings.map((s) => bytes(9, s)), int(20, 8)]);
}

function node(op: string, inputs: string[], outputs: string[], opts: { domain?: string; attrs?: Attr[] } = {}): Buffer {
  return msg(1, [
    ...inputs.map((i) => bytes(1, i)),
    ...outputs.map((o) => bytes(2, o)),
    bytes(3, `${op}_${outputs[0]}`),
    bytes(4, op),
    ...(opts.attrs ?? []).map(attribute),
    ...(opts.domain ? [bytes(7, opts.domain)] : []),
  ]);
}

/** An FP32 initializer, inline (raw_data) or stored in an external file at `external.offset`. */
function floatInitializer(name: string, dims: number[], values: Float32Array, external?: { location: string; offset: number }): Buffer {
  const raw = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const head = [...dims.map((d) => int(1, d)), int(2, ELEM.FP32), bytes(8, name)];
  if (!external) return msg(5, [...head, bytes(9, raw)]);
  const entry = (k: string, v: string) => msg(13, [bytes(1, k), bytes(2, v)]);
  // data_location = EXTERNAL (1); the weights live in `location`, relative to the model file.
  return msg(5, [...head, entry('location', external.location), entry('offset', String(external.offset)), entry('length', String(raw.length)), int(14, 1)]);
}

function model(graph: Buffer[], opsets: Array<[string, number]> = [['', 13]]): Buffer {
  return Buffer.concat([int(1, 8), bytes(2, 'slipway-test'), msg(7, graph), ...opsets.map(([domain, version]) => msg(8, [bytes(1, domain), int(2, version)]))]);
}

/** Deterministic pseudo-random values in [-1, 1) (mulberry32). */
function values(count: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * A two-layer perceptron `x` FP32 [batch, inputs] → `y` FP32 [batch, outputs]. With
 * `externalData` its four initializers are stored one after the other in that file
 * (relative to the model), returned as `data`; without it they are inline.
 */
export function perceptron(opts: { inputs?: number; hidden?: number; outputs?: number; seed?: number; externalData?: string } = {}): { onnx: Buffer; data?: Buffer } {
  const { inputs = 8, hidden = 16, outputs = 3, seed = 7 } = opts;
  const tensors: Array<[string, number[], Float32Array]> = [
    ['w0', [inputs, hidden], values(inputs * hidden, seed)],
    ['b0', [hidden], values(hidden, seed + 1)],
    ['w1', [hidden, outputs], values(hidden * outputs, seed + 2)],
    ['b1', [outputs], values(outputs, seed + 3)],
  ];
  const chunks: Buffer[] = [];
  let offset = 0;
  const inits = tensors.map(([name, dims, v]) => {
    if (!opts.externalData) return floatInitializer(name, dims, v);
    const init = floatInitializer(name, dims, v, { location: opts.externalData, offset });
    chunks.push(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    offset += v.byteLength;
    return init;
  });
  const onnx = model([
    node('MatMul', ['x', 'w0'], ['m0']),
    node('Add', ['m0', 'b0'], ['a0']),
    node('Relu', ['a0'], ['h0']),
    node('MatMul', ['h0', 'w1'], ['m1']),
    node('Add', ['m1', 'b1'], ['y']),
    bytes(2, 'perceptron'),
    ...inits,
    tensorValue(11, 'x', 'FP32', ['batch', inputs]),
    tensorValue(12, 'y', 'FP32', ['batch', outputs]),
  ]);
  return opts.externalData ? { onnx, data: Buffer.concat(chunks) } : { onnx };
}

/**
 * A classifier shaped like scikit-learn's skl2onnx export: `input` FP32 [N, 4] →
 * linear scores → `probabilities` (Softmax) → `output_label` INT64 [N] (ArgMax) and
 * `output_probability`, a ZipMap of the probabilities keyed by the class labels.
 * Returns the weights too, so a test can compute the expected probabilities. With
 * `externalData` the weights are stored in that file beside the model, returned as `data`.
 */
export function zipMapClassifier(opts: { labels?: number[] | string[]; externalData?: string } = {}): { onnx: Buffer; data?: Buffer; weights: Float32Array; bias: Float32Array; classes: number } {
  const labels = opts.labels ?? [0, 1, 2];
  const classes = labels.length;
  const weights = values(4 * classes, 11);
  const bias = values(classes, 12);
  const stringLabels = typeof labels[0] === 'string';
  const zipAttr: Attr = stringLabels ? { name: 'classlabels_strings', strings: labels as string[] } : { name: 'classlabels_int64s', ints: labels as number[] };
  const onnx = model(
    [
      node('MatMul', ['input', 'coef'], ['scores_raw']),
      node('Add', ['scores_raw', 'intercept'], ['scores']),
      node('Softmax', ['scores'], ['probabilities'], { attrs: [{ name: 'axis', i: 1 }] }),
      node('ArgMax', ['probabilities'], ['output_label'], { attrs: [{ name: 'axis', i: 1 }, { name: 'keepdims', i: 0 }] }),
      node('ZipMap', ['probabilities'], ['output_probability'], { domain: 'ai.onnx.ml', attrs: [zipAttr] }),
      bytes(2, 'classifier'),
      floatInitializer('coef', [4, classes], weights, opts.externalData ? { location: opts.externalData, offset: 0 } : undefined),
      floatInitializer('intercept', [classes], bias, opts.externalData ? { location: opts.externalData, offset: weights.byteLength } : undefined),
      tensorValue(11, 'input', 'FP32', ['N', 4]),
      tensorValue(12, 'output_label', 'INT64', ['N']),
      seqMapValue('output_probability', stringLabels ? 'STRING' : 'INT64'),
    ],
    [
      ['', 13],
      ['ai.onnx.ml', 1],
    ],
  );
  const data = opts.externalData ? Buffer.concat([Buffer.from(weights.buffer), Buffer.from(bias.buffer)]) : undefined;
  return { onnx, ...(data ? { data } : {}), weights, bias, classes };
}

/**
 * `x` FP32 [batch, 2] → `y` (Identity, a tensor) and `parts`, a sequence of tensors
 * (SequenceConstruct): a non-tensor output that is not a ZipMap.
 */
export function sequenceOutputModel(): Buffer {
  const seqOfTensor = msg(12, [bytes(1, 'parts'), msg(2, [msg(4, [msg(1, [tensorType('FP32', ['batch', 2])])])])]);
  return model([
    node('Identity', ['x'], ['y']),
    node('SequenceConstruct', ['x', 'x'], ['parts']),
    bytes(2, 'sequence'),
    tensorValue(11, 'x', 'FP32', ['batch', 2]),
    tensorValue(12, 'y', 'FP32', ['batch', 2]),
    seqOfTensor,
  ]);
}

/** Softmax of `row · weights + bias`, as the classifier computes it (in double precision). */
export function classifierProbabilities(row: number[], weights: Float32Array, bias: Float32Array, classes: number): number[] {
  const scores = Array.from({ length: classes }, (_, c) => row.reduce((s, x, i) => s + x * (weights[i * classes + c] as number), bias[c] as number));
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

const scratch = mkdtempSync(join(tmpdir(), 'slipway-onnx-models-'));

/** Writes `files` (name → bytes) into a fresh folder and returns the folder. */
export function writeModelFolder(files: Record<string, Buffer>): string {
  const dir = mkdtempSync(join(scratch, 'model-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
