// Push and pull of 10,000 small files (1–8 KiB) between an object cache and a folder remote, against
// the baseline of one fs.copyFile per file, one at a time, measured in the same run on the same files.
// Run after `npm run build`: node bench/data-remote.mjs [files]
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalArtifactStore } from '../dist/artifacts/local-artifact-store.js';
import { ObjectCache } from '../dist/data/object-cache.js';
import { DataRemote } from '../dist/data/remote-store.js';
import { fetchObjects, pushObjects } from '../dist/data/remote-transfer.js';

const FILES = Number(process.argv[2] ?? 10_000);
const ROUNDS = 3;
const cores = availableParallelism();
const jobs = 4 * cores;

// A workspace's object cache: objects synced and renamed into place, digests checked on the way in.
function openCache(root) {
  return { cache: new ObjectCache(join(root, '.slipway', 'cache'), join(root, '.slipway', 'tmp')), kind: 'ObjectCache' };
}

function objectPath(root, sha) {
  return join(root, 'objects', sha.slice(0, 2), sha.slice(2));
}

const dir = mkdtempSync(join(tmpdir(), 'slipway-bench-data-remote-'));
try {
  const source = openCache(join(dir, 'source'));
  const digests = [];
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const body = randomBytes(1024 + Math.floor(Math.random() * 7 * 1024));
    const sha = createHash('sha256').update(body).digest('hex');
    await source.cache.putBytes(sha, body);
    digests.push(sha);
    bytes += body.length;
  }
  console.log(`${FILES} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB, ${cores} cores, --jobs ${jobs}, cache: ${source.kind}`);

  const results = { basePush: [], push: [], noop: [], basePull: [], pull: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const r = join(dir, `round-${round}`);
    // Baseline: one copy per file, one at a time, into the same layout.
    const baseRemote = join(r, 'baseline-remote');
    let t = performance.now();
    for (const sha of digests) {
      const target = objectPath(baseRemote, sha);
      mkdirSync(join(target, '..'), { recursive: true });
      await copyFile(source.cache.pathOf(sha), target);
    }
    results.basePush.push(performance.now() - t);
    const baseClone = join(r, 'baseline-clone');
    t = performance.now();
    for (const sha of digests) {
      const target = objectPath(baseClone, sha);
      mkdirSync(join(target, '..'), { recursive: true });
      await copyFile(objectPath(baseRemote, sha), target);
    }
    results.basePull.push(performance.now() - t);

    const remote = () => new DataRemote('bench', new LocalArtifactStore(join(r, 'remote')), join(r, 'index-cache'));
    t = performance.now();
    const pushed = await pushObjects(source.cache, remote(), digests, { jobs });
    results.push.push(performance.now() - t);
    if (pushed.transferred !== FILES) throw new Error(`push sent ${pushed.transferred} of ${FILES}`);
    t = performance.now();
    const again = await pushObjects(source.cache, remote(), digests, { jobs });
    results.noop.push(performance.now() - t);
    if (again.transferred !== 0) throw new Error('second push sent objects');
    const clone = openCache(join(r, 'clone'));
    t = performance.now();
    const fetched = await fetchObjects(clone.cache, remote(), digests, { jobs, tmpDir: join(r, 'clone', 'tmp') });
    results.pull.push(performance.now() - t);
    if (fetched.transferred !== FILES) throw new Error(`fetch received ${fetched.transferred} of ${FILES}`);
    if (round === 0) {
      console.log(`packs written per push: ${pushed.packsWritten}`);
      // A second baseline, once: the same interfaces without packing or parallelism — one artifact-store
      // put per object (temp file, fsync, rename) and one get plus one cache write per object.
      const naive = new LocalArtifactStore(join(r, 'naive-remote'));
      t = performance.now();
      for (const sha of digests) await naive.put(`data/objects/${sha.slice(0, 2)}/${sha.slice(2)}`, createReadStream(source.cache.pathOf(sha)));
      results.naivePush = performance.now() - t;
      const naiveClone = openCache(join(r, 'naive-clone'));
      t = performance.now();
      for (const sha of digests) {
        const chunks = [];
        for await (const c of await naive.get(`data/objects/${sha.slice(0, 2)}/${sha.slice(2)}`)) chunks.push(c);
        await naiveClone.cache.putBytes(sha, Buffer.concat(chunks));
      }
      results.naivePull = performance.now() - t;
    }
    rmSync(r, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const row = (name, ms) => console.log(`${name.padEnd(52)} ${median(ms).toFixed(0).padStart(6)} ms  (rounds: ${ms.map((x) => x.toFixed(0)).join(', ')})`);
  row('baseline push: fs.copyFile per file, sequential', results.basePush);
  row('slipway push (packs, parallel)', results.push);
  row('slipway push again (nothing to send)', results.noop);
  console.log(`${'naive push: one store put per object, sequential'.padEnd(52)} ${results.naivePush.toFixed(0).padStart(6)} ms  (round 1 only)`);
  row('baseline pull: fs.copyFile per file, sequential', results.basePull);
  row('slipway fetch (packs, parallel, verified)', results.pull);
  console.log(`${'naive pull: one get + cache write per object'.padEnd(52)} ${results.naivePull.toFixed(0).padStart(6)} ms  (round 1 only)`);
  console.log(`push speed-up: ${(median(results.basePush) / median(results.push)).toFixed(1)}x   fetch speed-up: ${(median(results.basePull) / median(results.pull)).toFixed(1)}x   (against the naive rows: push ${(results.naivePush / median(results.push)).toFixed(1)}x, fetch ${(results.naivePull / median(results.pull)).toFixed(1)}x)`);
  writeFileSync(join(dir, 'done'), '');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
