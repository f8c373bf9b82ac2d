/**
 * The options of `slipway deploy render kubernetes`: the `deploy:` section of `slipway.yaml`
 * and the command's flags (flags win), checked once and resolved into `DeployOptions`.
 *
 * ```yaml
 * deploy:
 *   image: registry.example.com/slipway:0.1.0
 *   namespace: mlops
 *   replicas: 3
 *   artifactsDestination: s3://ml-artifacts/slipway
 *   databaseSecret: slipway-database
 *   hpa: { min: 3, max: 12, targetCpu: 70 }
 *   shutdownTimeout: 30s
 * ```
 *
 * Every mistake names its option: `--replicas must be a whole number of at least 1` for a flag,
 * `slipway.yaml:4:13: deploy.replicas: …` for the file.
 */
import { parseDuration } from '../core/duration.js';
import { SlipwayError } from '../core/errors.js';
import { YamlLocator, dottedPath, type PathKey } from '../core/yaml-locator.js';

/** Everything the rendered manifests are made from, resolved. */
export interface DeployOptions {
  /** Name of every object and the `app.kubernetes.io/name` label. @default slipway */
  name: string;
  /** Namespace of every object. @default slipway */
  namespace: string;
  /** Container image reference. @default slipway:0.1.0 */
  image: string;
  /** Image pull policy. @default IfNotPresent */
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** Replicas the Deployment starts with when no autoscaler manages it; the autoscaler's default minimum. @default 2 */
  replicas: number;
  /** Port the server listens on in the container and the Service exposes. @default 5000 */
  port: number;
  /** Container resources as Kubernetes quantities; an absent limit is not set. */
  resources: { cpuRequest: string; memoryRequest: string; cpuLimit?: string; memoryLimit?: string };
  /** The Secret (made by the operator) that holds the metadata store URI, and its key. */
  databaseSecret: { name: string; key: string };
  /** Shared artifact store of every replica (`s3://bucket/prefix`). */
  artifactsDestination: string;
  /** AWS region, S3 endpoint and addressing style (for S3-compatible stores) put in the ConfigMap when set. */
  s3: { region?: string; endpoint?: string; forcePathStyle?: boolean; credentialsSecret?: string };
  /** Bytes of the local cache serving reads S3 models through (`SLIPWAY_ARTIFACT_CACHE_SIZE`). @default 10 GiB */
  artifactCacheBytes: number;
  /** HorizontalPodAutoscaler bounds and CPU target (percent of the request); absent when turned off. */
  hpa?: { min: number; max: number; targetCpu: number };
  /** Most pods the PodDisruptionBudget lets a voluntary disruption take at once. @default 1 */
  pdbMaxUnavailable: number;
  /** `slipway server --shutdown-timeout` in ms: the drain and the shutdown hooks. @default 30000 */
  shutdownTimeoutMs: number;
  /** Pause before SIGTERM, in ms, so endpoints stop routing to the pod first. @default 5000 */
  preStopDelayMs: number;
  /** Server log level. @default info */
  logLevel: string;
  /** Labels Prometheus selects ServiceMonitors by (kube-prometheus-stack: `release: NAME`). */
  serviceMonitorLabels: Record<string, string>;
  /**
   * Access control (`SLIPWAY_AUTH`), with the first admin's password from a Secret; off, the server is told
   * it may listen beyond loopback without it (`SLIPWAY_ALLOW_ANONYMOUS`), for a gateway that authenticates.
   */
  auth: { enabled: true; adminSecret: { name: string; key: string } } | { enabled: false };
  /** Secret holding the audit keys every replica signs and verifies with: `audit.key`, and retired keys as `<id>.key`. @default NAME-audit */
  auditKeySecret: string;
  /** Secret holding a bearer token Prometheus scrapes with (key `token`). @default NAME-metrics with access control on */
  metricsTokenSecret?: string;
  /** Render the alerting rules as a PrometheusRule. @default true */
  prometheusRule: boolean;
  /** Scrape interval, a Prometheus duration. @default 30s */
  scrapeInterval: string;
}

/** Options as given in the file or by flags, before checks and defaults. */
export type DeployInput = Partial<Record<DeployKey, unknown>>;

/** The keys the `deploy:` section accepts, with the flag that sets each. */
export const DEPLOY_KEYS = {
  name: '--name',
  namespace: '--namespace',
  image: '--image',
  imagePullPolicy: '--image-pull-policy',
  replicas: '--replicas',
  port: '--port',
  cpuRequest: '--cpu-request',
  memoryRequest: '--memory-request',
  cpuLimit: '--cpu-limit',
  memoryLimit: '--memory-limit',
  databaseSecret: '--database-secret',
  databaseSecretKey: '--database-secret-key',
  artifactsDestination: '--artifacts-destination',
  s3Region: '--s3-region',
  s3Endpoint: '--s3-endpoint',
  s3ForcePathStyle: '--s3-force-path-style',
  s3CredentialsSecret: '--s3-credentials-secret',
  artifactCacheSize: '--artifact-cache-size',
  hpa: '--hpa / --no-hpa',
  hpaMin: '--hpa-min',
  hpaMax: '--hpa-max',
  hpaTargetCpu: '--hpa-target-cpu',
  pdbMaxUnavailable: '--pdb-max-unavailable',
  shutdownTimeout: '--shutdown-timeout',
  preStopDelay: '--pre-stop-delay',
  logLevel: '--log-level',
  auth: '--auth / --no-auth',
  adminSecret: '--admin-secret',
  auditKeySecret: '--audit-key-secret',
  serviceMonitorLabels: '--service-monitor-label',
  metricsTokenSecret: '--metrics-token-secret',
  scrapeInterval: '--scrape-interval',
  prometheusRule: '--prometheus-rule / --no-prometheus-rule',
} as const;

/** A key of the `deploy:` section. */
export type DeployKey = keyof typeof DEPLOY_KEYS;

// RFC 1123 label: what Kubernetes accepts as a name of a Service (the strictest object here) and a namespace.
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// RFC 1123 subdomain: Secret names.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// An image reference as the distribution spec writes it: [host[:port]/]path[:tag][@digest].
const IMAGE =
  /^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const CPU = /^(\d+(\.\d+)?|\d+m)$/;
const MEMORY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const QUANTITY_BYTES: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const PROM_DURATION = /^(\d+(ms|s|m|h))+$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;

/** Where a value came from, so a message names the flag or the file's key. */
export interface OptionSource {
  /** The name a message gives the option. */
  name(key: DeployKey): string;
}

/** Names options by their flags. */
export const FLAG_NAMES: OptionSource = { name: (key) => DEPLOY_KEYS[key] };

function invalid(name: string, message: string): never {
  throw new SlipwayError('INVALID_ARGUMENT', `${name} ${message}`, { option: name });
}

/** A whole number within bounds; the flag's text (`'3'`) or the file's number. */
function wholeNumber(value: unknown, name: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    invalid(name, `must be a whole number from ${min} to ${max}; got ${JSON.stringify(value)}.`);
  }
  return n;
}

function text(value: unknown, name: string, rule: RegExp, what: string, maxLength = 253): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength || !rule.test(value)) {
    invalid(name, `must be ${what}; got ${JSON.stringify(value)}.`);
  }
  return value;
}

function durationMs(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'string' && typeof value !== 'number') invalid(name, `must be a duration such as 30s; got ${JSON.stringify(value)}.`);
  try {
    return parseDuration(value, { name, min, max, allowZero: min === 0 });
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', (err as Error).message, { option: name });
  }
}

function labels(value: unknown, name: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) invalid(name, 'must be a mapping of label names to values.');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    text(k, `${name} key`, LABEL_KEY, 'a Kubernetes label name (such as release or example.com/team)');
    const s = typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
    out[k] = text(s, `${name} '${k}'`, LABEL_VALUE, 'a Kubernetes label value (63 characters at most: letters, digits, -, _ and .)', 63);
  }
  return out;
}

function bool(value: unknown, name: string): boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  if (typeof value !== 'boolean') invalid(name, `must be true or false; got ${JSON.stringify(value)}.`);
  return value;
}

/** Bytes of a memory quantity such as 10Gi (already checked against MEMORY). */
function quantityBytes(quantity: string): number {
  const [, number, unit] = /^(\d+(?:\.\d+)?)([A-Za-z]*)$/.exec(quantity) as unknown as [string, string, string];
  return Math.floor(Number(number) * (QUANTITY_BYTES[unit] as number));
}

/**
 * Checks `input` and fills in defaults; throws INVALID_ARGUMENT naming the option (by `source`) for any bad value,
 * and for an option that cannot work with another (a local artifact folder with several replicas, hpa min above max).
 */
export function resolveDeployOptions(input: DeployInput, source: OptionSource = FLAG_NAMES): DeployOptions {
  const n = (key: DeployKey): string => source.name(key);
  const has = (key: DeployKey): boolean => input[key] !== undefined;
  const name = has('name') ? text(input.name, n('name'), DNS_LABEL, 'a lowercase DNS label (letters, digits and -, 63 characters at most, such as slipway)', 63) : 'slipway';
  // The longest derived name is NAME-metrics (the token Secret is the user's): keep it within 63.
  if (name.length > 55) invalid(n('name'), `must be 55 characters at most, so the names derived from it stay valid; got ${name.length}.`);
  const namespace = has('namespace') ? text(input.namespace, n('namespace'), DNS_LABEL, 'a lowercase DNS label (letters, digits and -, such as mlops)', 63) : 'slipway';
  const image = has('image') ? text(input.image, n('image'), IMAGE, 'an image reference such as registry.example.com/slipway:0.1.0 (lowercase repository, optional :tag and @sha256: digest)', 255) : 'slipway:0.1.0';
  let imagePullPolicy: DeployOptions['imagePullPolicy'] = 'IfNotPresent';
  if (has('imagePullPolicy')) {
    if (!PULL_POLICIES.includes(input.imagePullPolicy as never)) invalid(n('imagePullPolicy'), `must be one of ${PULL_POLICIES.join(', ')}; got ${JSON.stringify(input.imagePullPolicy)}.`);
    imagePullPolicy = input.imagePullPolicy as DeployOptions['imagePullPolicy'];
  }
  const replicas = has('replicas') ? wholeNumber(input.replicas, n('replicas'), 1, 1000) : 2;
  const port = has('port') ? wholeNumber(input.port, n('port'), 1024, 65535) : 5000;

  const cpuWhat = 'a CPU quantity such as 500m or 2';
  const memWhat = 'a memory quantity such as 512Mi or 2Gi';
  const resources: DeployOptions['resources'] = {
    cpuRequest: has('cpuRequest') ? text(input.cpuRequest, n('cpuRequest'), CPU, cpuWhat, 32) : '500m',
    memoryRequest: has('memoryRequest') ? text(input.memoryRequest, n('memoryRequest'), MEMORY, memWhat, 32) : '512Mi',
    memoryLimit: has('memoryLimit') ? text(input.memoryLimit, n('memoryLimit'), MEMORY, memWhat, 32) : '1Gi',
  };
  if (has('cpuLimit')) resources.cpuLimit = text(input.cpuLimit, n('cpuLimit'), CPU, cpuWhat, 32);

  const databaseSecret = {
    name: has('databaseSecret') ? text(input.databaseSecret, n('databaseSecret'), DNS_SUBDOMAIN, 'a Secret name (lowercase letters, digits, - and .)') : `${name}-database`,
    key: has('databaseSecretKey') ? text(input.databaseSecretKey, n('databaseSecretKey'), /^[-._a-zA-Z0-9]+$/, 'a Secret key (letters, digits, -, _ and .)') : 'uri',
  };

  if (!has('artifactsDestination')) {
    invalid(n('artifactsDestination'), 'is required: every replica must reach the same artifact store, such as s3://bucket/prefix.');
  }
  const artifactsDestination = text(input.artifactsDestination, n('artifactsDestination'), /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/\S*)?$/, 'an s3://bucket/prefix URL (a local folder is not shared between pods)', 1024);

  const s3: DeployOptions['s3'] = {};
  if (has('s3Region')) s3.region = text(input.s3Region, n('s3Region'), /^[a-z0-9-]+$/, 'an AWS region such as eu-west-1', 64);
  if (has('s3Endpoint')) s3.endpoint = text(input.s3Endpoint, n('s3Endpoint'), /^https?:\/\/[^\s/]+(\/\S*)?$/, 'an http:// or https:// URL such as https://minio.storage:9000', 1024);
  if (has('s3ForcePathStyle')) s3.forcePathStyle = bool(input.s3ForcePathStyle, n('s3ForcePathStyle'));
  if (has('s3CredentialsSecret')) s3.credentialsSecret = text(input.s3CredentialsSecret, n('s3CredentialsSecret'), DNS_SUBDOMAIN, 'a Secret name (lowercase letters, digits, - and .)');

  const cache = has('artifactCacheSize') ? text(input.artifactCacheSize, n('artifactCacheSize'), MEMORY, 'a size such as 10Gi or 500Mi', 32) : '10Gi';
  const artifactCacheBytes = quantityBytes(cache);
  if (artifactCacheBytes < 2 ** 20) invalid(n('artifactCacheSize'), `must be at least 1Mi; got ${JSON.stringify(cache)}.`);

  let hpa: DeployOptions['hpa'];
  const hpaOn = has('hpa') ? bool(input.hpa, n('hpa')) : true;
  if (hpaOn) {
    const min = has('hpaMin') ? wholeNumber(input.hpaMin, n('hpaMin'), 1, 1000) : replicas;
    const max = has('hpaMax') ? wholeNumber(input.hpaMax, n('hpaMax'), 1, 1000) : Math.max(min, 10);
    if (max < min) invalid(n('hpaMax'), `(${max}) must be at least ${n('hpaMin')} (${min}).`);
    const targetCpu = has('hpaTargetCpu') ? wholeNumber(input.hpaTargetCpu, n('hpaTargetCpu'), 1, 100) : 70;
    hpa = { min, max, targetCpu };
  } else {
    for (const key of ['hpaMin', 'hpaMax', 'hpaTargetCpu'] as const) if (has(key)) invalid(n(key), `has no effect with the autoscaler turned off (${n('hpa')}).`);
  }
  const pdbMaxUnavailable = has('pdbMaxUnavailable') ? wholeNumber(input.pdbMaxUnavailable, n('pdbMaxUnavailable'), 1, 1000) : 1;
  const shutdownTimeoutMs = has('shutdownTimeout') ? durationMs(input.shutdownTimeout, n('shutdownTimeout'), 1000, 3_600_000) : 30_000;
  const preStopDelayMs = has('preStopDelay') ? durationMs(input.preStopDelay, n('preStopDelay'), 0, 300_000) : 5000;
  if (!Number.isInteger(shutdownTimeoutMs / 1000)) invalid(n('shutdownTimeout'), 'must be whole seconds (Kubernetes counts the grace period in seconds).');
  if (!Number.isInteger(preStopDelayMs / 1000)) invalid(n('preStopDelay'), 'must be whole seconds.');
  let logLevel = 'info';
  if (has('logLevel')) {
    if (!LOG_LEVELS.includes(input.logLevel as string)) invalid(n('logLevel'), `must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(input.logLevel)}.`);
    logLevel = input.logLevel as string;
  }
  const secretWhat = 'a Secret name (lowercase letters, digits, - and .)';
  const authOn = has('auth') ? bool(input.auth, n('auth')) : true;
  let auth: DeployOptions['auth'];
  if (authOn) auth = { enabled: true, adminSecret: { name: has('adminSecret') ? text(input.adminSecret, n('adminSecret'), DNS_SUBDOMAIN, secretWhat) : `${name}-admin`, key: 'password' } };
  else if (has('adminSecret')) invalid(n('adminSecret'), `has no effect with access control turned off (${n('auth')}).`);
  else auth = { enabled: false };
  const serviceMonitorLabels = has('serviceMonitorLabels') ? labels(input.serviceMonitorLabels, n('serviceMonitorLabels')) : {};
  const options: DeployOptions = {
    name,
    namespace,
    image,
    imagePullPolicy,
    replicas,
    port,
    resources,
    databaseSecret,
    artifactsDestination,
    s3,
    artifactCacheBytes,
    pdbMaxUnavailable,
    shutdownTimeoutMs,
    preStopDelayMs,
    logLevel,
    auth: auth as DeployOptions['auth'],
    auditKeySecret: has('auditKeySecret') ? text(input.auditKeySecret, n('auditKeySecret'), DNS_SUBDOMAIN, secretWhat) : `${name}-audit`,
    serviceMonitorLabels,
    prometheusRule: has('prometheusRule') ? bool(input.prometheusRule, n('prometheusRule')) : true,
    scrapeInterval: has('scrapeInterval') ? text(input.scrapeInterval, n('scrapeInterval'), PROM_DURATION, 'a Prometheus duration such as 30s or 1m', 32) : '30s',
  };
  if (hpa) options.hpa = hpa;
  // With access control on, /metrics needs a signed-in caller: Prometheus must send a token.
  if (has('metricsTokenSecret')) options.metricsTokenSecret = text(input.metricsTokenSecret, n('metricsTokenSecret'), DNS_SUBDOMAIN, secretWhat);
  else if (authOn) options.metricsTokenSecret = `${name}-metrics`;
  return options;
}

/** The `deploy:` section of a config file's text: its options and a source naming them by `FILE:LINE:COL: deploy.KEY`; undefined without one. */
export function parseDeploySection(textOfFile: string, file: string): { input: DeployInput; source: OptionSource } | undefined {
  const { locator, value } = YamlLocator.parse(textOfFile, file);
  const section = typeof value === 'object' && value !== null ? (value as Record<string, unknown>).deploy : undefined;
  if (section === undefined || section === null) return undefined;
  if (typeof section !== 'object' || Array.isArray(section)) throw locator.error(['deploy'], 'must be a mapping of deploy options.');
  const known = Object.keys(DEPLOY_KEYS);
  const input: DeployInput = {};
  for (const [key, v] of Object.entries(section as Record<string, unknown>)) {
    if (key === 'hpa' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      // `hpa: { min, max, targetCpu }` reads as the flat hpaMin/hpaMax/hpaTargetCpu.
      for (const [sub, sv] of Object.entries(v as Record<string, unknown>)) {
        const flat = ({ min: 'hpaMin', max: 'hpaMax', targetCpu: 'hpaTargetCpu', enabled: 'hpa' } as const)[sub as 'min'];
        if (!flat) throw locator.error(['deploy', 'hpa', sub], `unknown key '${sub}'; the autoscaler takes min, max, targetCpu and enabled.`);
        input[flat] = sv;
      }
      continue;
    }
    if (!known.includes(key)) throw locator.error(['deploy', key], `unknown key '${key}'; known keys: ${known.join(', ')}.`);
    input[key as DeployKey] = v;
  }
  const pathOf = (key: DeployKey): PathKey[] => {
    const nested = ({ hpaMin: 'min', hpaMax: 'max', hpaTargetCpu: 'targetCpu' } as Partial<Record<DeployKey, string>>)[key];
    return nested && !(key in (section as object)) ? ['deploy', 'hpa', nested] : ['deploy', key];
  };
  return { input, source: { name: (key) => `${locator.where(pathOf(key))}: ${dottedPath(pathOf(key))}` } };
}

/**
 * The options from the file's `deploy:` section with the flags on top (a flag wins), checked.
 * A bad value in the file is named by its place in the file, a bad flag by the flag.
 */
export function mergeDeployOptions(file: { input: DeployInput; source: OptionSource } | undefined, flags: DeployInput): DeployOptions {
  const merged: DeployInput = { ...(file?.input ?? {}) };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) merged[k as DeployKey] = v;
  const fromFlag = new Set(Object.keys(flags).filter((k) => flags[k as DeployKey] !== undefined));
  const source: OptionSource = { name: (key) => (fromFlag.has(key) || !file ? DEPLOY_KEYS[key] : file.source.name(key)) };
  return resolveDeployOptions(merged, source);
}
