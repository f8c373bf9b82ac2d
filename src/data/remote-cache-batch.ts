/**
 * Writing many small fetched objects into the object cache with one disk sync for the whole batch
 * instead of one per object. The cache's rule holds: an object gets its name only once its bytes are
 * on disk — every temp file is written, then the file system is synced once (`sync -f`, which calls
 * syncfs), then each is renamed to its name, read-only. Where `sync -f` is not available the temp
 * files are synced one by one, as the cache itself does.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ObjectCacheView } from './data-types.js';
import { forEachLimit } from './remote-store.js';

/** One object to write: its digest and the bytes claimed to have it. */
export interface BatchObject {
  sha256: string;
  bytes: Uint8Array;
}

/** What a batch wrote. */
export interface BatchWrite {
  /** Objects now in the cache (written, or already there). */
  stored: Array<{ sha256: string; size: number }>;
  /** Objects whose bytes do not have their digest: nothing was written for them. */
  corrupt: string[];
}

let syncfsWorks: boolean | undefined;

/** Syncs the file system holding `dir` with one syncfs; false where `sync -f` is not there (not Linux, no coreutils). */
function syncFileSystem(dir: string): Promise<boolean> {
  if (syncfsWorks === false) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('sync', ['-f', dir], { timeout: 120_000 }, (err) => {
      syncfsWorks = !err;
      resolve(!err);
    });
  });
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Verifies and writes `objects` into the cache: temp files under `tmpDir` (same file system as the
 * cache), one sync, then renames. Small files are written synchronously: a few KiB cost less than the
 * thread pool's round trips.
 */
export async function writeCacheBatch(cache: ObjectCacheView, tmpDir: string, objects: readonly BatchObject[], jobs: number): Promise<BatchWrite> {
  const result: BatchWrite = { stored: [], corrupt: [] };
  const pending: Array<{ sha256: string; size: number; temp: string }> = [];
  mkdirSync(tmpDir, { recursive: true });
  const tag = `${Date.now()}-${randomBytes(6).toString('hex')}`;
  try {
    for (const o of objects) {
      if (createHash('sha256').update(o.bytes).digest('hex') !== o.sha256) {
        result.corrupt.push(o.sha256);
        continue;
      }
      if (lstatSync(cache.pathOf(o.sha256), { throwIfNoEntry: false })?.isFile()) {
        result.stored.push({ sha256: o.sha256, size: o.bytes.byteLength });
        continue;
      }
      const temp = join(tmpDir, `fetch-${tag}-${pending.length}`);
      writeFileSync(temp, o.bytes, { flag: 'wx', mode: 0o444 });
      pending.push({ sha256: o.sha256, size: o.bytes.byteLength, temp });
    }
    if (pending.length === 0) return result;
    if (!(await syncFileSystem(tmpDir))) await forEachLimit(pending, jobs, (p) => fsyncFile(p.temp));
    const made = new Set<string>();
    for (const p of pending) {
      const target = cache.pathOf(p.sha256);
      const folder = dirname(target);
      if (!made.has(folder)) {
        mkdirSync(folder, { recursive: true });
        made.add(folder);
      }
      renameSync(p.temp, target);
      p.temp = '';
      result.stored.push({ sha256: p.sha256, size: p.size });
    }
    return result;
  } finally {
    // Temp files not renamed (a failure half-way) are removed; the objects renamed are whole.
    for (const p of pending) if (p.temp) unlinkSafe(p.temp);
  }
}

function unlinkSafe(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
