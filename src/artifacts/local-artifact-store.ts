/**
 * The embedded artifact store: content-addressed blobs on the local filesystem.
 *
 *   <root>/objects/ab/cdef…    immutable blobs named by their sha256 (read-only files)
 *   <root>/tree/<logical path> relative symbolic links to the blob holding the content
 *   <root>/tmp/                uploads in flight (temp file, fsync, rename)
 *   <root>/checkouts/<digest>/ folders of hard links to blobs, for readers that need a
 *                              folder's files side by side (onnxruntime's external data)
 *
 * Identical content is stored once. A blob is fully written and fsynced before it
 * gets its name; a path is switched to new content by renaming a fresh link over
 * the old one, so a reader sees the old file or the new one, never a partial one.
 * Links carry the digest in their target, so pointing a path costs no data write
 * and no second fsync. Blobs no link refers to are removed by `collectGarbage`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { close as closeCb, createWriteStream, fsync as fsyncCb, open as openCb } from 'node:fs';
import { link, mkdir, open, readdir, readlink, rename, rm, rmdir, stat as fsStat, symlink, unlink, utimes } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import { SlipwayError } from '../core/errors.js';
import type { ArtifactEntry, ArtifactStore, GarbageCollection, GarbageCollectionOptions, PutResult } from './artifact-store.js';
import { artifactPathSegments } from './artifact-path.js';

// Plain descriptors rather than FileHandles: a write stream over a FileHandle holds it open until the
// stream closes itself, which would defeat syncing and closing it here.
const openFd = promisify(openCb);
const fsyncFd = promisify(fsyncCb);
const closeFd = promisify(closeCb);

/** What a link in the tree points at. */
interface Pointer {
  sha256: string;
  size: number;
}

// The tail of a link target: objects/<2 hex>/<62 hex>.
const BLOB_TARGET = /(?:^|\/)objects\/([0-9a-f]{2})\/([0-9a-f]{62})$/;
/** Blobs and temp files younger than this survive garbage collection (an upload may be about to point at them). */
const DEFAULT_GC_MIN_AGE_MS = 60 * 60 * 1000;
/** The most files a checkout folder may hold, and how deep it may go, so a huge tree cannot stall a load. */
const MAX_CHECKOUT_FILES = 10_000;
const MAX_CHECKOUT_DEPTH = 16;

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Content-addressed artifact store rooted at a local folder. */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;
  private readonly objects: string;
  private readonly tree: string;
  private readonly tmp: string;
  private readonly checkouts: string;
  private ready: Promise<void> | undefined;

  constructor(root: string) {
    this.root = resolve(root);
    this.objects = join(this.root, 'objects');
    this.tree = join(this.root, 'tree');
    this.tmp = join(this.root, 'tmp');
    this.checkouts = join(this.root, 'checkouts');
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      for (const dir of [this.objects, this.tree, this.tmp, this.checkouts]) await mkdir(dir, { recursive: true });
      // All 256 fan-out folders up front, so no upload pays for creating one.
      await Promise.all(Array.from({ length: 256 }, (_, i) => mkdir(join(this.objects, i.toString(16).padStart(2, '0')), { recursive: true })));
    })();
    return this.ready;
  }

  /** Absolute path in the link tree for validated segments; refuses anything outside the tree. */
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
    // Created read-only: the open descriptor may still write, nothing opened later can.
    const fd = await openFd(temp, 'wx', 0o444);
    try {
      const source = body instanceof Readable ? body : Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
      const digest = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          size += chunk.length;
          done(null, chunk);
        },
      });
      // Backpressure keeps memory at a few chunks whatever the file size; the stream coalesces
      // queued chunks into one writev. The descriptor stays ours: synced and closed below.
      await pipeline(source, digest, createWriteStream('', { fd, autoClose: false, emitClose: false, highWaterMark: 1024 * 1024 }));
      // The bytes must be on disk before the blob gets its name.
      await fsyncFd(fd);
    } catch (err) {
      await closeFd(fd).catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    await closeFd(fd);
    const sha256 = hash.digest('hex');
    // Identical content renames onto identical content: still one stored copy, readers holding the
    // old file keep it, and the fresh modification time keeps a concurrent GC off it.
    await rename(temp, this.blobPath(sha256));
    return { sha256, size };
  }

  private async writePointer(target: string, logical: string, blob: Pointer): Promise<void> {
    const parent = dirname(target);
    // Relative to the link's final folder, so the whole root can be moved or restored elsewhere.
    const link = this.tempPath();
    try {
      await symlink(relative(parent, this.blobPath(blob.sha256)), link);
    } catch (err) {
      // A very deep path needs a link target ('../' per level) longer than the file system allows.
      if (isErrno(err, 'ENAMETOOLONG')) throw tooLongForDisk(logical);
      throw err;
    }
    try {
      try {
        await rename(link, target);
      } catch (err) {
        // Most uploads land in an existing folder, so the folder is made only when the rename says so.
        if (!isErrno(err, 'ENOENT')) throw err;
        await mkdir(parent, { recursive: true });
        await rename(link, target);
      }
    } catch (err) {
      await unlink(link).catch(() => {});
      if (isErrno(err, 'EISDIR', 'ENOTEMPTY')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': it is a directory.`, { path: logical });
      if (isErrno(err, 'ENOTDIR', 'EEXIST')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
      if (isErrno(err, 'ENAMETOOLONG')) throw tooLongForDisk(logical);
      throw err;
    }
  }

  private async readPointer(segments: string[], logical: string): Promise<Pointer | undefined> {
    const target = this.treePath(segments);
    let link: string;
    try {
      link = await readlink(target);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) return undefined;
      if (isErrno(err, 'EINVAL')) {
        // Not a link: a directory is simply not a file; anything else was put there by hand.
        const info = await fsStat(target).catch(() => undefined);
        if (!info || info.isDirectory()) return undefined;
        throw new SlipwayError('INTEGRITY_ERROR', `The artifact store entry for '${logical}' is corrupt (not a link to stored content).`, { path: logical });
      }
      throw err;
    }
    const m = BLOB_TARGET.exec(link);
    if (!m) throw new SlipwayError('INTEGRITY_ERROR', `The artifact store entry for '${logical}' is corrupt (it points outside the store).`, { path: logical });
    const sha256 = `${m[1]}${m[2]}`;
    const info = await fsStat(this.blobPath(sha256)).catch(() => undefined);
    if (!info) throw new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is missing from the store.`, { path: logical });
    return { sha256, size: info.size };
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
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) return [];
      throw err;
    }
    const out: ArtifactEntry[] = [];
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const childSegments = [...segments, entry.name];
      const child = childSegments.join('/');
      if (entry.isDirectory()) {
        out.push({ path: child, isDir: true });
      } else if (entry.isSymbolicLink() || entry.isFile()) {
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
    try {
      await rm(target, { recursive: true, force: true });
    } catch (err) {
      // A parent that is a file means nothing lives at the path: deleting it is a no-op, as for any absent path.
      if (isErrno(err, 'ENOTDIR', 'ENAMETOOLONG')) return;
      throw err;
    }
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
    const { pointer } = await this.requirePointer(path);
    return this.blobPath(pointer.sha256);
  }

  /**
   * Mirrors the files under `dir` into `<root>/checkouts/<digest>/` as hard links to their blobs:
   * no data is copied (blobs and checkouts share one file system), and the folder cannot be
   * changed through the tree. The digest covers every relative path and content digest, so
   * unchanged content reuses its folder and new content gets a new one; a folder is built under
   * tmp/ and renamed into place, so a reader never sees a partial one.
   */
  async localFolder(dir: string): Promise<string> {
    const segments = artifactPathSegments(dir);
    const logical = segments.join('/');
    await this.init();
    const files: Array<{ rel: string; sha256: string }> = [];
    await this.collectFiles(this.treePath(segments), segments, '', 0, files);
    if (files.length === 0) throw new SlipwayError('NOT_FOUND', `Artifact folder '${logical}' holds no file.`, { path: logical });
    files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const digest = createHash('sha256');
    for (const f of files) digest.update(`${f.rel}\u0000${f.sha256}\n`);
    const target = join(this.checkouts, digest.digest('hex'));
    const now = new Date();
    try {
      // A fresh modification time keeps garbage collection off a folder in use.
      await utimes(target, now, now);
      return target;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    const temp = this.tempPath();
    try {
      for (const f of files) {
        const dest = join(temp, ...f.rel.split('/'));
        await mkdir(dirname(dest), { recursive: true });
        await link(this.blobPath(f.sha256), dest);
      }
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { recursive: true, force: true });
      // Another reader built the same folder first: its content is identical.
      if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err;
    }
    return target;
  }

  private async collectFiles(dir: string, segments: string[], rel: string, depth: number, into: Array<{ rel: string; sha256: string }>): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
    for (const entry of entries) {
      const childSegments = [...segments, entry.name];
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (depth + 1 < MAX_CHECKOUT_DEPTH) await this.collectFiles(join(dir, entry.name), childSegments, childRel, depth + 1, into);
      } else if (entry.isSymbolicLink() || entry.isFile()) {
        const pointer = await this.readPointer(childSegments, childSegments.join('/'));
        if (pointer) into.push({ rel: childRel, sha256: pointer.sha256 });
      }
      if (into.length > MAX_CHECKOUT_FILES) {
        throw new SlipwayError('INVALID_STATE', `Artifact folder '${segments.join('/')}' holds more than ${MAX_CHECKOUT_FILES} files; keep a model's folder to the model and its data files.`);
      }
    }
  }

  /** Removes blobs no logical path refers to, temp files abandoned by interrupted uploads, and checkout folders unused for the minimum age. */
  async collectGarbage(opts: GarbageCollectionOptions = {}): Promise<GarbageCollection> {
    await this.init();
    const minAgeMs = opts.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS;
    const cutoff = Date.now() - minAgeMs;
    const referenced = new Set<string>();
    await this.walkPointers(this.tree, [], referenced);
    const result: GarbageCollection = { scannedBlobs: 0, removedBlobs: 0, freedBytes: 0, removedTempFiles: 0, removedCheckouts: 0 };
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
    }
    // A folder among the temp files is a checkout whose build was interrupted.
    result.removedTempFiles = await removeUnchangedSince(this.tmp, cutoff);
    result.removedCheckouts = await removeUnchangedSince(this.checkouts, cutoff);
    return result;
  }

  private async walkPointers(dir: string, segments: string[], into: Set<string>): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const childSegments = [...segments, entry.name];
      if (entry.isDirectory()) await this.walkPointers(join(dir, entry.name), childSegments, into);
      else if (entry.isSymbolicLink() || entry.isFile()) {
        const pointer = await this.readPointer(childSegments, childSegments.join('/'));
        if (pointer) into.add(pointer.sha256);
      }
    }
  }
}

function tooLongForDisk(logical: string): SlipwayError {
  return new SlipwayError('PATH_NOT_ALLOWED', `Artifact path '${logical}' is too long or too deeply nested for the file system.`, { path: logical });
}

/** Removes the entries of `dir` (files or folders) not modified since `cutoff`; returns how many. */
async function removeUnchangedSince(dir: string, cutoff: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    const info = await fsStat(path).catch(() => undefined);
    if (!info || info.mtimeMs > cutoff) continue;
    await rm(path, { recursive: true, force: true }).catch(() => {});
    removed++;
  }
  return removed;
}
