/** Builds an MLP ONNX model (ReLU between layers) as protobuf bytes. */
export function buildMlp(layers: number[], opts?: { seed?: number; batch?: string | number }): Buffer;
/** Builds an ONNX model of Identity nodes, one per datatype (`in_<DT>` → `out_<DT>`). */
export function buildIdentity(datatypes?: string[], opts?: { batch?: string | number; width?: number }): Buffer;
/** Builds an image-classifier CNN ONNX model (3x3 convolutions, max pools, global average pool, dense layer) as protobuf bytes. */
export function buildCnn(opts?: { size?: number; channels?: number[]; classes?: number; seed?: number; batch?: string | number }): Buffer;
