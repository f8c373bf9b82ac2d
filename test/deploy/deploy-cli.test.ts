/**
 * `slipway deploy render kubernetes` as a user runs it: manifests on stdout or in a folder, the
 * deploy: section of slipway.yaml with flags on top, and exit 2 naming the option for bad input.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { runCli, tempHome } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function documents(text: string): Array<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>).filter((d) => d !== null);
}

describe('slipway deploy render kubernetes', () => {
  const dir = tempHome('slipway-deploy-cli');

  it('prints multi-document YAML with the header naming the Secret to create', async () => {
    const r = await runCli(['deploy', 'render', 'kubernetes', '--artifacts-destination', 's3://ml-artifacts/slipway', '--namespace', 'mlops', '--image', 'registry.example.com/slipway:0.1.0'], {}, dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("kubectl -n mlops create secret generic slipway-database --from-literal=uri='postgresql://USER:PASSWORD@HOST:5432/DB'");
    const docs = documents(r.stdout);
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'ServiceMonitor', 'PrometheusRule']);
    expect(docs.every((d) => d.metadata.namespace === 'mlops')).toBe(true);
    expect(docs[1]?.spec.template.spec.containers[0].image).toBe('registry.example.com/slipway:0.1.0');
  });

  it('reads the deploy: section of slipway.yaml, flags winning', async () => {
    writeFileSync(join(dir, 'slipway.yaml'), 'deploy:\n  image: registry.example.com/slipway:0.1.0\n  artifactsDestination: s3://ml-artifacts/slipway\n  replicas: 3\n  hpa: false\n  serviceMonitorLabels: { release: prom }\n');
    const fromFile = documents((await runCli(['deploy', 'render', 'kubernetes'], {}, dir)).stdout);
    expect(fromFile.map((d) => d.kind)).not.toContain('HorizontalPodAutoscaler');
    expect(fromFile.find((d) => d.kind === 'Deployment')?.spec.replicas).toBe(3);
    expect(fromFile.find((d) => d.kind === 'ServiceMonitor')?.metadata.labels.release).toBe('prom');
    const r = await runCli(['deploy', 'render', 'kubernetes', '--replicas', '5', '--service-monitor-label', 'release=kps'], {}, dir);
    const flagged = documents(r.stdout);
    expect(flagged.find((d) => d.kind === 'Deployment')?.spec.replicas).toBe(5);
    expect(flagged.find((d) => d.kind === 'ServiceMonitor')?.metadata.labels.release).toBe('kps');
  });

  it('writes one file per object and a kustomization.yaml with --out', async () => {
    const out = join(dir, 'k8s');
    // --config names a file that does not exist: a usage error naming it, and nothing written.
    const missing = await runCli(['deploy', 'render', 'kubernetes', '--config', 'none.yaml', '--out', out, '--artifacts-destination', 's3://ml-artifacts/slipway'], {}, dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("'none.yaml'");
    expect(existsSync(out)).toBe(false);
    const ok = await runCli(['deploy', 'render', 'kubernetes', '--out', out, '--artifacts-destination', 's3://ml-artifacts/slipway', '--hpa'], {}, join(dir, '..'));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`kubectl apply -k ${out}`);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['01-configmap.yaml', '02-deployment.yaml', '03-service.yaml', '04-horizontalpodautoscaler.yaml', '05-poddisruptionbudget.yaml', '06-servicemonitor.yaml', '07-prometheusrule.yaml', 'kustomization.yaml']);
    expect(documents(readFileSync(join(out, 'kustomization.yaml'), 'utf8'))[0]?.resources).toEqual(files.filter((f) => f !== 'kustomization.yaml'));
    // Turning the autoscaler off leaves the earlier file behind: said, and out of the kustomization.
    const again = await runCli(['deploy', 'render', 'kubernetes', '--out', out, '--artifacts-destination', 's3://ml-artifacts/slipway', '--no-hpa'], {}, join(dir, '..'));
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('also holds 04-horizontalpodautoscaler.yaml from an earlier render');
    expect(documents(readFileSync(join(out, 'kustomization.yaml'), 'utf8'))[0]?.resources).not.toContain('04-horizontalpodautoscaler.yaml');
  });

  it('prints the alerting rules file deploy/prometheus holds', async () => {
    const r = await runCli(['deploy', 'render', 'prometheus-rules'], {}, dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'deploy/prometheus/slipway-alerts.yml'), 'utf8'));
  });

  it.each([
    [['--replicas', '0'], '--replicas must be a whole number from 1 to 1000; got "0".'],
    [['--replicas', '-3'], '--replicas must be a whole number'],
    [['--image', 'not a/valid image'], '--image must be an image reference'],
    [['--hpa-min', '4', '--hpa-max', '2'], '--hpa-max (2) must be at least --hpa-min (4).'],
    [['--service-monitor-label', 'novalue'], '--service-monitor-label takes KEY=VALUE'],
  ])('exits 2 naming the option for %j', async (args, message) => {
    const r = await runCli(['deploy', 'render', 'kubernetes', '--config', '/dev/null', '--artifacts-destination', 's3://ml-artifacts/slipway', ...args], {}, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
  });

  it('exits 2 naming an unknown key of the deploy: section by its line', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'deploy:\n  artifactsDestination: s3://ml-artifacts/slipway\n  replica: 3\n');
    const r = await runCli(['deploy', 'render', 'kubernetes', '--config', 'bad.yaml'], {}, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bad.yaml:3:3: deploy.replica: unknown key 'replica'");
  });
});
