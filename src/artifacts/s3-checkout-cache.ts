/**
 * The local copy of S3 content that serving reads (onnxruntime opens files, not streams).
 *
 *   <dir>/objects/ab/cdef…   verified blobs named by their sha256 (read-only files)
 *   <dir>/folders/<digest>/  a model folder's files side by side, as hard links to blobs
 *   <dir>/tmp/               downloads in flight
 *
 * A blob is downloaded to tmp/, hashed on the way and renamed to its name only when the digest matches, so a
 * file in objects/ is always whole and correct. The cache keeps its total under `maxBytes` by evicting the least
 * recently used blobs and folders (use refreshes a file's modification time), and never evicts what is in use:
 * anything pinned by a call in progress, or used within `minIdleMs` (a model just handed to onnxruntime).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, mkdir, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SlipwayError } from '../core/errors.js';

/** Options of the checkout cache. */
export interface S3CheckoutCacheOptions {
  /** Folder of the cache (created when needed). */
  dir: string;
  /** Largest total size of the cached blobs, in bytes. @default 10 GiB */
  maxBytes?: number;
  /** Files used more recently than this are never evicted. @default 600000 (10 minutes) */
  minIdleMs?: number;
}

/** A file of a folder checkout: its path relative to the folder and its content digest. */
export interface CheckoutFile {
  rel: string;
  sha256: string;
}

const DEFAULT_MAX_BYTES = 10 * 1024 ** 3;
const DEFAULT_MIN_IDLE_MS = 10 * 60 * 1000;

/** A size-limited, digest-verified local cache of content-addressed blobs. */
export class S3CheckoutCache {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly minIdleMs: number;
  private readonly pins = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<string>>();
  private evicting: Promise<void> | undefined;

  constructor(opts: S3CheckoutCacheOptions) {
    this.dir = opts.dir;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.minIdleMs = opts.minIdleMs ?? DEFAULT_MIN_IDLE_MS;
  }

  private blobPath(sha256: string): string {
    return join(this.dir, 'objects', sha256.slice(0, 2), sha256.slice(2));
  }

  private pin(key: string): () => void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
    return () => {
      const n = (this.pins.get(key) ?? 1) - 1;
      if (n <= 0) this.pins.delete(key);
      else this.pins.set(key, n);
    };
  }

  /** The local file holding `sha256`, downloading it with `open` (and verifying the digest) when absent. */
  async blob(sha256: string, size: number, open: () => Promise<Readable>): Promise<string> {
    const unpin = this.pin(sha256);
    try {
      const path = await this.fetchBlob(sha256, size, open);
      await this.evict();
      return path;
    } finally {
      unpin();
    }
  }

  private async fetchBlob(sha256: string, size: number, open: () => Promise<Readable>): Promise<string> {
    const path = this.blobPath(sha256);
    const info = await lstat(path).catch(() => undefined);
    if (info?.isFile()) {
      await touch(path);
      return path;
    }
    // Two loads of one model share one download.
    let pending = this.inflight.get(sha256);
    if (!pending) {
      pending = this.download(sha256, size, open, path).finally(() => this.inflight.delete(sha256));
      this.inflight.set(sha256, pending);
    }
    return pending;
  }

  private async download(sha256: string, size: number, open: () => Promise<Readable>, path: string): Promise<string> {
    const tmp = join(this.dir, 'tmp');
    await mkdir(tmp, { recursive: true });
    await mkdir(dirname(path), { recursive: true });
    const temp = join(tmp, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const body = await open();
      body.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
      });
      await pipeline(body, createWriteStream(temp, { flags: 'wx', mode: 0o600 }));
      const got = hash.digest('hex');
      if (got !== sha256 || bytes !== size) {
        throw new SlipwayError('INTEGRITY_ERROR', `Stored content ${sha256} read back as ${bytes} bytes with digest ${got}; the object in the bucket is damaged.`, { sha256 });
      }
      await chmod(temp, 0o444);
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    return path;
  }

  /**
   * A folder holding `files` at their relative paths (hard links to cached blobs), named by `digest` (which covers
   * every path and content digest): unchanged content reuses its folder. Built under tmp/ and renamed into place,
   * so a reader never sees a partial folder.
   */
  async folder(digest: string, files: CheckoutFile[], sizeOf: (sha256: string) => number, open: (sha256: string) => Promise<Readable>): Promise<string> {
    const target = join(this.dir, 'folders', digest);
    const unpins = [this.pin(`folder:${digest}`), ...files.map((f) => this.pin(f.sha256))];
    try {
      const existing = await lstat(target).catch(() => undefined);
      if (existing?.isDirectory()) {
        await touch(target);
        for (const f of files) await touch(this.blobPath(f.sha256)).catch(() => {});
        return target;
      }
      for (const f of files) await this.fetchBlob(f.sha256, sizeOf(f.sha256), () => open(f.sha256));
      await mkdir(join(this.dir, 'folders'), { recursive: true });
      const temp = join(this.dir, 'tmp', `folder-${Date.now()}-${randomBytes(8).toString('hex')}`);
      try {
        for (const f of files) {
          const at = join(temp, ...f.rel.split('/'));
          await mkdir(dirname(at), { recursive: true });
          await link(this.blobPath(f.sha256), at);
        }
        await rename(temp, target);
      } catch (err) {
        await rm(temp, { recursive: true, force: true });
        // Another load built the same folder first: its content is identical.
        if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err;
      }
      await this.evict();
      return target;
    } finally {
      for (const unpin of unpins) unpin();
    }
  }

  /** Total bytes of the cached blobs (each stored once, whatever links a folder adds). */
  async size(): Promise<number> {
    return (await this.blobs()).reduce((sum, b) => sum + b.size, 0);
  }

  private async blobs(): Promise<Array<{ sha256: string; path: string; size: number; usedMs: number; links: number }>> {
    const out: Array<{ sha256: string; path: string; size: number; usedMs: number; links: number }> = [];
    const objects = join(this.dir, 'objects');
    for (const fan of await readdir(objects).catch(() => [] as string[])) {
      for (const name of await readdir(join(objects, fan)).catch(() => [] as string[])) {
        const path = join(objects, fan, name);
        const info = await stat(path).catch(() => undefined);
        if (info?.isFile()) out.push({ sha256: fan + name, path, size: info.size, usedMs: info.mtimeMs, links: info.nlink });
      }
    }
    return out;
  }

  /** Evicts least recently used blobs and folders until the cache fits `maxBytes`, sparing what is in use. */
  evict(): Promise<void> {
    // One eviction at a time: two would count the same files and remove more than needed.
    this.evicting ??= this.evictOnce().finally(() => {
      this.evicting = undefined;
    });
    return this.evicting;
  }

  private async evictOnce(): Promise<void> {
    let blobs = await this.blobs();
    let total = blobs.reduce((sum, b) => sum + b.size, 0);
    if (total <= this.maxBytes) return;
    const idleBefore = Date.now() - this.minIdleMs;
    // Folders first: a blob a folder links to frees nothing until the folder goes.
    const foldersDir = join(this.dir, 'folders');
    const folders: Array<{ name: string; usedMs: number }> = [];
    for (const name of await readdir(foldersDir).catch(() => [] as string[])) {
      const info = await stat(join(foldersDir, name)).catch(() => undefined);
      if (info) folders.push({ name, usedMs: info.mtimeMs });
    }
    folders.sort((a, b) => a.usedMs - b.usedMs);
    for (const f of folders) {
      if (f.usedMs > idleBefore || this.pins.has(`folder:${f.name}`)) continue;
      await rm(join(foldersDir, f.name), { recursive: true, force: true });
      blobs = await this.blobs();
      total = blobs.reduce((sum, b) => sum + b.size, 0);
      if (total <= this.maxBytes) return;
    }
    blobs.sort((a, b) => a.usedMs - b.usedMs);
    for (const b of blobs) {
      if (total <= this.maxBytes) return;
      if (b.links > 1 || b.usedMs > idleBefore || this.pins.has(b.sha256)) continue;
      await unlink(b.path).catch(() => {});
      total -= b.size;
    }
  }
}

async function touch(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now);
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
