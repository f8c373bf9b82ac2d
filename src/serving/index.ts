/** The serving domain: ONNX runtime, dynamic batching, hot-swapping model manager and both inference protocols. */
export { DynamicBatcher, type BatcherOptions, type BatchRequest, type BatchResult } from './batcher.js';
export { InferenceService, type InferenceCall, type InferenceOutcome } from './inference-service.js';
export { LoadedModel } from './loaded-model.js';
export { ModelManager, refToUri, type ModelState, type ModelStatus } from './model-manager.js';
export { ModelRuntime } from './model-runtime.js';
export { onnxFileProblem } from './onnx-file.js';
export { signatureOf, tabularWidth, type ModelSignature, type TensorSpec } from './model-signature.js';
export { decodeMlflowCsv, decodeMlflowJson, encodePredictions, parseCsv, type MlflowRequest } from './mlflow-protocol.js';
export { DEFAULT_SERVING_OPTIONS, resolveServingOptions, type ServingOptions } from './serving-options.js';
export { ServingMetrics, type RoleMetrics } from './serving-metrics.js';
export { ActiveSplit, routingHash, ShadowWindow, TrafficSplitter, STATS_SAMPLE_LIMIT, type Routed } from './traffic-split.js';
export { decodeV2Request, encodeV2Response, ExactInteger, jsonData, parseJson, splitBinaryBody, stringifyJson, type V2Request, type V2Response } from './v2-protocol.js';
export type { TensorData, V2Datatype } from './tensor-types.js';
