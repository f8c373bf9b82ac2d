/**
 * The artifact contract: one set of cases for every store (the local folder and S3 on a local s3rver).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startLocalS3, S3RVER_CREDENTIALS, type LocalS3Server } from '../../test/support/s3-server.js';
import type { ArtifactStore } from './artifact-store.js';
import { LocalArtifactStore } from './local-artifact-store.js';
import { S3ArtifactStore } from './s3-artifact-store.js';
import { s3LocationOf } from './s3-location.js';

interface StoreUnderTest {
  store: ArtifactStore;
  /** How many distinct contents the store holds. */
  blobCount(): Promise<number>;
  dispose(): Promise<void>;
}

interface StoreKind {
  name: string;
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  open(): Promise<StoreUnderTest>;
}

// The SDK's notice that its 2027 releases need Node 22 is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const BUCKET = 'slipway-contract';
let s3: LocalS3Server | undefined;

const STORES: StoreKind[] = [
  {
    name: 'local',
    async open() {
      const root = mkdtempSync(join(tmpdir(), 'slipway-contract-'));
      return {
        store: new LocalArtifactStore(root),
        async blobCount() {
          const objects = join(root, 'objects');
          return readdirSync(objects).reduce((n, p) => n + readdirSync(join(objects, p)).length, 0);
        },
        async dispose() {
          rmSync(root, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 's3',
    async setup() {
      s3 = await startLocalS3([BUCKET]);
    },
    async teardown() {
      await s3?.stop();
    },
    async open() {
      const server = s3 as LocalS3Server;
      const location = s3LocationOf(`s3://${BUCKET}/t-${randomBytes(6).toString('hex')}`, server.env);
      const cacheDir = mkdtempSync(join(tmpdir(), 'slipway-s3-cache-'));
      const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      const store = new S3ArtifactStore({ location, cacheDir, client, partSize: 5 * 1024 * 1024, queueSize: 2 });
      return {
        store,
        async blobCount() {
          let n = 0;
          let token: string | undefined;
          do {
            const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${location.prefix}/objects/`, ...(token ? { ContinuationToken: token } : {}) }));
            n += page.Contents?.length ?? 0;
            token = page.IsTruncated ? page.NextContinuationToken : undefined;
          } while (token);
          return n;
        },
        async dispose() {
          rmSync(cacheDir, { recursive: true, force: true });
        },
      };
    },
  },
];

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

for (const kind of STORES) {
  describe(`artifact store contract: ${kind.name}`, () => {
    let t: StoreUnderTest;
    beforeAll(async () => kind.setup?.(), 60_000);
    afterAll(async () => kind.teardown?.());
    beforeEach(async () => {
      t = await kind.open();
    });
    afterEach(async () => t.dispose());

    it('stores and reads back bytes with their size and digest', async () => {
      const body = Buffer.from('hello artifacts\n');
      expect(await t.store.put('1/run/artifacts/notes.txt', body)).toEqual({ path: '1/run/artifacts/notes.txt', size: body.length, sha256: sha(body) });
      expect(await readAll(await t.store.get('1/run/artifacts/notes.txt'))).toEqual(body);
      const opened = await t.store.read('1/run/artifacts/notes.txt');
      expect({ size: opened.size, sha256: opened.sha256 }).toEqual({ size: body.length, sha256: sha(body) });
      expect(await readAll(opened.body)).toEqual(body);
      expect(await t.store.stat('1/run/artifacts/notes.txt')).toEqual({ size: body.length, sha256: sha(body) });
      const streamed = await t.store.put('1/run/artifacts/streamed.txt', Readable.from([Buffer.from('a'), Buffer.from('b')]));
      expect(streamed).toEqual({ path: '1/run/artifacts/streamed.txt', size: 2, sha256: sha('ab') });
      expect((await readAll(await t.store.get('1/run/artifacts/streamed.txt'))).toString()).toBe('ab');
      const empty = await t.store.put('empty.txt', Buffer.alloc(0));
      expect(empty.size).toBe(0);
      expect((await readAll(await t.store.get('empty.txt'))).length).toBe(0);
    });

    it('stores identical content once, however it arrives', async () => {
      const body = randomBytes(4096);
      await t.store.put('a/model.onnx', body);
      await t.store.put('b/model.onnx', Readable.from([body.subarray(0, 100), body.subarray(100)]));
      await t.store.put('c/copy.onnx', body);
      expect(await t.blobCount()).toBe(1);
      await t.store.put('d/other.bin', Buffer.from('other'));
      expect(await t.blobCount()).toBe(2);
    });

    it('switches a path atomically: a reader sees the old bytes or the new, never a mix', async () => {
      const old = Buffer.alloc(3 * 1024 * 1024, 'o');
      const fresh = Buffer.alloc(2 * 1024 * 1024, 'n');
      await t.store.put('model/model.onnx', old);
      const before = await t.store.read('model/model.onnx');
      await t.store.put('model/model.onnx', fresh);
      // The reader opened before the overwrite still gets every old byte, with the old size and digest.
      expect(before.size).toBe(old.length);
      expect(before.sha256).toBe(sha(old));
      expect((await readAll(before.body)).equals(old)).toBe(true);
      expect((await readAll(await t.store.get('model/model.onnx'))).equals(fresh)).toBe(true);
      // Readers racing a stream of overwrites each see one whole version.
      const writes = (async () => {
        for (let i = 0; i < 4; i++) await t.store.put('model/model.onnx', Readable.from([i % 2 ? old : fresh]));
      })();
      const reads = await Promise.all(Array.from({ length: 6 }, async () => readAll(await t.store.get('model/model.onnx'))));
      await writes;
      for (const r of reads) expect(r.equals(old) || r.equals(fresh)).toBe(true);
    });

    it('lists immediate children sorted, folders without size, across more than 1000 entries', async () => {
      await t.store.put('run/artifacts/z.txt', Buffer.from('z'));
      await t.store.put('run/artifacts/sub/deep.txt', Buffer.from('deep'));
      await t.store.put('run/artifacts/a.txt', Buffer.from('aa'));
      expect(await t.store.list('run/artifacts')).toEqual([
        { path: 'run/artifacts/a.txt', isDir: false, size: 2 },
        { path: 'run/artifacts/sub', isDir: true },
        { path: 'run/artifacts/z.txt', isDir: false, size: 1 },
      ]);
      expect(await t.store.list('')).toEqual([{ path: 'run', isDir: true }]);
      expect(await t.store.list('run/artifacts/')).toHaveLength(3);
      expect(await t.store.list('absent/folder')).toEqual([]);
      const names = Array.from({ length: 1050 }, (_, i) => `many/f${String(i).padStart(4, '0')}.txt`);
      for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => t.store.put(n, Buffer.from(n))));
      const listed = await t.store.list('many');
      expect(listed).toHaveLength(1050);
      expect(listed.map((e) => e.path)).toEqual(names);
      expect(listed[1049]).toEqual({ path: names[1049], isDir: false, size: Buffer.byteLength(names[1049] as string) });
    }, 120_000);

    it('deletes a file or a whole folder, and absent paths quietly', async () => {
      await t.store.put('run/a.txt', Buffer.from('a'));
      await t.store.put('run/dir/b.txt', Buffer.from('b'));
      await t.store.put('run/dir/sub/c.txt', Buffer.from('c'));
      await t.store.put('keep/d.txt', Buffer.from('d'));
      await t.store.delete('run/dir');
      expect(await t.store.list('run')).toEqual([{ path: 'run/a.txt', isDir: false, size: 1 }]);
      expect(await t.store.stat('run/dir/sub/c.txt')).toBeUndefined();
      await t.store.delete('run/a.txt');
      expect(await t.store.list('')).toEqual([{ path: 'keep', isDir: true }]);
      await t.store.delete('never/was');
      expect(await t.store.stat('keep/d.txt')).toEqual({ size: 1, sha256: sha('d') });
    });

    it('answers NOT_FOUND for absent files and refuses a file where a folder is', async () => {
      await expect(t.store.get('nope.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(t.store.read('a/b/nope.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(t.store.localPath('nope.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await t.store.stat('nope.txt')).toBeUndefined();
      await t.store.put('dir/file.txt', Buffer.from('x'));
      expect(await t.store.stat('dir')).toBeUndefined();
      await expect(t.store.get('dir')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(t.store.put('dir', Buffer.from('y'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
      await expect(t.store.put('dir/file.txt/below', Buffer.from('y'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
    });

    it('refuses paths that would escape the store, touching nothing', async () => {
      for (const bad of ['../secret', 'a/../../b', '/etc/passwd', 'a//b', 'a\\b', '%2e%2e/x', 'a/b\u0000.txt', 'C:/windows', '']) {
        await expect(t.store.put(bad, Buffer.from('x'))).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
        await expect(t.store.get(bad)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
        await expect(t.store.delete(bad)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
      }
      await expect(t.store.list('../up')).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
      expect(await t.store.list('')).toEqual([]);
    });

    it('checks content out to local files and folders, verified, for serving', async () => {
      const model = randomBytes(10_000);
      await t.store.put('m/model.onnx', model);
      await t.store.put('m/weights/data.bin', Buffer.from('weights'));
      const file = await t.store.localPath('m/model.onnx');
      expect(readFileSync(file).equals(model)).toBe(true);
      const folder = await t.store.localFolder?.('m');
      expect(folder).toBeDefined();
      expect(readFileSync(join(folder as string, 'model.onnx')).equals(model)).toBe(true);
      expect(readFileSync(join(folder as string, 'weights', 'data.bin')).toString()).toBe('weights');
      // Unchanged content reuses its folder; new content gets a new one.
      expect(await t.store.localFolder?.('m')).toBe(folder);
      await t.store.put('m/weights/data.bin', Buffer.from('weights v2'));
      const next = await t.store.localFolder?.('m');
      expect(next).not.toBe(folder);
      expect(readFileSync(join(next as string, 'weights', 'data.bin')).toString()).toBe('weights v2');
    });

    it('removes content no path refers to once it is old enough, and keeps what paths still name', async () => {
      await t.store.put('gc/keep.txt', Buffer.from('keep'));
      await t.store.put('gc/drop.txt', Buffer.from('drop'));
      await t.store.delete('gc/drop.txt');
      const young = await t.store.collectGarbage?.({ minAgeMs: 60 * 60 * 1000 });
      expect(young?.removedBlobs).toBe(0);
      expect(await t.blobCount()).toBe(2);
      // A minimum age in the past reaches everything unreferenced written before now.
      await new Promise((r) => setTimeout(r, 1100));
      const gc = await t.store.collectGarbage?.({ minAgeMs: 0 });
      expect(gc).toMatchObject({ removedBlobs: 1, freedBytes: 4 });
      expect(await t.blobCount()).toBe(1);
      expect((await readAll(await t.store.get('gc/keep.txt'))).toString()).toBe('keep');
    });

    it('streams a large upload with bounded memory', async () => {
      const chunk = randomBytes(1024 * 1024);
      const total = 96;
      const hash = createHash('sha256');
      for (let i = 0; i < total; i++) hash.update(chunk);
      const idle = process.memoryUsage().rss;
      let peak = idle;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      const body = Readable.from(
        (function* () {
          for (let i = 0; i < total; i++) yield chunk;
        })(),
      );
      const put = await t.store.put('big/blob.bin', body).finally(() => clearInterval(sampler));
      expect(put).toEqual({ path: 'big/blob.bin', size: total * chunk.length, sha256: hash.digest('hex') });
      // Well below the 96 MB sent (a store that held the upload whole would pass it); the S3 client's parts in flight
      // (8 MiB × 5) and garbage not yet collected on a busy machine take the rest.
      expect(peak - idle).toBeLessThan(80 * 1024 * 1024);
      const back = createHash('sha256');
      let size = 0;
      for await (const c of await t.store.get('big/blob.bin')) {
        back.update(c as Buffer);
        size += (c as Buffer).length;
      }
      expect({ size, sha256: back.digest('hex') }).toEqual({ size: put.size, sha256: put.sha256 });
    }, 120_000);
  });
}

describe('S3 ranged reads', () => {
  let server: LocalS3Server;
  beforeAll(async () => {
    server = await startLocalS3(['slipway-ranges']);
  }, 60_000);
  afterAll(async () => server?.stop());

  it('streams part of a file with the whole file\'s size and digest, and refuses a range outside it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'slipway-s3-cache-'));
    try {
      const client = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
      const store = new S3ArtifactStore({ location: s3LocationOf('s3://slipway-ranges/r', server.env), cacheDir, client });
      const body = randomBytes(10_000);
      await store.put('f.bin', body);
      const part = await store.readRange('f.bin', { start: 100, end: 199 });
      expect({ size: part.size, sha256: part.sha256 }).toEqual({ size: body.length, sha256: sha(body) });
      expect((await readAll(part.body)).equals(body.subarray(100, 200))).toBe(true);
      expect((await readAll((await store.readRange('f.bin', { start: 9_990 })).body)).equals(body.subarray(9_990))).toBe(true);
      await expect(store.readRange('f.bin', { start: 10_000 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(store.readRange('none.bin', { start: 0 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
