/** The model registry: models, versions, aliases, stages and ONNX signatures. */
export { RegistryService, SEARCH_LIMITS, type RegistryServiceOptions } from './registry-service.js';
export { RegistryModelSource, type RegistryModelSourceOptions } from './registry-model-source.js';
export { findOnnxFile, readOnnxSignature, inspectArtifacts, type SignatureOutcome } from './onnx-signature.js';
export { signatureDifferences } from './signature-compatibility.js';
export { textModelFiles, textModelSignature, type TextModelFile } from './text-model-files.js';
export { COLUMNS_TAG, columnsFromCsvHeader, columnsFromTag } from './model-columns.js';
export { artifactPathOf, resolveSource, ARTIFACTS_SCHEME } from './version-source.js';
export { toMlflowModelVersion, toMlflowRegisteredModel } from './registry-mlflow-wire.js';
export type {
  CreateModelVersionInput,
  ModelAlias,
  ModelSignature,
  ModelStage,
  ModelVersion,
  ModelVersionStatus,
  MutationContext,
  RegisteredModel,
  SearchPage,
  SearchParams,
  TensorSpec,
  TextSignature,
} from './registry-types.js';
