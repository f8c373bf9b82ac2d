/**
 * Data versioning in a workspace: `add` (hash, cache, pointer, .gitignore), `status`, `checkout`,
 * `unprotect`, `gc` and `diff`, plus `objectsNeeded` for the remotes. The CLI (`slipway data …`)
 * is a thin face over this class; everything here returns data and never prints.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { copyFile, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import { beginCacheAdd, beginCacheGc } from './cache-guard.js';
import { DATA_FORMAT_VERSION, PIPELINE_LOCK_HEADER, POINTER_SUFFIX, type Manifest, type ManifestEntry, type Pointer, type PointerStatus } from './data-types.js';
import { folderSnapshot, hashWalked, manifestBytes, manifestDigest, manifestOf, walkTracked, type HashedFileStats, type HashOptions, type HashProgress, type WalkedFile } from './hasher.js';
import { DEFAULT_LINK_TYPES, ObjectCache, type LinkType, type ObjectCacheHooks } from './object-cache.js';
import { listPointers, listPointersAtRevision, pointerPathFor, readPointerFile, writePointerFile, type FoundPointer } from './pointer-file.js';
import { StateCache } from './state-cache.js';
import { initWorkspaceDir, openWorkspace, readDataConfig, resolveWorkspacePath, type Workspace } from './workspace.js';

/** Options of a DataService. */
export interface DataServiceOptions {
  /** Parallel hashing workers. @default data.jobs of slipway.yaml, else the number of cores */
  jobs?: number;
  /** How files are placed in the cache and the workspace. @default data.linkTypes, else reflink, hardlink, copy */
  linkTypes?: LinkType[];
  /** Hashing progress (for a terminal). */
  onProgress?: (p: HashProgress) => void;
  /** Stand-ins for the disk, for tests. */
  cacheHooks?: ObjectCacheHooks;
  /** See HashOptions.afterRead (tests). */
  afterRead?: (abs: string) => void;
}

/** One path `add` tracked. */
export interface AddedPath {
  path: string;
  pointer: string;
  kind: 'file' | 'folder';
  sha256: string;
  size: number;
  files: number;
  /** The .gitignore that now lists the path (relative to the root). */
  gitignore: string;
}

/** What `add` did. */
export interface AddResult {
  added: AddedPath[];
  /** Files read and hashed (the rest came from the state cache). */
  hashed: number;
  fromState: number;
  /** Paths (relative to the root) to `git add`. */
  gitAdd: string[];
}

/** What `status` found. */
export interface StatusResult {
  pointers: PointerStatus[];
  hashed: number;
  fromState: number;
  /** True when every pointer is unchanged. */
  clean: boolean;
}

/** What `checkout` did per pointer. */
export interface CheckoutEntry {
  path: string;
  result: 'restored' | 'unchanged' | 'failed';
  /** Files written and removed (for folders). */
  placed: number;
  removed: number;
  reason?: string;
}

/** What `gc` did (or would do with dryRun). */
export interface GcResult {
  dryRun: boolean;
  scanned: number;
  kept: number;
  removed: number;
  freedBytes: number;
  /** Folder manifests a kept pointer names that are not in the cache (their files could not be told apart). */
  missingManifests: string[];
}

/** Options of `gc`. */
export interface GcOptions {
  /** Keep what the workspace's pointer files name. */
  workspace?: boolean;
  /** Keep what the pointers at these git revisions name. */
  revs?: string[];
  dryRun?: boolean;
  /** Keep the outputs named by `slipway.lock` and the run cache (`.slipway/runs/*.json`). @default true */
  runCache?: boolean;
}

/** One side of a diff entry. */
export interface DiffSide {
  sha256: string;
  kind: 'file' | 'folder';
  size: number;
  files: number;
}

/** One tracked path that differs between two versions. */
export interface DiffEntry {
  path: string;
  change: 'added' | 'deleted' | 'modified';
  old?: DiffSide;
  new?: DiffSide;
  /** For folders: files added, deleted and modified (relative to the folder), when both manifests are known. */
  files?: { added: string[]; deleted: string[]; modified: string[] };
  /** A folder manifest the diff needed that is not in the cache (fetch it from a remote). */
  manifestMissing?: string[];
}

/** What `diff` found. */
export interface DiffResult {
  from: string;
  to: string;
  entries: DiffEntry[];
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

function isInside(child: string, parent: string): boolean {
  return parent === '' || child === parent || child.startsWith(`${parent}/`);
}

function compareFiles(manifest: Manifest, now: Manifest): { added: string[]; modified: string[]; deleted: string[] } {
  const before = new Map(manifest.files.map((f) => [f.path, f]));
  const added: string[] = [];
  const modified: string[] = [];
  for (const f of now.files) {
    const old = before.get(f.path);
    if (!old) added.push(f.path);
    else {
      if (old.sha256 !== f.sha256 || !!old.executable !== !!f.executable) modified.push(f.path);
      before.delete(f.path);
    }
  }
  return { added, modified, deleted: [...before.keys()] };
}

/** Data versioning operations on one workspace. */
export class DataService {
  readonly ws: Workspace;
  readonly cache: ObjectCache;
  private readonly opts: DataServiceOptions;
  private readonly linkTypes: LinkType[];
  private readonly jobs: number;
  private stateCache: StateCache | undefined;

  /** Opens the workspace around `cwd` with slipway.yaml's `data:` settings (options win). */
  static open(cwd = process.cwd(), opts: DataServiceOptions = {}): DataService {
    const ws = openWorkspace(cwd);
    const config = readDataConfig(ws.root);
    return new DataService(ws, { ...opts, jobs: opts.jobs ?? config.jobs, linkTypes: opts.linkTypes ?? config.linkTypes });
  }

  constructor(ws: Workspace, opts: DataServiceOptions = {}) {
    this.ws = ws;
    this.opts = opts;
    this.cache = new ObjectCache(ws.cacheDir, ws.tmpDir, opts.cacheHooks);
    this.linkTypes = opts.linkTypes ?? [...DEFAULT_LINK_TYPES];
    this.jobs = opts.jobs ?? availableParallelism();
  }

  /** The state cache; only once `.slipway/` exists (reading commands never create it). */
  private state(create: boolean): StateCache | undefined {
    if (this.stateCache) return this.stateCache;
    if (create) initWorkspaceDir(this.ws);
    else if (!existsSync(this.ws.dir)) return undefined;
    this.stateCache = new StateCache(this.ws.stateFile);
    return this.stateCache;
  }

  /** Closes the state database. */
  close(): void {
    this.stateCache?.close();
    this.stateCache = undefined;
  }

  private hashOptions(create: boolean): HashOptions {
    return { state: this.state(create), jobs: this.jobs, onProgress: this.opts.onProgress, afterRead: this.opts.afterRead };
  }

  /** Pointers selected by user paths (a tracked path, its pointer file, or a folder holding pointers); all when none. */
  private selectPointers(paths: readonly string[] | undefined, cwd: string): FoundPointer[] {
    const all = listPointers(this.ws.root);
    if (!paths || paths.length === 0) return all;
    const out = new Map<string, FoundPointer>();
    for (const p of paths) {
      const { rel } = resolveWorkspacePath(this.ws, p, cwd);
      const matched = all.filter((f) => f.pointer === rel || isInside(f.path, rel) || isInside(rel, f.path));
      if (matched.length === 0) throw new SlipwayError('NOT_FOUND', `'${p}' is not tracked: no pointer file names it (track it with slipway data add).`, { path: p });
      for (const m of matched) out.set(m.pointer, m);
    }
    return [...out.values()].sort((a, b) => (a.pointer < b.pointer ? -1 : 1));
  }

  /** Tracks files and folders: hashes them, stores them in the cache, writes `PATH.slipway` and lists PATH in the .gitignore beside it. */
  async add(paths: readonly string[], cwd = process.cwd()): Promise<AddResult> {
    if (paths.length === 0) throw new SlipwayError('MISSING_ARGUMENT', 'Name at least one file or folder to add.');
    const done = beginCacheAdd(this.ws);
    try {
      return await this.addGuarded(paths, cwd);
    } finally {
      done();
    }
  }

  private async addGuarded(paths: readonly string[], cwd: string): Promise<AddResult> {
    if (paths.length === 0) throw new SlipwayError('MISSING_ARGUMENT', 'Name at least one file or folder to add.');
    const existing = listPointers(this.ws.root);
    const targets: Array<{ rel: string; kind: 'file' | 'folder'; files: WalkedFile[] }> = [];
    for (const p of paths) {
      const { rel } = resolveWorkspacePath(this.ws, p, cwd);
      if (rel === '') throw new SlipwayError('INVALID_ARGUMENT', 'The workspace root itself cannot be tracked; add the folders inside it.');
      if (rel.endsWith(POINTER_SUFFIX)) throw new SlipwayError('INVALID_ARGUMENT', `'${p}' is a pointer file; add the data it names instead.`, { path: p });
      const found = walkTracked(this.ws.root, rel);
      if (!found) throw new SlipwayError('DATA_ERROR', `'${p}' does not exist.`, { path: p });
      for (const e of existing) {
        if (e.path !== rel && isInside(rel, e.path)) throw new SlipwayError('INVALID_ARGUMENT', `'${p}' is inside ${e.path}, which ${e.pointer} already tracks; add ${e.path} again instead.`, { path: p });
        if (e.path !== rel && isInside(e.path, rel)) throw new SlipwayError('INVALID_ARGUMENT', `'${p}' holds ${e.path}, which ${e.pointer} tracks on its own; remove that pointer first, or add the paths separately.`, { path: p });
      }
      if (targets.some((t) => isInside(rel, t.rel) || isInside(t.rel, rel))) throw new SlipwayError('INVALID_ARGUMENT', `'${p}' overlaps another path of this add.`, { path: p });
      if (found.kind === 'folder' && found.files.some((f) => f.path.endsWith(POINTER_SUFFIX))) {
        const inner = found.files.find((f) => f.path.endsWith(POINTER_SUFFIX)) as WalkedFile;
        throw new SlipwayError('INVALID_ARGUMENT', `'${p}' holds the pointer file ${inner.path}; a tracked folder cannot hold tracked paths.`, { path: p });
      }
      const gitFile = found.kind === 'folder' ? found.files.find((f) => f.path.split('/').some((part) => part.toLowerCase() === '.git')) : undefined;
      if (gitFile) throw new SlipwayError('INVALID_ARGUMENT', `'${p}' holds the git repository file ${gitFile.path}; a tracked folder cannot hold a .git folder (a checkout would never write it back).`, { path: p });
      targets.push({ rel, kind: found.kind, files: found.files });
    }
    const allFiles = targets.flatMap((t) => t.files);
    const first = await this.cache.firstWorkingLinkType(this.linkTypes, allFiles.find((f) => f.size > 0)?.abs ?? allFiles[0]?.abs);
    // Copying: each file is copied into the cache as it is hashed, so it is read once.
    const copyTo = first === 'copy' ? this.ws.tmpDir : undefined;
    const hashed = await hashWalked(allFiles, { ...this.hashOptions(true), copyTo });
    const byPath = new Map(hashed.map((h) => [h.path, h]));
    // Each distinct content once: a folder may hold the same file many times.
    const unique = new Map<string, HashedFileStats & { abs: string }>();
    const copies: Array<{ sha256: string; temp: string }> = [];
    const extra: string[] = [];
    for (const f of allFiles) {
      const h = byPath.get(f.path) as HashedFileStats;
      const seen = unique.get(h.sha256);
      if (!seen || (!seen.temp && h.temp)) unique.set(h.sha256, { ...h, abs: f.abs });
      if (h.temp) {
        if (!seen?.temp) copies.push({ sha256: h.sha256, temp: h.temp });
        else extra.push(h.temp);
      }
    }
    for (const t of extra) await unlink(t).catch(() => {});
    await this.cache.adoptCopies(copies);
    // Files the state cache answered for and whose object is not stored (a cleaned cache) are inserted now;
    // for many, one listing of the cache replaces a stat per object.
    let pending = [...unique.values()].filter((h) => !h.temp);
    if (pending.length > 2000 && this.linkTypes[0] !== 'hardlink') {
      const present = await this.cache.listAll();
      pending = pending.filter((h) => !present.has(h.sha256));
    }
    await eachLimited(
      pending,
      16,
      async (h) => {
        await this.cache.insertFromWorkspace(h.abs, h.sha256, this.linkTypes, { size: h.size, ino: h.ino, mtimeNs: h.mtimeNs });
      },
    );
    const result: AddResult = { added: [], hashed: hashed.filter((h) => !h.fromState).length, fromState: hashed.filter((h) => h.fromState).length, gitAdd: [] };
    for (const t of targets) {
      const entries = t.files.map((f) => byPath.get(f.path) as HashedFileStats);
      let pointer: Pointer;
      if (t.kind === 'file') {
        const h = entries[0] as HashedFileStats;
        pointer = { format: DATA_FORMAT_VERSION, path: posix.basename(t.rel), kind: 'file', sha256: h.sha256, size: h.size, files: 1 };
      } else {
        const manifest = manifestOf(t.rel, entries);
        const bytes = manifestBytes(manifest);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        await this.cache.putBytes(sha256, bytes);
        const snap = folderSnapshot(entries);
        this.stateCache?.folderRecord(t.rel, snap.snapshot, sha256);
        // Every object of this version was stored above.
        this.stateCache?.markComplete(sha256);
        pointer = { format: DATA_FORMAT_VERSION, path: posix.basename(t.rel), kind: 'folder', sha256, size: entries.reduce((s, e) => s + e.size, 0), files: entries.length };
      }
      const pointerRel = pointerPathFor(t.rel);
      const pointerAbs = join(this.ws.root, pointerRel);
      // A re-add keeps the dataset registration the pointer carried only while the content is the same.
      const previous = existsSync(pointerAbs) ? (() => { try { return readPointerFile(pointerAbs, pointerRel); } catch { return undefined; } })() : undefined;
      if (previous?.dataset && previous.sha256 === pointer.sha256) pointer.dataset = previous.dataset;
      await writePointerFile(pointerAbs, pointer);
      const gitignore = await this.ignoreBeside(t.rel);
      result.added.push({ path: t.rel, pointer: pointerRel, kind: t.kind, sha256: pointer.sha256, size: pointer.size, files: pointer.files, gitignore });
      result.gitAdd.push(pointerRel, gitignore);
    }
    result.gitAdd = [...new Set(result.gitAdd)].sort();
    return result;
  }

  /** Lists `/NAME` in the .gitignore beside a tracked path (once); returns that .gitignore, relative to the root. */
  private async ignoreBeside(rel: string): Promise<string> {
    const dir = posix.dirname(rel);
    const ignoreRel = dir === '.' ? '.gitignore' : `${dir}/.gitignore`;
    const abs = join(this.ws.root, ignoreRel);
    const entry = `/${posix.basename(rel).replace(/([*?[\]\\!#])/g, '\\$1')}`;
    const text = await readFile(abs, 'utf8').catch(() => '');
    if (text.split(/\r?\n/).includes(entry)) return ignoreRel;
    const temp = `${abs}.${process.pid}.tmp`;
    await writeFile(temp, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${entry}\n`);
    await rename(temp, abs);
    return ignoreRel;
  }

  /** Compares each selected pointer with the workspace: unchanged, modified (with file lists for folders), missing or not-in-cache. */
  async status(paths?: readonly string[], cwd = process.cwd()): Promise<StatusResult> {
    const pointers = this.selectPointers(paths, cwd);
    const walked = pointers.map((p) => {
      try {
        return walkTracked(this.ws.root, p.path);
      } catch (err) {
        // A link planted in a tracked folder makes it differ from any version Slipway could have stored.
        if (isSlipwayError(err) && err.code === 'INVALID_ARGUMENT') return { kind: 'folder' as const, files: [], refused: err.message };
        throw err;
      }
    });
    // A folder whose files all have the stats they had when its digest was last computed needs no per-file lookups.
    const state = this.state(false);
    const snapshots = pointers.map((p, i) => {
      const w = walked[i];
      if (!state || !w || w.kind !== 'folder' || 'refused' in w || p.content.kind !== 'folder') return undefined;
      const snap = folderSnapshot(w.files);
      return { ...snap, digest: state.folderLookup(p.path, snap.snapshot, snap.newestMtimeMs) };
    });
    const hashed = await hashWalked(
      walked.flatMap((w, i) => (snapshots[i]?.digest === pointers[i]?.content.sha256 ? [] : (w?.files ?? []))),
      this.hashOptions(false),
    );
    const byPath = new Map(hashed.map((h) => [h.path, h]));
    const unmarkedFiles = pointers.reduce((s, p) => s + (p.content.kind === 'folder' && this.stateCache?.isComplete(p.content.sha256) ? 0 : p.content.files), 0);
    // Many objects to look for: one listing of the cache beats a stat per object.
    let present: Set<string> | undefined;
    const has = async (sha: string) => {
      if (unmarkedFiles <= 2000) return this.cache.has(sha);
      present ??= await this.cache.listAll();
      return present.has(sha);
    };
    const out: PointerStatus[] = [];
    let snapshotHits = 0;
    for (let i = 0; i < pointers.length; i++) {
      const p = pointers[i] as FoundPointer;
      const w = walked[i];
      const base = { pointer: p.pointer, path: p.path, added: [] as string[], modified: [] as string[], deleted: [] as string[] };
      if (!w) {
        out.push({ ...base, state: 'missing' });
        continue;
      }
      const snap = snapshots[i];
      if (snap?.digest !== undefined && snap.digest === p.content.sha256) {
        // Unchanged since the digest was recorded: only whether the cache still holds it all is open.
        const marked = (await has(p.content.sha256)) && !!state?.isComplete(p.content.sha256);
        if (marked) {
          out.push({ ...base, state: 'unchanged' });
          snapshotHits += w.files.length;
          continue;
        }
        const again = await hashWalked(w.files, this.hashOptions(false));
        for (const h of again) byPath.set(h.path, h);
        hashed.push(...again);
      }
      const entries = w.files.map((f) => byPath.get(f.path) as HashedFileStats);
      if (p.content.kind === 'file' || w.kind === 'file') {
        const same = p.content.kind === 'file' && w.kind === 'file' && entries[0]?.sha256 === p.content.sha256;
        if (!same) out.push({ ...base, state: 'modified' });
        else out.push({ ...base, state: (await has(p.content.sha256)) ? 'unchanged' : 'not-in-cache' });
        continue;
      }
      const now = manifestOf(p.path, entries);
      const digest = 'refused' in w ? '' : manifestDigest(now);
      if (snap && digest !== '' && snap.digest !== digest) state?.folderRecord(p.path, snap.snapshot, digest);
      if (digest === p.content.sha256) {
        let complete = await has(p.content.sha256);
        // Once seen complete, a folder version stays so until gc removes objects (it clears the marks).
        const marked = complete && !!this.stateCache?.isComplete(p.content.sha256);
        for (const e of marked ? [] : now.files) {
          if (!complete) break;
          complete = await has(e.sha256);
        }
        if (complete && !marked) this.stateCache?.markComplete(p.content.sha256);
        out.push({ ...base, state: complete ? 'unchanged' : 'not-in-cache' });
        continue;
      }
      const manifest = await this.cache.readManifest(p.content.sha256).catch(() => undefined);
      out.push({ ...base, state: 'modified', ...(manifest ? compareFiles(manifest, now) : {}) });
    }
    return { pointers: out, hashed: hashed.filter((h) => !h.fromState).length, fromState: hashed.filter((h) => h.fromState).length + snapshotHits, clean: out.every((s) => s.state === 'unchanged') };
  }

  /**
   * Restores the versions the pointers name: changed files are rewritten (temp file, rename),
   * files of a folder not in its manifest removed, exec bits restored. Without `force`, a file
   * whose current content is not in the cache (an edit that would be lost) stops that pointer's
   * checkout.
   */
  async checkout(paths?: readonly string[], opts: { force?: boolean } = {}, cwd = process.cwd()): Promise<CheckoutEntry[]> {
    const pointers = this.selectPointers(paths, cwd);
    const out: CheckoutEntry[] = [];
    for (const p of pointers) {
      try {
        out.push(await this.checkoutOne(p, !!opts.force));
      } catch (err) {
        if (!isSlipwayError(err)) throw err;
        out.push({ path: p.path, result: 'failed', placed: 0, removed: 0, reason: err.message });
      }
    }
    return out;
  }

  private async checkoutOne(p: FoundPointer, force: boolean): Promise<CheckoutEntry> {
    const root = this.ws.root;
    const abs = join(root, p.path);
    const state = this.state(true);
    const wanted: Manifest =
      p.content.kind === 'file'
        ? { format: DATA_FORMAT_VERSION, files: [{ path: '', sha256: p.content.sha256, size: p.content.size }] }
        : await this.cache.readManifest(p.content.sha256).catch((err: unknown) => {
            if (isSlipwayError(err) && err.code === 'NOT_FOUND') throw new SlipwayError('NOT_FOUND', `The manifest of ${p.path} (${p.content.sha256}) is not in the cache; fetch it with slipway data fetch.`);
            throw err;
          });
    let current: { kind: 'file' | 'folder'; files: WalkedFile[] } | undefined;
    try {
      current = walkTracked(root, p.path);
    } catch (err) {
      if (!force) throw err;
      current = undefined;
    }
    // The workspace's files as paths relative to the tracked path ('' for a tracked file).
    const currentFiles = current ? await hashWalked(current.files, this.hashOptions(true)) : [];
    const cut = p.path.length + 1;
    const relOf = (h: HashedFileStats) => (h.path === p.path ? '' : h.path.slice(cut));
    const now = new Map<string, HashedFileStats>();
    for (const h of currentFiles) now.set(relOf(h), h);
    const kindClash = current && (current.kind === 'file') !== (p.content.kind === 'file');
    const toPlace: ManifestEntry[] = [];
    for (const e of wanted.files) {
      const h = now.get(e.path);
      if (!kindClash && h && h.sha256 === e.sha256 && h.executable === !!e.executable) continue;
      toPlace.push(e);
    }
    const wantedPaths = new Set(wanted.files.map((e) => e.path));
    const toRemove = kindClash ? [...now.values()] : [...now.values()].filter((h) => !wantedPaths.has(relOf(h)));
    if (toPlace.length === 0 && toRemove.length === 0) return { path: p.path, result: 'unchanged', placed: 0, removed: 0 };
    // Every object must be here before anything changes, so a checkout never stops half-way for a missing object.
    const missing: string[] = [];
    for (const e of toPlace) if (!(await this.cache.has(e.sha256))) missing.push(e.path || p.path);
    if (missing.length > 0) {
      throw new SlipwayError('NOT_FOUND', `${missing.length} file(s) of ${p.path} are not in the cache (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}); fetch them with slipway data pull.`);
    }
    if (!force) {
      const overwritten = [...toPlace.map((e) => now.get(e.path)).filter((h): h is HashedFileStats => !!h), ...toRemove];
      const unsaved: string[] = [];
      for (const h of overwritten) if (!(await this.cache.has(h.sha256))) unsaved.push(h.path);
      if (unsaved.length > 0) {
        throw new SlipwayError('CONFLICT', `${p.path} has changes that are not in the cache (${unsaved.slice(0, 3).join(', ')}${unsaved.length > 3 ? ', …' : ''}); checkout would lose them. Add them with slipway data add, or use --force to discard them.`, { path: p.path });
      }
    }
    for (const h of toRemove) {
      unlinkSync(join(root, h.path));
    }
    if (p.content.kind === 'folder') {
      pruneEmptyFolders(abs, true);
    } else if (kindClash) {
      pruneEmptyFolders(abs, false);
      const left = lstatSync(abs, { throwIfNoEntry: false });
      if (left?.isDirectory()) throw new SlipwayError('CONFLICT', `${p.path} is a folder with other content in the way; move it aside and run checkout again.`);
    }
    const placedStats: Array<{ ino: bigint; size: number; mtimeNs: bigint; sha256: string }> = [];
    const realFolders = new Set<string>();
    await eachLimited(toPlace, 8, async (e) => {
      const dest = e.path === '' ? abs : join(abs, e.path);
      ensureRealFolders(root, posix.dirname(e.path === '' ? p.path : `${p.path}/${e.path}`), realFolders);
      // A folder standing where a file goes (only files it held were removed above).
      const st = lstatSync(dest, { throwIfNoEntry: false });
      if (st?.isDirectory()) pruneEmptyFolders(dest, false);
      await this.cache.place(e.sha256, dest, this.linkTypes, { executable: !!e.executable });
      const after = statSync(dest, { bigint: true });
      placedStats.push({ ino: after.ino, size: e.size, mtimeNs: after.mtimeNs, sha256: e.sha256 });
    });
    state?.record(placedStats);
    return { path: p.path, result: 'restored', placed: toPlace.length, removed: toRemove.length };
  }

  /** Replaces links into the cache by private, writable copies, so tracked files can be edited in place. Returns the files copied. */
  async unprotect(paths: readonly string[], cwd = process.cwd()): Promise<string[]> {
    if (paths.length === 0) throw new SlipwayError('MISSING_ARGUMENT', 'Name at least one tracked file or folder to unprotect.');
    const pointers = listPointers(this.ws.root);
    const done: string[] = [];
    for (const p of paths) {
      const { rel } = resolveWorkspacePath(this.ws, p, cwd);
      if (!pointers.some((f) => isInside(rel, f.path))) throw new SlipwayError('NOT_FOUND', `'${p}' is not tracked: no pointer file names it or a folder holding it.`, { path: p });
      const found = walkTracked(this.ws.root, rel);
      if (!found) throw new SlipwayError('DATA_ERROR', `'${p}' does not exist; run slipway data checkout first.`, { path: p });
      for (const f of found.files) {
        const st = lstatSync(f.abs);
        if (st.nlink <= 1 && (st.mode & 0o200) !== 0) continue;
        const temp = join(posix.dirname(f.abs), `.${posix.basename(f.abs)}.${process.pid}.slipway-tmp`);
        try {
          await copyFile(f.abs, temp);
          chmodSync(temp, (st.mode & 0o111) !== 0 ? 0o755 : 0o644);
          await rename(temp, f.abs);
        } catch (err) {
          await unlink(temp).catch(() => {});
          throw err;
        }
        done.push(f.path);
      }
    }
    return done;
  }

  /**
   * Removes cache objects nothing named needs: kept are the objects of the workspace's pointers, of
   * the pointers at each named git revision (folder manifests and every file in them), and unless
   * `runCache` is false the outputs in slipway.lock and the run cache.
   */
  async gc(opts: GcOptions): Promise<GcResult> {
    if (!opts.workspace && !(opts.revs && opts.revs.length > 0)) {
      throw new SlipwayError('INVALID_ARGUMENT', 'Name what to keep: --workspace (what the current pointer files name) and/or --rev REV (what a git revision names).');
    }
    const done = opts.dryRun ? () => {} : beginCacheGc(this.ws);
    try {
      return await this.gcGuarded(opts);
    } finally {
      done();
    }
  }

  private async gcGuarded(opts: GcOptions): Promise<GcResult> {
    const needed = await collectNeeded(this.ws, this.cache, { workspace: true, revs: opts.revs ?? [] });
    if (opts.runCache !== false) for (const sha of await this.pipelineOutputs()) needed.objects.add(sha);
    const present = await this.cache.listAll();
    const result: GcResult = { dryRun: !!opts.dryRun, scanned: present.size, kept: 0, removed: 0, freedBytes: 0, missingManifests: needed.missingManifests };
    // Completeness marks may now be wrong for any folder version.
    if (!opts.dryRun) this.state(false)?.clearComplete();
    for (const sha of present) {
      if (needed.objects.has(sha)) {
        result.kept++;
        continue;
      }
      const path = this.cache.pathOf(sha);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      if (!opts.dryRun) unlinkSync(path);
      result.removed++;
      result.freedBytes += st.size;
    }
    if (!opts.dryRun) {
      // Temp files of interrupted writes, an hour old or more.
      const cutoff = Date.now() - 3_600_000;
      for (const name of existsSync(this.ws.tmpDir) ? readdirSync(this.ws.tmpDir) : []) {
        const st = lstatSync(join(this.ws.tmpDir, name), { throwIfNoEntry: false });
        if (st?.isFile() && st.mtimeMs < cutoff) unlinkSync(join(this.ws.tmpDir, name));
      }
    }
    return result;
  }

  /** Objects named as outputs by slipway.lock and the run cache entries (folders expanded through their manifests). */
  private async pipelineOutputs(): Promise<Set<string>> {
    const outs: Array<{ sha256: string; kind?: string }> = [];
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) return value.forEach(collect);
      if (typeof value !== 'object' || value === null) return;
      const v = value as Record<string, unknown>;
      if (Array.isArray(v.outs)) {
        for (const o of v.outs) {
          if (typeof o === 'object' && o !== null && typeof (o as { sha256?: unknown }).sha256 === 'string') outs.push(o as { sha256: string; kind?: string });
        }
      }
      for (const [k, child] of Object.entries(v)) if (k !== 'outs') collect(child);
    };
    // slipway.lock, and the lock file of each pipeline run with --config (train.yaml -> train.lock),
    // told from other tools' *.lock files by the header repro writes.
    for (const name of readdirSync(this.ws.root).filter((n) => n.endsWith('.lock')).sort()) {
      const lock = join(this.ws.root, name);
      let text: string;
      try {
        if (!lstatSync(lock).isFile()) continue;
        text = readFileSync(lock, 'utf8');
      } catch {
        continue;
      }
      if (name !== 'slipway.lock' && !text.startsWith(PIPELINE_LOCK_HEADER)) continue;
      try {
        collect(parseYaml(text));
      } catch (err) {
        throw new SlipwayError('INVALID_ARGUMENT', `${name} cannot be read (${(err as Error).message.split('\n')[0]}); gc stops rather than remove what it may name. Use --no-run-cache to ignore it.`);
      }
    }
    const runs = join(this.ws.dir, 'runs');
    for (const name of existsSync(runs) ? readdirSync(runs) : []) {
      if (!name.endsWith('.json')) continue;
      try {
        collect(JSON.parse(readFileSync(join(runs, name), 'utf8')));
      } catch {
        // An unreadable run-cache entry is a miss for the pipeline too: it can name nothing worth keeping.
      }
    }
    const keep = new Set<string>();
    for (const o of outs) {
      if (!/^[0-9a-f]{64}$/.test(o.sha256)) continue;
      keep.add(o.sha256);
      if (o.kind === 'folder') {
        const m = await this.cache.readManifest(o.sha256).catch(() => undefined);
        for (const f of m?.files ?? []) keep.add(f.sha256);
      }
    }
    return keep;
  }

  /** What changed between git revision `rev1` and `rev2` (default: the workspace's data as it is now). */
  async diff(rev1: string, rev2?: string): Promise<DiffResult> {
    const before = await listPointersAtRevision(this.ws.root, rev1);
    type Side = { side: DiffSide; manifest?: Manifest; missing?: string };
    const sideOf = async (p: FoundPointer): Promise<Side> => {
      const side: DiffSide = { sha256: p.content.sha256, kind: p.content.kind, size: p.content.size, files: p.content.files };
      if (p.content.kind !== 'folder') return { side };
      const manifest = await this.cache.readManifest(p.content.sha256).catch(() => undefined);
      return manifest ? { side, manifest } : { side, missing: p.content.sha256 };
    };
    const after = new Map<string, Side>();
    if (rev2 !== undefined) {
      for (const p of await listPointersAtRevision(this.ws.root, rev2)) after.set(p.path, await sideOf(p));
    } else {
      const pointers = listPointers(this.ws.root);
      for (const p of pointers) {
        const found = walkTracked(this.ws.root, p.path);
        // Data not checked out is not a deletion: the pointer still names it.
        if (!found) {
          after.set(p.path, await sideOf(p));
          continue;
        }
        const hashed = await hashWalked(found.files, this.hashOptions(false));
        if (found.kind === 'file') {
          const h = hashed[0] as HashedFileStats;
          after.set(p.path, { side: { sha256: h.sha256, kind: 'file', size: h.size, files: 1 } });
        } else {
          const manifest = manifestOf(p.path, hashed);
          const sha256 = manifestDigest(manifest);
          after.set(p.path, { side: { sha256, kind: 'folder', size: hashed.reduce((s, f) => s + f.size, 0), files: hashed.length }, manifest });
        }
      }
    }
    const beforeMap = new Map<string, Side>();
    for (const p of before) beforeMap.set(p.path, await sideOf(p));
    const paths = [...new Set([...beforeMap.keys(), ...after.keys()])].sort();
    const entries: DiffEntry[] = [];
    for (const path of paths) {
      const a = beforeMap.get(path);
      const b = after.get(path);
      if (a && b && a.side.sha256 === b.side.sha256 && a.side.kind === b.side.kind) continue;
      const entry: DiffEntry = { path, change: !a ? 'added' : !b ? 'deleted' : 'modified', ...(a ? { old: a.side } : {}), ...(b ? { new: b.side } : {}) };
      const missing = [a?.missing, b?.missing].filter((m): m is string => !!m);
      if (missing.length > 0) entry.manifestMissing = missing;
      const empty: Manifest = { format: DATA_FORMAT_VERSION, files: [] };
      const ma = a ? (a.side.kind === 'folder' ? a.manifest : undefined) : empty;
      const mb = b ? (b.side.kind === 'folder' ? b.manifest : undefined) : empty;
      if ((a?.side.kind === 'folder' || b?.side.kind === 'folder') && ma && mb) entry.files = compareFiles(ma, mb);
      entries.push(entry);
    }
    return { from: rev1, to: rev2 ?? 'workspace', entries };
  }
}

/** Removes empty folders at and below `dir` (bottom-up); `keepTop` keeps `dir` itself. */
/**
 * Creates the folders from the workspace root down to `relDir`, refusing one that is a symbolic link:
 * a link committed to git must not redirect a checkout's writes out of the workspace.
 */
function ensureRealFolders(root: string, relDir: string, known: Set<string>): void {
  let at = '';
  for (const part of relDir.split('/')) {
    if (part === '' || part === '.') continue;
    at = at ? `${at}/${part}` : part;
    if (known.has(at)) continue;
    const st = lstatSync(join(root, at), { throwIfNoEntry: false });
    if (!st) mkdirSync(join(root, at));
    else if (st.isSymbolicLink()) throw new SlipwayError('INVALID_ARGUMENT', `Checkout refuses to write through the symbolic link ${at}; remove it and run checkout again.`, { path: at });
    else if (!st.isDirectory()) throw new SlipwayError('CONFLICT', `${at} is a file where checkout needs a folder; move it aside and run checkout again.`, { path: at });
    known.add(at);
  }
}

function pruneEmptyFolders(dir: string, keepTop: boolean): void {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmptyFolders(join(dir, e.name), false);
  if (!keepTop && readdirSync(dir).length === 0) rmdirSync(dir);
}

/** The objects the selected pointers need, and the folder manifests that could not be expanded. */
export interface NeededObjects {
  objects: Set<string>;
  /** Manifest digests named but absent from the cache: their files are unknown until the manifest is fetched. */
  missingManifests: string[];
}

/** Options of objectsNeeded / collectNeeded. */
export interface NeededOptions {
  /** Git revisions whose pointers count. */
  revs?: readonly string[];
  /** Only pointers whose tracked path (or pointer file) is at or below one of these root-relative paths. */
  targets?: readonly string[];
  /** Include the workspace's own pointer files. @default true when no revs are named */
  workspace?: boolean;
}

/** Collects the digests (files, folder manifests and every file in them) the selected pointers need. */
export async function collectNeeded(ws: Workspace, cache: ObjectCache, opts: NeededOptions = {}): Promise<NeededObjects> {
  const revs = opts.revs ?? [];
  const pointers: FoundPointer[] = [];
  if (opts.workspace ?? revs.length === 0) pointers.push(...listPointers(ws.root));
  for (const rev of revs) pointers.push(...(await listPointersAtRevision(ws.root, rev)));
  const selected = opts.targets && opts.targets.length > 0 ? pointers.filter((p) => opts.targets?.some((t) => isInside(p.path, t) || isInside(t, p.path) || p.pointer === t)) : pointers;
  const objects = new Set<string>();
  const missing = new Set<string>();
  const expanded = new Set<string>();
  for (const p of selected) {
    objects.add(p.content.sha256);
    if (p.content.kind !== 'folder' || expanded.has(p.content.sha256)) continue;
    expanded.add(p.content.sha256);
    try {
      for (const f of (await cache.readManifest(p.content.sha256)).files) objects.add(f.sha256);
    } catch (err) {
      if (!isSlipwayError(err)) throw err;
      missing.add(p.content.sha256);
    }
  }
  return { objects, missingManifests: [...missing] };
}

/**
 * The set of object digests (folder manifests included, with every file in them) that the pointers
 * of the workspace and/or the named git revisions need; `targets` narrows to some tracked paths.
 * Manifests absent from the cache cannot be expanded: fetch them first (see collectNeeded).
 */
export async function objectsNeeded(ws: Workspace, opts: NeededOptions = {}): Promise<Set<string>> {
  return (await collectNeeded(ws, new ObjectCache(ws.cacheDir, ws.tmpDir), opts)).objects;
}
