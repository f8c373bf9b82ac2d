/**
 * Hashing files and folders for data versioning and pipelines: sha256 of many files in parallel
 * (a worker_threads pool sized to the cores, or inline for a handful of small files), big
 * sequential reads, and the state cache consulted first so an unchanged file is never read again.
 *
 * A file that changes while it is read (its size, modification time or inode differ between
 * before and after) is hashed once more; if it changes again the call fails with CONFLICT naming
 * it. A wrong digest is never returned nor recorded.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SlipwayError } from '../core/errors.js';
import { DATA_FORMAT_VERSION, type HashedFile, type Manifest, type ManifestEntry } from './data-types.js';
import type { StateCache } from './state-cache.js';

/** A file found by walking a tracked path: where it is and the stats the state cache is keyed on. */
export interface WalkedFile {
  /** Relative to the workspace root, '/'-separated. */
  path: string;
  abs: string;
  size: number;
  ino: bigint;
  mtimeNs: bigint;
  executable: boolean;
}

/** A hashed file with the stats it had while hashed (for the state cache and for safe placement). */
export interface HashedFileStats extends HashedFile {
  ino: bigint;
  mtimeNs: bigint;
  /** With HashOptions.copyTo: the copy made while hashing (absent for state-cache answers). */
  temp?: string;
}

/** Progress of a hashing call: files and bytes done of the totals (state-cache hits count as done at once). */
export interface HashProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
  /** Files answered by the state cache without reading them. */
  fromState: number;
}

/** Options of hashPaths and hashTree. */
export interface HashOptions {
  /** The state cache to consult and update; without it every file is read. */
  state?: StateCache;
  /** Worker threads at most. @default the number of cores */
  jobs?: number;
  onProgress?: (p: HashProgress) => void;
  /** A folder where each file read is also copied, as it is hashed (HashedFileStats.temp names the copy; not yet synced). */
  copyTo?: string;
  /** Called after a file's bytes were read and before its stats are checked again (tests change the file here; forces inline hashing). */
  afterRead?: (abs: string) => void;
}

const CHUNK = 8 * 1024 * 1024;
/** Below these totals, starting workers costs more than hashing on the main thread. */
const INLINE_MAX_BYTES = 16 * 1024 * 1024;
const INLINE_MAX_FILES = 256;
/** A worker takes files in batches of about this many bytes or files, so small files do not drown in messages. */
const BATCH_BYTES = 64 * 1024 * 1024;
const BATCH_FILES = 512;

/** The slice of node:crypto the hashing code uses. */
type HashCrypto = { createHash: typeof createHash; randomBytes: typeof randomBytes };

/** One file's hashing outcome inside a worker (bigints survive postMessage). */
type HashOutcome = { sha256: string; size: number; ino: bigint; mtimeNs: bigint; mode: number; temp?: string } | { error: 'changed' | 'not-file' | 'link' | 'missing' | 'failed'; message?: string };

/**
 * Hashes one file with plain reads into `buf`, checking its stats before and after. Self-contained
 * (its modules are parameters) because its source also runs inside the worker threads.
 */
function hashOneFile(fsm: typeof fs, crypto: HashCrypto, path: string, buf: Buffer, afterRead?: (abs: string) => void, copyTo?: string): HashOutcome {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    // With copyTo, the bytes read are also written to a new read-only file there (not yet synced).
    const temp = copyTo ? `${copyTo}/${Date.now()}-${crypto.randomBytes(8).toString('hex')}` : undefined;
    let out = -1;
    try {
      fd = fsm.openSync(path, fsm.constants.O_RDONLY | fsm.constants.O_NOFOLLOW);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') return { error: 'link' };
      if (code === 'ENOENT') return { error: 'missing' };
      return { error: 'failed', message: (err as Error).message };
    }
    try {
      const before = fsm.fstatSync(fd, { bigint: true });
      if (!before.isFile()) return { error: 'not-file' };
      const hash = crypto.createHash('sha256');
      let total = 0;
      if (temp) out = fsm.openSync(temp, 'wx', 0o444);
      for (;;) {
        const n = fsm.readSync(fd, buf, 0, buf.length, null);
        if (n <= 0) break;
        hash.update(n === buf.length ? buf : buf.subarray(0, n));
        for (let off = 0; out >= 0 && off < n; ) off += fsm.writeSync(out, buf, off, n - off);
        total += n;
      }
      if (afterRead) afterRead(path);
      const after = fsm.fstatSync(fd, { bigint: true });
      const named = fsm.lstatSync(path, { bigint: true, throwIfNoEntry: false });
      const same =
        BigInt(total) === before.size && after.size === before.size && after.mtimeNs === before.mtimeNs && after.ctimeNs === before.ctimeNs && !!named && named.ino === before.ino && named.dev === before.dev;
      if (same) {
        if (out >= 0) fsm.closeSync(out);
        out = -1;
        return { sha256: hash.digest('hex'), size: total, ino: before.ino, mtimeNs: before.mtimeNs, mode: Number(before.mode), temp };
      }
    } catch (err) {
      return { error: 'failed', message: (err as Error).message };
    } finally {
      fsm.closeSync(fd);
      if (out >= 0) {
        fsm.closeSync(out);
        fsm.rmSync(temp as string, { force: true });
      }
    }
  }
  return { error: 'changed' };
}

/** The worker's main: hashes each batch of paths it is sent and posts the outcomes back. */
function hashWorkerMain(fsm: typeof fs, crypto: HashCrypto, port: { on(ev: 'message', cb: (m: { id: number; paths: string[]; copyTo?: string }) => void): void; postMessage(m: unknown): void }): void {
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
  port.on('message', (msg) => {
    const results = msg.paths.map((p) => hashOneFile(fsm, crypto, p, buf, undefined, msg.copyTo));
    port.postMessage({ id: msg.id, results });
  });
}

const WORKER_SOURCE = [
  "const fsm = require('node:fs');",
  "const crypto = require('node:crypto');",
  "const { parentPort } = require('node:worker_threads');",
  `const hashOneFile = ${hashOneFile.toString()};`,
  `const hashWorkerMain = ${hashWorkerMain.toString()};`,
  'hashWorkerMain(fsm, crypto, parentPort);',
].join('\n');

function outcomeError(path: string, outcome: Extract<HashOutcome, { error: string }>): SlipwayError {
  switch (outcome.error) {
    case 'changed':
      return new SlipwayError('CONFLICT', `${path} changed while it was being hashed, twice; run the command again once nothing is writing to it.`, { path });
    case 'link':
      return new SlipwayError('INVALID_ARGUMENT', `${path} became a symbolic link; Slipway never follows links in tracked data.`, { path });
    case 'missing':
      return new SlipwayError('CONFLICT', `${path} disappeared while it was being hashed; run the command again.`, { path });
    case 'not-file':
      return new SlipwayError('INVALID_ARGUMENT', `${path} is not a regular file.`, { path });
    default:
      return new SlipwayError('INTERNAL', `Cannot read ${path}: ${outcome.message ?? 'unknown error'}`, { path });
  }
}

/** A pool of hashing workers for one call; ended when the call ends. */
async function hashInWorkers(files: WalkedFile[], jobs: number, copyTo: string | undefined, onDone: (file: WalkedFile, outcome: HashOutcome) => void): Promise<void> {
  // Big files first, so the last file does not leave every other worker idle.
  const order = [...files].sort((a, b) => b.size - a.size);
  const batches: WalkedFile[][] = [];
  let current: WalkedFile[] = [];
  let bytes = 0;
  for (const f of order) {
    current.push(f);
    bytes += f.size;
    if (bytes >= BATCH_BYTES || current.length >= BATCH_FILES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) batches.push(current);
  const size = Math.max(1, Math.min(jobs, batches.length));
  let next = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: size }, () =>
        new Promise<void>((resolve, reject) => {
          const worker = new Worker(WORKER_SOURCE, { eval: true });
          workers.push(worker);
          let sent: WalkedFile[] = [];
          const feed = () => {
            if (next >= batches.length) return resolve();
            sent = batches[next] as WalkedFile[];
            worker.postMessage({ id: next++, paths: sent.map((f) => f.abs), copyTo });
          };
          worker.on('message', (msg: { results: HashOutcome[] }) => {
            try {
              msg.results.forEach((o, i) => onDone(sent[i] as WalkedFile, o));
              feed();
            } catch (err) {
              reject(err as Error);
            }
          });
          worker.on('error', reject);
          worker.on('exit', (code) => {
            if (code !== 0) reject(new SlipwayError('INTERNAL', `A hashing worker stopped with exit code ${code}.`));
          });
          feed();
        }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Lists the files of a tracked path (a file, or every file below a folder) with their stats,
 * sorted by path. Never follows a link: a symbolic link (or a socket, a fifo) inside a folder is
 * refused with INVALID_ARGUMENT naming it. Returns undefined when the path does not exist.
 */
export function walkTracked(root: string, rel: string): { kind: 'file' | 'folder'; files: WalkedFile[] } | undefined {
  const abs = rel === '' ? root : join(root, rel);
  const top = fs.lstatSync(abs, { bigint: true, throwIfNoEntry: false });
  if (!top) return undefined;
  const fileOf = (path: string, a: string, st: fs.BigIntStats): WalkedFile => ({ path, abs: a, size: Number(st.size), ino: st.ino, mtimeNs: st.mtimeNs, executable: (st.mode & 0o100n) !== 0n });
  if (top.isSymbolicLink()) throw new SlipwayError('INVALID_ARGUMENT', `${rel} is a symbolic link; Slipway tracks files and folders, never links.`, { path: rel });
  if (top.isFile()) return { kind: 'file', files: [fileOf(rel, abs, top)] };
  if (!top.isDirectory()) throw new SlipwayError('INVALID_ARGUMENT', `${rel} is neither a file nor a folder.`, { path: rel });
  const files: WalkedFile[] = [];
  const stack: Array<[string, string]> = [[abs, rel]];
  while (stack.length > 0) {
    const [dirAbs, dirRel] = stack.pop() as [string, string];
    // Names only: each entry is lstat-ed anyway, and Dirent objects for 100k files cost more than they save.
    for (const name of fs.readdirSync(dirAbs)) {
      const a = `${dirAbs}/${name}`;
      const r = dirRel === '' ? name : `${dirRel}/${name}`;
      const entry = fs.lstatSync(a, { bigint: true, throwIfNoEntry: false });
      if (!entry) continue;
      if (entry.isFile()) files.push(fileOf(r, a, entry));
      else if (entry.isDirectory()) stack.push([a, r]);
      else if (entry.isSymbolicLink()) {
        throw new SlipwayError('INVALID_ARGUMENT', `${r} is a symbolic link inside the tracked folder ${rel}; Slipway never follows links in tracked data. Replace it with the file it points at, or move it out of the folder.`, { path: r });
      } else {
        throw new SlipwayError('INVALID_ARGUMENT', `${r} inside the tracked folder ${rel} is not a regular file (a socket, fifo or device).`, { path: r });
      }
    }
  }
  files.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return { kind: 'folder', files };
}

/**
 * A digest of every walked file's path, inode, size, modification time (ns) and exec bit, and the
 * newest modification time (ms): equal snapshots mean the folder's files were not touched since,
 * so its manifest digest can be reused without looking at each file's state.
 */
export function folderSnapshot(files: ReadonlyArray<Pick<WalkedFile, 'path' | 'ino' | 'size' | 'mtimeNs' | 'executable'>>): { snapshot: string; newestMtimeMs: number } {
  const hash = createHash('sha256');
  let newest = 0n;
  let piece = '';
  for (const f of files) {
    piece += `${f.path}\0${f.ino}\0${f.size}\0${f.mtimeNs}\0${f.executable ? 1 : 0}\n`;
    if (f.mtimeNs > newest) newest = f.mtimeNs;
    if (piece.length > 65_536) {
      hash.update(piece);
      piece = '';
    }
  }
  hash.update(piece);
  return { snapshot: hash.digest('hex'), newestMtimeMs: Number(newest / 1_000_000n) };
}

/**
 * Hashes walked files: the state cache answers for unchanged ones, the rest are read (in parallel
 * when worth it) and recorded in the state cache. Returns them in the order given.
 */
export async function hashWalked(files: WalkedFile[], opts: HashOptions = {}): Promise<HashedFileStats[]> {
  const out: Array<HashedFileStats | undefined> = new Array(files.length);
  const misses: WalkedFile[] = [];
  const index = new Map<WalkedFile, number>();
  const progress: HashProgress = { files: 0, totalFiles: files.length, bytes: 0, totalBytes: 0, fromState: 0 };
  files.forEach((f, i) => {
    progress.totalBytes += f.size;
    const sha256 = opts.state?.lookup(f);
    if (sha256 !== undefined) {
      out[i] = { path: f.path, sha256, size: f.size, executable: f.executable, fromState: true, ino: f.ino, mtimeNs: f.mtimeNs };
      progress.files++;
      progress.bytes += f.size;
      progress.fromState++;
    } else {
      misses.push(f);
      index.set(f, i);
    }
  });
  opts.onProgress?.({ ...progress });
  const fresh: Array<{ ino: bigint; size: number; mtimeNs: bigint; sha256: string }> = [];
  const take = (f: WalkedFile, o: HashOutcome) => {
    if ('error' in o) throw outcomeError(f.path, o);
    out[index.get(f) as number] = { path: f.path, sha256: o.sha256, size: o.size, executable: (o.mode & 0o100) !== 0, fromState: false, ino: o.ino, mtimeNs: o.mtimeNs, ...(o.temp ? { temp: o.temp } : {}) };
    fresh.push({ ino: o.ino, size: o.size, mtimeNs: o.mtimeNs, sha256: o.sha256 });
    progress.files++;
    progress.bytes += f.size;
  };
  const missBytes = misses.reduce((s, f) => s + f.size, 0);
  const jobs = Math.max(1, opts.jobs ?? availableParallelism());
  if (misses.length > 0) {
    if (opts.afterRead || jobs === 1 || (missBytes <= INLINE_MAX_BYTES && misses.length <= INLINE_MAX_FILES)) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(64 * 1024, missBytes)));
      let last = Date.now();
      for (const f of misses) {
        take(f, hashOneFile(fs, { createHash, randomBytes }, f.abs, buf, opts.afterRead, opts.copyTo));
        if (Date.now() - last > 100) {
          last = Date.now();
          opts.onProgress?.({ ...progress });
        }
      }
    } else {
      let last = 0;
      await hashInWorkers(misses, jobs, opts.copyTo, (f, o) => {
        take(f, o);
        if (Date.now() - last > 100) {
          last = Date.now();
          opts.onProgress?.({ ...progress });
        }
      });
    }
    opts.onProgress?.({ ...progress });
  }
  opts.state?.record(fresh);
  return out as HashedFileStats[];
}

/**
 * Hashes tracked paths (relative to `root`): each file, and every file inside each folder
 * (expanded, sorted). A path that does not exist fails with NOT_FOUND. This is what `data add`,
 * `data status` and the pipelines' dependency and output checks call.
 */
export async function hashPaths(root: string, relPaths: readonly string[], opts: HashOptions = {}): Promise<HashedFileStats[]> {
  const walked: WalkedFile[] = [];
  for (const rel of relPaths) {
    const found = walkTracked(root, rel);
    if (!found) throw new SlipwayError('NOT_FOUND', `${rel} does not exist.`, { path: rel });
    walked.push(...found.files);
  }
  return hashWalked(walked, opts);
}

/** What a tracked path is now: a file with its digest, or a folder with its manifest and digest. */
export type TreeDigest =
  | { kind: 'file'; sha256: string; size: number; files: 1; file: HashedFileStats }
  | { kind: 'folder'; sha256: string; size: number; files: number; manifest: Manifest; manifestBytes: Buffer; entries: HashedFileStats[] };

// Text JSON.stringify leaves as it is between quotes (no quote, backslash, control character or surrogate).
// eslint-disable-next-line no-control-regex
const PLAIN_JSON = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/** Feeds the canonical JSON of a manifest to `sink` in pieces of about 64 KiB. */
function writeManifest(manifest: Manifest, sink: (text: string) => void): void {
  let piece = '{"files":[';
  manifest.files.forEach((e, i) => {
    // Most paths need no escaping: quoting them directly saves a JSON.stringify per file.
    const path = PLAIN_JSON.test(e.path) ? `"${e.path}"` : JSON.stringify(e.path);
    piece += `${i === 0 ? '' : ','}{${e.executable ? '"executable":true,' : ''}"path":${path},"sha256":"${e.sha256}","size":${e.size}}`;
    if (piece.length > 65_536) {
      sink(piece);
      piece = '';
    }
  });
  sink(`${piece}],"format":${manifest.format}}`);
}

/** Canonical JSON of a manifest (keys sorted at every level, as `canonicalJson`), built directly for big folders. */
export function manifestBytes(manifest: Manifest): Buffer {
  const parts: string[] = [];
  writeManifest(manifest, (t) => parts.push(t));
  return Buffer.from(parts.join(''), 'utf8');
}

/** The digest of a manifest (sha256 of its canonical JSON), without building the whole text. */
export function manifestDigest(manifest: Manifest): string {
  const hash = createHash('sha256');
  writeManifest(manifest, (t) => hash.update(t, 'utf8'));
  return hash.digest('hex');
}

/** The manifest of a folder whose files (paths relative to the root) were hashed; `folderRel` is the folder. */
export function manifestOf(folderRel: string, entries: readonly HashedFile[]): Manifest {
  const cut = folderRel === '' ? 0 : folderRel.length + 1;
  const files: ManifestEntry[] = entries.map((e) => ({ path: e.path.slice(cut), sha256: e.sha256, size: e.size, ...(e.executable ? { executable: true } : {}) }));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { format: DATA_FORMAT_VERSION, files };
}

/**
 * Hashes one tracked path: a file's digest, or a folder's manifest and its digest (the sha256 of
 * the manifest's canonical JSON). Undefined when the path does not exist.
 */
export async function hashTree(root: string, rel: string, opts: HashOptions = {}): Promise<TreeDigest | undefined> {
  const found = walkTracked(root, rel);
  if (!found) return undefined;
  const hashed = await hashWalked(found.files, opts);
  if (found.kind === 'file') {
    const file = hashed[0] as HashedFileStats;
    return { kind: 'file', sha256: file.sha256, size: file.size, files: 1, file };
  }
  const manifest = manifestOf(rel, hashed);
  const bytes = manifestBytes(manifest);
  return {
    kind: 'folder',
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: hashed.reduce((s, f) => s + f.size, 0),
    files: hashed.length,
    manifest,
    manifestBytes: bytes,
    entries: hashed,
  };
}
