/**
 * Push and fetch for a workspace: the objects its pointers need (or those of some tracked paths),
 * sent to or brought from the remote slipway.yaml names. Folder manifests come first on a fetch, since
 * only they tell which files a folder needs.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { collectNeeded, type NeededOptions } from './data-service.js';
import { ObjectCache } from './object-cache.js';
import { listPointers } from './pointer-file.js';
import { openRemoteStore, remoteIndexCacheDir, resolveRemote, type ResolvedRemote } from './remote-config.js';
import { DataRemote } from './remote-store.js';
import { fetchObjects, pushObjects, type FetchResult, type PushResult, type TransferProgress } from './remote-transfer.js';
import { initWorkspaceDir, readDataConfig, resolveWorkspacePath, type Workspace } from './workspace.js';

/** How a workspace push or fetch runs. */
export interface SyncOptions {
  /** The remote's name. @default data.remote, else the only remote */
  remote?: string;
  /** Tracked paths (as the user typed them, relative to `cwd`); every pointer when empty. */
  paths?: readonly string[];
  cwd?: string;
  /** Git revisions whose pointers count too, beside the workspace's (to share or keep older versions). */
  revs?: readonly string[];
  /** Transfers at a time. @default data.jobs, else 4 per core */
  jobs?: number;
  onProgress?: (p: TransferProgress) => void;
}

// The workspace's pointers (or the named ones), and with revisions those pointers at each of them too.
function needOf(ctx: SyncContext, opts: SyncOptions): NeededOptions {
  return { targets: ctx.targets, ...(opts.revs && opts.revs.length > 0 ? { revs: opts.revs, workspace: true } : {}) };
}

/** What a push or fetch needs: the remote, the cache, the tracked paths selected and the parallelism. */
interface SyncContext {
  resolved: ResolvedRemote;
  remote: DataRemote;
  cache: ObjectCache;
  targets: string[];
  jobs: number;
}

const inside = (child: string, parent: string) => parent === '' || child === parent || child.startsWith(`${parent}/`);

/** The root-relative paths the user named; each must be (or hold, or lie in) a tracked path. */
function selectTargets(ws: Workspace, paths: readonly string[], cwd: string): string[] {
  if (paths.length === 0) return [];
  const pointers = listPointers(ws.root);
  return paths.map((p) => {
    const { rel } = resolveWorkspacePath(ws, p, cwd);
    if (!pointers.some((f) => f.pointer === rel || inside(f.path, rel) || inside(rel, f.path))) {
      throw new SlipwayError('NOT_FOUND', `'${p}' is not tracked: no pointer file names it (track it with slipway data add).`, { path: p });
    }
    return rel;
  });
}

async function openContext(ws: Workspace, opts: SyncOptions, mode: 'push' | 'fetch'): Promise<SyncContext> {
  const config = readDataConfig(ws.root);
  const resolved = resolveRemote(ws.root, config, opts.remote);
  const targets = selectTargets(ws, opts.paths ?? [], opts.cwd ?? process.cwd());
  const store = await openRemoteStore(resolved, mode);
  // Only once the configuration and the remote are known good, so a refused command leaves no folder behind.
  initWorkspaceDir(ws);
  const indexDir = remoteIndexCacheDir(ws.root, resolved.name);
  ensureIgnored(join(ws.dir, 'remotes'));
  return {
    resolved,
    remote: new DataRemote(resolved.name, store, indexDir),
    cache: new ObjectCache(ws.cacheDir, ws.tmpDir),
    targets,
    jobs: opts.jobs ?? config.jobs ?? 4 * availableParallelism(),
  };
}

// The kept pack indexes are a local cache: a .gitignore of their own keeps them out of git.
function ensureIgnored(dir: string): void {
  const ignore = join(dir, '.gitignore');
  if (existsSync(ignore)) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(ignore, '# Pack indexes kept from data remotes: a local cache, never committed.\n*\n');
}

/** Sends to the remote the objects the workspace's pointers (or the named paths) need and it lacks. */
export async function pushWorkspace(ws: Workspace, opts: SyncOptions = {}): Promise<PushResult> {
  const ctx = await openContext(ws, opts, 'push');
  const needed = await collectNeeded(ws, ctx.cache, needOf(ctx, opts));
  return pushObjects(ctx.cache, ctx.remote, needed.objects, { jobs: ctx.jobs, onProgress: opts.onProgress });
}

/** Brings into the cache the objects the workspace's pointers (or the named paths) need: manifests first, then their files. */
export async function fetchWorkspace(ws: Workspace, opts: SyncOptions = {}): Promise<FetchResult> {
  const ctx = await openContext(ws, opts, 'fetch');
  const transfer = { jobs: ctx.jobs, onProgress: opts.onProgress, tmpDir: ws.tmpDir, keptPacks: new Map<string, Buffer>() };
  let needed = await collectNeeded(ws, ctx.cache, needOf(ctx, opts));
  let result = await fetchObjects(ctx.cache, ctx.remote, needed.objects, transfer);
  // A folder whose manifest just arrived: its files are known only now.
  if (needed.missingManifests.length > 0) {
    needed = await collectNeeded(ws, ctx.cache, needOf(ctx, opts));
    result = mergeFetches(result, await fetchObjects(ctx.cache, ctx.remote, needed.objects, transfer));
  }
  return result;
}

/** One result for a fetch done in two rounds (the second sees the first's objects as already present). */
function mergeFetches(first: FetchResult, second: FetchResult): FetchResult {
  const corrupt = [...new Set([...first.corruptOnRemote, ...second.corruptOnRemote])].sort();
  const bad = new Map([...first.badPacks, ...second.badPacks].map((b) => [b.pack, b]));
  const transferred = first.transferred + second.transferred;
  const missing = second.missingOnRemote.filter((d) => !corrupt.includes(d));
  return {
    remote: second.remote,
    objects: second.objects,
    transferred,
    bytes: first.bytes + second.bytes,
    alreadyPresent: second.objects - transferred - missing.length - corrupt.length,
    packsRead: first.packsRead + second.packsRead,
    missingOnRemote: missing,
    corruptOnRemote: corrupt,
    badPacks: [...bad.values()],
  };
}
