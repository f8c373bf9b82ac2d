/**
 * A tiny ONNX writer: encodes a ModelProto with MatMul/Add/Relu/Identity graphs
 * straight into protobuf bytes, so benchmarks and tests can build models of any
 * size with no network and no Python. Only the fields these graphs need are written.
 */

const ELEM = { FP32: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, BYTES: 8, BOOL: 9, FP16: 10, FP64: 11, UINT32: 12, UINT64: 13 };

function varint(n) {
  const out = [];
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

function key(field, wire) {
  return varint((field << 3) | wire);
}

function int(field, n) {
  return Buffer.concat([key(field, 0), varint(n)]);
}

function bytes(field, buf) {
  const b = typeof buf === 'string' ? Buffer.from(buf, 'utf8') : buf;
  return Buffer.concat([key(field, 2), varint(b.length), b]);
}

function msg(field, parts) {
  return bytes(field, Buffer.concat(parts));
}

/** A dimension: a number, or a string for a named free dimension. */
function dim(d) {
  return msg(1, [typeof d === 'number' ? int(1, d) : bytes(2, d)]);
}

function valueInfo(field, name, datatype, shape) {
  const tensorType = msg(1, [int(1, ELEM[datatype]), msg(2, shape.map(dim))]);
  return msg(field, [bytes(1, name), msg(2, [tensorType])]);
}

function floatTensor(name, dims, values) {
  const raw = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return msg(5, [...dims.map((d) => int(1, d)), int(2, ELEM.FP32), bytes(8, name), bytes(9, raw)]);
}

/** An INT (type 2) or INTS (type 7) attribute. */
function attribute(name, value) {
  return Array.isArray(value) ? msg(5, [bytes(1, name), ...value.map((v) => int(8, v)), int(20, 7)]) : msg(5, [bytes(1, name), int(3, value), int(20, 2)]);
}

function node(op, inputs, outputs, name, attributes = {}) {
  const attrs = Object.entries(attributes).map(([k, v]) => attribute(k, v));
  return msg(1, [...inputs.map((i) => bytes(1, i)), ...outputs.map((o) => bytes(2, o)), bytes(3, name), bytes(4, op), ...attrs]);
}

function model(graphParts) {
  const opset = msg(8, [bytes(1, ''), int(2, 13)]);
  return Buffer.concat([int(1, 8), bytes(2, 'slipway-bench'), msg(7, graphParts), opset]);
}

/** Deterministic pseudo-random weights (mulberry32), scaled like He initialisation. */
function weights(count, fanIn, seed) {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  const scale = Math.sqrt(2 / fanIn);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/**
 * An MLP with ReLU between layers, e.g. layers [64, 512, 512, 10]: input `x` FP32
 * [batch, layers[0]], output `y` FP32 [batch, layers.at(-1)]. `batch` fixes the
 * first dimension when a number is given.
 */
export function buildMlp(layers, { seed = 1, batch = 'batch' } = {}) {
  const parts = [];
  const inits = [];
  let prev = 'x';
  for (let i = 0; i + 1 < layers.length; i++) {
    const [nIn, nOut] = [layers[i], layers[i + 1]];
    inits.push(floatTensor(`w${i}`, [nIn, nOut], weights(nIn * nOut, nIn, seed + i)));
    inits.push(floatTensor(`b${i}`, [nOut], new Float32Array(nOut).fill(0.01)));
    parts.push(node('MatMul', [prev, `w${i}`], [`m${i}`], `matmul${i}`));
    const last = i + 2 === layers.length;
    parts.push(node('Add', [`m${i}`, `b${i}`], [last ? 'y' : `a${i}`], `add${i}`));
    if (!last) parts.push(node('Relu', [`a${i}`], [`h${i}`], `relu${i}`));
    if (!last) prev = `h${i}`;
  }
  return model([
    ...parts,
    bytes(2, 'mlp'),
    ...inits,
    valueInfo(11, 'x', 'FP32', [batch, layers[0]]),
    valueInfo(12, 'y', 'FP32', [batch, layers[layers.length - 1]]),
  ]);
}

/**
 * An image classifier CNN: input `x` FP32 [batch, channels[0], size, size]; per stage a
 * 3x3 convolution (padding 1) to the stage's channels and a ReLU, then a 2x2 max pool
 * between stages; a global average pool and a dense layer to `classes` logits, output
 * `y` FP32 [batch, classes]. Unlike an MLP, each weight is used at every pixel, so the
 * work per row is large while the weights stay small enough for the CPU caches.
 */
export function buildCnn({ size = 28, channels = [1, 32, 64, 128, 256], classes = 10, seed = 1, batch = 'batch' } = {}) {
  const parts = [];
  const inits = [];
  let prev = 'x';
  for (let i = 0; i + 1 < channels.length; i++) {
    const [cIn, cOut] = [channels[i], channels[i + 1]];
    inits.push(floatTensor(`k${i}`, [cOut, cIn, 3, 3], weights(cOut * cIn * 9, cIn * 9, seed + i)));
    inits.push(floatTensor(`c${i}`, [cOut], new Float32Array(cOut).fill(0.01)));
    parts.push(node('Conv', [prev, `k${i}`, `c${i}`], [`conv${i}`], `conv${i}`, { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }));
    parts.push(node('Relu', [`conv${i}`], [`r${i}`], `relu${i}`));
    prev = `r${i}`;
    if (i > 0 && i + 2 < channels.length) {
      parts.push(node('MaxPool', [prev], [`p${i}`], `pool${i}`, { kernel_shape: [2, 2], strides: [2, 2] }));
      prev = `p${i}`;
    }
  }
  const last = channels[channels.length - 1];
  parts.push(node('GlobalAveragePool', [prev], ['gap'], 'gap'));
  parts.push(node('Flatten', ['gap'], ['flat'], 'flatten'));
  inits.push(floatTensor('wd', [last, classes], weights(last * classes, last, seed + 100)));
  inits.push(floatTensor('bd', [classes], new Float32Array(classes).fill(0.01)));
  parts.push(node('MatMul', ['flat', 'wd'], ['md'], 'dense'));
  parts.push(node('Add', ['md', 'bd'], ['y'], 'dense_bias'));
  return model([...parts, bytes(2, 'cnn'), ...inits, valueInfo(11, 'x', 'FP32', [batch, channels[0], size, size]), valueInfo(12, 'y', 'FP32', [batch, classes])]);
}

/**
 * One Identity per datatype: input `in_<DT>` → output `out_<DT>`, shape [batch, 2],
 * for every datatype listed (default: all 13 protocol datatypes).
 */
export function buildIdentity(datatypes = Object.keys(ELEM), { batch = 'batch', width = 2 } = {}) {
  const parts = datatypes.map((dt) => node('Identity', [`in_${dt}`], [`out_${dt}`], `id_${dt}`));
  return model([
    ...parts,
    bytes(2, 'identity'),
    ...datatypes.map((dt) => valueInfo(11, `in_${dt}`, dt, [batch, width])),
    ...datatypes.map((dt) => valueInfo(12, `out_${dt}`, dt, [batch, width])),
  ]);
}
