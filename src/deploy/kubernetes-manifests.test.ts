/**
 * Every rendered object validates against the Kubernetes (and Prometheus Operator) schemas of
 * kubernetes-models, and carries the settings the options ask for.
 */
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ALERT_RULE_GROUPS } from './alert-rules.js';
import { resolveDeployOptions } from './deploy-options.js';
import { LIVENESS_PATH, READINESS_PATH, manifestHeader, renderKubernetes, terminationGraceSeconds, toYamlDocuments, type KubernetesObject } from './kubernetes-manifests.js';

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'v1 ConfigMap': ConfigMap,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'monitoring.coreos.com/v1 ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1 PrometheusRule': PrometheusRule,
};

/** `value` behind a proxy that records the path of every own property the validator reads. */
function tracked(value: unknown, path: string, read: Set<string>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === 'string' && Object.hasOwn(target, key)) {
        read.add(`${path}/${key}`);
        return tracked((target as Record<string, unknown>)[key], `${path}/${key}`, read);
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

function paths(value: unknown, path: string, out: string[] = []): string[] {
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push(`${path}/${k}`);
      paths(v, `${path}/${k}`, out);
    }
  }
  return out;
}

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'data']);

/**
 * Validates one object with its kubernetes-models class, throwing the schema's message, and returns the fields
 * the schema does not know. The compiled schemas accept unknown fields (as the API server does without strict
 * field validation); a field the validator never reads is one no schema declares, such as a misspelt probe.
 */
function validate(obj: KubernetesObject): string[] {
  const Model = MODELS[`${obj.apiVersion} ${obj.kind}`];
  if (!Model) throw new Error(`no schema for ${obj.apiVersion} ${obj.kind}`);
  // The constructor deep-copies its input (reading every field), so the copy's fields are tracked afterwards.
  const model = new Model(obj as never) as unknown as Record<string, unknown> & { validate(): void };
  const read = new Set<string>();
  for (const key of Object.keys(model)) model[key] = tracked(model[key], `/${key}`, read);
  model.validate();
  const unread = paths(obj, '').filter((p) => (p.split('/').length === 2 ? !TOP_LEVEL.has(p.slice(1)) : !read.has(p)));
  // Name the outermost unknown field only.
  return unread.filter((p) => !unread.some((q) => p.startsWith(`${q}/`)));
}

const BASE = { artifactsDestination: 's3://ml-artifacts/slipway' };

// Tests read deep paths of plain data.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function find(objects: KubernetesObject[], kind: string): Json {
  const found = objects.find((o) => o.kind === kind);
  if (!found) throw new Error(`no ${kind}`);
  return found;
}

describe('renderKubernetes', () => {
  it('renders the seven objects, each valid against its schema, in apply order', () => {
    const objects = renderKubernetes(resolveDeployOptions(BASE));
    expect(objects.map((o) => o.kind)).toEqual(['ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule']);
    for (const obj of objects) expect(validate(obj), `${obj.kind}`).toEqual([]);
  });

  it('validates with every option set, and without the autoscaler', () => {
    const full = resolveDeployOptions({
      ...BASE,
      name: 'ml-serving',
      namespace: 'mlops',
      image: 'registry.example.com:5000/team/slipway:0.1.0@sha256:' + 'a'.repeat(64),
      imagePullPolicy: 'Always',
      replicas: '4',
      port: '8080',
      cpuRequest: '2',
      cpuLimit: '4',
      memoryRequest: '1.5Gi',
      memoryLimit: '4Gi',
      databaseSecret: 'pg-credentials',
      databaseSecretKey: 'database_url',
      s3Region: 'eu-west-1',
      s3Endpoint: 'https://minio.storage.svc:9000',
      s3CredentialsSecret: 'minio-keys',
      s3ForcePathStyle: 'true',
      artifactCacheSize: '20Gi',
      hpaMin: 4,
      hpaMax: 20,
      hpaTargetCpu: 60,
      pdbMaxUnavailable: 2,
      shutdownTimeout: '1m',
      preStopDelay: '0s',
      logLevel: 'warn',
      serviceMonitorLabels: { release: 'kube-prometheus-stack' },
      metricsTokenSecret: 'prometheus-token',
      scrapeInterval: '15s',
    });
    for (const obj of renderKubernetes(full)) expect(validate(obj), obj.kind).toEqual([]);
    const fixed = renderKubernetes(resolveDeployOptions({ ...BASE, hpa: false, replicas: 3, prometheusRule: false }));
    expect(fixed.map((o) => o.kind)).not.toContain('HorizontalPodAutoscaler');
    expect(fixed.map((o) => o.kind)).not.toContain('PrometheusRule');
    expect(find(fixed, 'Deployment').spec.replicas).toBe(3);
    for (const obj of fixed) expect(validate(obj), obj.kind).toEqual([]);
  });

  it('the schema check refuses a wrong type and names a field no schema declares', () => {
    const [, deployment] = renderKubernetes(resolveDeployOptions(BASE)) as [KubernetesObject, Json];
    const container = deployment.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    container.ports[0].containerPort = '5000';
    expect(() => validate(deployment as KubernetesObject)).toThrow('containerPort must be integer');
    container.ports[0].containerPort = 5000;
    expect(validate(deployment as KubernetesObject)).toEqual(['/spec/template/spec/containers/0/readinesProbe']);
  });

  it('runs non-root on a read-only root file system, with settings from the ConfigMap and the store URI from a Secret reference', () => {
    const o = resolveDeployOptions({ ...BASE, databaseSecret: 'pg', s3CredentialsSecret: 's3-keys', s3Region: 'eu-west-1' });
    const objects = renderKubernetes(o);
    const pod = find(objects, 'Deployment').spec.template.spec;
    const [container] = pod.containers;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, fsGroup: 10001 });
    // Every replica signs audit events with the key of one Secret, copied in with the mode the server demands.
    expect(pod.volumes).toContainEqual({ name: 'audit-keys', secret: { secretName: 'slipway-audit', defaultMode: 0o440 } });
    expect(pod.initContainers[0]).toMatchObject({ name: 'audit-keys', image: 'slipway:0.1.0', securityContext: container.securityContext });
    expect(pod.initContainers[0].command[2]).toContain('install -m 0600 /etc/slipway/audit/audit.key /var/lib/slipway/audit.key');
    expect(container.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(container.envFrom).toEqual([{ configMapRef: { name: 'slipway' } }, { secretRef: { name: 's3-keys' } }]);
    expect(container.env).toEqual([
      { name: 'SLIPWAY_BACKEND_STORE_URI', valueFrom: { secretKeyRef: { name: 'pg', key: 'uri' } } },
      { name: 'SLIPWAY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: 'slipway-admin', key: 'password' } } },
    ]);
    expect(find(objects, 'ConfigMap').data.SLIPWAY_AUTH).toBe('true');
    expect(find(objects, 'ServiceMonitor').spec.endpoints[0].bearerTokenSecret).toEqual({ name: 'slipway-metrics', key: 'token' });
    expect(find(objects, 'ConfigMap').data).toMatchObject({ SLIPWAY_HOST: '0.0.0.0', SLIPWAY_PORT: '5000', SLIPWAY_ARTIFACTS_DESTINATION: 's3://ml-artifacts/slipway', AWS_REGION: 'eu-west-1' });
    expect(objects.map((x) => x.kind)).not.toContain('Secret');
    // No value of any Secret appears anywhere.
    expect(toYamlDocuments(objects)).not.toMatch(/postgresql:\/\//);
    expect(container.resources).toEqual({ requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } });
    // The home volume holds the model cache the server is told about, and a little more.
    expect(find(objects, 'ConfigMap').data.SLIPWAY_ARTIFACT_CACHE_SIZE).toBe(String(10 * 2 ** 30));
    expect(pod.volumes).toContainEqual({ name: 'home', emptyDir: { sizeLimit: '11264Mi' } });
    expect(container.volumeMounts).toContainEqual({ name: 'home', mountPath: '/var/lib/slipway' });
  });

  it('without access control, says so and tells the server it may listen beyond loopback', () => {
    const o = resolveDeployOptions({ ...BASE, auth: false });
    const objects = renderKubernetes(o);
    const data = find(objects, 'ConfigMap').data;
    expect(data.SLIPWAY_ALLOW_ANONYMOUS).toBe('true');
    expect(data.SLIPWAY_AUTH).toBeUndefined();
    expect(find(objects, 'Deployment').spec.template.spec.containers[0].env.map((e: { name: string }) => e.name)).toEqual(['SLIPWAY_BACKEND_STORE_URI']);
    expect(find(objects, 'ServiceMonitor').spec.endpoints[0].bearerTokenSecret).toBeUndefined();
    expect(manifestHeader(o)).toContain('Access control is off');
    expect(() => resolveDeployOptions({ ...BASE, auth: false, adminSecret: 'x' })).toThrow('--admin-secret has no effect with access control turned off (--auth / --no-auth).');
  });

  it('wires the probes to the health routes and the grace period to the shutdown timeout', () => {
    const o = resolveDeployOptions({ ...BASE, shutdownTimeout: '45s', preStopDelay: '10s' });
    const pod = find(renderKubernetes(o), 'Deployment').spec.template.spec;
    const [container] = pod.containers;
    expect(container.livenessProbe.httpGet).toEqual({ path: LIVENESS_PATH, port: 'http' });
    expect(container.startupProbe.httpGet).toEqual({ path: LIVENESS_PATH, port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: READINESS_PATH, port: 'http' });
    expect(container.args).toEqual(['server', '--shutdown-timeout', '45s']);
    expect(container.lifecycle.preStop.exec.command).toEqual(['sleep', '10']);
    expect(pod.terminationGracePeriodSeconds).toBe(60);
    expect(terminationGraceSeconds(o)).toBe(60);
  });

  it('leaves replicas to the autoscaler and selects the pods in the Service, budget and monitor', () => {
    const objects = renderKubernetes(resolveDeployOptions({ ...BASE, replicas: 3, serviceMonitorLabels: { release: 'prom' } }));
    const dep = find(objects, 'Deployment');
    expect(dep.spec.replicas).toBeUndefined();
    expect(find(objects, 'HorizontalPodAutoscaler').spec).toMatchObject({ minReplicas: 3, maxReplicas: 10, scaleTargetRef: { kind: 'Deployment', name: 'slipway' } });
    const selector = dep.spec.selector.matchLabels;
    expect(dep.spec.template.metadata.labels).toMatchObject(selector);
    expect(find(objects, 'Service').spec.selector).toEqual(selector);
    expect(find(objects, 'PodDisruptionBudget').spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: selector } });
    const monitor = find(objects, 'ServiceMonitor');
    expect(monitor.metadata.labels.release).toBe('prom');
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'http', path: '/metrics' });
    expect(find(objects, 'Service').spec.ports[0].name).toBe('http');
  });

  it('carries the alerting rules in a PrometheusRule Prometheus selects as it does the ServiceMonitor', () => {
    const objects = renderKubernetes(resolveDeployOptions({ ...BASE, serviceMonitorLabels: { release: 'prom' } }));
    const rule = find(objects, 'PrometheusRule');
    expect(rule.metadata.labels.release).toBe('prom');
    expect(rule.spec.groups).toEqual(ALERT_RULE_GROUPS);
  });

  it('writes multi-document YAML that parses back to the same objects', () => {
    const objects = renderKubernetes(resolveDeployOptions(BASE));
    const docs = parseAllDocuments(toYamlDocuments(objects));
    expect(Array.isArray(docs) ? docs.map((d) => d.toJS()) : []).toEqual(objects);
  });
});
