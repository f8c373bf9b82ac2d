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
import { link, lstat, mkdir, open, readdir, readlink, rename, rmdir, symlink, unlink, utimes } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { SlipwayError } from '../core/errors.js';
import type { ArtifactEntry, ArtifactStore, GarbageCollection, GarbageCollectionOptions, OpenedArtifact, PutResult } from './artifact-store.js';
import { artifactPathSegments } from './artifact-path.js';
import { FILE_FLAGS, closeDirs, closeFd, fsyncFd, isErrno, openChain, openDir, openFd, writeFd, writeHashedFd, type LinkPolicy, type StoreDir } from './no-follow-dirs.js';

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

function linkRefused(what: string): SlipwayError {
  return new SlipwayError('INTEGRITY_ERROR', `The artifact store entry '${what}' is a symbolic link where a folder belongs; the store never follows links in its folders.`, { path: what });
}

/** The store's own links (tree entries pointing at blobs) stand for files; any other link is tampering. */
const STORE_LINKS: LinkPolicy = { isFileLink: (target) => BLOB_TARGET.test(target), refused: linkRefused };

// Stored content replaced by a link (to anywhere) is tampering; reading it would leave the store.
function blobIsLink(logical: string): SlipwayError {
  return new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is a symbolic link, not stored content; the store never follows links.`, { path: logical });
}

/** Removes the folder `name` in `dir` and everything below it, descending only into real folders. */
async function removeTree(dir: StoreDir, name: string): Promise<void> {
  let child: StoreDir;
  try {
    child = await openDir(`${dir.path}/${name}`, join(dir.path, name));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    // Swapped for a link or a file meanwhile: removing the entry itself never touches what a link points at.
    if (isErrno(err, 'ENOTDIR', 'ELOOP')) return unlink(`${dir.path}/${name}`).catch(() => {});
    throw err;
  }
  try {
    for (const entry of await readdir(child.path, { withFileTypes: true })) {
      if (entry.isDirectory()) await removeTree(child, entry.name);
      else await unlink(`${child.path}/${entry.name}`).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
    }
  } finally {
    await closeDirs([child]);
  }
  await rmdir(`${dir.path}/${name}`).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
}

function noSpace(logical: string): SlipwayError {
  return new SlipwayError('INSUFFICIENT_STORAGE', `Cannot store artifact '${logical}': no space left on the artifact store's disk.`, { path: logical });
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
    })().catch((err: unknown) => {
      // A folder that could not be made (read-only, full) may be fixed while the server runs: try again next time.
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  /** Runs `fn` with the folders `base`/`segments` opened without following links, closing them after (an opened `base` stays open). */
  private async withChain<T>(base: string | StoreDir, segments: string[], create: boolean, fn: (dirs: StoreDir[] | 'absent' | 'file') => Promise<T>): Promise<T> {
    const dirs = await openChain(base, segments, create, STORE_LINKS);
    try {
      return await fn(dirs);
    } finally {
      if (typeof dirs !== 'string') await closeDirs(dirs);
    }
  }

  /** Runs `fn` with one folder of the store (tmp/, checkouts/, tree/) opened without following links. */
  private withDir<T>(dir: string, fn: (d: StoreDir) => Promise<T>): Promise<T> {
    return this.withChain(dir, [], false, (dirs) => {
      if (typeof dirs === 'string') throw new SlipwayError('INTEGRITY_ERROR', `The artifact store folder '${dir}' is missing.`);
      return fn(dirs[0] as StoreDir);
    });
  }

  /** Runs `fn` with the fan-out folder of a blob opened without following links, and the blob's name in it. */
  private withBlobDir<T>(sha256: string, fn: (d: StoreDir, name: string) => Promise<T>): Promise<T> {
    return this.withChain(this.objects, [sha256.slice(0, 2)], false, (dirs) => {
      if (typeof dirs === 'string') throw new SlipwayError('INTEGRITY_ERROR', `The content folder for ${sha256} is missing from the store.`);
      return fn(dirs[dirs.length - 1] as StoreDir, sha256.slice(2));
    });
  }

  private blobPath(sha256: string): string {
    return join(this.objects, sha256.slice(0, 2), sha256.slice(2));
  }

  private tempName(): string {
    return `${Date.now()}-${randomBytes(8).toString('hex')}`;
  }

  async put(path: string, body: Readable | Buffer | Uint8Array): Promise<PutResult> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    try {
      await this.init();
      return await this.withDir(this.tmp, async (tmp) => {
        const blob = await this.writeBlob(tmp, body);
        await this.writePointer(tmp, segments, logical, blob);
        return { path: logical, sha256: blob.sha256, size: blob.size };
      });
    } catch (err) {
      if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw noSpace(logical);
      throw err;
    }
  }

  /** Streams the body into a temp file while hashing it, then moves it to its content address. */
  private async writeBlob(tmp: StoreDir, body: Readable | Buffer | Uint8Array): Promise<Pointer> {
    const temp = `${tmp.path}/${this.tempName()}`;
    // Created read-only: the open descriptor may still write, nothing opened later can.
    const fd = await openFd(temp, 'wx', 0o444);
    let written: { sha256: string; size: number };
    try {
      written = await writeHashedFd(fd, body);
      await closeFd(fd);
    } catch (err) {
      await closeFd(fd).catch(() => {});
      await unlink(temp).catch(() => {});
      throw err;
    }
    const { sha256, size } = written;
    // Identical content renames onto identical content: still one stored copy, readers holding the
    // old file keep it, and the fresh modification time keeps a concurrent GC off it.
    try {
      await this.withBlobDir(sha256, (dir, name) => rename(temp, `${dir.path}/${name}`));
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    return { sha256, size };
  }

  private async writePointer(tmp: StoreDir, segments: string[], logical: string, blob: Pointer): Promise<void> {
    const name = segments[segments.length - 1] as string;
    const parentSegments = segments.slice(0, -1);
    // Relative to the link's final folder, so the whole root can be moved or restored elsewhere.
    const target = relative(join(this.tree, ...parentSegments), this.blobPath(blob.sha256));
    const link = `${tmp.path}/${this.tempName()}`;
    try {
      await symlink(target, link);
    } catch (err) {
      // A very deep path needs a link target ('../' per level) longer than the file system allows.
      if (isErrno(err, 'ENAMETOOLONG')) throw tooLongForDisk(logical);
      throw err;
    }
    try {
      await this.withChain(this.tree, parentSegments, true, async (dirs) => {
        if (typeof dirs === 'string') throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
        // Renaming over the entry replaces it, never what it might point at.
        await rename(link, `${(dirs[dirs.length - 1] as StoreDir).path}/${name}`);
      });
    } catch (err) {
      await unlink(link).catch(() => {});
      if (isErrno(err, 'EISDIR', 'ENOTEMPTY')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': it is a directory.`, { path: logical });
      if (isErrno(err, 'ENOTDIR', 'EEXIST')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
      if (isErrno(err, 'ENAMETOOLONG')) throw tooLongForDisk(logical);
      throw err;
    }
  }

  /** The digest an entry of `dir` points at; undefined when absent or a folder. */
  private async pointerTarget(dir: StoreDir, name: string, logical: string): Promise<string | undefined> {
    const at = `${dir.path}/${name}`;
    let link: string;
    try {
      link = await readlink(at);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) return undefined;
      if (isErrno(err, 'EINVAL')) {
        // Not a link: a directory is simply not a file; anything else was put there by hand.
        const info = await lstat(at).catch(() => undefined);
        if (!info || info.isDirectory()) return undefined;
        throw new SlipwayError('INTEGRITY_ERROR', `The artifact store entry for '${logical}' is corrupt (not a link to stored content).`, { path: logical });
      }
      throw err;
    }
    const m = BLOB_TARGET.exec(link);
    if (!m) throw new SlipwayError('INTEGRITY_ERROR', `The artifact store entry for '${logical}' is corrupt (it points outside the store).`, { path: logical });
    return `${m[1]}${m[2]}`;
  }

  /** Digest and size of the content an entry points at; the blob itself must be a plain file. */
  private async readPointer(dir: StoreDir, name: string, logical: string): Promise<Pointer | undefined> {
    const sha256 = await this.pointerTarget(dir, name, logical);
    if (sha256 === undefined) return undefined;
    const info = await this.withBlobDir(sha256, (d, blob) => lstat(`${d.path}/${blob}`)).catch(() => undefined);
    if (info?.isSymbolicLink()) throw blobIsLink(logical);
    if (!info || !info.isFile()) throw new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is missing from the store.`, { path: logical });
    return { sha256, size: info.size };
  }

  /** Runs `fn` with the folder holding `path`'s entry (opened without following links) and the entry's name; `fn` gets undefined when that folder is absent. */
  private async withParent<T>(segments: string[], fn: (dir: StoreDir | undefined, name: string) => Promise<T>): Promise<T> {
    await this.init();
    const name = segments[segments.length - 1] as string;
    return this.withChain(this.tree, segments.slice(0, -1), false, (dirs) => fn(typeof dirs === 'string' ? undefined : (dirs[dirs.length - 1] as StoreDir), name));
  }

  private async requirePointer(path: string): Promise<{ pointer: Pointer; logical: string }> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    const pointer = await this.withParent(segments, async (dir, name) => (dir ? this.readPointer(dir, name, logical) : undefined));
    if (!pointer) throw new SlipwayError('NOT_FOUND', `Artifact '${logical}' does not exist.`, { path: logical });
    return { pointer, logical };
  }

  async get(path: string): Promise<Readable> {
    return (await this.read(path)).body;
  }

  async read(path: string): Promise<OpenedArtifact> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    const sha256 = await this.withParent(segments, async (dir, name) => (dir ? this.pointerTarget(dir, name, logical) : undefined));
    if (sha256 === undefined) throw new SlipwayError('NOT_FOUND', `Artifact '${logical}' does not exist.`, { path: logical });
    const missing = () => new SlipwayError('INTEGRITY_ERROR', `The content of artifact '${logical}' is missing from the store.`, { path: logical });
    // One open answers everything: blobs never change once named, so the size of this descriptor and the
    // digest in its name describe the bytes it streams, whatever overwrites the path meanwhile. Opening
    // now also keeps a later GC from pulling the content from under the reader.
    const handle = await this.withBlobDir(sha256, (dir, name) => open(`${dir.path}/${name}`, FILE_FLAGS)).catch((err: unknown) => {
      if (isErrno(err, 'ELOOP')) throw blobIsLink(logical);
      if (isErrno(err, 'ENOENT')) throw missing();
      throw err;
    });
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw missing();
      return { body: handle.createReadStream(), size: info.size, sha256 };
    } catch (err) {
      await handle.close().catch(() => {});
      throw err;
    }
  }

  async stat(path: string): Promise<{ size: number; sha256: string } | undefined> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    return this.withParent(segments, async (dir, name) => (dir ? this.readPointer(dir, name, logical) : undefined));
  }

  async list(dir: string): Promise<ArtifactEntry[]> {
    const segments = artifactPathSegments(dir, { allowRoot: true });
    await this.init();
    return this.withChain(this.tree, segments, false, async (dirs) => {
      if (typeof dirs === 'string') return [];
      const base = dirs[dirs.length - 1] as StoreDir;
      const entries = await readdir(base.path, { withFileTypes: true });
      const out: ArtifactEntry[] = [];
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const child = [...segments, entry.name].join('/');
        if (entry.isDirectory()) {
          out.push({ path: child, isDir: true });
        } else if (entry.isSymbolicLink() || entry.isFile()) {
          const pointer = await this.readPointer(base, entry.name, child);
          if (pointer) out.push({ path: child, isDir: false, size: pointer.size });
        }
      }
      return out;
    });
  }

  async delete(path: string): Promise<void> {
    const segments = artifactPathSegments(path);
    await this.init();
    await this.withChain(this.tree, segments.slice(0, -1), false, async (dirs) => {
      // A parent that is a file means nothing lives at the path: deleting it is a no-op, as for any absent path.
      if (typeof dirs === 'string') return;
      const parent = dirs[dirs.length - 1] as StoreDir;
      const name = segments[segments.length - 1] as string;
      const info = await lstat(`${parent.path}/${name}`).catch((err: unknown) => {
        if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) return undefined;
        throw err;
      });
      if (!info) return;
      // A link (pointer or planted) is removed itself; folders are removed without following links inside.
      if (info.isDirectory()) await removeTree(parent, name);
      else await unlink(`${parent.path}/${name}`);
      // Prune folders the delete left empty, so listings do not show hollow directories.
      for (let i = segments.length - 1; i > 0; i--) {
        try {
          await rmdir(`${(dirs[i - 1] as StoreDir).path}/${segments[i - 1] as string}`);
        } catch {
          break;
        }
      }
    });
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
    await this.withChain(this.tree, segments, false, async (dirs) => {
      if (typeof dirs !== 'string') await this.collectFiles(dirs[dirs.length - 1] as StoreDir, segments, '', 0, files);
    });
    if (files.length === 0) throw new SlipwayError('NOT_FOUND', `Artifact folder '${logical}' holds no file.`, { path: logical });
    files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const digest = createHash('sha256');
    for (const f of files) digest.update(`${f.rel}\u0000${f.sha256}\n`);
    const name = digest.digest('hex');
    const target = join(this.checkouts, name);
    await this.withDir(this.checkouts, (checkouts) =>
      this.withDir(this.tmp, async (tmp) => {
        const now = new Date();
        const existing = await lstat(`${checkouts.path}/${name}`).catch(() => undefined);
        if (existing?.isSymbolicLink()) throw linkRefused(`checkouts/${name}`);
        if (existing) {
          // A fresh modification time keeps garbage collection off a folder in use.
          await utimes(`${checkouts.path}/${name}`, now, now);
          return;
        }
        const temp = this.tempName();
        try {
          const folders = new Set<string>(['']);
          for (const f of files) {
            const parts = f.rel.split('/');
            for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join('/'));
          }
          // Parents sort before their children, so each folder is made once without a recursive mkdir.
          for (const folder of [...folders].sort()) await mkdir(folder === '' ? `${tmp.path}/${temp}` : `${tmp.path}/${temp}/${folder}`);
          for (const f of files) await this.withBlobDir(f.sha256, (blobs, blob) => link(`${blobs.path}/${blob}`, `${tmp.path}/${temp}/${f.rel}`));
          await rename(`${tmp.path}/${temp}`, `${checkouts.path}/${name}`);
        } catch (err) {
          await removeTree(tmp, temp);
          // Another reader built the same folder first: its content is identical.
          if (!isErrno(err, 'ENOTEMPTY', 'EEXIST')) throw err;
        }
      }),
    );
    return target;
  }

  private async collectFiles(dir: StoreDir, segments: string[], rel: string, depth: number, into: Array<{ rel: string; sha256: string }>): Promise<void> {
    for (const entry of await readdir(dir.path, { withFileTypes: true })) {
      const childSegments = [...segments, entry.name];
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (depth + 1 < MAX_CHECKOUT_DEPTH) {
          await this.withChain(dir, [entry.name], false, async (dirs) => {
            if (typeof dirs !== 'string') await this.collectFiles(dirs[0] as StoreDir, childSegments, childRel, depth + 1, into);
          });
        }
      } else if (entry.isSymbolicLink() || entry.isFile()) {
        const sha256 = await this.pointerTarget(dir, entry.name, childSegments.join('/'));
        if (sha256) into.push({ rel: childRel, sha256 });
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
    await this.withDir(this.tree, (tree) => this.walkPointers(tree, [], referenced));
    const result: GarbageCollection = { scannedBlobs: 0, removedBlobs: 0, freedBytes: 0, removedTempFiles: 0, removedCheckouts: 0 };
    await this.withDir(this.objects, async (objects) => {
      for (const prefix of await readdir(objects.path).catch(() => [] as string[])) {
        // A fan-out folder that is a link (or not a folder) is not ours to clean.
        const dirs = await openChain(objects, [prefix], false, STORE_LINKS).catch(() => 'absent' as const);
        if (typeof dirs === 'string') continue;
        try {
          const dir = dirs[0] as StoreDir;
          for (const name of await readdir(dir.path).catch(() => [] as string[])) {
            result.scannedBlobs++;
            if (referenced.has(prefix + name)) continue;
            const file = `${dir.path}/${name}`;
            const info = await lstat(file).catch(() => undefined);
            if (!info || !info.isFile() || info.mtimeMs > cutoff) continue;
            await unlink(file).catch(() => {});
            result.removedBlobs++;
            result.freedBytes += info.size;
          }
        } finally {
          await closeDirs(dirs);
        }
      }
    });
    // A folder among the temp files is a checkout whose build was interrupted.
    result.removedTempFiles = await this.withDir(this.tmp, (tmp) => removeUnchangedSince(tmp, cutoff));
    result.removedCheckouts = await this.withDir(this.checkouts, (checkouts) => removeUnchangedSince(checkouts, cutoff));
    return result;
  }

  private async walkPointers(dir: StoreDir, segments: string[], into: Set<string>): Promise<void> {
    for (const entry of await readdir(dir.path, { withFileTypes: true })) {
      const childSegments = [...segments, entry.name];
      if (entry.isDirectory()) {
        await this.withChain(dir, [entry.name], false, async (dirs) => {
          if (typeof dirs !== 'string') await this.walkPointers(dirs[0] as StoreDir, childSegments, into);
        });
      } else if (entry.isSymbolicLink() || entry.isFile()) {
        const sha256 = await this.pointerTarget(dir, entry.name, childSegments.join('/'));
        if (sha256) into.add(sha256);
      }
    }
  }

  /** Creates, syncs and removes a tiny file in tmp/, so a full or read-only disk shows before an upload fails on it. */
  async checkWritable(): Promise<void> {
    await this.init();
    await this.withDir(this.tmp, async (tmp) => {
      const probe = `${tmp.path}/probe-${this.tempName()}`;
      const fd = await openFd(probe, 'wx', 0o600);
      try {
        await writeFd(fd, Buffer.from('1'));
        await fsyncFd(fd);
      } finally {
        await closeFd(fd).catch(() => {});
        await unlink(probe).catch(() => {});
      }
    });
  }
}

function tooLongForDisk(logical: string): SlipwayError {
  return new SlipwayError('PATH_NOT_ALLOWED', `Artifact path '${logical}' is too long or too deeply nested for the file system.`, { path: logical });
}

/** Removes the entries of `dir` (files or folders) not modified since `cutoff`; returns how many. */
async function removeUnchangedSince(dir: StoreDir, cutoff: number): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir.path).catch(() => [] as string[])) {
    const info = await lstat(`${dir.path}/${name}`).catch(() => undefined);
    if (!info || info.mtimeMs > cutoff) continue;
    if (info.isDirectory()) await removeTree(dir, name).catch(() => {});
    else await unlink(`${dir.path}/${name}`).catch(() => {});
    removed++;
  }
  return removed;
}
