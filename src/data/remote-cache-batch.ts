/**
 * Writing many small fetched objects into the object cache with one disk sync for the batch instead of
 * one per object: each object is checked against its digest and written to a temp file in the cache's
 * tmp folder, then the cache adopts them all (synced to disk first, then renamed to their names).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectCacheView } from './data-types.js';

/** The object cache as a fetch uses it: objects one by one, or verified temp files adopted in a batch. */
export interface FetchCache extends ObjectCacheView {
  /** Syncs the temp files (in the cache's tmp folder, same file system) and renames each to its object name; returns how many were stored. */
  adoptCopies(copies: ReadonlyArray<{ sha256: string; temp: string }>): Promise<number>;
}

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

/**
 * Verifies `objects` and hands them to the cache as temp files under `tmpDir`. Small files are written
 * synchronously: for a few KiB, the thread pool's round trips cost more than the write.
 */
export async function writeCacheBatch(cache: FetchCache, tmpDir: string, objects: readonly BatchObject[]): Promise<BatchWrite> {
  const result: BatchWrite = { stored: [], corrupt: [] };
  const copies: Array<{ sha256: string; temp: string }> = [];
  mkdirSync(tmpDir, { recursive: true });
  const tag = `fetch-${Date.now()}-${randomBytes(6).toString('hex')}`;
  try {
    for (const o of objects) {
      if (createHash('sha256').update(o.bytes).digest('hex') !== o.sha256) {
        result.corrupt.push(o.sha256);
        continue;
      }
      const temp = join(tmpDir, `${tag}-${copies.length}`);
      writeFileSync(temp, o.bytes, { flag: 'wx', mode: 0o444 });
      copies.push({ sha256: o.sha256, temp });
      result.stored.push({ sha256: o.sha256, size: o.bytes.byteLength });
    }
    if (copies.length > 0) await cache.adoptCopies(copies);
    return result;
  } catch (err) {
    // Nothing half-written stays behind: temp files not yet renamed are removed (renamed ones are whole objects).
    for (const c of copies) unlinkQuietly(c.temp);
    throw err;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Renamed to its object name already, or never written.
  }
}
