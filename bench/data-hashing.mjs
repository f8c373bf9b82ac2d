/**
 * Hashing throughput of data versioning: sha256 of one large file per core.
 *
 *   npm run build && node bench/data-hashing.mjs        # DATA_HASH_MB=1024 by default
 *
 * Writes a file of DATA_HASH_MB MiB of random bytes, reads it once to warm the page cache, then
 * times, in the same run: Slipway's hasher on one core (hashPaths with jobs 1), `sha256sum`, and a
 * single node stream computing md5 (the digest DVC uses). All read from the page cache, so the
 * figures are the hashing itself. Prints the machine's core count and GB/s (10^9 bytes per second).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';

const ROOT = resolve(import.meta.dirname, '..');
const { hashPaths } = await import(join(ROOT, 'dist/data/hasher.js'));
const MB = Number(process.env.DATA_HASH_MB ?? 1024);
const ROUNDS = Number(process.env.DATA_HASH_ROUNDS ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-hash-'));
const file = join(dir, 'big.bin');

try {
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  const fd = openSync(file, 'w');
  for (let left = MB * 1024 * 1024; left > 0; left -= chunk.length) {
    randomFillSync(chunk);
    writeSync(fd, chunk, 0, Math.min(chunk.length, left));
  }
  closeSync(fd);
  const bytes = MB * 1024 * 1024;
  await pipeline(createReadStream(file), createHash('sha1')); // warm the page cache

  const best = async (fn) => {
    let min = Infinity;
    let out;
    for (let i = 0; i < ROUNDS; i++) {
      const t = performance.now();
      out = await fn();
      min = Math.min(min, performance.now() - t);
    }
    return { ms: min, out };
  };
  const slipway = await best(async () => (await hashPaths(dir, ['big.bin'], { jobs: 1 }))[0].sha256);
  const coreutils = await best(async () => execFileSync('sha256sum', [file]).toString().split(' ')[0]);
  const md5 = await best(async () => {
    const h = createHash('md5');
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), h);
    return h.digest('hex');
  });
  if (slipway.out !== coreutils.out) throw new Error(`digests differ: ${slipway.out} vs ${coreutils.out}`);
  const gbs = (r) => (bytes / 1e9 / (r.ms / 1000)).toFixed(2);
  console.log(`cores: ${availableParallelism()} (${cpus()[0]?.model ?? 'unknown'}); file: ${MB} MiB from the page cache; best of ${ROUNDS}`);
  console.log(`sha-ni: ${/\bsha_ni\b/.test(readFileSync('/proc/cpuinfo', 'utf8')) ? 'yes' : 'no'}`);
  console.log('| measure | GB/s on one core |');
  console.log('|---|---|');
  console.log(`| Slipway hasher (sha256, jobs 1) | ${gbs(slipway)} |`);
  console.log(`| sha256sum (coreutils) | ${gbs(coreutils)} |`);
  console.log(`| node md5 stream (DVC's digest) | ${gbs(md5)} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
