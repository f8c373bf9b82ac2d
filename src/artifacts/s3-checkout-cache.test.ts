import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { S3CheckoutCache } from './s3-checkout-cache.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const HOUR = 60 * 60 * 1000;

describe('S3CheckoutCache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-cache-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('downloads once, verifies the digest and refuses damaged content', async () => {
    const cache = new S3CheckoutCache({ dir });
    const body = randomBytes(1000);
    let opens = 0;
    const open = async () => {
      opens++;
      return Readable.from([body]);
    };
    const [a, b] = await Promise.all([cache.blob(sha(body), body.length, open), cache.blob(sha(body), body.length, open)]);
    expect(a).toBe(b);
    expect(readFileSync(a).equals(body)).toBe(true);
    await cache.blob(sha(body), body.length, open);
    expect(opens).toBe(1);
    const claimed = sha(Buffer.from('something else'));
    await expect(cache.blob(claimed, body.length, async () => Readable.from([body]))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    expect(existsSync(join(dir, 'objects', claimed.slice(0, 2), claimed.slice(2)))).toBe(false);
  });

  it('evicts the least recently used files over the limit, never one in use', async () => {
    const cache = new S3CheckoutCache({ dir, maxBytes: 2500, minIdleMs: HOUR });
    const blobs = [randomBytes(1000), randomBytes(1000), randomBytes(1000)];
    const paths: string[] = [];
    for (const b of blobs.slice(0, 2)) paths.push(await cache.blob(sha(b), b.length, async () => Readable.from([b])));
    // Both were just used: a third one goes over the limit, and nothing is evicted.
    paths.push(await cache.blob(sha(blobs[2] as Buffer), 1000, async () => Readable.from([blobs[2] as Buffer])));
    expect(paths.every((p) => existsSync(p))).toBe(true);
    expect(await cache.size()).toBe(3000);
    // Once idle, the least recently used goes first, until the cache fits.
    const old = new Date(Date.now() - 3 * HOUR);
    const older = new Date(Date.now() - 4 * HOUR);
    utimesSync(paths[0] as string, old, old);
    utimesSync(paths[1] as string, older, older);
    utimesSync(paths[2] as string, old, old);
    await cache.evict();
    expect(existsSync(paths[1] as string)).toBe(false);
    expect(existsSync(paths[0] as string)).toBe(true);
    expect(existsSync(paths[2] as string)).toBe(true);
    expect(await cache.size()).toBe(2000);
  });

  it('builds folders of hard links and evicts a folder before the files it holds', async () => {
    const cache = new S3CheckoutCache({ dir, maxBytes: 1500, minIdleMs: HOUR });
    const model = randomBytes(1000);
    const weights = randomBytes(1000);
    const bodies = new Map([sha(model), sha(weights)].map((d, i) => [d, i === 0 ? model : weights]));
    const folder = await cache.folder('f1', [{ rel: 'model.onnx', sha256: sha(model) }, { rel: 'w/data.bin', sha256: sha(weights) }], () => 1000, async (d) => Readable.from([bodies.get(d) as Buffer]));
    expect(readFileSync(join(folder, 'w', 'data.bin')).equals(weights)).toBe(true);
    expect(existsSync(folder)).toBe(true);
    const old = new Date(Date.now() - 2 * HOUR);
    utimesSync(folder, old, old);
    for (const d of bodies.keys()) utimesSync(join(dir, 'objects', d.slice(0, 2), d.slice(2)), old, old);
    await cache.evict();
    expect(existsSync(folder)).toBe(false);
    expect(await cache.size()).toBeLessThanOrEqual(1500);
  });
});
