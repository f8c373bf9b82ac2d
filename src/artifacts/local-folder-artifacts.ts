/**
 * A plain local folder of artifacts, laid out as MLflow's local artifact repository lays it out
 * (`<root>/<experiment>/<run>/artifacts/<path>`, each file at its own path): the folder of a
 * `file://` default artifact root, which MLflow clients write to directly.
 *
 * Anyone who can write there can plant a symbolic link, so every read, listing and write opens the
 * path one component at a time without following links (no-follow-dirs.ts): a link is never
 * listed, never read through and never written through. Only the root itself, which the operator
 * named, may be reached through links.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { SlipwayError } from '../core/errors.js';
import { artifactPathSegments } from './artifact-path.js';
import type { ArtifactEntry, ArtifactFiles, OpenedArtifact, PutResult } from './artifact-store.js';
import { FILE_FLAGS, closeDirs, closeFd, isErrno, openChain, openFd, writeHashedFd, type LinkPolicy, type StoreDir } from './no-follow-dirs.js';

// A FIFO planted in the folder would block a plain open forever; O_NONBLOCK changes nothing for regular files.
const READ_FLAGS = FILE_FLAGS | fsConstants.O_NONBLOCK;

/** Artifacts in a plain local folder; logical paths are relative to `root`. */
export class LocalFolderArtifacts implements ArtifactFiles {
  readonly root: string;
  readonly #links: LinkPolicy;

  constructor(root: string) {
    this.root = resolve(root);
    // No link in the folder stands for a file: each one is refused where the path goes through it.
    this.#links = { isFileLink: () => false, refused: (what) => this.#linkRefused(what) };
  }

  #linkRefused(logical: string): SlipwayError {
    return new SlipwayError('PATH_NOT_ALLOWED', `Artifact path '${logical}' goes through a symbolic link in the artifact folder ${this.root}; links there are never followed.`, { path: logical });
  }

  /** The root's real path; undefined when it does not exist (nothing written yet), unless `create` makes it. */
  async #base(create: boolean): Promise<string | undefined> {
    try {
      return await realpath(this.root);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      if (!create) return undefined;
      await mkdir(this.root, { recursive: true });
      return realpath(this.root);
    }
  }

  /** Runs `fn` with the folders of `segments` opened below the root without following links ('absent'/'file' when they are not folders). */
  async #withChain<T>(segments: string[], create: boolean, fn: (dirs: StoreDir[] | 'absent' | 'file') => Promise<T>): Promise<T> {
    const base = await this.#base(create);
    if (base === undefined) return fn('absent');
    const dirs = await openChain(base, segments, create, this.#links);
    try {
      return await fn(dirs);
    } finally {
      if (typeof dirs !== 'string') await closeDirs(dirs);
    }
  }

  /** Immediate children of `dir` that are files or folders (links and other special files are left out); empty when absent. */
  async list(dir: string): Promise<ArtifactEntry[]> {
    const segments = artifactPathSegments(dir, { allowRoot: true });
    return this.#withChain(segments, false, async (dirs) => {
      if (typeof dirs === 'string') return [];
      const folder = dirs[dirs.length - 1] as StoreDir;
      const out: ArtifactEntry[] = [];
      const entries = await readdir(folder.path, { withFileTypes: true });
      for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
        const path = [...segments, entry.name].join('/');
        if (entry.isDirectory()) out.push({ path, isDir: true });
        else if (entry.isFile()) {
          // Looked at again without following: an entry swapped for a link since readdir is left out too.
          const info = await lstat(`${folder.path}/${entry.name}`).catch(() => undefined);
          if (info?.isFile()) out.push({ path, isDir: false, size: info.size });
        }
      }
      return out;
    });
  }

  /** Opens the file at `path` once; NOT_FOUND when absent or a folder, PATH_NOT_ALLOWED when it is a link. */
  async read(path: string): Promise<OpenedArtifact> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    const notFound = () => new SlipwayError('NOT_FOUND', `Artifact '${logical}' does not exist.`, { path: logical });
    return this.#withChain(segments.slice(0, -1), false, async (dirs) => {
      if (typeof dirs === 'string') throw notFound();
      const folder = dirs[dirs.length - 1] as StoreDir;
      const handle = await open(`${folder.path}/${segments[segments.length - 1] as string}`, READ_FLAGS).catch((err: unknown) => {
        if (isErrno(err, 'ELOOP')) throw this.#linkRefused(logical);
        if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ENAMETOOLONG')) throw notFound();
        throw err;
      });
      try {
        const info = await handle.stat();
        if (!info.isFile()) throw notFound();
        // Size and time from the open descriptor: they describe the file being streamed, even if the path is replaced meanwhile.
        return { body: handle.createReadStream(), size: info.size, modifiedMs: Math.trunc(info.mtimeMs) };
      } catch (err) {
        await handle.close().catch(() => {});
        throw err;
      }
    });
  }

  /**
   * Streams `body` to `path`: into a temp file next to it, synced, then renamed into place, so a reader
   * sees the old file or the new one, never a partial one. Missing folders are created (never through a link).
   */
  async put(path: string, body: Readable | Buffer | Uint8Array): Promise<PutResult> {
    const segments = artifactPathSegments(path);
    const logical = segments.join('/');
    const name = segments[segments.length - 1] as string;
    try {
      return await this.#withChain(segments.slice(0, -1), true, async (dirs) => {
        if (typeof dirs === 'string') throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
        const folder = dirs[dirs.length - 1] as StoreDir;
        const temp = `${folder.path}/.${name.slice(0, 100)}.${randomBytes(8).toString('hex')}.partial`;
        const fd = await openFd(temp, 'wx', 0o644);
        let fdOpen = true;
        let written: { sha256: string; size: number };
        try {
          written = await writeHashedFd(fd, body);
          fdOpen = false;
          await closeFd(fd);
          // Renaming over an entry replaces the entry itself, never what a link there points at.
          await rename(temp, `${folder.path}/${name}`);
        } catch (err) {
          // Closed once only: a descriptor number closed twice may already name another file.
          if (fdOpen) await closeFd(fd).catch(() => {});
          await unlink(temp).catch(() => {});
          if (isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': it is a directory.`, { path: logical });
          throw err;
        }
        return { path: logical, ...written };
      });
    } catch (err) {
      if (isErrno(err, 'ENOSPC', 'EDQUOT')) throw new SlipwayError('INSUFFICIENT_STORAGE', `Cannot store artifact '${logical}': no space left on the disk of ${this.root}.`, { path: logical });
      if (isErrno(err, 'ENOTDIR')) throw new SlipwayError('INVALID_STATE', `Cannot write artifact '${logical}': a parent of it is a file.`, { path: logical });
      throw err;
    }
  }
}
