/**
 * Torn downloads: one artifact path is overwritten by --writers concurrent uploaders while
 * --reads downloads run (--readers at a time) against a real `slipway server` on loopback.
 * A download is torn when its body's SHA-256 or length disagrees with the ETag or
 * Content-Length sent with it (or it never completes within --read-timeout-ms). Baseline,
 * measured in the same run: the same downloads with no writer running.
 *
 *   npm run build && node bench/artifacts-torn-reads.mjs [--reads 1000] [--writers 20] [--readers 4] [--max-seconds 120]
 */
/* global AbortSignal */
import { createHash } from 'node:crypto';
import { fmt, machineLine, parseFlags, startSlipway } from './tracking-common.mjs';

const opts = parseFlags({ reads: 1000, writers: 20, readers: 4, versions: 8, versionKb: 64, readTimeoutMs: 5000, maxSeconds: 120 });
const deadline = performance.now() + opts.maxSeconds * 1000;
// Versions of different sizes and contents, so a mixed answer shows in the length and in the digest.
const versions = Array.from({ length: opts.versions }, (_, i) => Buffer.alloc(opts.versionKb * 1024 + i * 1024, i + 1));

const server = await startSlipway();
const url = `${server.url}/api/2.0/mlflow-artifacts/artifacts/0/bench/artifacts/model.bin`;

/** Downloads once and says whether the headers describe the body. */
async function readOnce() {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(opts.readTimeoutMs) });
    const body = Buffer.from(await res.arrayBuffer());
    const etag = `"${createHash('sha256').update(body).digest('hex')}"`;
    return res.status === 200 && res.headers.get('etag') === etag && Number(res.headers.get('content-length')) === body.length;
  } catch {
    return false;
  }
}

/** Runs `total` downloads, `readers` at a time; returns counts and the rate. */
async function readAll(total) {
  let started = 0;
  let torn = 0;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.readers }, async () => {
      while (started < total && performance.now() < deadline) {
        started++;
        if (!(await readOnce())) torn++;
        done++;
      }
    }),
  );
  return { done, torn, perSecond: done / ((performance.now() - t0) / 1000) };
}

try {
  const first = await fetch(url, { method: 'PUT', body: versions[0] });
  if (first.status !== 200) throw new Error(`the first upload answered ${first.status}`);
  await first.arrayBuffer();

  const baseline = await readAll(Math.min(opts.reads, 200));

  let writing = true;
  let writes = 0;
  let failedWrites = 0;
  const writers = Array.from({ length: opts.writers }, async (_, w) => {
    for (let i = 0; writing && performance.now() < deadline; i++) {
      try {
        const res = await fetch(url, { method: 'PUT', body: versions[(w + i) % versions.length], signal: AbortSignal.timeout(opts.readTimeoutMs) });
        await res.arrayBuffer();
        if (res.status === 200) writes++;
        else failedWrites++;
      } catch {
        failedWrites++;
      }
    }
  });
  const t0 = performance.now();
  const raced = await readAll(opts.reads);
  writing = false;
  await Promise.all(writers);
  const seconds = (performance.now() - t0) / 1000;

  console.log(machineLine());
  console.log(`baseline, no writers: ${fmt(baseline.done)} downloads, torn ${baseline.torn}, ${fmt(baseline.perSecond)} downloads/s`);
  console.log(`under ${opts.writers} writers: ${fmt(raced.done)} downloads, torn ${raced.torn}, ${fmt(raced.perSecond)} downloads/s; ${fmt(writes)} overwrites (${fmt(writes / seconds)}/s), ${failedWrites} failed`);
  console.log(`torn downloads: ${raced.torn} of ${raced.done}`);
  if (raced.done < opts.reads) console.log(`stopped by --max-seconds after ${raced.done} of ${opts.reads} downloads`);
  process.exitCode = raced.torn === 0 && raced.done === opts.reads ? 0 : 1;
} finally {
  await server.stop();
}
