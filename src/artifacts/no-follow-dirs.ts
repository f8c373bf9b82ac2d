/**
 * Folders opened one component at a time without following symbolic links, for the artifact
 * stores: a link planted anywhere below a root can neither redirect a write, a delete or a read
 * out of it, nor be swapped in between a check and the use (see StoreDir).
 */
import { createHash } from 'node:crypto';
import { close as closeCb, constants as fsConstants, createWriteStream, existsSync, fsync as fsyncCb, open as openCb, write as writeCb } from 'node:fs';
import { lstat, mkdir, readlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { SlipwayError } from '../core/errors.js';

// Plain descriptors rather than FileHandles: a write stream over a FileHandle holds it open until the
// stream closes itself, which would defeat syncing and closing it here.
export const openFd = promisify(openCb);
export const fsyncFd = promisify(fsyncCb);
export const closeFd = promisify(closeCb);
export const writeFd = promisify(writeCb);

/**
 * A folder opened without following links. Node has no openat/renameat, so later steps name the
 * folder as /proc/self/fd/<fd>: the kernel resolves that to the very folder that was opened and
 * checked, so a folder swapped for a link after the check cannot redirect a write, a delete or a
 * read (a check by path followed by use of the path would leave that race open). Where /proc is
 * missing, `path` is the plain path: each component is still refused when it is a link, but a swap
 * racing between the check and the use is not caught.
 */
export interface StoreDir {
  fd: number;
  /** The path that names exactly this folder. */
  path: string;
}

/** How a tree treats the links met where a folder was expected. */
export interface LinkPolicy {
  /** True for a link the tree itself made to stand for a file (its target, as read): treated as a file, never followed. */
  isFileLink(target: string): boolean;
  /** The error for any other link, named by its path below the root. */
  refused(what: string): SlipwayError;
}

const FD_PATHS = process.platform === 'linux' && existsSync('/proc/self/fd');
const DIR_FLAGS = fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW;
/** Flags that open a file for reading and fail (ELOOP) when it is a link. */
export const FILE_FLAGS = fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW;

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

export async function openDir(path: string, lexical: string): Promise<StoreDir> {
  const fd = await openFd(path, DIR_FLAGS);
  return { fd, path: FD_PATHS ? `/proc/self/fd/${fd}` : lexical };
}

export async function closeDirs(dirs: StoreDir[]): Promise<void> {
  for (const d of dirs) await closeFd(d.fd).catch(() => {});
}

/** What sits at `path` where a folder was expected: a file (or a file link of the tree), or a refused link. */
async function inTheWay(path: string, what: string, links: LinkPolicy): Promise<'file'> {
  const info = await lstat(path);
  if (info.isSymbolicLink() && !links.isFileLink(await readlink(path))) throw links.refused(what);
  return 'file';
}

/**
 * Opens `base` and then each of `segments` below it, never following a link. Resolves with every
 * folder opened (the caller closes them), or with 'absent' / 'file' when a component is missing or
 * is a file; with `create`, missing folders are made on the way.
 */
export async function openChain(base: string | StoreDir, segments: string[], create: boolean, links: LinkPolicy): Promise<StoreDir[] | 'absent' | 'file'> {
  const dirs: StoreDir[] = [];
  try {
    if (typeof base === 'string') {
      try {
        dirs.push(await openDir(base, base));
      } catch (err) {
        if (isErrno(err, 'ENOTDIR', 'ELOOP')) throw links.refused(base.slice(base.lastIndexOf(sep) + 1));
        throw err;
      }
    }
    let lexical = typeof base === 'string' ? base : base.path;
    for (let i = 0; i < segments.length; i++) {
      const name = segments[i] as string;
      // An opened folder is never opened again by its own /proc name: that name is itself a link.
      const parent = dirs[dirs.length - 1] ?? (base as StoreDir);
      const at = `${parent.path}/${name}`;
      lexical = join(lexical, name);
      const what = segments.slice(0, i + 1).join('/');
      try {
        dirs.push(await openDir(at, lexical).catch(async (err: unknown) => {
          if (!create || !isErrno(err, 'ENOENT')) throw err;
          await mkdir(at).catch((e: unknown) => {
            if (!isErrno(e, 'EEXIST')) throw e;
          });
          return openDir(at, lexical);
        }));
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENAMETOOLONG')) {
          await closeDirs(dirs);
          return isErrno(err, 'ENAMETOOLONG') && create ? Promise.reject(err) : 'absent';
        }
        if (isErrno(err, 'ENOTDIR', 'ELOOP')) {
          const kind = await inTheWay(at, what, links);
          await closeDirs(dirs);
          return kind;
        }
        throw err;
      }
    }
    return dirs;
  } catch (err) {
    await closeDirs(dirs);
    throw err;
  }
}

/**
 * Writes `body` to the open descriptor `fd` and syncs it, hashing on the way. Backpressure keeps memory
 * at a few chunks whatever the size; the stream coalesces queued chunks into one writev. The descriptor
 * stays the caller's to close.
 */
export async function writeHashedFd(fd: number, body: Readable | Uint8Array): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const source = body instanceof Readable ? body : Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
  const digest = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(source, digest, createWriteStream('', { fd, autoClose: false, emitClose: false, highWaterMark: 1024 * 1024 }));
  // The bytes must be on disk before the file gets its name.
  await fsyncFd(fd);
  return { sha256: hash.digest('hex'), size };
}
