import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../artifacts/local-artifact-store.js';
import { FolderObjectCache } from './remote-folder-cache.test-support.js';
import { PACKS_DIR, looseObjectPath, packIndexPath, packPath } from './remote-pack.js';
import { DataRemote } from './remote-store.js';
import { fetchObjects, pushObjects } from './remote-transfer.js';

let dir: string;
let source: FolderObjectCache;
let store: LocalArtifactStore;
let remote: DataRemote;

function bytesOf(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let k = 0; k < size; k++) b[k] = (i * 31 + k * 7) & 0xff;
  b.writeUInt32BE(i, 0);
  return b;
}

async function addObjects(cache: FolderObjectCache, count: number, size: (i: number) => number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(await cache.add(bytesOf(i, size(i))));
  return out;
}

function freshRemote(name = 'origin'): DataRemote {
  return new DataRemote(name, store, join(dir, 'index-cache', name));
}

async function packsOnRemote(): Promise<string[]> {
  return (await store.list(PACKS_DIR)).map((e) => e.path.slice(PACKS_DIR.length + 1));
}

const OPTS = { jobs: 4, packThreshold: 4096, packSize: 64 * 1024 };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-remote-'));
  source = new FolderObjectCache(join(dir, 'source'));
  store = new LocalArtifactStore(join(dir, 'remote'));
  remote = freshRemote();
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('push', () => {
  it('packs small objects, sends large ones on their own, and a second push sends nothing', async () => {
    const small = await addObjects(source, 40, (i) => 1000 + i * 50);
    const large = await addObjects(source, 3, (i) => 5000 + i);
    const first = await pushObjects(source, remote, [...small, ...large, small[0] as string], OPTS);
    expect(first).toMatchObject({ objects: 43, transferred: 43, alreadyPresent: 0, looseWritten: 3, missingLocally: [], corruptLocally: [] });
    expect(first.packsWritten).toBeGreaterThanOrEqual(1);
    expect(first.bytes).toBe([...small, ...large].reduce((n, d) => n + readFileSync(source.pathOf(d)).length, 0));
    const files = await packsOnRemote();
    expect(files.filter((f) => f.endsWith('.pack'))).toHaveLength(first.packsWritten);
    expect(files.filter((f) => f.endsWith('.idx'))).toHaveLength(first.packsWritten);
    for (const d of large) expect(await store.stat(looseObjectPath(d))).toMatchObject({ sha256: d });

    const second = await pushObjects(source, freshRemote(), [...small, ...large], OPTS);
    expect(second).toMatchObject({ transferred: 0, bytes: 0, alreadyPresent: 43, packsWritten: 0, looseWritten: 0 });
  });

  it('names objects the local cache lacks instead of sending them', async () => {
    const [present] = await addObjects(source, 1, () => 100);
    const absent = 'ab'.repeat(32);
    const result = await pushObjects(source, remote, [present as string, absent], OPTS);
    expect(result.transferred).toBe(1);
    expect(result.missingLocally).toEqual([absent]);
  });

  it('leaves out a cached object whose bytes changed, and reports it', async () => {
    const digests = await addObjects(source, 3, () => 200);
    const bad = digests[1] as string;
    chmodSync(source.pathOf(bad), 0o644);
    writeFileSync(source.pathOf(bad), 'not what it was');
    const result = await pushObjects(source, remote, digests, OPTS);
    expect(result.corruptLocally).toEqual([bad]);
    expect(result.transferred).toBe(2);
    const fetched = new FolderObjectCache(join(dir, 'clone'));
    const back = await fetchObjects(fetched, freshRemote(), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(back.missingOnRemote).toEqual([bad]);
  });

  it('treats a pack without its index (an interrupted push) as absent and sends its objects again', async () => {
    const digests = await addObjects(source, 10, () => 300);
    const first = await pushObjects(source, remote, digests, OPTS);
    const pack = (await packsOnRemote()).find((f) => f.endsWith('.idx'))?.slice(0, 64) as string;
    await store.delete(packIndexPath(pack));
    rmSync(join(dir, 'index-cache'), { recursive: true, force: true });
    const again = await pushObjects(source, freshRemote(), digests, OPTS);
    expect(again).toMatchObject({ transferred: first.transferred, alreadyPresent: 0, packsWritten: 1 });
    // Same objects, same order: the same pack, now with its index.
    expect(await store.stat(packIndexPath(pack))).toBeDefined();
  });
});

describe('fetch', () => {
  it('restores identical bytes into an empty cache, and a second fetch transfers nothing', async () => {
    const digests = [...(await addObjects(source, 30, (i) => 500 + i)), ...(await addObjects(source, 2, (i) => 9000 + i))];
    await pushObjects(source, remote, digests, OPTS);
    const clone = new FolderObjectCache(join(dir, 'clone'));
    const result = await fetchObjects(clone, freshRemote(), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(result).toMatchObject({ objects: 32, transferred: 32, alreadyPresent: 0, missingOnRemote: [], corruptOnRemote: [] });
    for (const d of digests) expect(readFileSync(clone.pathOf(d)).equals(readFileSync(source.pathOf(d)))).toBe(true);
    // Large downloads went through the temp folder and left nothing there.
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    const again = await fetchObjects(clone, freshRemote(), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(again).toMatchObject({ transferred: 0, alreadyPresent: 32 });
  });

  it('reports an object whose bytes in a pack were damaged and stores the others', async () => {
    const digests = await addObjects(source, 5, () => 1000);
    await pushObjects(source, remote, digests, OPTS);
    const pack = (await packsOnRemote()).find((f) => f.endsWith('.pack'))?.slice(0, 64) as string;
    const blob = await store.localPath(packPath(pack));
    chmodSync(blob, 0o644);
    const bytes = readFileSync(blob);
    // The third object of the pack (objects are packed in digest order).
    bytes[2 * 1000 + 10] = (bytes[2 * 1000 + 10] as number) ^ 0xff;
    writeFileSync(blob, bytes);
    const sorted = [...digests].sort();
    const clone = new FolderObjectCache(join(dir, 'clone'));
    const result = await fetchObjects(clone, freshRemote(), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(result.corruptOnRemote).toEqual([sorted[2]]);
    expect(result.transferred).toBe(4);
    expect(existsSync(clone.pathOf(sorted[2] as string))).toBe(false);
  });

  it('reports a damaged large object and keeps no trace of it', async () => {
    const [big] = await addObjects(source, 1, () => 20_000);
    await pushObjects(source, remote, [big as string], OPTS);
    const blob = await store.localPath(looseObjectPath(big as string));
    chmodSync(blob, 0o644);
    writeFileSync(blob, bytesOf(99, 20_000));
    const clone = new FolderObjectCache(join(dir, 'clone'));
    const result = await fetchObjects(clone, freshRemote(), [big as string], { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(result.corruptOnRemote).toEqual([big]);
    expect(await clone.has(big as string)).toBe(false);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('names the objects the remote does not hold', async () => {
    const digests = await addObjects(source, 2, () => 100);
    await pushObjects(source, remote, [digests[0] as string], OPTS);
    const clone = new FolderObjectCache(join(dir, 'clone'));
    const result = await fetchObjects(clone, freshRemote(), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(result.transferred).toBe(1);
    expect(result.missingOnRemote).toEqual([digests[1]]);
  });

  it('finds many single objects by listing folders, the same as by asking one by one', async () => {
    const digests = await addObjects(source, 100, () => 64);
    // A threshold of 1 byte sends every object on its own.
    await pushObjects(source, remote, digests, { ...OPTS, packThreshold: 1 });
    expect(await packsOnRemote()).toEqual([]);
    const clone = new FolderObjectCache(join(dir, 'clone'));
    const many = await fetchObjects(clone, freshRemote(), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(many).toMatchObject({ transferred: 100, missingOnRemote: [] });
    const few = await fetchObjects(new FolderObjectCache(join(dir, 'clone2')), freshRemote(), digests.slice(0, 3), { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(few).toMatchObject({ transferred: 3, missingOnRemote: [] });
  });

  it('refuses an index that names a path instead of a digest, counting its objects as absent', async () => {
    const digests = await addObjects(source, 2, () => 100);
    await pushObjects(source, remote, digests, OPTS);
    const pack = (await packsOnRemote()).find((f) => f.endsWith('.idx'))?.slice(0, 64) as string;
    const packSize = (await store.stat(packPath(pack)))?.size as number;
    await store.put(packIndexPath(pack), Buffer.from(JSON.stringify({ format: 1, size: packSize, objects: [['../../etc/passwd', 0, 10]] })));
    const clone = new FolderObjectCache(join(dir, 'clone'));
    const result = await fetchObjects(clone, new DataRemote('origin', store, join(dir, 'other-index-cache')), digests, { ...OPTS, tmpDir: join(dir, 'tmp') });
    expect(result.missingOnRemote).toEqual([...digests].sort());
    expect(result.badPacks).toHaveLength(1);
    expect(result.badPacks[0]?.reason).toMatch(/not a sha256 digest/);
  });

  it('uses the index kept locally instead of downloading it again', async () => {
    const digests = await addObjects(source, 3, () => 100);
    await pushObjects(source, remote, digests, OPTS);
    const kept = readdirSync(join(dir, 'index-cache', 'origin'));
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/^[0-9a-f]{64}\.idx$/);
    // Packs never change, so the kept copy answers even when the remote's index is now unreadable.
    await store.put(packIndexPath((kept[0] as string).slice(0, 64)), Buffer.from('garbage'));
    const inventory = await freshRemote().locate(digests, 2);
    expect(inventory.badPacks).toEqual([]);
    expect(inventory.found.size).toBe(3);
  });
});
