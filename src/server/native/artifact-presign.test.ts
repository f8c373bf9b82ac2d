import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../../artifacts/s3-artifact-store.js';
import { s3LocationOf } from '../../artifacts/s3-location.js';
import { DIALECTS, type TestDialect } from '../../../test/support/dialects.js';
import { startLocalS3, S3RVER_CREDENTIALS, type LocalS3Server } from '../../../test/support/s3-server.js';
import { openTestApp, type TestApp } from './native-api.test-support.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const dialect = DIALECTS[0] as TestDialect;

describe('GET /api/v1/runs/{runId}/artifact-url/{path}', () => {
  let t: TestApp;
  let s3: LocalS3Server;
  let cache: string;
  let runId: string;

  beforeAll(async () => {
    s3 = await startLocalS3(['slipway-presign']);
    t = await openTestApp(dialect);
    runId = (await t.app.inject({ method: 'POST', url: '/api/v1/runs', payload: { runName: 'presign' } })).json().info.runId as string;
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.stop();
    if (cache) rmSync(cache, { recursive: true, force: true });
  });

  it('answers 501 naming the way out on a local artifact folder', async () => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/runs/${runId}/artifact-url/model.onnx` });
    expect(res.statusCode).toBe(501);
    expect(res.json().error.message).toContain(`GET /api/v1/runs/${runId}/artifacts/model.onnx`);
  });

  it('on S3, hands out a URL that downloads the file without credentials', async () => {
    cache = mkdtempSync(join(tmpdir(), 'slipway-presign-cache-'));
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
    t.ctx.artifacts = new S3ArtifactStore({ location: s3LocationOf('s3://slipway-presign/p', s3.env), cacheDir: cache, client });
    const body = randomBytes(50_000);
    const put = await t.app.inject({ method: 'PUT', url: `/api/v1/runs/${runId}/artifacts/model/model.onnx`, payload: body, headers: { 'content-type': 'application/octet-stream' } });
    expect(put.statusCode).toBe(200);
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/runs/${runId}/artifact-url/model/model.onnx?expires=60` });
    expect(res.statusCode).toBe(200);
    const signed = res.json() as { url: string; expiresAt: string; size: number; sha256: string };
    expect(signed).toMatchObject({ size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(Date.parse(signed.expiresAt) - Date.now()).toBeGreaterThan(50_000);
    expect(signed.url.startsWith(`${s3.endpoint}/slipway-presign/p/objects/`)).toBe(true);
    const fetched = await fetch(signed.url);
    expect(fetched.status).toBe(200);
    expect(Buffer.from(await fetched.arrayBuffer()).equals(body)).toBe(true);
  });

  it('answers 404 for an absent file or run and 400 for a bad expiry or path', async () => {
    const missing = await t.app.inject({ method: 'GET', url: `/api/v1/runs/${runId}/artifact-url/nope.bin` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.message).toContain("has no artifact file 'nope.bin'");
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/runs/${'0'.repeat(32)}/artifact-url/model/model.onnx` })).statusCode).toBe(404);
    for (const expires of ['0', '604801', 'soon']) {
      const bad = await t.app.inject({ method: 'GET', url: `/api/v1/runs/${runId}/artifact-url/model/model.onnx?expires=${expires}` });
      expect(bad.statusCode, expires).toBe(400);
      expect(bad.json().error.message).toContain('expires');
    }
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/runs/${runId}/artifact-url/a/..%2fb` })).statusCode).toBe(400);
    // A misspelt parameter is named rather than ignored (the URL would otherwise get the default expiry).
    const typo = await t.app.inject({ method: 'GET', url: `/api/v1/runs/${runId}/artifact-url/model/model.onnx?expire=60` });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error.message).toContain('expire');
  });
});
