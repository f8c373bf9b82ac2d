/**
 * `slipway server --artifacts-destination s3://…` against a local S3-compatible server: MLflow-REST artifact
 * uploads and downloads land in the bucket, a registered model is served from it (through the local checkout
 * cache), and a bucket the server cannot use stops it at start with a message naming the setting.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3, S3RVER_CREDENTIALS, type LocalS3Server } from '../support/s3-server.js';
import { freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from './server-process.js';

const FIXTURES = resolve(import.meta.dirname, '../fixtures');
// The SDK's notice that its 2027 releases need Node 22 is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const BUCKET = 'slipway-e2e';

describe('slipway server on S3 artifacts', () => {
  let s3: LocalS3Server;
  let home: string;
  let server: ServerProcess;
  let api: string;

  beforeAll(async () => {
    s3 = await startLocalS3([BUCKET]);
    home = freshHome();
    server = await startServerProcess(home, ['--artifacts-destination', `s3://${BUCKET}/team/slipway`], 30_000, s3.env);
    api = `${server.url}/api/2.0`;
  }, 60_000);

  afterAll(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await s3?.stop();
    if (home) removeHome(home);
  });

  async function json(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${api}${path}`, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    expect(res.status, `${method} ${path}: ${text}`).toBe(200);
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  }

  it('names the S3 location on its ready line', () => {
    expect(server.stdout()).toContain(`artifacts s3://${BUCKET}/team/slipway`);
  });

  it('keeps MLflow artifacts in the bucket and serves a registered model from it', async () => {
    const { experiment_id: expId } = (await json('POST', '/mlflow/experiments/create', { name: 's3-flow' })) as { experiment_id: string };
    const { run } = (await json('POST', '/mlflow/runs/create', { experiment_id: expId, start_time: Date.now() })) as { run: { info: { run_id: string } } };
    const runId = run.info.run_id;
    const onnx = readFileSync(join(FIXTURES, 'breast_cancer_mlp.onnx'));
    const root = `${expId}/${runId}/artifacts`;
    const files: Array<[string, string | Buffer]> = [
      ['model/MLmodel', `artifact_path: model\nflavors:\n  onnx:\n    onnx_version: 1.15.0\n    data: model.onnx\nrun_id: ${runId}\n`],
      ['model/model.onnx', onnx],
      ['notes/copy-of-model.onnx', onnx],
    ];
    for (const [path, body] of files) {
      const res = await fetch(`${api}/mlflow-artifacts/artifacts/${root}/${path}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body });
      expect(res.status).toBe(200);
    }
    const listed = (await json('GET', `/mlflow/artifacts/list?run_id=${runId}&path=model`)) as { files: Array<{ path: string; file_size?: number }> };
    expect(listed.files).toEqual([
      { path: 'model/MLmodel', is_dir: false, file_size: Buffer.byteLength(files[0]?.[1] as string) },
      { path: 'model/model.onnx', is_dir: false, file_size: onnx.length },
    ]);
    const download = await fetch(`${api}/mlflow-artifacts/artifacts/${root}/model/model.onnx`);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(onnx)).toBe(true);
    expect(download.headers.get('etag')).toMatch(/^"[0-9a-f]{64}"$/);

    // The bucket holds the content once under the prefix, and one pointer per path.
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    const keys = ((await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'team/slipway/' }))).Contents ?? []).map((c) => c.Key as string);
    expect(keys.filter((k) => k.startsWith('team/slipway/objects/'))).toHaveLength(2);
    expect(keys.filter((k) => k.startsWith('team/slipway/tree/')).sort()).toEqual(files.map(([p]) => `team/slipway/tree/${root}/${p}`).sort());
    expect(keys.filter((k) => k.startsWith('team/slipway/tmp/'))).toEqual([]);

    await json('POST', '/mlflow/runs/log-model', {
      run_id: runId,
      model_json: JSON.stringify({ artifact_path: 'model', run_id: runId, utc_time_created: '2026-01-01 00:00:00.000000', flavors: { onnx: { data: 'model.onnx' } } }),
    });
    await json('POST', '/mlflow/registered-models/create', { name: 's3-model' });
    await json('POST', '/mlflow/model-versions/create', { name: 's3-model', source: `runs:/${runId}/model`, run_id: runId });
    let status = '';
    for (let i = 0; i < 100 && status !== 'READY'; i++) {
      status = ((await json('GET', '/mlflow/model-versions/get?name=s3-model&version=1')) as { model_version: { status: string } }).model_version.status;
      if (status !== 'READY') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('READY');
    const viaVersion = await fetch(`${server.url}/model-versions/get-artifact?name=s3-model&version=1&path=model.onnx`);
    expect(Buffer.from(await viaVersion.arrayBuffer()).equals(onnx)).toBe(true);
    await json('POST', '/mlflow/registered-models/alias', { name: 's3-model', alias: 'champion', version: '1' });

    let infer: Response | undefined;
    for (let i = 0; i < 100; i++) {
      infer = await fetch(`${server.url}/v2/models/s3-model/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: new Array(30).fill(0.5) }] }),
      });
      if (infer.status !== 503) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(infer?.status, await infer?.clone().text()).toBe(200);
    // Serving read the model through the local checkout cache, verified by digest.
    const cached = join(home, 'home', 'artifact-cache', 'objects');
    const blobs = readdirSync(cached).flatMap((fan) => readdirSync(join(cached, fan)).map((n) => readFileSync(join(cached, fan, n))));
    expect(blobs.some((b) => b.equals(onnx))).toBe(true);
  }, 120_000);
});

describe('slipway server refuses an S3 destination it cannot use', () => {
  let s3: LocalS3Server;
  let home: string;

  beforeAll(async () => {
    s3 = await startLocalS3([BUCKET]);
    home = freshHome();
  }, 60_000);
  afterAll(async () => {
    await s3?.stop();
    if (home) removeHome(home);
  });

  const serve = (destination: string, env: Record<string, string>) =>
    runCli(['server', '--port', '0', '--artifacts-destination', destination], { SLIPWAY_HOME: join(home, 'home'), ...env }, 60_000);

  it('wrong credentials: exit 2 naming the credentials and the destination setting', async () => {
    const r = await serve(`s3://${BUCKET}/x`, { ...s3.env, AWS_ACCESS_KEY_ID: 'WRONG', AWS_SECRET_ACCESS_KEY: 'wrong' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('AWS_ACCESS_KEY_ID');
    expect(r.stderr).toContain(`s3://${BUCKET}/x (--artifacts-destination`);
  }, 60_000);

  it('a missing bucket: exit 2 naming the bucket and the setting', async () => {
    const r = await serve('s3://no-such-bucket/x', s3.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("the bucket 'no-such-bucket' does not exist");
    expect(r.stderr).toContain('--artifacts-destination');
  }, 60_000);

  it('an unreachable endpoint: exit 1 naming the endpoint variable', async () => {
    const r = await serve(`s3://${BUCKET}/x`, { ...s3.env, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('http://127.0.0.1:9 (AWS_ENDPOINT_URL_S3) is unreachable');
  }, 60_000);

  it('a malformed destination: exit 2 before anything opens', async () => {
    const r = await serve('s3://Bad_Bucket/x', s3.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'Bad_Bucket' is not a valid bucket name");
  });
});
