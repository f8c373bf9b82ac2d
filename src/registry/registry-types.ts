/**
 * The registry's domain types: registered models, their versions, tags, aliases
 * and the ONNX signature read from a version's model file.
 */

/** The legacy stages a model version can be in. */
export type ModelStage = 'None' | 'Staging' | 'Production' | 'Archived';

/** A version's registration status, as MLflow names it. */
export type ModelVersionStatus = 'PENDING_REGISTRATION' | 'READY' | 'FAILED_REGISTRATION';

/** One tensor of an ONNX model's inputs or outputs. */
export interface TensorSpec {
  name: string;
  /** onnxruntime element type, e.g. `float32`, `int64`, `string`; `non-tensor` for maps and sequences. */
  type: string;
  /** Dimensions; symbolic ones (e.g. `batch`) are strings. Empty when the model does not declare a shape. */
  shape: Array<number | string>;
  /** For a classifier's probabilities that the model returns through a ZipMap: the class labels, in column order. */
  classes?: Array<number | string>;
}

/** The signature read from a version's ONNX file. */
export interface ModelSignature {
  format: 'onnx';
  /** Logical artifact-store path of the ONNX file the signature was read from. */
  path: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** For a text model (a tokenizer stored beside the ONNX file): the tokenizer step; `inputs` then shows the text the user sends. */
  text?: TextSignature;
}

/** The tokenizer step of a text model, as its version records it. */
export interface TextSignature {
  /** File name of the tokenizer.json beside the ONNX file. */
  tokenizer: string;
  /** The tokenizer's model: WordPiece, BPE, Unigram. */
  model: string;
  maxLength: number;
  truncation: boolean;
  padding: 'longest' | 'max_length';
  labels?: string[];
  topK?: number;
  /** The graph's own inputs, which the tokenizer feeds. */
  graphInputs: TensorSpec[];
}

/** An alias of a registered model and the version it points at. */
export interface ModelAlias {
  alias: string;
  version: string;
}

/** A version of a registered model. */
export interface ModelVersion {
  name: string;
  /** The version number as a string ("1"), as on the MLflow wire. */
  version: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  userId?: string;
  currentStage: ModelStage;
  description?: string;
  /** The source the client registered (e.g. `runs:/<run>/model`). */
  source: string;
  /** Where the version's artifacts live (the source resolved, e.g. `mlflow-artifacts:/0/<run>/artifacts/model`). */
  storageLocation: string;
  runId?: string;
  runLink?: string;
  status: ModelVersionStatus;
  statusMessage?: string;
  tags: Record<string, string>;
  /** Aliases pointing at this version. */
  aliases: string[];
  /** The ONNX signature, when the version's artifacts hold an ONNX file. */
  signature?: ModelSignature;
}

/** A registered model. */
export interface RegisteredModel {
  name: string;
  creationTimestamp: number;
  lastUpdatedTimestamp: number;
  description?: string;
  tags: Record<string, string>;
  aliases: ModelAlias[];
  /** The newest version in each stage (MLflow's `latest_versions`). */
  latestVersions: ModelVersion[];
}

/** Who performs a mutation, recorded in the audit trail. */
export interface MutationContext {
  /** @default "anonymous" */
  actor?: string;
  requestId?: string;
}

/** Search parameters shared by models and versions. */
export interface SearchParams {
  filter?: string;
  maxResults?: number;
  orderBy?: string[];
  pageToken?: string;
}

/** One page of search results. */
export interface SearchPage<T> {
  items: T[];
  /** Present when more results follow. */
  nextPageToken?: string;
}

/** What a new model version is created from. */
export interface CreateModelVersionInput {
  name: string;
  source: string;
  runId?: string;
  runLink?: string;
  description?: string;
  tags?: Record<string, string>;
  userId?: string;
}
