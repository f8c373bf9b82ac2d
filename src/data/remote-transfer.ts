/**
 * Moving objects between the local object cache and a remote: push sends what the remote lacks
 * (small objects packed, large ones on their own), fetch brings into the cache what it lacks. Both ask
 * the remote what it holds in batches and transfer in parallel; every object is checked against its
 * sha256 on the way in, so a corrupt object is reported and never stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, lstatSync, readFileSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import type { ObjectCacheView } from './data-types.js';
import { writeCacheBatch, type FetchCache } from './remote-cache-batch.js';
import { buildPack, isDigest } from './remote-pack.js';
import { DataRemote, forEachLimit, readAll, type BadPack, type RemoteLocation } from './remote-store.js';

/** Objects below this size travel in packs. @default 1 MiB */
export const DEFAULT_PACK_THRESHOLD = 1024 * 1024;
/** A pack is closed once it holds this many bytes. @default 32 MiB */
export const DEFAULT_PACK_SIZE = 32 * 1024 * 1024;
// Packs are held in memory while written or read: a few at a time keeps memory bounded whatever --jobs says.
const PACKS_IN_FLIGHT = 2;
/** The most pack bytes a fetch keeps for a following fetch (see FetchOptions.keptPacks). */
const KEPT_PACK_BYTES = 256 * 1024 * 1024;

/** Where a transfer stands, for a progress line. */
export interface TransferProgress {
  phase: 'checking' | 'sending' | 'receiving';
  objects: number;
  totalObjects: number;
  bytes: number;
  totalBytes: number;
}

/** How a transfer runs. */
export interface TransferOptions {
  /** Transfers at a time. */
  jobs: number;
  /** @default DEFAULT_PACK_THRESHOLD */
  packThreshold?: number;
  /** @default DEFAULT_PACK_SIZE */
  packSize?: number;
  onProgress?: (p: TransferProgress) => void;
}

/** How a fetch runs. */
export interface FetchOptions extends TransferOptions {
  /** Where large objects are downloaded before the cache takes them. */
  tmpDir: string;
  /**
   * Packs read, kept for the next fetch of the same command (up to 256 MiB): a folder's manifest and
   * its files usually share a pack, and the files are fetched once the manifest has been read.
   */
  keptPacks?: Map<string, Buffer>;
}

/** What a push did. */
export interface PushResult {
  remote: string;
  /** Distinct objects asked for. */
  objects: number;
  transferred: number;
  bytes: number;
  /** Objects the remote already held. */
  alreadyPresent: number;
  packsWritten: number;
  /** Objects sent on their own (at or above the pack threshold). */
  looseWritten: number;
  /** Objects the local cache does not hold, so they could not be sent. */
  missingLocally: string[];
  /** Objects whose cached bytes no longer match their digest; not sent. */
  corruptLocally: string[];
  /** Remote packs whose index was unusable (their objects were sent again). */
  badPacks: BadPack[];
}

/** What a fetch did. */
export interface FetchResult {
  remote: string;
  objects: number;
  transferred: number;
  bytes: number;
  /** Objects the cache already held. */
  alreadyPresent: number;
  packsRead: number;
  /** Objects neither the cache nor the remote holds. */
  missingOnRemote: string[];
  /** Objects whose bytes on the remote do not match their digest; not stored. */
  corruptOnRemote: string[];
  badPacks: BadPack[];
}

function distinctDigests(digests: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const d of digests) {
    if (!isDigest(d)) throw new SlipwayError('INVALID_ARGUMENT', `'${String(d).slice(0, 80)}' is not a sha256 digest.`);
    out.add(d);
  }
  return [...out].sort();
}

// A stat of a local cache file answers in microseconds; the thread pool's round trip would cost more than the call.
function cachedSize(cache: ObjectCacheView, sha256: string): number | undefined {
  try {
    const info = lstatSync(cache.pathOf(sha256));
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

function progressOf(opts: TransferOptions) {
  const state: TransferProgress = { phase: 'checking', objects: 0, totalObjects: 0, bytes: 0, totalBytes: 0 };
  return {
    state,
    report(change: Partial<TransferProgress> = {}) {
      Object.assign(state, change);
      opts.onProgress?.({ ...state });
    },
  };
}

/** Sends to `remote` the objects of `digests` it lacks: small ones in packs, large ones on their own. */
export async function pushObjects(cache: ObjectCacheView, remote: DataRemote, digests: Iterable<string>, opts: TransferOptions): Promise<PushResult> {
  const wanted = distinctDigests(digests);
  const threshold = opts.packThreshold ?? DEFAULT_PACK_THRESHOLD;
  const packSize = opts.packSize ?? DEFAULT_PACK_SIZE;
  const progress = progressOf(opts);
  progress.report({ totalObjects: wanted.length });
  const inventory = await remote.locate(wanted, opts.jobs);
  const result: PushResult = {
    remote: remote.name,
    objects: wanted.length,
    transferred: 0,
    bytes: 0,
    alreadyPresent: inventory.found.size,
    packsWritten: 0,
    looseWritten: 0,
    missingLocally: [],
    corruptLocally: [],
    badPacks: inventory.badPacks,
  };
  const small: Array<{ sha256: string; size: number }> = [];
  const large: Array<{ sha256: string; size: number }> = [];
  for (const sha256 of wanted) {
    if (inventory.found.has(sha256)) continue;
    const size = cachedSize(cache, sha256);
    if (size === undefined) result.missingLocally.push(sha256);
    else (size < threshold ? small : large).push({ sha256, size });
  }
  const sending = [...small, ...large];
  progress.report({ phase: 'sending', totalObjects: sending.length, totalBytes: sending.reduce((n, o) => n + o.size, 0) });
  const sent = (objects: number, bytes: number) => {
    result.transferred += objects;
    result.bytes += bytes;
    progress.report({ objects: result.transferred, bytes: result.bytes });
  };

  const batches: Array<typeof small> = [];
  let batch: typeof small = [];
  let batchBytes = 0;
  for (const o of small) {
    batch.push(o);
    batchBytes += o.size;
    if (batchBytes >= packSize) {
      batches.push(batch);
      batch = [];
      batchBytes = 0;
    }
  }
  if (batch.length > 0) batches.push(batch);

  const sendPacks = forEachLimit(batches, Math.min(PACKS_IN_FLIGHT, opts.jobs), async (objects) => {
    const members: Array<{ sha256: string; bytes: Buffer }> = [];
    for (const o of objects) {
      // Small cached files read synchronously: for a few KiB, the thread pool's four round trips
      // (open, stat, read, close) cost several times the read itself.
      let bytes: Buffer;
      try {
        bytes = readFileSync(cache.pathOf(o.sha256));
      } catch {
        result.missingLocally.push(o.sha256);
        continue;
      }
      if (createHash('sha256').update(bytes).digest('hex') !== o.sha256) {
        result.corruptLocally.push(o.sha256);
        continue;
      }
      members.push({ sha256: o.sha256, bytes });
    }
    if (members.length === 0) return;
    await remote.writePack(buildPack(members));
    result.packsWritten++;
    sent(members.length, members.reduce((n, m) => n + m.bytes.byteLength, 0));
  });
  const sendLarge = forEachLimit(large, opts.jobs, async (o) => {
    const stored = await remote.writeLoose(o.sha256, createReadStream(cache.pathOf(o.sha256)));
    if (stored !== o.sha256) {
      // The cached file changed under its name: take it back off the remote and say so.
      await remote.removeLoose(o.sha256);
      result.corruptLocally.push(o.sha256);
      return;
    }
    result.looseWritten++;
    sent(1, o.size);
  });
  await Promise.all([sendPacks, sendLarge]);
  result.missingLocally.sort();
  result.corruptLocally.sort();
  return result;
}

/** Brings into the cache the objects of `digests` it lacks, from `remote`; `tmpDir` holds large downloads in flight. */
export async function fetchObjects(cache: FetchCache, remote: DataRemote, digests: Iterable<string>, opts: FetchOptions): Promise<FetchResult> {
  const wanted = distinctDigests(digests);
  const threshold = opts.packThreshold ?? DEFAULT_PACK_THRESHOLD;
  const progress = progressOf(opts);
  const needed = wanted.filter((d) => cachedSize(cache, d) === undefined);
  progress.report({ totalObjects: needed.length });
  const inventory = await remote.locate(needed, opts.jobs);
  const result: FetchResult = {
    remote: remote.name,
    objects: wanted.length,
    transferred: 0,
    bytes: 0,
    alreadyPresent: wanted.length - needed.length,
    packsRead: 0,
    missingOnRemote: needed.filter((d) => !inventory.found.has(d)),
    corruptOnRemote: [],
    badPacks: inventory.badPacks,
  };
  const byPack = new Map<string, Array<{ sha256: string; offset: number; size: number }>>();
  const loose: Array<{ sha256: string; size: number }> = [];
  let totalBytes = 0;
  for (const [sha256, where] of inventory.found as Map<string, RemoteLocation>) {
    totalBytes += where.size;
    if (where.kind === 'loose') loose.push({ sha256, size: where.size });
    else {
      const list = byPack.get(where.pack) ?? [];
      list.push({ sha256, offset: where.offset, size: where.size });
      byPack.set(where.pack, list);
    }
  }
  progress.report({ phase: 'receiving', totalObjects: inventory.found.size, totalBytes });
  const received = (bytes: number) => {
    result.transferred++;
    result.bytes += bytes;
    progress.report({ objects: result.transferred, bytes: result.bytes });
  };
  // Stores `bytes` as `sha256`; the cache checks the digest and refuses a mismatch.
  const store = async (sha256: string, bytes: Buffer) => {
    try {
      await cache.putBytes(sha256, bytes);
    } catch (err) {
      if (isSlipwayError(err) && err.code === 'INTEGRITY_ERROR') {
        result.corruptOnRemote.push(sha256);
        return;
      }
      throw err;
    }
    received(bytes.byteLength);
  };

  const readPacks = forEachLimit([...byPack], Math.min(PACKS_IN_FLIGHT, opts.jobs), async ([pack, entries]) => {
    const kept = opts.keptPacks?.get(pack);
    let bytes: Buffer;
    try {
      bytes = kept ?? (await remote.readPack(pack));
    } catch (err) {
      if (!isSlipwayError(err)) throw err;
      result.badPacks.push({ pack, reason: err.message });
      for (const e of entries) result.missingOnRemote.push(e.sha256);
      return;
    }
    if (!kept) {
      result.packsRead++;
      if (opts.keptPacks) keepPack(opts.keptPacks, pack, bytes);
    }
    const objects = [];
    for (const e of entries) {
      // A pack cut short on the remote cannot hold this object whole.
      if (e.offset + e.size > bytes.length) result.corruptOnRemote.push(e.sha256);
      else objects.push({ sha256: e.sha256, bytes: bytes.subarray(e.offset, e.offset + e.size) });
    }
    // One disk sync for the pack's objects, not one per object (see writeCacheBatch).
    const written = await writeCacheBatch(cache, opts.tmpDir, objects);
    result.corruptOnRemote.push(...written.corrupt);
    for (const o of written.stored) received(o.size);
  });
  const readLoose = forEachLimit(loose, opts.jobs, async (o) => {
    let opened: { body: Readable; size: number };
    try {
      opened = await remote.openLoose(o.sha256);
    } catch (err) {
      if (!isSlipwayError(err)) throw err;
      result.missingOnRemote.push(o.sha256);
      return;
    }
    if (opened.size < threshold) {
      await store(o.sha256, await readAll(opened.body));
      return;
    }
    await receiveLarge(cache, o.sha256, opened.body, opts.tmpDir, result, received);
  });
  await Promise.all([readPacks, readLoose]);
  result.missingOnRemote.sort();
  result.corruptOnRemote.sort();
  return result;
}

function keepPack(kept: Map<string, Buffer>, pack: string, bytes: Buffer): void {
  let total = bytes.length;
  for (const b of kept.values()) total += b.length;
  if (total <= KEPT_PACK_BYTES) kept.set(pack, bytes);
}

/** Streams a large object into a temp file while hashing it, then hands it to the cache when its digest matches. */
async function receiveLarge(cache: FetchCache, sha256: string, body: Readable, tmpDir: string, result: FetchResult, received: (bytes: number) => void): Promise<void> {
  await mkdir(tmpDir, { recursive: true });
  const temp = join(tmpDir, `fetch-${sha256.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
  const hash = createHash('sha256');
  let size = 0;
  const digest = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, digest, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
    if (hash.digest('hex') !== sha256) {
      result.corruptOnRemote.push(sha256);
      return;
    }
    try {
      await cache.putFile(sha256, temp);
    } catch (err) {
      if (isSlipwayError(err) && err.code === 'INTEGRITY_ERROR') {
        result.corruptOnRemote.push(sha256);
        return;
      }
      throw err;
    }
    received(size);
  } finally {
    await unlink(temp).catch(() => {});
  }
}
