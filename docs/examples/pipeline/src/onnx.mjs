/**
 * Writes a standardise-then-logistic-regression model as ONNX: Sub(mean) → Div(std) → MatMul(w) →
 * Add(b) → Sigmoid, input `features` float32 [batch, n], output `probabilities` float32 [batch, 1].
 * The protobuf is written field by field, so no package is needed.
 */
function varint(value) {
  const out = [];
  let x = BigInt(value);
  do {
    let byte = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) byte |= 0x80;
    out.push(byte);
  } while (x > 0n);
  return Buffer.from(out);
}

const key = (field, wire) => varint((field << 3) | wire);
const int = (field, v) => Buffer.concat([key(field, 0), varint(v)]);
const bytes = (field, v) => {
  const b = typeof v === 'string' ? Buffer.from(v) : v;
  return Buffer.concat([key(field, 2), varint(b.length), b]);
};
const message = (field, parts) => bytes(field, Buffer.concat(parts));
const FLOAT = 1;
const tensor = (name, dims, values) => message(5, [...dims.map((d) => int(1, d)), int(2, FLOAT), bytes(8, name), bytes(9, Buffer.from(new Float32Array(values).buffer))]);
const node = (op, inputs, output) => message(1, [...inputs.map((i) => bytes(1, i)), bytes(2, output), bytes(3, output), bytes(4, op)]);
const dim = (d) => message(1, [typeof d === 'number' ? int(1, d) : bytes(2, d)]);
const valueInfo = (field, name, shape) => message(field, [bytes(1, name), message(2, [message(1, [int(1, FLOAT), message(2, shape.map(dim))])])]);

/** The ONNX bytes of the model `{ mean, std, weights, bias }`. */
export function logisticRegressionOnnx(model) {
  const n = model.weights.length;
  const graph = message(7, [
    node('Sub', ['features', 'mean'], 'centred'),
    node('Div', ['centred', 'std'], 'scaled'),
    node('MatMul', ['scaled', 'weights'], 'logit_w'),
    node('Add', ['logit_w', 'bias'], 'logit'),
    node('Sigmoid', ['logit'], 'probabilities'),
    bytes(2, 'logistic_regression'),
    tensor('mean', [n], model.mean),
    tensor('std', [n], model.std),
    tensor('weights', [n, 1], model.weights),
    tensor('bias', [1], [model.bias]),
    valueInfo(11, 'features', ['batch', n]),
    valueInfo(12, 'probabilities', ['batch', 1]),
  ]);
  // ir_version 8, producer, graph, opset 17 of the default domain.
  return Buffer.concat([int(1, 8), bytes(2, 'slipway-pipeline-example'), graph, message(8, [bytes(1, ''), int(2, 17)])]);
}
