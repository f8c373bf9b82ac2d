/**
 * The embedded artifact store: content-addressed blobs on the local filesystem.
 *
 *   <root>/objects/ab/cdef…   immutable blobs named by their sha256 (read-only files)
 *   <root>/tree/<logical path> small pointer files: {"sha256": "…", "size": N}
 *   <root>/tmp/               uploads in flight (temp file, fsync, rename)
 *
 * Identical content is stored once; a pointer is replaced atomically, so a reader
 * sees the old file or the new one, never a partial one. Blobs no pointer refers
 * to are removed by `collectGarbage`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, rmdir, stat as fsStat, unlink, utimes, chmod } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { SlipwayError } from '../core/errors.js';
import type { ArtifactEntry, ArtifactStore, GarbageCollection, GarbageCollectionOptions, PutResult } from './artifact-store.js';
import { artifactPathSegments } from './artifact-path.js';

/** What a pointer file in the tree holds. */
interface Pointer {
  sha256: string;
  size: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Blobs and temp files younger than this survive garbage collection (an upload may be about to point at them). */
const DEFAULT_GC_MIN_AGE_MS = 60 * 60 * 1000;

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Content-addressed artifact store rooted at a local folder. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  private readonly objects: string;
  private readonly tree: string;
  private readonly tmp: string;
  private ready: Promise<void> | undefined;

  constructor(root: string) {
    this.root = resolve(root);
    this.objects = join(this.root, 'objects');
    this.tree = join(this.root, 'tree');
    this.tmp = join(this.root, 'tmp');
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      for (const dir of [this.objects, this.tree, this.tmp]) await mkdir(dir, { recursive: true });
    })();
    return this.ready;
  }

  /** Absolute path in the pointer tree for validated segments; refuses anything outside the tree. */
  private treePath(segments: string[]): string {
    const full = resolve(this.tree, ...segments);
    // Defence in depth: validation already forbids every escaping form.
    if (full !== this.tree && !full.startsWith(this.tree + sep)) {
      throw new SlipwayError('PATH_NOT_ALLOWED', `Artifact path '${segments.join('/')}' escapes the artifact root.`);
    }
    return full;
  }

  private blobPath(sha256: string): string {
    return join(this.objects, sha256.slice(0, 2), sha256.slice(2));
  }

  private tempPath(): string {
    return join(this.tmp, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  async put(path: string, body: Readable | Buffer | Uint8Array): Promise<PutResult> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    await this.init();
    const target = this.treePath(segments);
    const blob = await this.writeBlob(body);
    await this.writePointer(target, logical, blob);
    return { path: logical, sha256: blob.sha256, size: blob.size };
  }

  /** Streams the body into a temp file while hashing it, then moves it to its content address. */
  private async writeBlob(body: Readable | Buffer | Uint8Array): Promise<Pointer> {
    const temp = this.tempPath();
    const hash = createHash('sha256');
    let size = 0;
    const handle = await open(temp, 'wx', 0o644);
    try {
      const source = body instanceof Readable ? body : [Buffer.from(body.buffer, body.byteOffset, body.byteLength)];
      // One chunk in flight at a time: memory stays at a chunk, whatever the file size.
      for await (const chunk of source) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        hash.update(buf);
        size += buf.length;
        await handle.write(buf);
      }
      await handle.sync();
    } catch (err) {
      await handle.close().catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    await handle.close();
    const sha256 = hash.digest('hex');
    const dest = this.blobPath(sha256);
    if (await exists(dest)) {
      // De-duplication: keep the stored copy; refresh its time so a concurrent GC spares it.
      await unlink(temp);
      const now = new Date();
      await utimes(dest, now, now).catch(() => {});
    } else {
      await mkdir(join(this.objects, sha256.slice(0, 2)), { recursive: true });
      await chmod(temp, 0o444);
      await rename(temp, dest);
      await fsyncDir(join(this.objects, sha256.slice(0, 2)));
    }
    return { sha256, size };
  }

  private async writePointer(target: string, logical: string, blob: Pointer): Promise<void> {
    const parent = resolve(target, '..');
    try {
      await mkdir(parent, { recursive: true });
    } catch (err) {
      if (isErrno(err, 'ENOTDIR', 'EEXIST')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
      throw err;
    }
    const existing = await fsStat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': it is a directory.`, { path: logical });
    const temp = this.tempPath();
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(`${JSON.stringify(blob)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    await fsyncDir(parent);
  }

  private async readPointer(segments: string[], logical: string): Promise<Pointer | undefined> {
    const target = this.treePath(segments);
    let text: string;
    try {
      text = await readFile(target, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw err;
    }
    let pointer: unknown;
    try {
      pointer = JSON.parse(text);
    } catch {
      pointer = undefined;
    }
    const p = pointer as Partial<Pointer> | undefined;
    if (!p || typeof p.sha256 !== 'string' || !SHA256_HEX.test(p.sha256) || typeof p.size !== 'number') {
      throw new SlipwayError('INTEGRITY_ERROR', `The artifact store entry for '${logical}' is corrupt.`, { path: logical });
    }
    return { sha256: p.sha256, size: p.size };
  }

  private async requirePointer(path: string): Promise<{ pointer: Pointer; logical: string }> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    await this.init();
    const pointer = await this.readPointer(segments, logical);
    if (!pointer) throw new SlipwayError('NOT_FOUND', `Artifact '${logical}' does not exist.`, { path: logical });
    return { pointer, logical };
  }

  async get(path: string): Promise<Readable> {
    const { pointer, logical } = await this.requirePointer(path);
    // Open before returning so a missing blob fails here, and so a later GC cannot pull it from under the reader.
    const handle = await open(this.blobPath(pointer.sha256), 'r').catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) throw new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is missing from the store.`, { path: logical });
      throw err;
    });
    return handle.createReadStream();
  }

  async stat(path: string): Promise<{ size: number; sha256: string } | undefined> {
    const segments = artifactPathSegments(path);
    await this.init();
    return this.readPointer(segments, segments.join('/'));
  }

  async list(dir: string): Promise<ArtifactEntry[]> {
    const segments = artifactPathSegments(dir, { allowRoot: true });
    await this.init();
    const base = this.treePath(segments);
    let entries;
    try {
      entries = await readdir(base, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return [];
      throw err;
    }
    const out: ArtifactEntry[] = [];
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childSegments = [...segments, entry.name];
      const child = childSegments.join('/');
      if (entry.isDirectory()) {
        out.push({ path: child, isDir: true });
      } else if (entry.isFile()) {
        const pointer = await this.readPointer(childSegments, child);
        if (pointer) out.push({ path: child, isDir: false, size: pointer.size });
      }
    }
    return out;
  }

  async delete(path: string): Promise<void> {
    const segments = artifactPathSegments(path);
    await this.init();
    const target = this.treePath(segments);
    await rm(target, { recursive: true, force: true });
    // Prune folders the delete left empty, so listings do not show hollow directories.
    for (let i = segments.length - 1; i > 0; i--) {
      try {
        await rmdir(this.treePath(segments.slice(0, i)));
      } catch {
        break;
      }
    }
  }

  async localPath(path: string): Promise<string> {
    const { pointer, logical } = await this.requirePointer(path);
    const blob = this.blobPath(pointer.sha256);
    if (!(await exists(blob))) throw new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is missing from the store.`, { path: logical });
    return blob;
  }

  /** Removes blobs no logical path refers to, and temp files abandoned by interrupted uploads. */
  async collectGarbage(opts: GarbageCollectionOptions = {}): Promise<GarbageCollection> {
    await this.init();
    const minAgeMs = opts.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS;
    const cutoff = Date.now() - minAgeMs;
    const referenced = new Set<string>();
    await this.walkPointers(this.tree, [], referenced);
    const result: GarbageCollection = { scannedBlobs: 0, removedBlobs: 0, freedBytes: 0, removedTempFiles: 0 };
    for (const prefix of await readdir(this.objects).catch(() => [] as string[])) {
      const dir = join(this.objects, prefix);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        result.scannedBlobs++;
        if (referenced.has(prefix + name)) continue;
        const file = join(dir, name);
        const info = await fsStat(file).catch(() => undefined);
        if (!info || info.mtimeMs > cutoff) continue;
        await unlink(file).catch(() => {});
        result.removedBlobs++;
        result.freedBytes += info.size;
      }
      await rmdir(dir).catch(() => {});
    }
    for (const name of await readdir(this.tmp).catch(() => [] as string[])) {
      const file = join(this.tmp, name);
      const info = await fsStat(file).catch(() => undefined);
      if (!info || info.mtimeMs > cutoff) continue;
      await unlink(file).catch(() => {});
      result.removedTempFiles++;
    }
    return result;
  }

  private async walkPointers(dir: string, segments: string[], into: Set<string>): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const childSegments = [...segments, entry.name];
      if (entry.isDirectory()) await this.walkPointers(join(dir, entry.name), childSegments, into);
      else if (entry.isFile()) {
        const pointer = await this.readPointer(childSegments, childSegments.join('/'));
        if (pointer) into.add(pointer.sha256);
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fsStat(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    // Some filesystems refuse fsync on directories; the data itself is already synced.
    if (!isErrno(err, 'EINVAL', 'EISDIR', 'EPERM')) throw err;
  } finally {
    await handle.close();
  }
}
