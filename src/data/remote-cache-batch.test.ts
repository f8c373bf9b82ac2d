import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ObjectCache } from './object-cache.js';
import { writeCacheBatch } from './remote-cache-batch.js';

let dir: string;
let cache: ObjectCache;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-cache-batch-'));
  cache = new ObjectCache(join(dir, 'cache'), join(dir, 'tmp'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const objectOf = (text: string) => ({ sha256: createHash('sha256').update(text).digest('hex'), bytes: Buffer.from(text) });

describe('writeCacheBatch', () => {
  it('stores verified objects read-only under their names, refuses corrupt ones and leaves no temp file', async () => {
    const good = Array.from({ length: 40 }, (_, i) => objectOf(`object ${i}`));
    const bad = { sha256: objectOf('three').sha256, bytes: Buffer.from('not three') };
    const result = await writeCacheBatch(cache, join(dir, 'tmp'), [...good, bad]);
    expect(result.corrupt).toEqual([bad.sha256]);
    expect(result.stored.map((s) => s.sha256)).toEqual(good.map((g) => g.sha256));
    for (const g of good) {
      expect(readFileSync(cache.pathOf(g.sha256))).toEqual(g.bytes);
      expect(statSync(cache.pathOf(g.sha256)).mode & 0o777).toBe(0o444);
    }
    expect(await cache.has(bad.sha256)).toBe(false);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it('keeps an object already in the cache as it is', async () => {
    const o = objectOf('kept');
    await cache.putBytes(o.sha256, o.bytes);
    const before = statSync(cache.pathOf(o.sha256)).ino;
    const result = await writeCacheBatch(cache, join(dir, 'tmp'), [o]);
    expect(result.stored).toEqual([{ sha256: o.sha256, size: 4 }]);
    expect(statSync(cache.pathOf(o.sha256)).ino).toBe(before);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });
});
