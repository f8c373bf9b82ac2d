/**
 * What a loaded model accepts and returns, read from the onnxruntime session:
 * tensor names, datatypes and shapes (-1 for a variable dimension).
 */
import type { InferenceSession } from 'onnxruntime-node';
import { SlipwayError } from '../core/errors.js';
import type { ZipMapOutput } from './onnx-file.js';
import { datatypeFromOrt, type V2Datatype } from './tensor-types.js';

/** One input or output tensor of a model. */
export interface TensorSpec {
  name: string;
  datatype: V2Datatype;
  /** Dimensions; -1 where the model leaves a dimension free. */
  shape: number[];
  /** What else a client should know about the tensor, shown in the model metadata (e.g. `classes`). */
  parameters?: Record<string, unknown>;
}

/** The inputs and outputs of a model, and whether requests can be batched together. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** True when every input and output has a free first (batch) dimension. */
  batchable: boolean;
  /** Outputs that are not tensors (sequences, maps), which onnxruntime-node cannot return: not served. */
  nonTensorOutputs?: string[];
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

/**
 * Reads the signature of a session. Outputs that are not plain tensors are left out and
 * listed in `nonTensorOutputs`; `zipMaps` names outputs whose ZipMap was taken away, which
 * carry their class labels in `parameters`.
 */
export function signatureOf(session: Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>, zipMaps: ZipMapOutput[] = []): ModelSignature {
  const inputs = session.inputMetadata.map((m) => toSpec(m, 'input')).filter((s): s is TensorSpec => s !== undefined);
  const outputs: TensorSpec[] = [];
  const nonTensorOutputs: string[] = [];
  for (const m of session.outputMetadata) {
    const spec = toSpec(m, 'output');
    if (!spec) {
      nonTensorOutputs.push(m.name);
      continue;
    }
    const zip = zipMaps.find((z) => z.name === spec.name);
    if (zip) spec.parameters = { classes: zip.classes, zipmap: ZIPMAP_NOTE };
    outputs.push(spec);
  }
  if (outputs.length === 0) {
    throw new SlipwayError('INVALID_ARGUMENT', `The model has no tensor output that serving can return${nonTensorOutputs.length > 0 ? ` (${nonTensorOutputs.map((n) => `'${n}'`).join(', ')} ${nonTensorOutputs.length === 1 ? 'is' : 'are'} not tensors)` : ''}.`);
  }
  const batchable = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  return { inputs, outputs, batchable, ...(nonTensorOutputs.length > 0 ? { nonTensorOutputs } : {}) };
}

/** How a ZipMap output is served, as its metadata says. */
export const ZIPMAP_NOTE = 'The ZipMap (a list of {class: probability} maps) is served as its input: one probability column per class, in the order of classes.';

/** Why a non-tensor output cannot be asked for, naming the outputs that can. */
export function nonTensorOutputReason(sig: ModelSignature, name: string): string {
  return `Output '${name}' is not a tensor (it is a sequence or map, which onnxruntime-node cannot return), so it is not served; the model's served outputs are ${sig.outputs.map((s) => `'${s.name}'`).join(', ')}.`;
}

/** The width of the single 2-D input (features per row), when the model has exactly one such input. */
export function tabularWidth(sig: ModelSignature): number | undefined {
  if (sig.inputs.length !== 1) return undefined;
  const only = sig.inputs[0] as TensorSpec;
  if (only.shape.length !== 2) return undefined;
  const w = only.shape[1] as number;
  return w > 0 ? w : undefined;
}
