/**
 * Kubernetes manifests for `slipway server` replicas: a Deployment, its Service, a
 * HorizontalPodAutoscaler (autoscaling/v2), a PodDisruptionBudget (policy/v1), the ConfigMap
 * of settings, a ServiceMonitor (monitoring.coreos.com/v1) scraping `/metrics`, and the alerting
 * rules as a PrometheusRule.
 *
 * No Secret is rendered: the Deployment references a Secret the operator creates, so the
 * manifests can be committed and reviewed without holding a password.
 */
import { stringify } from 'yaml';
import { prometheusRule } from './alert-rules.js';
import type { DeployOptions } from './deploy-options.js';

/** One Kubernetes object as plain data. */
export type KubernetesObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } & Record<string, unknown>;

/** Where the server keeps its home (model cache, keys): an emptyDir, since the root file system is read-only. */
export const HOME_DIR = '/var/lib/slipway';
/** The non-root user and group the image runs as. */
export const RUN_AS_USER = 10001;

/** Liveness: the process answers at all (plain `OK`, no store access). */
export const LIVENESS_PATH = '/health';
/**
 * Readiness: this replica's own state — the models it was started with are loaded and it is not draining.
 * `/api/v1/health` also reports the shared metadata and artifact stores; probing it would take every
 * replica out of the Service at once when PostgreSQL restarts, and requests then fail at the load balancer
 * instead of being answered (and retried) by the replicas, which recover on their own.
 */
export const READINESS_PATH = '/v2/health/ready';

/**
 * Seconds the kubelet waits between the start of the pod's termination and SIGKILL: the preStop pause,
 * the server's whole shutdown (`--shutdown-timeout`: drain, hooks, store close), and a margin for the
 * process to exit after its last hook, so a clean drain is never cut short by SIGKILL.
 */
export const GRACE_MARGIN_SECONDS = 5;

/** Where the audit-key Secret is mounted for the init container to copy from. */
export const AUDIT_SECRET_DIR = '/etc/slipway/audit';

/**
 * Copies the audit keys from the Secret into the home volume, owned by the server's user with mode 0600: every
 * replica must sign with the same key, which outlives any pod, and the server refuses a key file that group or
 * others may read — which a Secret volume's files are, once fsGroup lets the non-root user read them at all.
 * The active key becomes `$SLIPWAY_HOME/audit.key`, every other `*.key` of the Secret a retired key in the keyring.
 */
export const AUDIT_KEY_SCRIPT = [
  'set -eu',
  `install -m 0600 ${AUDIT_SECRET_DIR}/audit.key ${HOME_DIR}/audit.key`,
  `mkdir -p -m 0700 ${HOME_DIR}/audit-keys`,
  `for f in ${AUDIT_SECRET_DIR}/*.key; do [ "$(basename "$f")" = audit.key ] || install -m 0600 "$f" ${HOME_DIR}/audit-keys/; done`,
].join('\n');

/** The labels every object carries; the selector uses the first two. */
function labelsOf(o: DeployOptions): Record<string, string> {
  return { 'app.kubernetes.io/name': o.name, 'app.kubernetes.io/instance': o.name, 'app.kubernetes.io/component': 'server', 'app.kubernetes.io/part-of': 'slipway' };
}

function selectorOf(o: DeployOptions): Record<string, string> {
  return { 'app.kubernetes.io/name': o.name, 'app.kubernetes.io/instance': o.name };
}

function meta(o: DeployOptions, extraLabels: Record<string, string> = {}): KubernetesObject['metadata'] {
  return { name: o.name, namespace: o.namespace, labels: { ...labelsOf(o), ...extraLabels } };
}

/** Room in the home volume beyond the model cache: the audit key and checkpoints, downloads being verified. */
export const HOME_HEADROOM_BYTES = 2 ** 30;

/** The home volume's size limit: the model cache and its headroom; the kubelet evicts a pod that writes more. */
export function homeSizeLimit(o: DeployOptions): string {
  return `${Math.ceil((o.artifactCacheBytes + HOME_HEADROOM_BYTES) / 2 ** 20)}Mi`;
}

/** The termination grace period the Deployment gets, in seconds. */
export function terminationGraceSeconds(o: DeployOptions): number {
  return o.preStopDelayMs / 1000 + o.shutdownTimeoutMs / 1000 + GRACE_MARGIN_SECONDS;
}

/** The settings the server reads from its environment, as the ConfigMap holds them. */
export function configMapData(o: DeployOptions): Record<string, string> {
  return {
    SLIPWAY_HOST: '0.0.0.0',
    SLIPWAY_PORT: String(o.port),
    SLIPWAY_HOME: HOME_DIR,
    SLIPWAY_ARTIFACTS_DESTINATION: o.artifactsDestination,
    SLIPWAY_LOG_LEVEL: o.logLevel,
    ...(o.s3.region ? { AWS_REGION: o.s3.region } : {}),
    ...(o.s3.endpoint ? { AWS_ENDPOINT_URL_S3: o.s3.endpoint } : {}),
    ...(o.s3.forcePathStyle !== undefined ? { AWS_S3_FORCE_PATH_STYLE: String(o.s3.forcePathStyle) } : {}),
    SLIPWAY_ARTIFACT_CACHE_SIZE: String(o.artifactCacheBytes),
    ...(o.auth.enabled ? { SLIPWAY_AUTH: 'true' } : { SLIPWAY_ALLOW_ANONYMOUS: 'true' }),
  };
}

function deployment(o: DeployOptions): KubernetesObject {
  const resources = {
    requests: { cpu: o.resources.cpuRequest, memory: o.resources.memoryRequest },
    limits: { ...(o.resources.cpuLimit ? { cpu: o.resources.cpuLimit } : {}), ...(o.resources.memoryLimit ? { memory: o.resources.memoryLimit } : {}) },
  };
  const probe = (path: string, periodSeconds: number, failureThreshold: number): Record<string, unknown> => ({
    httpGet: { path, port: 'http' },
    periodSeconds,
    timeoutSeconds: 2,
    failureThreshold,
  });
  const securityContext = {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const auditKeys = {
    name: 'audit-keys',
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    command: ['sh', '-c', AUDIT_KEY_SCRIPT],
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    securityContext,
    volumeMounts: [
      { name: 'audit-keys', mountPath: AUDIT_SECRET_DIR, readOnly: true },
      { name: 'home', mountPath: HOME_DIR },
    ],
  };
  const container = {
    name: 'server',
    image: o.image,
    imagePullPolicy: o.imagePullPolicy,
    args: ['server', '--shutdown-timeout', `${o.shutdownTimeoutMs / 1000}s`],
    ports: [{ name: 'http', containerPort: o.port, protocol: 'TCP' }],
    envFrom: [{ configMapRef: { name: o.name } }, ...(o.s3.credentialsSecret ? [{ secretRef: { name: o.s3.credentialsSecret } }] : [])],
    env: [
      { name: 'SLIPWAY_BACKEND_STORE_URI', valueFrom: { secretKeyRef: { name: o.databaseSecret.name, key: o.databaseSecret.key } } },
      // Read only when the store has no admin yet; without it the first start would print a generated password to the log.
      ...(o.auth.enabled ? [{ name: 'SLIPWAY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: o.auth.adminSecret.name, key: o.auth.adminSecret.key } } }] : []),
    ],
    resources,
    // Migrations run at start; the startup probe gives them up to 2 minutes before liveness counts.
    startupProbe: probe(LIVENESS_PATH, 2, 60),
    livenessProbe: probe(LIVENESS_PATH, 10, 3),
    readinessProbe: probe(READINESS_PATH, 5, 2),
    ...(o.preStopDelayMs > 0 ? { lifecycle: { preStop: { exec: { command: ['sleep', String(o.preStopDelayMs / 1000)] } } } } : {}),
    securityContext,
    volumeMounts: [
      { name: 'home', mountPath: HOME_DIR },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(o),
    spec: {
      // With an autoscaler, replicas is left to it: a re-applied manifest would otherwise reset the count.
      ...(o.hpa ? {} : { replicas: o.replicas }),
      revisionHistoryLimit: 5,
      selector: { matchLabels: selectorOf(o) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: labelsOf(o) },
        spec: {
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: terminationGraceSeconds(o),
          // fsGroup lets the non-root user read the audit-key Secret's files (root-owned otherwise).
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS_USER, runAsGroup: RUN_AS_USER, fsGroup: RUN_AS_USER, seccompProfile: { type: 'RuntimeDefault' } },
          // Replicas on different nodes, so losing one node leaves the others serving.
          topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selectorOf(o) } }],
          initContainers: [auditKeys],
          containers: [container],
          volumes: [
            { name: 'home', emptyDir: { sizeLimit: homeSizeLimit(o) } },
            { name: 'tmp', emptyDir: { sizeLimit: '1Gi' } },
            { name: 'audit-keys', secret: { secretName: o.auditKeySecret, defaultMode: 0o440 } },
          ],
        },
      },
    },
  };
}

function service(o: DeployOptions): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(o),
    spec: { type: 'ClusterIP', selector: selectorOf(o), ports: [{ name: 'http', port: o.port, targetPort: 'http', protocol: 'TCP' }] },
  };
}

function autoscaler(o: DeployOptions, hpa: NonNullable<DeployOptions['hpa']>): KubernetesObject {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(o),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
      minReplicas: hpa.min,
      maxReplicas: hpa.max,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: hpa.targetCpu } } }],
      // Scale down slowly: each removed pod drains its in-flight requests and reloads cost a model load elsewhere.
      behavior: { scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }] } },
    },
  };
}

function disruptionBudget(o: DeployOptions): KubernetesObject {
  return { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(o), spec: { maxUnavailable: o.pdbMaxUnavailable, selector: { matchLabels: selectorOf(o) } } };
}

function configMap(o: DeployOptions): KubernetesObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(o), data: configMapData(o) };
}

function serviceMonitor(o: DeployOptions): KubernetesObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: meta(o, o.serviceMonitorLabels),
    spec: {
      selector: { matchLabels: selectorOf(o) },
      namespaceSelector: { matchNames: [o.namespace] },
      endpoints: [
        {
          port: 'http',
          path: '/metrics',
          interval: o.scrapeInterval,
          ...(o.metricsTokenSecret ? { bearerTokenSecret: { name: o.metricsTokenSecret, key: 'token' } } : {}),
        },
      ],
    },
  };
}

/** Every object, in the order `kubectl apply` should create them (settings before the pods that read them). */
export function renderKubernetes(o: DeployOptions): KubernetesObject[] {
  return [
    configMap(o),
    deployment(o),
    service(o),
    ...(o.hpa ? [autoscaler(o, o.hpa)] : []),
    disruptionBudget(o),
    serviceMonitor(o),
    ...(o.prometheusRule ? [prometheusRule(o, labelsOf(o))] : []),
  ];
}

// A fixed number per kind, so a file keeps its name whether or not the autoscaler is rendered.
const FILE_ORDER = ['ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule'];

/** File name of an object when written to a folder: `NN-kind.yaml`, numbered in apply order. */
export function manifestFileName(object: KubernetesObject): string {
  const n = FILE_ORDER.indexOf(object.kind) + 1 || FILE_ORDER.length + 1;
  return `${String(n).padStart(2, '0')}-${object.kind.toLowerCase()}.yaml`;
}

/** The header every rendered file starts with: what it is, and the Secrets the operator must create. */
export function manifestHeader(o: DeployOptions): string {
  const lines = [
    'Rendered by `slipway deploy render kubernetes`; see docs/deploy.md.',
    'No Secret is rendered. Create the ones the Deployment references before applying:',
    `  kubectl -n ${o.namespace} create secret generic ${o.databaseSecret.name} --from-literal=${o.databaseSecret.key}='postgresql://USER:PASSWORD@HOST:5432/DB'`,
  ];
  lines.push(
    `  printf '{"id":"k1","secret":"%s","created":"%s"}\\n' "$(head -c 32 /dev/urandom | base64)" "$(date -u +%FT%TZ)" > audit.key`,
    `  kubectl -n ${o.namespace} create secret generic ${o.auditKeySecret} --from-file=audit.key   # every replica signs audit events with it; keep a copy`,
  );
  if (o.auth.enabled) lines.push(`  kubectl -n ${o.namespace} create secret generic ${o.auth.adminSecret.name} --from-literal=${o.auth.adminSecret.key}='<the first admin password, 8 characters or more>'`);
  else lines.push('Access control is off (SLIPWAY_ALLOW_ANONYMOUS): anyone who reaches the Service can change or delete everything.');
  if (o.s3.credentialsSecret) lines.push(`  kubectl -n ${o.namespace} create secret generic ${o.s3.credentialsSecret} --from-literal=AWS_ACCESS_KEY_ID=… --from-literal=AWS_SECRET_ACCESS_KEY=…`);
  if (o.metricsTokenSecret) lines.push(`  kubectl -n ${o.namespace} create secret generic ${o.metricsTokenSecret} --from-literal=token=<a Slipway token of a user Prometheus scrapes as>`);
  lines.push(`The ServiceMonitor${o.prometheusRule ? ' and PrometheusRule need' : ' needs'} the Prometheus Operator (monitoring.coreos.com CRDs).`);
  return `${lines.map((l) => `# ${l}`).join('\n')}\n`;
}

/** One YAML document per object, separated by `---`. */
export function toYamlDocuments(objects: readonly KubernetesObject[]): string {
  return objects.map((obj) => `---\n${stringify(obj, { lineWidth: 0 })}`).join('');
}
