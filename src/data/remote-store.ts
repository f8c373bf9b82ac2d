/**
 * A data remote over any artifact store: which objects it holds (asked in batches, never one request
 * per object for large counts), reading them and writing them. Packs are immutable, so their parsed
 * indexes are kept locally by pack digest and downloaded once.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactStore } from '../artifacts/artifact-store.js';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import { OBJECTS_DIR, PACKS_DIR, looseObjectPath, packIndexPath, packPath, parsePackIndex, type BuiltPack, type PackIndex } from './remote-pack.js';

/** Where a remote keeps one object. */
export type RemoteLocation = { kind: 'pack'; pack: string; offset: number; size: number } | { kind: 'loose'; size: number };

/** A pack index the remote could not give (unreadable, corrupt): its objects count as absent. */
export interface BadPack {
  pack: string;
  reason: string;
}

/** What `locate` found. */
export interface RemoteInventory {
  found: Map<string, RemoteLocation>;
  /** Packs whose index was unusable, so their objects were not counted. */
  badPacks: BadPack[];
}

/** Up to this many wanted objects are looked up one by one (in parallel); more are found by listing folders. */
const STAT_LIMIT = 64;

/** Runs `fn` over `items` with at most `jobs` at a time. */
export async function forEachLimit<T>(items: readonly T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
}

/** Reads a whole stream into one buffer. */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A remote holding data objects, loose and packed, in an artifact store. */
export class DataRemote {
  constructor(
    readonly name: string,
    readonly store: ArtifactStore,
    /** Local folder keeping downloaded pack indexes by pack digest. */
    private readonly indexCacheDir: string,
  ) {}

  /** Finds which of `wanted` the remote holds and where: pack indexes first, then single objects. */
  async locate(wanted: Iterable<string>, jobs: number): Promise<RemoteInventory> {
    const want = new Set(wanted);
    const found = new Map<string, RemoteLocation>();
    const badPacks: BadPack[] = [];
    if (want.size === 0) return { found, badPacks };
    const packs = await this.listPacks();
    await forEachLimit(packs, jobs, async (pack) => {
      let index: PackIndex;
      try {
        index = await this.packIndex(pack.digest, pack.size);
      } catch (err) {
        if (!isSlipwayError(err)) throw err;
        badPacks.push({ pack: pack.digest, reason: err.message });
        return;
      }
      for (const e of index.objects) {
        if (want.has(e.sha256) && !found.has(e.sha256)) found.set(e.sha256, { kind: 'pack', pack: pack.digest, offset: e.offset, size: e.size });
      }
    });
    const rest = [...want].filter((d) => !found.has(d));
    if (rest.length === 0) return { found, badPacks };
    if (rest.length <= STAT_LIMIT) {
      await forEachLimit(rest, jobs, async (d) => {
        const info = await this.store.stat(looseObjectPath(d));
        if (info) found.set(d, { kind: 'loose', size: info.size });
      });
    } else {
      // One listing per fan-out folder holding a wanted object: at most 257 requests for any count.
      const restSet = new Set(rest);
      const prefixes = new Set(rest.map((d) => d.slice(0, 2)));
      const present = (await this.store.list(OBJECTS_DIR)).filter((e) => e.isDir).map((e) => e.path.slice(OBJECTS_DIR.length + 1));
      await forEachLimit(
        present.filter((p) => prefixes.has(p)),
        jobs,
        async (prefix) => {
          for (const entry of await this.store.list(`${OBJECTS_DIR}/${prefix}`)) {
            if (entry.isDir) continue;
            const digest = prefix + (entry.path.split('/').pop() ?? '');
            if (restSet.has(digest)) found.set(digest, { kind: 'loose', size: entry.size ?? 0 });
          }
        },
      );
    }
    return { found, badPacks };
  }

  /** Writes a pack, then its index (so a reader never finds an index without its pack), and keeps the index locally. */
  async writePack(pack: BuiltPack): Promise<void> {
    const stored = await this.store.put(packPath(pack.digest), pack.bytes);
    if (stored.sha256 !== pack.digest) {
      throw new SlipwayError('INTEGRITY_ERROR', `Pack ${pack.digest} was stored as ${stored.sha256} on remote '${this.name}'; the remote's disk may be failing.`, { pack: pack.digest });
    }
    await this.store.put(packIndexPath(pack.digest), pack.indexBytes);
    await this.keepIndex(join(this.indexCacheDir, `${pack.digest}.idx`), pack.indexBytes);
  }

  /** Writes one object on its own; returns the digest the store computed, which the caller compares. */
  async writeLoose(sha256: string, body: Readable | Buffer): Promise<string> {
    return (await this.store.put(looseObjectPath(sha256), body)).sha256;
  }

  /** Removes a single object (one that was stored with the wrong content). */
  async removeLoose(sha256: string): Promise<void> {
    await this.store.delete(looseObjectPath(sha256));
  }

  /** The whole pack `digest`. */
  async readPack(digest: string): Promise<Buffer> {
    return readAll(await this.store.get(packPath(digest)));
  }

  /** Opens the single object `sha256` for reading. */
  async openLoose(sha256: string): Promise<{ body: Readable; size: number }> {
    return this.store.read(looseObjectPath(sha256));
  }

  /** The packs that have an index (a pack without one is an interrupted push: absent). */
  private async listPacks(): Promise<Array<{ digest: string; size: number }>> {
    const entries = await this.store.list(PACKS_DIR);
    const packs = new Map<string, number>();
    const indexes = new Set<string>();
    for (const e of entries) {
      if (e.isDir) continue;
      const file = e.path.slice(PACKS_DIR.length + 1);
      const m = /^([0-9a-f]{64})\.(pack|idx)$/.exec(file);
      if (!m) continue;
      if (m[2] === 'pack') packs.set(m[1] as string, e.size ?? 0);
      else indexes.add(m[1] as string);
    }
    return [...packs].filter(([digest]) => indexes.has(digest)).map(([digest, size]) => ({ digest, size }));
  }

  /** The index of a pack, from the local copy when there is one, else downloaded and kept. */
  private async packIndex(digest: string, packSize: number): Promise<PackIndex> {
    const local = join(this.indexCacheDir, `${digest}.idx`);
    const kept = await readFile(local).catch(() => undefined);
    if (kept) {
      try {
        const index = parsePackIndex(digest, kept);
        if (index.size === packSize) return index;
      } catch {
        // A damaged local copy is replaced by the remote's.
      }
    }
    const bytes = await readAll(await this.store.get(packIndexPath(digest)));
    const index = parsePackIndex(digest, bytes);
    if (index.size !== packSize) {
      throw new SlipwayError('INTEGRITY_ERROR', `The index of pack ${digest} on the remote says ${index.size} bytes, but the pack holds ${packSize}.`, { pack: digest });
    }
    await this.keepIndex(local, bytes);
    return index;
  }

  // Temp file and rename: a reader never sees half an index, and two commands writing the same one agree.
  private async keepIndex(local: string, bytes: Buffer): Promise<void> {
    await mkdir(this.indexCacheDir, { recursive: true });
    const temp = `${local}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, bytes);
      await rename(temp, local);
    } catch {
      // The local copy only saves a download next time.
      await unlink(temp).catch(() => {});
    }
  }
}
