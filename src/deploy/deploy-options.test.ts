/** Deploy options: defaults, flags over the file, and a message naming the option for every bad value. */
import { describe, expect, it } from 'vitest';
import { mergeDeployOptions, parseDeploySection, resolveDeployOptions, type DeployInput } from './deploy-options.js';

const BASE = { artifactsDestination: 's3://ml-artifacts/slipway' };

function errorOf(input: DeployInput): string {
  try {
    resolveDeployOptions({ ...BASE, ...input });
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('resolveDeployOptions', () => {
  it('fills in defaults', () => {
    const o = resolveDeployOptions(BASE);
    expect(o).toMatchObject({ name: 'slipway', namespace: 'slipway', image: 'slipway:0.1.0', replicas: 2, port: 5000, hpa: { min: 2, max: 10, targetCpu: 70 }, shutdownTimeoutMs: 30_000, preStopDelayMs: 5000 });
    expect(o.databaseSecret).toEqual({ name: 'slipway-database', key: 'uri' });
    expect(o.artifactCacheBytes).toBe(10 * 2 ** 30);
  });

  it('reads sizes in Kubernetes units and booleans from flags or the file', () => {
    expect(resolveDeployOptions({ ...BASE, artifactCacheSize: '500Mi', s3ForcePathStyle: 'true' })).toMatchObject({ artifactCacheBytes: 500 * 2 ** 20, s3: { forcePathStyle: true } });
    expect(resolveDeployOptions({ ...BASE, artifactCacheSize: '2G', s3ForcePathStyle: false })).toMatchObject({ artifactCacheBytes: 2e9, s3: { forcePathStyle: false } });
  });

  it.each([
    [{ replicas: 0 }, '--replicas must be a whole number from 1 to 1000; got 0.'],
    [{ replicas: '-2' }, '--replicas must be a whole number from 1 to 1000; got "-2".'],
    [{ replicas: '2.5' }, '--replicas must be a whole number from 1 to 1000; got "2.5".'],
    [{ port: '80' }, '--port must be a whole number from 1024 to 65535; got "80".'],
    [{ image: 'Registry/UPPER:tag' }, '--image must be an image reference'],
    [{ image: 'slipway:bad tag' }, '--image must be an image reference'],
    [{ name: 'Slipway_1' }, '--name must be a lowercase DNS label'],
    [{ namespace: '-x' }, '--namespace must be a lowercase DNS label'],
    [{ cpuRequest: 'lots' }, '--cpu-request must be a CPU quantity'],
    [{ memoryLimit: '1GB' }, '--memory-limit must be a memory quantity'],
    [{ artifactsDestination: '/var/lib/artifacts' }, '--artifacts-destination must be an s3://bucket/prefix URL'],
    [{ hpaMin: 5, hpaMax: 3 }, '--hpa-max (3) must be at least --hpa-min (5).'],
    [{ hpaTargetCpu: 0 }, '--hpa-target-cpu must be a whole number from 1 to 100'],
    [{ hpa: false, hpaMax: 3 }, '--hpa-max has no effect with the autoscaler turned off'],
    [{ shutdownTimeout: '30' }, '--shutdown-timeout'],
    [{ shutdownTimeout: '1500ms' }, '--shutdown-timeout must be whole seconds'],
    [{ logLevel: 'loud' }, '--log-level must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ serviceMonitorLabels: { 'bad key!': 'x' } }, '--service-monitor-label key must be a Kubernetes label name'],
    [{ scrapeInterval: '30' }, '--scrape-interval must be a Prometheus duration'],
    [{ imagePullPolicy: 'always' }, '--image-pull-policy must be one of Always, IfNotPresent, Never'],
    [{ s3ForcePathStyle: 'yes' }, '--s3-force-path-style must be true or false; got "yes".'],
    [{ artifactCacheSize: '10GB' }, '--artifact-cache-size must be a size such as 10Gi'],
    [{ artifactCacheSize: '1k' }, '--artifact-cache-size must be at least 1Mi'],
  ] as Array<[DeployInput, string]>)('refuses %j naming the option', (input, message) => {
    expect(errorOf(input)).toContain(message);
  });

  it('requires a shared artifact store', () => {
    expect(() => resolveDeployOptions({})).toThrow('--artifacts-destination is required: every replica must reach the same artifact store');
  });
});

describe('the deploy: section', () => {
  const FILE = ['server:', '  port: 5001', 'deploy:', '  image: registry.example.com/slipway:0.1.0', '  replicas: 3', '  artifactsDestination: s3://bucket/prefix', '  hpa: { min: 3, max: 6 }', ''].join('\n');

  it('reads the section, with flags winning', () => {
    const file = parseDeploySection(FILE, 'slipway.yaml');
    const o = mergeDeployOptions(file, { replicas: '4', image: undefined });
    expect(o).toMatchObject({ image: 'registry.example.com/slipway:0.1.0', replicas: 4, hpa: { min: 3, max: 6 }, artifactsDestination: 's3://bucket/prefix' });
  });

  it('is absent when the file has none', () => {
    expect(parseDeploySection('server:\n  port: 5001\n', 'slipway.yaml')).toBeUndefined();
  });

  it('refuses an unknown key at its line', () => {
    expect(() => parseDeploySection('deploy:\n  replica: 3\n', 'slipway.yaml')).toThrow("slipway.yaml:2:3: deploy.replica: unknown key 'replica'; known keys: name,");
    expect(() => parseDeploySection('deploy:\n  hpa: { min: 1, maximum: 3 }\n', 'slipway.yaml')).toThrow("slipway.yaml:2:18: deploy.hpa.maximum: unknown key 'maximum'");
    expect(() => parseDeploySection('deploy: [1]\n', 'slipway.yaml')).toThrow('deploy: must be a mapping');
  });

  it('names a bad value in the file by its place, and a bad flag by the flag', () => {
    const file = parseDeploySection('deploy:\n  artifactsDestination: s3://bucket/x\n  replicas: 0\n  hpa: { min: 4, max: 2 }\n', 'slipway.yaml');
    expect(() => mergeDeployOptions(file, {})).toThrow('slipway.yaml:3:3: deploy.replicas must be a whole number from 1 to 1000; got 0.');
    expect(() => mergeDeployOptions(file, { replicas: '2' })).toThrow('slipway.yaml:4:18: deploy.hpa.max (2) must be at least slipway.yaml:4:10: deploy.hpa.min (4).');
    expect(() => mergeDeployOptions(file, { replicas: '-1' })).toThrow('--replicas must be a whole number');
  });
});
