/**
 * `slipway/client`: the typed TypeScript SDK of the Slipway native API. It depends
 * only on `fetch`, so the same code runs in Node, browsers and edge runtimes.
 *
 * ```ts
 * import { SlipwayClient } from 'slipway/client';
 * const slipway = new SlipwayClient({ url: 'http://127.0.0.1:5000' });
 * const run = await slipway.runs.create({ experimentId: '0' });
 * await slipway.runs.log(run.info.runId, { metrics: [{ key: 'auc', value: 0.93 }] });
 * ```
 */
export { SlipwayClient, type ArtifactBody, type ArtifactDownload, type SlipwayClientOptions, type TransferOptions } from './slipway-client.js';
export { SlipwayApiError, isSlipwayApiError } from './api-error.js';
export type {
  ApiToken,
  CreateTokenBody,
  CreateUserBody,
  CreatedToken,
  DeletePermissionQuery,
  PermissionGrant,
  PermissionList,
  PermissionQuery,
  SetPermissionBody,
  TokenListQuery,
  UpdateUserBody,
  User,
} from './schemas/access.js';
export type { ArtifactFile, ArtifactListing, ListRunArtifactsQuery, StoredArtifact, StoredStoreArtifact } from './schemas/artifacts.js';
export type {
  DatasetLineage,
  DatasetPage,
  DatasetRegistration,
  DatasetRunInput,
  DatasetSchema,
  DatasetVersion,
  DatasetVersionDetail,
  DatasetVersionPage,
  ListDatasetsQuery,
  LogDatasetInputBody,
  RegisterDatasetBody,
} from './schemas/datasets.js';
export type { AuditEvent, AuditEventPage, AuditEventsQuery, AuditHead, AuditVerification, AuditVerifyQuery } from './schemas/audit.js';
export type { CreateExperimentBody, Experiment, ExperimentPage, ListExperimentsQuery, Tag, UpdateExperimentBody } from './schemas/experiments.js';
export type { CardQuery, Lineage, LineageDataset, LineageRelease, LineageRun, ModelCard } from './schemas/governance.js';
export type { Health } from './schemas/health.js';
export type { GroundTruthLabel, GroundTruthResult } from './schemas/monitoring.js';
export type {
  CreateModelBody,
  CreateVersionBody,
  ListModelsQuery,
  ListVersionsQuery,
  ModelVersion,
  ModelVersionPage,
  RegisteredModel,
  RegisteredModelPage,
  SetAliasBody,
  TransitionStageBody,
} from './schemas/models.js';
export type {
  AbortReleaseBody,
  ApproveReleaseBody,
  CreateReleaseBody,
  GateResult,
  GateSpec,
  ListReleasesQuery,
  Release,
  ReleaseEvent,
  ReleasePage,
  ReleasePolicy,
  ReleasePolicyInput,
  ReleasePolicyList,
  ReleasePolicyRecord,
  ReleaseState,
  RollbackBody,
  RollbackResult,
  StrategySpec,
} from './schemas/releases.js';
export type { CreateRunBody, DownsampledHistoryQuery, DownsampledMetricHistories, DownsampledMetricHistory, LogInputsBody, LogRunBody, Metric, MetricHistory, Param, Run, RunPage, SearchRunsBody, UpdateRunBody } from './schemas/runs.js';
