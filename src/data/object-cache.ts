/**
 * The workspace's object cache, `.slipway/cache/objects/ab/<62 hex>`: immutable, read-only files
 * named by their sha256 (the artifact store's layout). An object gets its name only once its bytes
 * are complete and synced (temp file in `.slipway/tmp`, fsync, rename), so a crash never leaves a
 * half object under a real name. Checkout places files the same way: a temp file beside the
 * destination, renamed over it, so the old version stays whole until the new one is.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { constants as fsConstants, createReadStream, lstatSync, renameSync, unlinkSync } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SlipwayError } from '../core/errors.js';
import { closeFd, isErrno, openFd, writeHashedFd } from '../artifacts/no-follow-dirs.js';
import { DATA_FORMAT_VERSION, type DataConfig, type Manifest, type ManifestEntry, type ObjectCacheView } from './data-types.js';

/** How a file is placed: a copy-on-write clone, a hard link to the object, or a plain copy. */
export type LinkType = 'reflink' | 'hardlink' | 'copy';

/**
 * The default order of link types. Hard links are opt-in (data.linkTypes): a file shared with the
 * cache is protected only by its read-only mode, which root and `chmod` ignore, and an edit in
 * place would then change the cached version too.
 */
export const DEFAULT_LINK_TYPES: NonNullable<DataConfig['linkTypes']> = ['reflink', 'copy'];

const SHA256 = /^[0-9a-f]{64}$/;
const COPY_CHUNK = 1024 * 1024;

/** The stats a file had when it was hashed: a placement from it is refused once they differ. */
export interface HashedStats {
  size: number;
  ino: bigint;
  mtimeNs: bigint;
}

/** Hooks that tests use to stand in for the disk (a copy that fails like a full disk). */
export interface ObjectCacheHooks {
  /** Copies `src` to `dest` (a fresh temp file); the default streams it and syncs it. */
  copy?: (src: string, dest: string) => Promise<void>;
}

function tempName(): string {
  return `${Date.now()}-${randomBytes(8).toString('hex')}`;
}

function noSpace(what: string): SlipwayError {
  return new SlipwayError('INSUFFICIENT_STORAGE', `No space left on the disk while writing ${what}; nothing of it was kept and the previous version is untouched.`, { path: what });
}

/** Copies `src` to a new file `dest`, hashing on the way; the copy is synced before this resolves. */
async function copyHashed(src: string, dest: string, mode: number): Promise<{ sha256: string; size: number }> {
  const fd = await openFd(dest, 'wx', mode);
  try {
    const out = await writeHashedFd(fd, createReadStream(src, { highWaterMark: 4 * 1024 * 1024 }));
    await closeFd(fd);
    return out;
  } catch (err) {
    await closeFd(fd).catch(() => {});
    throw err;
  }
}

/** True when the file at `path` still has the stats it was hashed with. */
async function unchangedSince(path: string, expect: HashedStats | undefined): Promise<boolean> {
  if (!expect) return true;
  const now = await lstat(path, { bigint: true }).catch(() => undefined);
  return !!now && now.isFile() && now.ino === expect.ino && now.size === BigInt(expect.size) && now.mtimeNs === expect.mtimeNs;
}

/** The object cache of one workspace. */
export class ObjectCache implements ObjectCacheView {
  readonly root: string;
  private readonly objects: string;
  private readonly tmp: string;
  private readonly corrupt: string;
  private readonly hooks: ObjectCacheHooks;
  /** Link types that failed as unsupported on this file system during this run. */
  private readonly unsupported = new Set<LinkType>();
  /** Copy buffers, reused across files. */
  private readonly buffers: Buffer[] = [];
  private ready: Promise<void> | undefined;

  /** `root` is `<ws>/.slipway/cache`; `tmp` is where objects are written before they get their name. */
  constructor(root: string, tmp: string, hooks: ObjectCacheHooks = {}) {
    this.root = root;
    this.objects = join(root, 'objects');
    this.tmp = tmp;
    this.corrupt = join(root, 'corrupt');
    this.hooks = hooks;
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.objects, { recursive: true });
      await mkdir(this.tmp, { recursive: true });
      // All 256 fan-out folders up front, so no insert pays for creating one.
      await Promise.all(Array.from({ length: 256 }, (_, i) => mkdir(join(this.objects, i.toString(16).padStart(2, '0')), { recursive: true })));
    })().catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  private check(sha256: string): void {
    if (!SHA256.test(sha256)) throw new SlipwayError('INVALID_ARGUMENT', `'${sha256}' is not a sha256 digest (64 lowercase hex digits).`);
  }

  pathOf(sha256: string): string {
    this.check(sha256);
    return join(this.objects, sha256.slice(0, 2), sha256.slice(2));
  }

  async has(sha256: string): Promise<boolean> {
    const info = await lstat(this.pathOf(sha256)).catch(() => undefined);
    return !!info && info.isFile();
  }

  /** Every object present, by one listing of each fan-out folder (cheaper than a stat per object for big folders). */
  async listAll(): Promise<Set<string>> {
    const out = new Set<string>();
    const prefixes = await readdir(this.objects).catch(() => [] as string[]);
    await Promise.all(
      prefixes.map(async (p) => {
        if (!/^[0-9a-f]{2}$/.test(p)) return;
        for (const name of await readdir(join(this.objects, p)).catch(() => [] as string[])) if (name.length === 62) out.add(p + name);
      }),
    );
    return out;
  }

  /** Moves a finished temp file to its object name, read-only. */
  private async commit(temp: string, sha256: string): Promise<void> {
    await rename(temp, this.pathOf(sha256));
  }

  async putBytes(sha256: string, bytes: Uint8Array): Promise<void> {
    this.check(sha256);
    await this.init();
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== sha256) throw new SlipwayError('INTEGRITY_ERROR', `Content for object ${sha256} has digest ${got}; nothing was stored.`, { sha256 });
    if (await this.has(sha256)) return;
    const temp = join(this.tmp, tempName());
    const fd = await openFd(temp, 'wx', 0o444);
    try {
      await writeHashedFd(fd, bytes);
      await closeFd(fd);
      await this.commit(temp, sha256);
    } catch (err) {
      await closeFd(fd).catch(() => {});
      await unlink(temp).catch(() => {});
      if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw noSpace(`object ${sha256}`);
      throw err;
    }
  }

  async putFile(sha256: string, file: string): Promise<void> {
    this.check(sha256);
    await this.init();
    if (await this.has(sha256)) return;
    const temp = join(this.tmp, tempName());
    try {
      const got = await copyHashed(file, temp, 0o444);
      if (got.sha256 !== sha256) throw new SlipwayError('INTEGRITY_ERROR', `The file ${file} has digest ${got.sha256}, not ${sha256}; nothing was stored.`, { sha256, path: file });
      await this.commit(temp, sha256);
    } catch (err) {
      await unlink(temp).catch(() => {});
      if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw noSpace(`object ${sha256}`);
      throw err;
    }
  }

  async readManifest(sha256: string): Promise<Manifest> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(sha256));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new SlipwayError('NOT_FOUND', `The folder manifest ${sha256} is not in the cache; fetch it from a remote (slipway data fetch).`, { sha256 });
      throw err;
    }
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== sha256) {
      await this.quarantine(sha256);
      throw new SlipwayError('INTEGRITY_ERROR', `Cache object ${sha256} (a folder manifest) is corrupt: its content hashes to ${got}. It was moved aside; fetch it again from a remote.`, { sha256 });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new SlipwayError('INTEGRITY_ERROR', `Cache object ${sha256} is not a folder manifest (not JSON).`, { sha256 });
    }
    const m = parsed as Partial<Manifest>;
    if (typeof m !== 'object' || m === null || m.format !== DATA_FORMAT_VERSION || !Array.isArray(m.files)) {
      throw new SlipwayError('INTEGRITY_ERROR', `Cache object ${sha256} is not a folder manifest of format ${DATA_FORMAT_VERSION}.`, { sha256 });
    }
    // A manifest can come from a remote someone else writes: each entry must stay inside its folder
    // and name an object by digest, or a checkout could write anywhere.
    for (const e of m.files as unknown[]) {
      const why = manifestEntryProblem(e);
      if (why) throw new SlipwayError('INTEGRITY_ERROR', `Folder manifest ${sha256} is refused: ${why}.`, { sha256 });
    }
    // Each path once, and never both a file and a folder ('a' and 'a/b'), or a checkout fails half-way through.
    const paths = new Set<string>();
    for (const e of m.files as ManifestEntry[]) {
      if (paths.has(e.path)) throw new SlipwayError('INTEGRITY_ERROR', `Folder manifest ${sha256} is refused: the entry '${e.path}' is listed twice.`, { sha256 });
      paths.add(e.path);
    }
    for (const p of paths) {
      for (let cut = p.lastIndexOf('/'); cut > 0; cut = p.lastIndexOf('/', cut - 1)) {
        if (paths.has(p.slice(0, cut))) throw new SlipwayError('INTEGRITY_ERROR', `Folder manifest ${sha256} is refused: '${p.slice(0, cut)}' is both a file and the folder of '${p}'.`, { sha256 });
      }
    }
    return m as Manifest;
  }

  /** Moves a corrupt object aside (under `cache/corrupt/`), so `has` is false and a fetch brings it again. */
  async quarantine(sha256: string): Promise<void> {
    await mkdir(this.corrupt, { recursive: true });
    await rename(this.pathOf(sha256), join(this.corrupt, `${sha256}-${tempName()}`)).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) throw err;
    });
  }

  /**
   * Re-hashes the object: true when present and intact, false when absent. A corrupt object is
   * moved aside and reported with INTEGRITY_ERROR naming it.
   */
  async verify(sha256: string): Promise<boolean> {
    const path = this.pathOf(sha256);
    const hash = createHash('sha256');
    try {
      await pipeline(createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }), hash);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return false;
      throw err;
    }
    const got = hash.digest('hex');
    if (got === sha256) return true;
    await this.quarantine(sha256);
    throw new SlipwayError('INTEGRITY_ERROR', `Cache object ${sha256} is corrupt: its content hashes to ${got}. It was moved aside; fetch it again from a remote or add the file again.`, { sha256 });
  }

  /**
   * Stores a workspace file that hashed to `sha256`, trying each link type in order: a reflink
   * clone, a hard link (the object and the workspace file become one read-only inode), else a copy
   * hashed on the way. `hashed` are the stats the file had when hashed: a file changed since is
   * refused rather than stored under the wrong name. Returns the link type used ('present' when
   * the object was already there).
   */
  async insertFromWorkspace(file: string, sha256: string, linkTypes: readonly LinkType[] = DEFAULT_LINK_TYPES, hashed?: HashedStats): Promise<LinkType | 'present'> {
    await this.init();
    const target = this.pathOf(sha256);
    const changed = () => new SlipwayError('CONFLICT', `${file} changed while it was being added; add it again once it is no longer being written.`, { path: file });
    if (await this.has(sha256)) {
      if (linkTypes[0] === 'hardlink') await this.relinkToObject(file, target, hashed);
      return 'present';
    }
    for (const type of linkTypes) {
      if (this.unsupported.has(type)) continue;
      const temp = join(this.tmp, tempName());
      try {
        if (type === 'reflink') {
          await copyFile(file, temp, fsConstants.COPYFILE_FICLONE_FORCE);
          await chmod(temp, 0o444);
          if (!(await unchangedSince(file, hashed))) throw changed();
          await this.commit(temp, sha256);
          return 'reflink';
        }
        if (type === 'hardlink') {
          // A shared inode would lose the exec bit to the object's read-only mode: executables are copied.
          if (((await lstat(file)).mode & 0o111) !== 0) continue;
          if (!(await unchangedSince(file, hashed))) throw changed();
          await link(file, target).catch((err: unknown) => {
            if (!isErrno(err, 'EEXIST')) throw err;
          });
          // One inode now: read-only so an edit in place cannot change the cached version (use unprotect).
          await chmod(target, 0o444);
          return 'hardlink';
        }
        const got = await this.copyHashedPooled(file, temp);
        if (got !== sha256) throw changed();
        await this.commit(temp, sha256);
        return 'copy';
      } catch (err) {
        await unlink(temp).catch(() => {});
        if (err instanceof SlipwayError) throw err;
        if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw noSpace(`the cache copy of ${file}`);
        // Not supported here (no reflink on this file system, links across devices): try the next type,
        // and skip this one for the rest of the run (a failed attempt per file adds up over 100k files).
        if (type !== 'copy' && isErrno(err, 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'EPERM', 'EMLINK')) {
          if (!isErrno(err, 'EMLINK')) this.unsupported.add(type);
          continue;
        }
        throw err;
      }
    }
    throw new SlipwayError('INVALID_ARGUMENT', `None of the link types ${linkTypes.join(', ')} works on this file system; add 'copy' to data.linkTypes.`);
  }

  /**
   * Copies `file` into the new read-only temp file `temp` through a reused buffer, hashing on the
   * way, and syncs it; returns the digest of what was copied.
   */
  private async copyHashedPooled(file: string, temp: string): Promise<string> {
    const buf = this.buffers.pop() ?? Buffer.allocUnsafe(COPY_CHUNK);
    const hash = createHash('sha256');
    const src = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    try {
      const dst = await open(temp, 'wx', 0o444);
      try {
        for (;;) {
          const { bytesRead } = await src.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          hash.update(buf.subarray(0, bytesRead));
          for (let off = 0; off < bytesRead; ) off += (await dst.write(buf, off, bytesRead - off)).bytesWritten;
        }
        // The bytes must be on disk before the object gets its name.
        await dst.sync();
      } finally {
        await dst.close();
      }
    } finally {
      await src.close();
      this.buffers.push(buf);
    }
    return hash.digest('hex');
  }

  /**
   * The link type `insertFromWorkspace` would use first on this file system, probed once with
   * `sample` (a reflink is tried on it into a temp file).
   */
  async firstWorkingLinkType(linkTypes: readonly LinkType[], sample: string | undefined): Promise<LinkType> {
    await this.init();
    for (const type of linkTypes) {
      if (this.unsupported.has(type)) continue;
      if (type !== 'reflink') return type;
      if (!sample) continue;
      const probe = join(this.tmp, tempName());
      try {
        await copyFile(sample, probe, fsConstants.COPYFILE_FICLONE_FORCE);
        return 'reflink';
      } catch {
        this.unsupported.add('reflink');
      } finally {
        await unlink(probe).catch(() => {});
      }
    }
    return 'copy';
  }

  /**
   * Gives copies made while hashing (`HashOptions.copyTo` in the cache's tmp folder) their object
   * names: all are synced to disk first (one file-system sync where the system offers it), then
   * renamed; a copy whose object is already present is dropped. Returns how many were stored.
   */
  async adoptCopies(copies: ReadonlyArray<{ sha256: string; temp: string }>): Promise<number> {
    await this.init();
    await syncFiles(copies.map((c) => c.temp), this.tmp);
    let stored = 0;
    for (const c of copies) {
      const target = this.pathOf(c.sha256);
      if (lstatSync(target, { throwIfNoEntry: false })) unlinkSync(c.temp);
      else {
        renameSync(c.temp, target);
        stored++;
      }
    }
    return stored;
  }

  /** In hardlink mode, an added file whose object was already present becomes a link to it (saving the space). */
  private async relinkToObject(file: string, target: string, hashed?: HashedStats): Promise<void> {
    const [a, b] = await Promise.all([lstat(file).catch(() => undefined), lstat(target).catch(() => undefined)]);
    if (!a || !b || (a.ino === b.ino && a.dev === b.dev) || (a.mode & 0o111) !== 0) return;
    if (!(await unchangedSince(file, hashed))) return;
    const temp = join(dirname(file), `.${basename(file)}.${tempName()}.slipway-tmp`);
    try {
      await link(target, temp);
      await rename(temp, file);
    } catch {
      await unlink(temp).catch(() => {});
    }
  }

  /**
   * Writes the object `sha256` at `dest` for checkout: into a temp file beside `dest`, then renamed
   * over it, so a reader or a crash sees the old file or the new one, never a half-written file, and
   * a full disk leaves the old version in place. An executable file is always a private copy (a link
   * would share the object's read-only mode).
   */
  async place(sha256: string, dest: string, linkTypes: readonly LinkType[] = DEFAULT_LINK_TYPES, opts: { executable?: boolean } = {}): Promise<LinkType> {
    const source = this.pathOf(sha256);
    const info = await stat(source).catch(() => undefined);
    if (!info?.isFile()) throw new SlipwayError('NOT_FOUND', `Object ${sha256} for ${dest} is not in the cache; fetch it from a remote (slipway data pull).`, { sha256, path: dest });
    await mkdir(dirname(dest), { recursive: true });
    // Already the object's own inode (a hard link): renaming a second link of it over it would do nothing.
    const there = await lstat(dest).catch(() => undefined);
    // A checkout only places a file that differs, so the shared inode was edited in place: the object is
    // checked (and moved aside, INTEGRITY_ERROR, when the edit reached it).
    if (there && there.ino === info.ino && there.dev === info.dev && !opts.executable && (await this.verify(sha256))) return 'hardlink';
    const mode = opts.executable ? 0o755 : 0o644;
    const temp = join(dirname(dest), `.${basename(dest)}.${tempName()}.slipway-tmp`);
    for (const type of linkTypes) {
      try {
        if (type === 'hardlink') {
          if (opts.executable) continue;
          await link(source, temp);
        } else if (type === 'reflink') {
          await copyFile(source, temp, fsConstants.COPYFILE_FICLONE_FORCE);
          await chmod(temp, mode);
        } else {
          await (this.hooks.copy ?? defaultCopy)(source, temp);
          await chmod(temp, mode);
        }
        await rename(temp, dest);
        return type;
      } catch (err) {
        await unlink(temp).catch(() => {});
        if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw noSpace(dest);
        if (type !== 'copy' && isErrno(err, 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'EPERM', 'EMLINK')) continue;
        throw err;
      }
    }
    // Only hardlink was allowed and the file is executable: a copy is the only faithful placement.
    await (this.hooks.copy ?? defaultCopy)(source, temp).catch(async (err: unknown) => {
      await unlink(temp).catch(() => {});
      if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw noSpace(dest);
      throw err;
    });
    await chmod(temp, mode);
    await rename(temp, dest);
    return 'copy';
  }
}

const DIGEST = /^[0-9a-f]{64}$/;

/** Why a manifest entry is unsafe or malformed, or undefined when it is fine. */
function manifestEntryProblem(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return 'an entry is not an object';
  const { path, sha256, size, executable } = e as Partial<ManifestEntry>;
  if (typeof path !== 'string' || path === '') return 'an entry has no path';
  const parts = path.split('/');
  if (path.includes('\\') || path.includes('\0') || parts.some((part) => part === '' || part === '.' || part === '..')) return `the entry '${path}' leaves its folder or is not a plain relative path`;
  // As git refuses a tree holding '.git': a checkout would plant a repository whose config and hooks run commands.
  if (parts.some((part) => part.toLowerCase() === '.git')) return `the entry '${path}' lies in a .git folder, which a checkout never writes`;
  if (typeof sha256 !== 'string' || !DIGEST.test(sha256)) return `the entry '${path}' has no sha256 digest`;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return `the entry '${path}' has no valid size`;
  if (executable !== undefined && typeof executable !== 'boolean') return `the entry '${path}' has a malformed executable flag`;
  return undefined;
}

/** Makes new files durable: one `sync -f` (syncfs) of their file system for many, else an fsync each. */
async function syncFiles(paths: readonly string[], dir: string): Promise<void> {
  if (paths.length === 0) return;
  if (paths.length > 16 && process.platform === 'linux') {
    const synced = await new Promise<boolean>((resolve) => execFile('sync', ['-f', dir], (err) => resolve(!err)));
    if (synced) return;
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(16, paths.length) }, async () => {
      while (next < paths.length) {
        const handle = await open(paths[next++] as string, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
    }),
  );
}

/** Copies `src` into the new file `dest` (the kernel's copy, no round trip through memory) and syncs it. */
async function defaultCopy(src: string, dest: string): Promise<void> {
  await copyFile(src, dest, fsConstants.COPYFILE_EXCL);
  const handle = await open(dest, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
