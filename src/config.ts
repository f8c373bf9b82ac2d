/**
 * User configuration: flags > environment > config file > defaults, resolved once
 * into a `ResolvedConfig` that is passed down. Nothing else reads process.env.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DURATION_EXAMPLES, formatDuration, parseDuration, type DurationRules } from './core/duration.js';
import { SlipwayError } from './core/errors.js';
import { isS3Destination, s3LocationOf, type S3ArtifactSettings } from './artifacts/s3-location.js';

// yaml is loaded only when a config file exists: most commands have none, and loading it costs each start tens of ms.
const requireModule = createRequire(import.meta.url);
function parseYaml(text: string): unknown {
  return (requireModule('yaml') as typeof import('yaml')).parse(text);
}

/** Options a user may set (flags, `SLIPWAY_*` environment variables, or `slipway.yaml` under `server:`). */
export interface UserConfig {
  /** Data directory. @default "./.slipway" (env SLIPWAY_HOME) */
  home?: string;
  /** Interface to listen on. @default "127.0.0.1" (env SLIPWAY_HOST) */
  host?: string;
  /** Port to listen on. @default 5000 (env SLIPWAY_PORT) */
  port?: number;
  /** Metadata store URI: `sqlite:///path.db` or `postgresql://…`. @default "sqlite:///$SLIPWAY_HOME/slipway.db" (env SLIPWAY_BACKEND_STORE_URI) */
  backendStoreUri?: string;
  /** Artifact root: a folder, or `s3://bucket/prefix` (endpoint, region and credentials from the AWS environment). @default "$SLIPWAY_HOME/artifacts" (env SLIPWAY_ARTIFACTS_DESTINATION) */
  artifactsDestination?: string;
  /** Largest size in bytes of the local cache that serving reads S3 artifacts through. @default 10 GiB (env SLIPWAY_ARTIFACT_CACHE_SIZE) */
  artifactCacheSize?: number;
  /**
   * Where new experiments put their artifacts: `mlflow-artifacts:` (through this server, into the artifact folder) or a
   * local folder as `file:///abs/path` (or a path) that clients write to directly. @default "mlflow-artifacts:" (env SLIPWAY_DEFAULT_ARTIFACT_ROOT)
   */
  defaultArtifactRoot?: string;
  /** Whether the MLflow artifact proxy routes (`/api/2.0/mlflow-artifacts/…`) are served: true/false. @default true (env SLIPWAY_SERVE_ARTIFACTS) */
  serveArtifacts?: boolean | string;
  /** Largest accepted JSON request body in bytes. @default 16 MiB (env SLIPWAY_BODY_LIMIT) */
  bodyLimit?: number;
  /** Log level. @default "info" (env SLIPWAY_LOG_LEVEL) */
  logLevel?: string;
  /** Longest time a client may take to send one whole request: a duration such as `5m` (from code, a number of ms); 0 turns it off. @default 5m (env SLIPWAY_REQUEST_TIMEOUT) */
  requestTimeout?: string | number;
  /** @deprecated Use `requestTimeout` with a unit. The same limit in ms (env SLIPWAY_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  /** Longest time one metadata-store statement may run: a duration such as `30s` (from code, a number of ms); 0 turns it off. @default 30s (env SLIPWAY_STATEMENT_TIMEOUT) */
  statementTimeout?: string | number;
  /** @deprecated Use `statementTimeout` with a unit. The same limit in ms (env SLIPWAY_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs?: number;
  /** Live-monitoring window length: a duration of at least 1s such as `1m` (from code, a number of ms). @default 1m (env SLIPWAY_MONITORING_WINDOW) */
  monitoringWindow?: string | number;
  /** Lease time of background jobs (at least 1s): how long a replica that died unnoticed may hold a job before another takes it over. @default 15s (env SLIPWAY_JOB_LEASE) */
  jobLease?: string | number;
  /** @deprecated Use `monitoringWindow` with a unit. The same length in ms (env SLIPWAY_MONITORING_WINDOW_MS). */
  monitoringWindowMs?: number;
  /** Share of served requests that live monitoring samples, in (0, 1]. @default 1 (env SLIPWAY_MONITORING_SAMPLE_RATE) */
  monitoringSampleRate?: number;
  /** How long stored predictions and ground-truth labels are kept for late labels and accuracy figures: a duration of at least 1h such as `720h` (30 days); 0 keeps them. @default 0 (env SLIPWAY_MONITORING_RETENTION) */
  monitoringRetention?: string | number;
  /** onnxruntime intra-op threads per served model. @default the number of CPUs, at most 4 (env SLIPWAY_SERVING_THREADS) */
  servingThreads?: number;
  /** Batches in flight per served model. @default 1 (env SLIPWAY_SERVING_CONCURRENCY) */
  servingConcurrency?: number;
  /** Processes `slipway serve` answers on one port with, each with its own event loop and sessions. @default the number of CPUs (env SLIPWAY_SERVING_WORKERS) */
  servingWorkers?: number;
  /** Processes `slipway server` answers on one port with (tracking, registry, UI and serving), each with its own event loop. @default the number of CPUs (env SLIPWAY_SERVER_WORKERS) */
  serverWorkers?: number;
  /** Where inference runs: "inline" (JavaScript thread) or "worker" (one session per worker thread). @default "inline" (env SLIPWAY_SERVING_EXECUTOR) */
  servingExecutor?: string;
  /** Largest inference batch in rows; 1 disables batching. @default 64 (env SLIPWAY_SERVING_MAX_BATCH_SIZE) */
  servingMaxBatchSize?: number;
  /** How long a batch may wait for more rows: a duration such as `500us` or `2ms` (from code, a number of ms); 0 sends at once. @default 0 (env SLIPWAY_SERVING_MAX_QUEUE_DELAY) */
  servingMaxQueueDelay?: string | number;
  /** @deprecated Use `servingMaxQueueDelay` with a unit. The same delay in µs (env SLIPWAY_SERVING_MAX_QUEUE_DELAY_US). */
  servingMaxQueueDelayUs?: number;
  /** Queued requests per model before 503 + Retry-After. @default 512 (env SLIPWAY_SERVING_MAX_QUEUE_SIZE) */
  servingMaxQueueSize?: number;
  /** Per-request inference deadline: a duration such as `30s` (from code, a number of ms). @default 30s (env SLIPWAY_SERVING_DEADLINE) */
  servingDeadline?: string | number;
  /** @deprecated Use `servingDeadline` with a unit. The same deadline in ms (env SLIPWAY_SERVING_DEADLINE_MS). */
  servingDeadlineMs?: number;
  /** NaN/Infinity in inference inputs: "reject" (400) or "allow". @default "reject" (env SLIPWAY_SERVING_NON_FINITE) */
  servingNonFinite?: string;
  /** Hosts `POST /api/v1/loadtests` may send load to besides loopback and this server's models: comma-separated (a list in the file). @default none (env SLIPWAY_LOADTEST_ALLOWED_HOSTS) */
  loadtestAllowedHosts?: string;
  /** Hosts every outbound request (alert webhooks, load tests) may reach besides the defaults: comma-separated (a list in the file). @default none (env SLIPWAY_OUTBOUND_ALLOWED_HOSTS) */
  outboundAllowedHosts?: string;
  /** Host header values the server answers besides loopback names, IP addresses and the listen host: comma-separated (a list in the file). @default none (env SLIPWAY_ALLOWED_HOSTS) */
  allowedHosts?: string;
  /** Origins (scheme://host[:port]) whose browser requests may change state besides the server's own: comma-separated (a list in the file). @default none (env SLIPWAY_CORS_ALLOWED_ORIGINS) */
  corsAllowedOrigins?: string;
  /** Model control: "none" (the repository load/unload API is refused) or "explicit" (it loads and unloads models). @default "none" (env SLIPWAY_MODEL_CONTROL) */
  modelControl?: string;
  /** Folders besides the artifact store that model files may be loaded from: comma-separated (a list in the file). @default none (env SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS) */
  modelSourceAllowedDirs?: string;
  /** The web UI `slipway server` answers at `/`: "true" (the UI built with the package), "false" (none), or the folder of another build. @default true (env SLIPWAY_UI) */
  ui?: boolean | string;
  /** Key that authenticates audit events (created with mode 0600 at first use). @default "$SLIPWAY_HOME/audit.key" (env SLIPWAY_AUDIT_KEY_FILE) */
  auditKeyFile?: string;
  /** Folder of retired audit keys, kept to verify old events. @default "$SLIPWAY_HOME/audit-keys" (env SLIPWAY_AUDIT_KEYRING_DIR) */
  auditKeyringDir?: string;
  /** Append-only file of signed audit-chain heads. @default "$SLIPWAY_HOME/audit-checkpoints.jsonl" (env SLIPWAY_AUDIT_CHECKPOINT_FILE) */
  auditCheckpointFile?: string;
  /** Longest delay between an audit event and the checkpoint covering it: a duration such as `5s` (from code, a number of ms). @default 5s (env SLIPWAY_AUDIT_CHECKPOINT_INTERVAL) */
  auditCheckpointInterval?: string | number;
  /** @deprecated Use `auditCheckpointInterval` with a unit. The same delay in ms (env SLIPWAY_AUDIT_CHECKPOINT_INTERVAL_MS). */
  auditCheckpointIntervalMs?: number;
  /** Access control: every request authenticated and checked against its permission; true/false. @default false (env SLIPWAY_AUTH; `auth.enabled` in the file) */
  auth?: boolean | string;
  /** The permission users have on objects without a grant of their own: READ, EDIT, MANAGE or NO_PERMISSIONS. @default READ (env SLIPWAY_AUTH_DEFAULT_PERMISSION; `auth.defaultPermission`) */
  authDefaultPermission?: string;
  /** With access control on, the environments (aliases) whose releases always need one approval by someone other than the requester, comma-separated. @default champion,production (env SLIPWAY_PROTECTED_ENVIRONMENTS; `auth.protectedEnvironments`) */
  protectedEnvironments?: string;
  /** Listening beyond loopback without access control, knowingly; true/false. @default false (env SLIPWAY_ALLOW_ANONYMOUS; `auth.allowAnonymous`) */
  allowAnonymous?: boolean | string;
}

/** Access control settings, resolved. */
export interface AuthConfig {
  /** Whether requests are authenticated and authorized; off, every request is the anonymous admin. */
  enabled: boolean;
  /** Permission on objects without an explicit grant (MLflow's default_permission). */
  defaultPermission: 'NO_PERMISSIONS' | 'READ' | 'EDIT' | 'MANAGE';
  /** True when an operator accepted a non-loopback listener without access control. */
  allowAnonymous: boolean;
  /** Environments whose releases need an approval by someone other than the requester (four-eyes) while access control is on. */
  protectedEnvironments: string[];
}

/** The configuration every part of Slipway receives. */
export interface ResolvedConfig {
  home: string;
  host: string;
  port: number;
  backendStoreUri: string;
  /** An absolute folder, or the `s3://bucket/prefix` URI when `s3Artifacts` is set. */
  artifactsDestination: string;
  /** The S3 location, present when the destination is `s3://…`. */
  s3Artifacts?: S3ArtifactSettings;
  /** Prefix of new experiments' artifact locations: `mlflow-artifacts:` or an absolute `file://` URI without a trailing '/'. */
  defaultArtifactRoot: string;
  /** The local folder `defaultArtifactRoot` names when it is a `file://` URI (also in `modelSourceAllowedDirs`). */
  defaultArtifactRootFolder: string | undefined;
  /** Whether the MLflow artifact proxy routes are served. */
  serveArtifacts: boolean;
  bodyLimit: number;
  logLevel: string;
  requestTimeoutMs: number;
  /** Longest time one metadata-store statement may run, in ms (0: no limit). */
  statementTimeoutMs: number;
  /** Lease time of background jobs, in ms. */
  jobLeaseMs: number;
  monitoringWindowMs: number;
  monitoringSampleRate: number;
  /** How long predictions and labels are kept, in ms (0: for ever). */
  monitoringRetentionMs: number;
  /** Processes `slipway serve` answers with, when set (the CLI forks them; not a serving option of one process). */
  servingWorkers?: number;
  /** Processes `slipway server` answers with, when set (the CLI forks them). */
  serverWorkers?: number;
  /** Serving options that were set (unset ones take the serving defaults). */
  serving: {
    intraOpThreads?: number;
    concurrency?: number;
    executor?: string;
    maxBatchSize?: number;
    maxQueueDelayMicros?: number;
    maxQueueSize?: number;
    deadlineMs?: number;
    nonFinite?: string;
  };
  /** Extra hosts the load-test HTTP operation may target (entries as given; validated by the load-test plugin). */
  loadtestAllowedHosts: string[];
  /** Extra hosts alert webhooks and load tests may reach (entries as given; validated where requests are made). */
  outboundAllowedHosts: string[];
  /** Extra Host header values the server answers (entries as given; validated by the request guard). */
  allowedHosts: string[];
  /** Extra origins whose state-changing browser requests are accepted. */
  corsAllowedOrigins: string[];
  /** Whether the repository API may load and unload models. */
  modelControl: ModelControlMode;
  /** Absolute folders besides the artifact store that model files may be loaded from (the default artifact root's folder included). */
  modelSourceAllowedDirs: string[];
  /** The web UI: the built-in build, none, or an absolute folder holding another build's index.html and assets/. */
  ui: { enabled: false } | { enabled: true; dir: string | undefined };
  /** Where the audit keys and checkpoints live (outside the database). */
  audit: { keyFile: string; keyringDir: string; checkpointFile: string; checkpointIntervalMs: number };
  /** Access control (off unless asked for). */
  auth: AuthConfig;
  /** The config file read, if any. */
  configFile: string | undefined;
  /** Deprecated spellings met in the environment or the config file, one message each naming the new spelling; commands print them as `warning:` lines. */
  warnings: string[];
}

const ENV_KEYS: Record<keyof UserConfig, string> = {
  home: 'SLIPWAY_HOME',
  host: 'SLIPWAY_HOST',
  port: 'SLIPWAY_PORT',
  backendStoreUri: 'SLIPWAY_BACKEND_STORE_URI',
  artifactsDestination: 'SLIPWAY_ARTIFACTS_DESTINATION',
  artifactCacheSize: 'SLIPWAY_ARTIFACT_CACHE_SIZE',
  defaultArtifactRoot: 'SLIPWAY_DEFAULT_ARTIFACT_ROOT',
  serveArtifacts: 'SLIPWAY_SERVE_ARTIFACTS',
  bodyLimit: 'SLIPWAY_BODY_LIMIT',
  logLevel: 'SLIPWAY_LOG_LEVEL',
  requestTimeout: 'SLIPWAY_REQUEST_TIMEOUT',
  requestTimeoutMs: 'SLIPWAY_REQUEST_TIMEOUT_MS',
  statementTimeout: 'SLIPWAY_STATEMENT_TIMEOUT',
  statementTimeoutMs: 'SLIPWAY_STATEMENT_TIMEOUT_MS',
  monitoringWindow: 'SLIPWAY_MONITORING_WINDOW',
  jobLease: 'SLIPWAY_JOB_LEASE',
  monitoringWindowMs: 'SLIPWAY_MONITORING_WINDOW_MS',
  monitoringSampleRate: 'SLIPWAY_MONITORING_SAMPLE_RATE',
  monitoringRetention: 'SLIPWAY_MONITORING_RETENTION',
  servingThreads: 'SLIPWAY_SERVING_THREADS',
  servingConcurrency: 'SLIPWAY_SERVING_CONCURRENCY',
  servingWorkers: 'SLIPWAY_SERVING_WORKERS',
  serverWorkers: 'SLIPWAY_SERVER_WORKERS',
  servingExecutor: 'SLIPWAY_SERVING_EXECUTOR',
  servingMaxBatchSize: 'SLIPWAY_SERVING_MAX_BATCH_SIZE',
  servingMaxQueueDelay: 'SLIPWAY_SERVING_MAX_QUEUE_DELAY',
  servingMaxQueueDelayUs: 'SLIPWAY_SERVING_MAX_QUEUE_DELAY_US',
  servingMaxQueueSize: 'SLIPWAY_SERVING_MAX_QUEUE_SIZE',
  servingDeadline: 'SLIPWAY_SERVING_DEADLINE',
  servingDeadlineMs: 'SLIPWAY_SERVING_DEADLINE_MS',
  servingNonFinite: 'SLIPWAY_SERVING_NON_FINITE',
  loadtestAllowedHosts: 'SLIPWAY_LOADTEST_ALLOWED_HOSTS',
  outboundAllowedHosts: 'SLIPWAY_OUTBOUND_ALLOWED_HOSTS',
  allowedHosts: 'SLIPWAY_ALLOWED_HOSTS',
  corsAllowedOrigins: 'SLIPWAY_CORS_ALLOWED_ORIGINS',
  modelControl: 'SLIPWAY_MODEL_CONTROL',
  modelSourceAllowedDirs: 'SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS',
  ui: 'SLIPWAY_UI',
  auditKeyFile: 'SLIPWAY_AUDIT_KEY_FILE',
  auditKeyringDir: 'SLIPWAY_AUDIT_KEYRING_DIR',
  auditCheckpointFile: 'SLIPWAY_AUDIT_CHECKPOINT_FILE',
  auditCheckpointInterval: 'SLIPWAY_AUDIT_CHECKPOINT_INTERVAL',
  auditCheckpointIntervalMs: 'SLIPWAY_AUDIT_CHECKPOINT_INTERVAL_MS',
  auth: 'SLIPWAY_AUTH',
  authDefaultPermission: 'SLIPWAY_AUTH_DEFAULT_PERMISSION',
  protectedEnvironments: 'SLIPWAY_PROTECTED_ENVIRONMENTS',
  allowAnonymous: 'SLIPWAY_ALLOW_ANONYMOUS',
};

const AUTH_PERMISSIONS = ['NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE'] as const;

function authConfigOf(merged: Pick<UserConfig, 'auth' | 'authDefaultPermission' | 'allowAnonymous' | 'protectedEnvironments'>): AuthConfig {
  const enabled = booleanSetting(merged.auth, false, 'Access control (--auth, SLIPWAY_AUTH, auth.enabled)');
  const allowAnonymous = booleanSetting(merged.allowAnonymous, false, 'Anonymous access (--allow-anonymous, SLIPWAY_ALLOW_ANONYMOUS, auth.allowAnonymous)');
  const permission = (merged.authDefaultPermission ?? 'READ').trim().toUpperCase();
  if (!(AUTH_PERMISSIONS as readonly string[]).includes(permission)) {
    throw new SlipwayError('INVALID_ARGUMENT', `The default permission must be one of ${AUTH_PERMISSIONS.join(', ')} (--auth-default-permission, SLIPWAY_AUTH_DEFAULT_PERMISSION, auth.defaultPermission), got '${merged.authDefaultPermission}'.`, { field: 'auth.defaultPermission' });
  }
  const protectedEnvironments = (merged.protectedEnvironments ?? 'champion,production').split(',').map((e) => e.trim()).filter((e) => e !== '');
  return { enabled, defaultPermission: permission as AuthConfig['defaultPermission'], allowAnonymous, protectedEnvironments };
}

// The file's top-level `auth:` mapping, as the flat settings the other sources use.
const AUTH_FILE_KEYS: Record<string, 'auth' | 'authDefaultPermission' | 'allowAnonymous' | 'protectedEnvironments'> = {
  enabled: 'auth',
  defaultPermission: 'authDefaultPermission',
  allowAnonymous: 'allowAnonymous',
  protectedEnvironments: 'protectedEnvironments',
};

function authSectionOf(doc: unknown, path: string): Settings {
  const section = (doc as { auth?: unknown } | null)?.auth;
  if (section === undefined || section === null) return {};
  if (typeof section === 'boolean') return { auth: section };
  if (typeof section !== 'object' || Array.isArray(section)) throw new SlipwayError('INVALID_ARGUMENT', `Config file ${path}: 'auth' must be a mapping (enabled, defaultPermission, allowAnonymous, protectedEnvironments).`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(section)) {
    const key = AUTH_FILE_KEYS[k];
    if (!key) throw new SlipwayError('INVALID_ARGUMENT', `Config file ${path}: unknown option 'auth.${k}' (enabled, defaultPermission, allowAnonymous, protectedEnvironments).`);
    out[key] = typeof v === 'boolean' ? v : String(v);
  }
  return out as Settings;
}

/** How models may be loaded after start, as Triton's --model-control-mode: `none` refuses the repository load/unload API, `explicit` allows it. */
export type ModelControlMode = 'none' | 'explicit';

function modelControlMode(raw: string | undefined): ModelControlMode {
  const mode = (raw ?? 'none').trim();
  if (mode !== 'none' && mode !== 'explicit') throw new SlipwayError('INVALID_ARGUMENT', `Model control must be 'none' or 'explicit' (--model-control, SLIPWAY_MODEL_CONTROL, server.modelControl), got '${mode}'.`);
  return mode;
}

/** The artifact root through this server: logical paths in the artifact folder, served by the MLflow artifact proxy. */
const PROXIED_ROOT = 'mlflow-artifacts:';
/** `ui`: a boolean turns the built-in UI on or off; anything else names the folder of a UI build. */
function uiSetting(value: boolean | string | undefined, cwd: string): ResolvedConfig['ui'] {
  if (value === undefined || value === true) return { enabled: true, dir: undefined };
  if (value === false) return { enabled: false };
  const text = value.trim();
  if (/^(true|1|yes|on)$/i.test(text)) return { enabled: true, dir: undefined };
  if (/^(false|0|no|off)$/i.test(text)) return { enabled: false };
  if (text === '') throw new SlipwayError('INVALID_ARGUMENT', 'The web UI setting (SLIPWAY_UI, server.ui) must be true, false or the folder of a UI build; it is empty.');
  return { enabled: true, dir: resolve(cwd, text) };
}

const ROOT_SETTING = '--default-artifact-root, SLIPWAY_DEFAULT_ARTIFACT_ROOT, server.defaultArtifactRoot';

function inOrAt(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * The default artifact root as a URI and, for a local one, its folder. `mlflow-artifacts:` (any path below it too)
 * is kept; a `file:` URI or a path becomes an absolute `file://` URI (a relative one against `cwd`, as MLflow
 * resolves local locations). Other schemes are refused: object stores come with the scale-out work.
 */
function artifactRootOf(raw: string | undefined, cwd: string): { uri: string; folder: string | undefined } {
  const given = (raw ?? PROXIED_ROOT).trim();
  if (given.startsWith(PROXIED_ROOT)) return { uri: given.replace(/\/+$/, '') || PROXIED_ROOT, folder: undefined };
  let folder: string;
  const file = /^file:(\/\/([^/]*))?(.*)$/i.exec(given);
  if (file) {
    const [, authority, host, path = ''] = file;
    if (authority !== undefined && host !== '' && host?.toLowerCase() !== 'localhost') {
      throw new SlipwayError('INVALID_ARGUMENT', `Default artifact root '${given}' names another machine; give a local folder as file:///absolute/path (${ROOT_SETTING}).`);
    }
    // file:relative/path (no '//'): MLflow reads it as a path relative to the working folder.
    try {
      folder = path.startsWith('/') ? fileURLToPath(`file://${path}`) : resolve(cwd, decodeURIComponent(path));
    } catch (err) {
      throw new SlipwayError('INVALID_ARGUMENT', `Default artifact root '${given}' is not a valid file URI (${(err as Error).message}); give file:///absolute/path (${ROOT_SETTING}).`);
    }
  } else if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(given)) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `Default artifact root '${given}' is not supported: give mlflow-artifacts: (artifacts through this server, the default) or a local folder as file:///absolute/path; object stores (s3://, gs://, …) come with the scale-out work (${ROOT_SETTING}).`,
    );
  } else {
    folder = resolve(cwd, given);
  }
  folder = resolve(folder);
  return { uri: pathToFileURL(folder).href.replace(/\/+$/, ''), folder };
}

/**
 * Refuses a local artifact root that would hand clients the server's own files: one at or above the artifact
 * folder, the audit key and checkpoints, or the SQLite file, or one inside the artifact folder.
 */
function checkArtifactRootFolder(folder: string, guarded: Array<[what: string, path: string]>, artifactsDestination: string): void {
  for (const [what, path] of guarded) {
    if (inOrAt(resolve(path), folder)) {
      throw new SlipwayError('INVALID_ARGUMENT', `Default artifact root '${folder}' holds ${what} (${path}): clients write to this folder directly, so choose a folder of its own, such as ${join(folder, 'mlruns')} (${ROOT_SETTING}).`);
    }
  }
  if (inOrAt(folder, artifactsDestination)) {
    throw new SlipwayError('INVALID_ARGUMENT', `Default artifact root '${folder}' lies inside the artifact folder ${artifactsDestination}, which only this server writes; choose a folder outside it (${ROOT_SETTING}).`);
  }
}

function booleanSetting(value: boolean | string | undefined, fallback: boolean, where: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new SlipwayError('INVALID_ARGUMENT', `${where} must be true or false, got '${value}'.`);
}

const NUMERIC: ReadonlySet<keyof UserConfig> = new Set([
  'port',
  'artifactCacheSize',
  'bodyLimit',
  'requestTimeoutMs',
  'statementTimeoutMs',
  'monitoringWindowMs',
  'monitoringSampleRate',
  'servingThreads',
  'servingConcurrency',
  'servingWorkers',
  'serverWorkers',
  'servingMaxBatchSize',
  'servingMaxQueueDelayUs',
  'servingMaxQueueSize',
  'servingDeadlineMs',
  'auditCheckpointIntervalMs',
]);

/** The keys whose value is a duration (`5m`, `250ms`, `500us`). */
type DurationKey = 'requestTimeout' | 'statementTimeout' | 'jobLease' | 'monitoringRetention' | 'monitoringWindow' | 'servingMaxQueueDelay' | 'servingDeadline' | 'auditCheckpointInterval';
/** Their deprecated spellings, with the unit in the name. */
type LegacyDurationKey = 'requestTimeoutMs' | 'statementTimeoutMs' | 'monitoringWindowMs' | 'servingMaxQueueDelayUs' | 'servingDeadlineMs' | 'auditCheckpointIntervalMs';

/** A duration setting: what it accepts, and its deprecated spelling with a unit suffix and its unit. */
interface DurationSetting {
  key: DurationKey;
  /** Absent for settings that never had another spelling. */
  legacy?: LegacyDurationKey;
  /** Milliseconds in one unit of the deprecated spelling (µs: 0.001). */
  legacyUnitMs: number;
  rules: Omit<DurationRules, 'name'>;
}

/** Longest duration any timer-backed setting takes (Node timers overflow past ~24.8 days). */
const DAY_MS = 86_400_000;

const DURATIONS: readonly DurationSetting[] = [
  { key: 'requestTimeout', legacy: 'requestTimeoutMs', legacyUnitMs: 1, rules: { allowZero: true, min: 1, max: DAY_MS } },
  { key: 'statementTimeout', legacy: 'statementTimeoutMs', legacyUnitMs: 1, rules: { allowZero: true, min: 1, max: DAY_MS } },
  { key: 'monitoringWindow', legacy: 'monitoringWindowMs', legacyUnitMs: 1, rules: { min: 1000 } },
  { key: 'jobLease', legacyUnitMs: 1, rules: { min: 1000, max: DAY_MS } },
  { key: 'monitoringRetention', legacyUnitMs: 1, rules: { allowZero: true, min: 3_600_000, suggest: ['h', 'm'] } },
  { key: 'servingMaxQueueDelay', legacy: 'servingMaxQueueDelayUs', legacyUnitMs: 0.001, rules: { allowZero: true, max: DAY_MS, suggest: ['us', 'ms'] } },
  { key: 'servingDeadline', legacy: 'servingDeadlineMs', legacyUnitMs: 1, rules: { min: 1, max: DAY_MS } },
  { key: 'auditCheckpointInterval', legacy: 'auditCheckpointIntervalMs', legacyUnitMs: 1, rules: { min: 1, max: DAY_MS } },
];

/**
 * One source's settings with every duration in milliseconds under its new key
 * (`requestTimeout: 300000`), whichever spelling set it.
 */
type Settings = Omit<UserConfig, DurationKey | LegacyDurationKey> & Partial<Record<DurationKey, number>>;

/** Where a value came from, for messages: how to name a key, and how to write its new spelling. */
interface Source {
  name(key: keyof UserConfig): string;
  spelling(key: DurationKey, ms: number): string;
}

/**
 * Reads the durations of one source into milliseconds under their new keys: text
 * (and, in the file, numbers) of a new key through the duration parser, numbers of a
 * deprecated key in its old unit with a warning. Both spellings at once is an error.
 */
function durationsOf(values: Record<string, unknown>, source: Source, warnings: string[], numbersAreMs: boolean): Partial<Record<DurationKey, number>> {
  const out: Partial<Record<DurationKey, number>> = {};
  for (const d of DURATIONS) {
    const value = values[d.key];
    const legacy = d.legacy ? values[d.legacy] : undefined;
    delete values[d.key];
    if (d.legacy) delete values[d.legacy];
    if (value !== undefined && legacy !== undefined && d.legacy) {
      throw new SlipwayError('INVALID_ARGUMENT', `Give ${source.name(d.key)} or ${source.name(d.legacy)}, not both; ${source.name(d.legacy)} is deprecated.`, { field: source.name(d.key) });
    }
    if (value !== undefined) {
      out[d.key] = typeof value === 'number' && numbersAreMs ? checkedMs(value, source.name(d.key)) : parseDuration(value as string | number, { name: source.name(d.key), ...d.rules });
    } else if (legacy !== undefined && d.legacy) {
      const ms = (legacy as number) * d.legacyUnitMs;
      warnings.push(`${source.name(d.legacy)} is deprecated; use ${source.spelling(d.key, ms)}`);
      out[d.key] = ms;
    }
  }
  return out;
}

function checkedMs(value: number, where: string): number {
  if (!Number.isFinite(value) || value < 0) throw new SlipwayError('INVALID_ARGUMENT', `${where} must be a non-negative number of milliseconds, got '${value}'.`, { field: where });
  return value;
}

function fromEnv(env: NodeJS.ProcessEnv, warnings: string[]): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(ENV_KEYS) as [keyof UserConfig, string][]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    out[key] = NUMERIC.has(key) ? toNumber(raw, name) : raw;
  }
  const source: Source = { name: (key) => ENV_KEYS[key], spelling: (key, ms) => `${ENV_KEYS[key]}=${formatDuration(ms)}` };
  return { ...out, ...durationsOf(out, source, warnings, false) } as Settings;
}

function toNumber(raw: unknown, where: string): number {
  const n = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new SlipwayError('INVALID_ARGUMENT', `${where} must be a non-negative number, got '${String(raw)}'.`);
  return n;
}

function fromFile(path: string, warnings: string[]): Settings {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `Config file ${path} is not valid YAML: ${(err as Error).message}`);
  }
  const auth = authSectionOf(doc, path);
  const section = (doc as { server?: unknown } | null)?.server;
  if (section === undefined || section === null) return auth;
  if (typeof section !== 'object') throw new SlipwayError('INVALID_ARGUMENT', `Config file ${path}: 'server' must be a mapping.`);
  const durationKeys = new Set<string>(DURATIONS.map((d) => d.key));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(section)) {
    if (!(k in ENV_KEYS)) throw new SlipwayError('INVALID_ARGUMENT', `Config file ${path}: unknown option 'server.${k}'.`);
    if (durationKeys.has(k)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new SlipwayError('INVALID_ARGUMENT', `server.${k} in ${path} must be a duration such as ${DURATION_EXAMPLES}.`, { field: `server.${k}` });
      out[k] = v;
      continue;
    }
    out[k] = NUMERIC.has(k as keyof UserConfig) ? toNumber(v, `server.${k}`) : Array.isArray(v) ? v.map(String).join(',') : String(v);
  }
  const source: Source = { name: (key) => `server.${key} in ${path}`, spelling: (key, ms) => `server.${key}: ${formatDuration(ms)}` };
  return { ...auth, ...out, ...durationsOf(out, source, warnings, false) } as Settings;
}

function fromFlags(flags: UserConfig): Settings {
  const out: Record<string, unknown> = { ...flags };
  // Code passes deprecated keys too (milliseconds, microseconds): no warning, nobody typed them.
  const source: Source = { name: (key) => key, spelling: (key, ms) => `${key}: '${formatDuration(ms)}'` };
  return { ...out, ...durationsOf(out, source, [], true) } as Settings;
}

function stripUndefined<T extends object>(c: T): T {
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as T;
}

function definedOnly<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Resolves flags, environment and the optional config file (`--config`, `SLIPWAY_CONFIG`, or `./slipway.yaml`). */
export function resolveConfig(flags: UserConfig & { config?: string } = {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ResolvedConfig {
  const explicitFile = flags.config ?? env.SLIPWAY_CONFIG;
  const candidate = explicitFile ? resolve(cwd, explicitFile) : join(cwd, 'slipway.yaml');
  if (explicitFile && !existsSync(candidate)) throw new SlipwayError('INVALID_ARGUMENT', `Config file ${candidate} does not exist.`);
  const configFile = existsSync(candidate) ? candidate : undefined;
  const warnings: string[] = [];
  const merged: Settings = {
    ...(configFile ? fromFile(configFile, warnings) : {}),
    ...fromEnv(env, warnings),
    ...fromFlags(stripUndefined({ ...flags, config: undefined } as UserConfig)),
  };
  const home = resolve(cwd, merged.home ?? '.slipway');
  const port = merged.port ?? 5000;
  if (!Number.isInteger(port) || port > 65535) throw new SlipwayError('INVALID_ARGUMENT', `Port must be an integer between 0 and 65535, got '${port}'.`);
  const backendStoreUri = merged.backendStoreUri ?? `sqlite:///${join(home, 'slipway.db')}`;
  // An s3:// destination is a bucket, not a path: it is parsed, never resolved against the working folder.
  const s3Location = merged.artifactsDestination !== undefined && isS3Destination(merged.artifactsDestination) ? s3LocationOf(merged.artifactsDestination, env) : undefined;
  const s3Artifacts = s3Location && { ...s3Location, cacheDir: join(home, 'artifact-cache'), cacheMaxBytes: Math.round(merged.artifactCacheSize ?? 10 * 1024 ** 3) };
  const artifactsDestination = s3Location ? s3Location.uri : resolve(cwd, merged.artifactsDestination ?? join(home, 'artifacts'));
  const audit = {
    keyFile: resolve(cwd, merged.auditKeyFile ?? join(home, 'audit.key')),
    keyringDir: resolve(cwd, merged.auditKeyringDir ?? join(home, 'audit-keys')),
    checkpointFile: resolve(cwd, merged.auditCheckpointFile ?? join(home, 'audit-checkpoints.jsonl')),
    checkpointIntervalMs: Math.max(1, Math.round(merged.auditCheckpointInterval ?? 5000)),
  };
  const artifactRoot = artifactRootOf(merged.defaultArtifactRoot, cwd);
  if (artifactRoot.folder !== undefined) {
    const guarded: Array<[string, string]> = [
      ['the artifact folder', artifactsDestination],
      ['the audit key', audit.keyFile],
      ['the retired audit keys', audit.keyringDir],
      ['the audit checkpoints', audit.checkpointFile],
    ];
    if (backendStoreUri.startsWith('sqlite:')) guarded.push(['the metadata store', backendStoreUri.replace(/^sqlite:\/\//, '')]);
    checkArtifactRootFolder(artifactRoot.folder, guarded, artifactsDestination);
  }
  const serveArtifacts = booleanSetting(merged.serveArtifacts, true, 'Serve artifacts (--serve-artifacts/--no-serve-artifacts, SLIPWAY_SERVE_ARTIFACTS, server.serveArtifacts)');
  if (!serveArtifacts && artifactRoot.folder === undefined) {
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      'Artifacts are not served (--no-serve-artifacts) but new experiments would keep theirs through this server (mlflow-artifacts:); give clients a folder to write to with --default-artifact-root file:///absolute/path, or serve artifacts.',
    );
  }
  const modelSourceAllowedDirs = (merged.modelSourceAllowedDirs ?? '').split(',').map((d) => d.trim()).filter((d) => d !== '').map((d) => resolve(cwd, d));
  // Runs under a local root keep their models there: registering and serving them reads that folder.
  if (artifactRoot.folder !== undefined && !modelSourceAllowedDirs.includes(artifactRoot.folder)) modelSourceAllowedDirs.push(artifactRoot.folder);
  return {
    home,
    host: merged.host ?? '127.0.0.1',
    port,
    backendStoreUri,
    artifactsDestination,
    ...(s3Artifacts ? { s3Artifacts } : {}),
    defaultArtifactRoot: artifactRoot.uri,
    defaultArtifactRootFolder: artifactRoot.folder,
    serveArtifacts,
    bodyLimit: merged.bodyLimit ?? 16 * 1024 * 1024,
    logLevel: merged.logLevel ?? 'info',
    requestTimeoutMs: Math.round(merged.requestTimeout ?? 300_000),
    statementTimeoutMs: Math.round(merged.statementTimeout ?? 30_000),
    jobLeaseMs: Math.round(merged.jobLease ?? 15_000),
    monitoringWindowMs: Math.round(merged.monitoringWindow ?? 60_000),
    monitoringSampleRate: merged.monitoringSampleRate ?? 1,
    monitoringRetentionMs: Math.round(merged.monitoringRetention ?? 0),
    ...(merged.servingWorkers !== undefined ? { servingWorkers: merged.servingWorkers } : {}),
    ...(merged.serverWorkers !== undefined ? { serverWorkers: merged.serverWorkers } : {}),
    serving: definedOnly({
      intraOpThreads: merged.servingThreads,
      concurrency: merged.servingConcurrency,
      executor: merged.servingExecutor,
      maxBatchSize: merged.servingMaxBatchSize,
      maxQueueDelayMicros: merged.servingMaxQueueDelay === undefined ? undefined : Math.round(merged.servingMaxQueueDelay * 1000),
      maxQueueSize: merged.servingMaxQueueSize,
      deadlineMs: merged.servingDeadline === undefined ? undefined : Math.round(merged.servingDeadline),
      nonFinite: merged.servingNonFinite,
    }),
    loadtestAllowedHosts: (merged.loadtestAllowedHosts ?? '').split(',').map((h) => h.trim()).filter((h) => h !== ''),
    outboundAllowedHosts: (merged.outboundAllowedHosts ?? '').split(',').map((h) => h.trim()).filter((h) => h !== ''),
    allowedHosts: (merged.allowedHosts ?? '').split(',').map((h) => h.trim()).filter((h) => h !== ''),
    corsAllowedOrigins: (merged.corsAllowedOrigins ?? '').split(',').map((h) => h.trim()).filter((h) => h !== ''),
    modelControl: modelControlMode(merged.modelControl),
    modelSourceAllowedDirs,
    ui: uiSetting(merged.ui, cwd),
    audit,
    auth: authConfigOf(merged),
    configFile,
    warnings,
  };
}
