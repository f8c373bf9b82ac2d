/**
 * The metadata schema as Kysely table types. One schema for SQLite and PostgreSQL;
 * times are epoch milliseconds, ids are strings on the wire.
 */
import type { Generated } from 'kysely';

export interface ExperimentTable {
  experiment_id: Generated<number>;
  name: string;
  artifact_location: string;
  lifecycle_stage: string;
  creation_time: number;
  last_update_time: number;
}

export interface ExperimentTagTable {
  experiment_id: number;
  key: string;
  value: string;
}

export interface RunTable {
  run_uuid: string;
  name: string;
  experiment_id: number;
  user_id: string;
  status: string;
  start_time: number;
  end_time: number | null;
  lifecycle_stage: string;
  artifact_uri: string;
  deleted_time: number | null;
}

export interface ParamTable {
  run_uuid: string;
  key: string;
  value: string;
}

export interface TagTable {
  run_uuid: string;
  key: string;
  value: string;
}

/**
 * Metric history in blocks: one row per (run, key) per write, its points packed
 * (layout in the tracking domain's metric-block-codec; migration 0006).
 */
export interface MetricBlockTable {
  block_id: Generated<number>;
  run_uuid: string;
  key: string;
  count: number;
  min_step: number;
  max_step: number;
  points: Buffer;
}

/** The latest point per (run, key): what search_runs filters and orders on. */
export interface LatestMetricTable {
  run_uuid: string;
  key: string;
  value: number;
  is_nan: number;
  timestamp: number;
  step: number;
}

export interface DatasetTable {
  dataset_uuid: string;
  experiment_id: number;
  name: string;
  digest: string;
  source_type: string;
  source: string;
  schema: string | null;
  profile: string | null;
}

export interface InputTable {
  input_uuid: string;
  source_type: string;
  source_id: string;
  destination_type: string;
  destination_id: string;
}

export interface InputTagTable {
  input_uuid: string;
  name: string;
  value: string;
}

export interface RegisteredModelTable {
  name: string;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
}

export interface RegisteredModelTagTable {
  name: string;
  key: string;
  value: string;
}

export interface RegisteredModelAliasTable {
  name: string;
  alias: string;
  version: number;
}

export interface ModelVersionTable {
  name: string;
  version: number;
  creation_time: number;
  last_updated_time: number;
  description: string | null;
  user_id: string | null;
  current_stage: string;
  source: string;
  run_id: string | null;
  run_link: string | null;
  status: string;
  status_message: string | null;
  storage_location: string | null;
  /** JSON: the ONNX signature read from the model file, when there is one. */
  signature: string | null;
}

export interface ModelVersionTagTable {
  name: string;
  version: number;
  key: string;
  value: string;
}

/** The hash-chained audit trail; `seq` is gap-free and assigned in the mutation's transaction. */
export interface AuditEventTable {
  seq: number;
  time: number;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  request_id: string | null;
  change_digest: string;
  prev_hash: string;
  hash: string;
  /** The audit key that signed the event; null on events written before keys existed. */
  key_id?: string | null;
  /** HMAC-SHA256 of `hash` under that key. */
  mac?: string | null;
  /** Canonical JSON of the entity-state digests the event vouches for. */
  states?: string | null;
}

/** Single-point metric writes per run not yet sealed into a `run.log_metrics` audit event. */
export interface AuditPendingMetricTable {
  run_uuid: string;
  actor: string;
  count: number;
  digest: string;
  first_time: number;
  last_time: number;
}

/** Every table Slipway keeps, by name. Domains that add tables extend this with their migrations. */
export interface Database {
  experiments: ExperimentTable;
  experiment_tags: ExperimentTagTable;
  runs: RunTable;
  params: ParamTable;
  tags: TagTable;
  metric_blocks: MetricBlockTable;
  latest_metrics: LatestMetricTable;
  datasets: DatasetTable;
  inputs: InputTable;
  input_tags: InputTagTable;
  registered_models: RegisteredModelTable;
  registered_model_tags: RegisteredModelTagTable;
  registered_model_aliases: RegisteredModelAliasTable;
  model_versions: ModelVersionTable;
  model_version_tags: ModelVersionTagTable;
  audit_events: AuditEventTable;
  audit_pending_metrics: AuditPendingMetricTable;
  monitoring_references: MonitoringReferenceTable;
  monitoring_windows: MonitoringWindowTable;
  monitoring_predictions: MonitoringPredictionTable;
  monitoring_ground_truth: MonitoringGroundTruthTable;
  monitoring_alert_rules: MonitoringAlertRuleTable;
  monitoring_alert_states: MonitoringAlertStateTable;
  monitoring_alert_events: MonitoringAlertEventTable;
  releases: ReleaseTable;
  release_events: ReleaseEventTable;
  release_policies: ReleasePolicyTable;
  access_users: AccessUserTable;
  access_tokens: AccessTokenTable;
  access_experiment_permissions: AccessExperimentPermissionTable;
  access_model_permissions: AccessModelPermissionTable;
  dataset_names: DatasetNameTable;
  dataset_versions: DatasetVersionTable;
  job_leases: JobLeaseTable;
  traffic_states: TrafficStateTable;
  traffic_agents: TrafficAgentTable;
  traffic_windows: TrafficWindowTable;
}

/** One row per background job lease: who holds it, its fencing token, and until when (epoch ms). */
export interface JobLeaseTable {
  name: string;
  holder: string;
  token: number;
  expires_at: number;
  /** The PostgreSQL backend holding the job's advisory lock; null on SQLite. */
  backend_pid: number | null;
  acquired_time: number;
}

/** A reference profile attached to a model version (JSON `slipway-profile/1`). */
export interface MonitoringReferenceTable {
  model: string;
  version: string;
  profile: string;
  rows: number;
  source: string | null;
  created_time: number;
}

/** One live window of one model version: its profile (deflated, base64) and its figures (JSON). */
export interface MonitoringWindowTable {
  model: string;
  version: string;
  window_start: number;
  window_end: number;
  rows: number;
  requests: number;
  dropped_rows: number;
  profile: string;
  figures: string;
  updated_time: number;
}

/** A sampled prediction kept for late ground truth (outputs as a JSON array). */
export interface MonitoringPredictionTable {
  request_id: string;
  model: string;
  version: string;
  time: number;
  window_start: number;
  outputs: string;
  output_width: number;
}

/** Ground truth posted for a request (labels as a JSON array, one per row). */
export interface MonitoringGroundTruthTable {
  request_id: string;
  labels: string;
  received_time: number;
}

/** An alert rule on a monitored figure. */
export interface MonitoringAlertRuleTable {
  id: string;
  name: string;
  model: string;
  figure: string;
  comparison: string;
  threshold: number;
  for_windows: number;
  webhook_url: string | null;
  /** JSON of the rule's AlertAction (0009), null when it only notifies. */
  action: string | null;
  created_time: number;
}

/** The current state of an alert rule. */
export interface MonitoringAlertStateTable {
  rule_id: string;
  state: string;
  consecutive: number;
  last_value: number | null;
  last_window: number | null;
  since: number | null;
  updated_time: number;
}

/** A firing or resolving notification (one per transition; `dedup_key` makes it idempotent). */
export interface MonitoringAlertEventTable {
  dedup_key: string;
  rule_id: string;
  kind: string;
  time: number;
  value: number | null;
  window_start: number | null;
  delivered: number;
  attempts: number;
  last_error: string | null;
}

/** One release (migration 0008): policy, gate results, approvals and rollout as JSON text. */
export interface ReleaseTable {
  id: string;
  model_name: string;
  version: string;
  environment: string;
  champion_version: string | null;
  state: string;
  reason: string;
  requested_by: string;
  policy: string;
  gates: string;
  approvals: string;
  rollout: string | null;
  /** 1 while the release is not finished, NULL after: unique per model, so one active release at most. */
  active: number | null;
  created_time: number;
  updated_time: number;
  ended_time: number | null;
}

/** One entry of a release's history (details as JSON text). */
export interface ReleaseEventTable {
  release_id: string;
  seq: number;
  time: number;
  type: string;
  from_state: string | null;
  to_state: string | null;
  actor: string | null;
  message: string;
  details: string | null;
}

/** The release policy stored for one model and environment (JSON text). */
export interface ReleasePolicyTable {
  model_name: string;
  environment: string;
  policy: string;
  updated_time: number;
}

/** A local user: a self-describing scrypt hash (`scrypt$N$r$p$salt$hash`), admin flag, extra rights (JSON array). */
export interface AccessUserTable {
  username: string;
  id: number;
  password_hash: string;
  is_admin: number;
  rights: string;
  created_time: number;
  updated_time: number;
}

/** An API token of a user; only the sha256 of its secret is kept. */
export interface AccessTokenTable {
  id: string;
  username: string;
  name: string;
  secret_sha256: string;
  created_time: number;
  expires_time: number | null;
  revoked_time: number | null;
  last_used_time: number | null;
}

/** A user's permission on one experiment (MLflow's levels). */
export interface AccessExperimentPermissionTable {
  experiment_id: string;
  username: string;
  permission: string;
}

/** A user's permission on one registered model (MLflow's levels). */
export interface AccessModelPermissionTable {
  name: string;
  username: string;
  permission: string;
}

/** A registered dataset name and the last version number it gave (migration 0011). */
export interface DatasetNameTable {
  name: string;
  last_version: number;
  created_time: number;
}

/** A registered dataset version: content digest, size, origin, and schema and profile (JSON) of a table. */
export interface DatasetVersionTable {
  name: string;
  version: number;
  /** sha256 hex of the file, or of the folder's manifest. */
  digest: string;
  kind: string;
  files: number;
  bytes: number;
  source: string;
  /** JSON: the table's columns and their types. */
  schema: string | null;
  /** JSON: the table's DatasetProfile (`slipway-profile/1`). */
  profile: string | null;
  /** Rows of the profiled table. */
  rows: number | null;
  description: string | null;
  run_id: string | null;
  created_time: number;
  created_by: string;
}

/** The split a release wants for one model (JSON in `state`), shared by every server process on the store. */
export interface TrafficStateTable {
  model: string;
  /** Rises at every change; serving processes report the one they applied. */
  epoch: number;
  state: string;
  /** The running split's id (also in `state`), so its driver can say it still drives it; null without a split. */
  split_id: string | null;
  updated_time: number;
}

/** A serving process that follows a model's releases, as it last reported (JSON in `info`). */
export interface TrafficAgentTable {
  model: string;
  agent_id: string;
  info: string;
  last_seen: number;
}

/** One window of figures of a running split, posted by a serving process and drained by the process driving the release. */
export interface TrafficWindowTable {
  id: string;
  model: string;
  split_id: string;
  stats: string;
  created_time: number;
}
