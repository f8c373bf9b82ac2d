import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FolderObjectCache } from './remote-folder-cache.test-support.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cache-batch-'));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

const objectOf = (text: string) => ({ sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.from(text) });

async function freshModule() {
  vi.resetModules();
  return import('./remote-cache-batch.js');
}

describe('writeCacheBatch', () => {
  it('stores verified objects read-only under their names, refuses corrupt ones and leaves no temp file', async () => {
    const { writeCacheBatch } = await freshModule();
    const cache = new FolderObjectCache(join(dir, 'cache'));
    const good = [objectOf('one'), objectOf('two')];
    const bad = { sha256: objectOf('three').sha256, bytes: Buffer.from('not three') };
    const result = await writeCacheBatch(cache, join(dir, 'tmp'), [...good, bad], 4);
    expect(result.corrupt).toEqual([bad.sha256]);
    expect(result.stored.map((s) => s.sha256)).toEqual(good.map((g) => g.sha256));
    for (const g of good) {
      expect(readFileSync(cache.pathOf(g.sha256))).toEqual(g.bytes);
      expect(statSync(cache.pathOf(g.sha256)).mode & 0o777).toBe(0o444);
    }
    expect(await cache.has(bad.sha256)).toBe(false);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('counts an object already in the cache as stored without writing it again', async () => {
    const { writeCacheBatch } = await freshModule();
    const cache = new FolderObjectCache(join(dir, 'cache'));
    const o = objectOf('kept');
    await cache.putBytes(o.sha256, o.bytes);
    const before = statSync(cache.pathOf(o.sha256)).ino;
    const result = await writeCacheBatch(cache, join(dir, 'tmp'), [o], 4);
    expect(result.stored).toEqual([{ sha256: o.sha256, size: 4 }]);
    expect(statSync(cache.pathOf(o.sha256)).ino).toBe(before);
  });

  it('syncs each file itself where the sync command is not available', async () => {
    vi.stubEnv('PATH', join(dir, 'no-such-bin'));
    const { writeCacheBatch } = await freshModule();
    const cache = new FolderObjectCache(join(dir, 'cache'));
    const o = objectOf('without sync -f');
    const result = await writeCacheBatch(cache, join(dir, 'tmp'), [o], 4);
    expect(result.stored).toHaveLength(1);
    expect(readFileSync(cache.pathOf(o.sha256), 'utf8')).toBe('without sync -f');
  });
});
