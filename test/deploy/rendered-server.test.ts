/**
 * The rendered Deployment runs: `slipway server` started with exactly the container's arguments and
 * environment (the ConfigMap, the store URI the Secret would hold, S3 credentials the Secret would
 * hold, the first admin's password, the audit key the init container copies) on PostgreSQL and a local S3-compatible server answers its probes and the scrape path, writes
 * artifacts to S3, and on SIGTERM exits 0 well within the rendered grace period.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AUDIT_SECRET_DIR, HOME_DIR, manifestHeader, renderKubernetes, resolveDeployOptions, type KubernetesObject } from '../../src/deploy/index.js';
import { CLI_PATH } from '../support/cli.js';
import { freshPostgresDatabase } from '../support/dialects.js';
import { startLocalS3, type LocalS3Server } from '../support/s3-server.js';

const ADMIN_PASSWORD = 'deploy-test-admin-password';
const AUTH = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };

interface Container {
  command?: string[];
  args: string[];
  env: Array<{ name: string; valueFrom: { secretKeyRef: { name: string; key: string } } }>;
  envFrom: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  startupProbe: { httpGet: { path: string } };
  livenessProbe: { httpGet: { path: string } };
  readinessProbe: { httpGet: { path: string } };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function waitForReady(proc: ChildProcess, timeoutMs = 30_000): Promise<void> {
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Slipway server ready at')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited early with ${code}: ${stderr}`));
    });
  });
}

describe('the rendered Deployment', () => {
  let s3: LocalS3Server;
  let db: { uri: string; drop(): Promise<void> };
  let child: ChildProcess | undefined;
  const home = mkdtempSync(join(tmpdir(), 'slipway-rendered-'));
  const auditSecret = mkdtempSync(join(tmpdir(), 'slipway-rendered-audit-'));

  beforeAll(async () => {
    [s3, db] = await Promise.all([startLocalS3(['slipway-deploy']), freshPostgresDatabase()]);
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await Promise.all([s3?.stop(), db?.drop()]);
    rmSync(home, { recursive: true, force: true });
    rmSync(auditSecret, { recursive: true, force: true });
  });

  it('starts from the container spec, answers its probes, stores artifacts in S3 and drains on SIGTERM', async () => {
    const port = await freePort();
    const options = resolveDeployOptions({
      artifactsDestination: 's3://slipway-deploy/prod',
      s3Endpoint: s3.endpoint,
      s3Region: 'us-east-1',
      s3CredentialsSecret: 'slipway-s3',
      port,
      shutdownTimeout: '10s',
    });
    const objects = renderKubernetes(options);
    const configMap = objects.find((o) => o.kind === 'ConfigMap') as KubernetesObject & { data: Record<string, string> };
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: Container[]; initContainers: Container[]; terminationGracePeriodSeconds: number } } } };
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0] as Container;

    // The environment the kubelet would give the container: envFrom in order, then env (values from the Secrets).
    const secrets: Record<string, Record<string, string>> = {
      [options.databaseSecret.name]: { [options.databaseSecret.key]: db.uri },
      'slipway-admin': { password: ADMIN_PASSWORD },
      'slipway-s3': { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID as string, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY as string },
    };
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const from of container.envFrom) {
      if (from.configMapRef) Object.assign(env, configMap.data);
      if (from.secretRef) Object.assign(env, secrets[from.secretRef.name]);
    }
    for (const e of container.env) env[e.name] = secrets[e.valueFrom.secretKeyRef.name]?.[e.valueFrom.secretKeyRef.key] as string;
    // The emptyDir the manifest mounts at SLIPWAY_HOME.
    env.SLIPWAY_HOME = home;
    expect(env.SLIPWAY_HOST).toBe('0.0.0.0');

    // The audit key made as the header says, in a folder standing for the Secret volume (group-readable, as fsGroup
    // leaves it), copied by the init container's own script into the home volume.
    const keyCommand = (manifestHeader(options).split('\n').find((l) => l.includes('> audit.key')) ?? '').replace(/^#\s+/, '');
    execFileSync('sh', ['-c', keyCommand], { cwd: auditSecret });
    chmodSync(join(auditSecret, 'audit.key'), 0o440);
    const init = pod.initContainers[0] as Container;
    const script = (init.command?.[2] ?? '').replaceAll(AUDIT_SECRET_DIR, auditSecret).replaceAll(HOME_DIR, home);
    execFileSync(init.command?.[0] ?? 'sh', [init.command?.[1] ?? '-c', script]);
    expect(statSync(join(home, 'audit.key')).mode & 0o777).toBe(0o600);

    const proc = spawn(process.execPath, [CLI_PATH, ...container.args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await waitForReady(proc);
    const base = `http://127.0.0.1:${port}`;
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      const res = await request(`${base}${probe.httpGet.path}`);
      expect(res.statusCode, probe.httpGet.path).toBe(200);
      await res.body.dump();
    }
    const health = await request(`${base}/api/v1/health`);
    expect(await health.body.json()).toMatchObject({ status: 'ok', store: { backend: 'postgres', status: 'ok' }, artifact_store: { status: 'ok' } });
    // Access control is on: the probes above are public, the rest needs a user (Prometheus sends a token).
    expect((await request(`${base}/metrics`)).statusCode).toBe(401);
    const metrics = await request(`${base}/metrics`, { headers: AUTH });
    expect(metrics.statusCode).toBe(200);
    expect(await metrics.body.text()).toContain('# TYPE slipway_http_requests_total counter');

    // An artifact written through the server lands in the bucket.
    const created = await request(`${base}/api/2.0/mlflow/experiments/create`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'deploy' }) });
    const { experiment_id: experimentId } = (await created.body.json()) as { experiment_id: string };
    const run = await request(`${base}/api/2.0/mlflow/runs/create`, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify({ experiment_id: experimentId }) });
    const { run: created_run } = (await run.body.json()) as { run: { info: { run_id: string; artifact_uri: string } } };
    const upload = await request(`${base}/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${created_run.info.run_id}/artifacts/note.txt`, { method: 'PUT', headers: AUTH, body: 'stored in S3' });
    expect(upload.statusCode, await upload.body.text()).toBe(200);
    const listed = await request(`${s3.endpoint}/slipway-deploy?list-type=2&prefix=prod/`);
    expect(await listed.body.text()).toContain('<Key>prod/');

    // Audit events are signed with the key from the Secret, not one the pod made up.
    const client = new pg.Client({ connectionString: db.uri });
    await client.connect();
    try {
      const keys = await client.query<{ key_id: string }>('select distinct key_id from audit_events');
      expect(keys.rows.map((r) => r.key_id)).toEqual([(JSON.parse(readFileSync(join(auditSecret, 'audit.key'), 'utf8')) as { id: string }).id]);
    } finally {
      await client.end();
    }

    const started = Date.now();
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(pod.terminationGracePeriodSeconds * 1000);
  }, 60_000);
});
