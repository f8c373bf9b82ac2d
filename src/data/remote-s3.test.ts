import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalS3, type LocalS3Server } from '../../test/support/s3-server.js';
import { FolderObjectCache } from './remote-folder-cache.test-support.js';
import { openRemoteStore, resolveRemote } from './remote-config.js';
import { DataRemote } from './remote-store.js';
import { fetchObjects, pushObjects } from './remote-transfer.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

describe('an s3:// data remote', () => {
  let s3: LocalS3Server;
  let dir: string;
  beforeAll(async () => {
    s3 = await startLocalS3(['slipway-data']);
    // The AWS SDK reads credentials from the environment, as it does for the CLI.
    Object.assign(process.env, s3.env);
    dir = mkdtempSync(join(tmpdir(), 'slipway-remote-s3-'));
  }, 60_000);
  afterAll(async () => {
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pushes objects to the bucket and fetches them back into another cache', async () => {
    const resolved = resolveRemote(dir, { remotes: { cloud: { url: 's3://slipway-data/team/data' } } }, undefined, s3.env);
    const pushStore = await openRemoteStore(resolved, 'push');
    const source = new FolderObjectCache(join(dir, 'source'));
    const digests: string[] = [];
    for (let i = 0; i < 30; i++) digests.push(await source.add(Buffer.alloc(500 + i * 400, i)));
    const opts = { jobs: 4, packThreshold: 4096, packSize: 32 * 1024 };
    const pushed = await pushObjects(source, new DataRemote('cloud', pushStore, join(dir, 'idx-push')), digests, opts);
    expect(pushed).toMatchObject({ objects: 30, transferred: 30, missingLocally: [], corruptLocally: [] });
    const again = await pushObjects(source, new DataRemote('cloud', pushStore, join(dir, 'idx-push')), digests, opts);
    expect(again.transferred).toBe(0);

    const clone = new FolderObjectCache(join(dir, 'clone'));
    const fetched = await fetchObjects(clone, new DataRemote('cloud', await openRemoteStore(resolved, 'fetch'), join(dir, 'idx-fetch')), digests, { ...opts, tmpDir: join(dir, 'tmp') });
    expect(fetched).toMatchObject({ objects: 30 });
    for (const d of digests) expect(await clone.has(d)).toBe(true);
  }, 60_000);

  it('refuses a push to a missing bucket, naming the remote setting', async () => {
    const resolved = resolveRemote(dir, { remotes: { cloud: { url: 's3://no-such-bucket/data' } } }, undefined, s3.env);
    await expect(openRemoteStore(resolved, 'push')).rejects.toThrow(/the bucket 'no-such-bucket' does not exist.*data\.remotes\.cloud\.url in slipway\.yaml/);
  });
});
