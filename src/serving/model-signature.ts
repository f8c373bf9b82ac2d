/**
 * What a loaded model accepts and returns, read from the onnxruntime session:
 * tensor names, datatypes and shapes (-1 for a variable dimension).
 */
import type { InferenceSession } from 'onnxruntime-node';
import { SlipwayError } from '../core/errors.js';
import { datatypeFromOrt, type V2Datatype } from './tensor-types.js';

/** One input or output tensor of a model. */
export interface TensorSpec {
  name: string;
  datatype: V2Datatype;
  /** Dimensions; -1 where the model leaves a dimension free. */
  shape: number[];
}

/** The inputs and outputs of a model, and whether requests can be batched together. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** True when every input and output has a free first (batch) dimension. */
  batchable: boolean;
}

function toSpec(meta: InferenceSession.ValueMetadata, role: 'input' | 'output'): TensorSpec | undefined {
  if (!meta.isTensor) {
    if (role === 'input') throw new SlipwayError('INVALID_ARGUMENT', `Model input '${meta.name}' is not a tensor; only tensor inputs can be served.`);
    return undefined;
  }
  const datatype = datatypeFromOrt(meta.type);
  if (!datatype) {
    if (role === 'input') throw new SlipwayError('INVALID_ARGUMENT', `Model input '${meta.name}' has element type '${meta.type}', which serving does not support.`);
    return undefined;
  }
  return { name: meta.name, datatype, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/** Reads the signature of a session; outputs that are not plain tensors (e.g. ZipMap maps) are left out. */
export function signatureOf(session: Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>): ModelSignature {
  const inputs = session.inputMetadata.map((m) => toSpec(m, 'input')).filter((s): s is TensorSpec => s !== undefined);
  const outputs = session.outputMetadata.map((m) => toSpec(m, 'output')).filter((s): s is TensorSpec => s !== undefined);
  if (outputs.length === 0) throw new SlipwayError('INVALID_ARGUMENT', 'The model has no tensor output that serving can return.');
  const batchable = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  return { inputs, outputs, batchable };
}

/** The width of the single 2-D input (features per row), when the model has exactly one such input. */
export function tabularWidth(sig: ModelSignature): number | undefined {
  if (sig.inputs.length !== 1) return undefined;
  const only = sig.inputs[0] as TensorSpec;
  if (only.shape.length !== 2) return undefined;
  const w = only.shape[1] as number;
  return w > 0 ? w : undefined;
}
