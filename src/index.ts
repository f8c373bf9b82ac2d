/**
 * Slipway as a library: the same domains the server and CLI compose, for scripts,
 * CI gates and embedding. The HTTP SDK is `slipway/client`.
 */
export { resolveConfig, type ResolvedConfig, type UserConfig } from './config.js';
export { SlipwayError, ERROR_CATALOGUE, isSlipwayError, type ErrorCode } from './core/errors.js';
export { parseModelUri, type ModelRef, type ModelSource, type ResolvedModel } from './core/model-source.js';
export type { InferenceObserver, InferenceRecord } from './core/inference-record.js';
export { openStore, type Store, type OpenStoreOptions } from './store/store.js';
export type { ArtifactStore } from './artifacts/artifact-store.js';
export { LocalArtifactStore } from './artifacts/local-artifact-store.js';
export { appendAuditEvent, listAuditEvents, verifyAuditTrail, type AuditEvent, type AuditVerification } from './audit/audit-trail.js';
export { TrackingService, parseSearchFilter } from './tracking/index.js';
export { RegistryService, RegistryModelSource, readOnnxSignature } from './registry/index.js';
export { runLoadTest, runCapacitySearch, parseThresholds, evaluateThresholds, compareWithBaseline, type LoadTestOptions, type LoadTestResult } from './loadtest/index.js';
export { profileTable, mergeProfiles, computeDrift, runQualitySuite, buildReport, reportToHtml, readTable } from './monitoring/index.js';
