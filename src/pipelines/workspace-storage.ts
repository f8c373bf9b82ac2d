/**
 * The engine's storage on a real workspace: digests through data versioning's hasher with the
 * state cache (an unchanged file is never read again), outs stored in and restored from the
 * workspace's object cache.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { hashTree, type TreeDigest } from '../data/hasher.js';
import { ObjectCache, type LinkType } from '../data/object-cache.js';
import { StateCache } from '../data/state-cache.js';
import { initWorkspaceDir, workspaceAt } from '../data/workspace.js';
import type { LockedPath, StageOut } from './pipeline-types.js';
import type { StageStorage } from './stage-storage.js';

// Outs stay private, writable files: a hard link would make a later in-place write change the cached version.
const LINK_TYPES: readonly LinkType[] = ['reflink', 'copy'];

function lockedOf(path: string, t: TreeDigest): LockedPath {
  return t.kind === 'file' ? { path, sha256: t.sha256, size: t.size, kind: 'file' } : { path, sha256: t.sha256, size: t.size, files: t.files, kind: 'folder' };
}

/** Opens the storage of the workspace at `root` (creating `.slipway/` where missing). */
export function openWorkspaceStorage(root: string, opts: { jobs?: number } = {}): StageStorage {
  const ws = workspaceAt(root);
  initWorkspaceDir(ws);
  const state = new StateCache(ws.stateFile);
  const cache = new ObjectCache(ws.cacheDir, ws.tmpDir);
  const hashOpts = { state, ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}) };
  return {
    async hash(path) {
      const t = await hashTree(root, path, hashOpts);
      return t ? lockedOf(path, t) : undefined;
    },
    async save(out: StageOut) {
      const t = await hashTree(root, out.path, hashOpts);
      if (!t) throw new SlipwayError('NOT_FOUND', `${out.path} does not exist.`, { path: out.path });
      if (out.cache) {
        if (t.kind === 'file') await cache.insertFromWorkspace(join(root, out.path), t.sha256, LINK_TYPES, { size: t.size, ino: t.file.ino, mtimeNs: t.file.mtimeNs });
        else {
          for (const f of t.entries) await cache.insertFromWorkspace(join(root, f.path), f.sha256, LINK_TYPES, { size: f.size, ino: f.ino, mtimeNs: f.mtimeNs });
          await cache.putBytes(t.sha256, t.manifestBytes);
        }
      }
      return lockedOf(out.path, t);
    },
    async restorable(locked) {
      if (!(await cache.has(locked.sha256))) return false;
      if (locked.kind === 'file') return true;
      const manifest = await cache.readManifest(locked.sha256).catch(() => undefined);
      if (!manifest) return false;
      for (const f of manifest.files) if (!(await cache.has(f.sha256))) return false;
      return true;
    },
    async restore(locked) {
      const dest = join(root, locked.path);
      if (locked.kind === 'file') {
        await rm(dest, { recursive: true, force: true });
        await cache.place(locked.sha256, dest, LINK_TYPES);
        return;
      }
      const manifest = await cache.readManifest(locked.sha256);
      await rm(dest, { recursive: true, force: true });
      for (const f of manifest.files) await cache.place(f.sha256, join(dest, f.path), LINK_TYPES, { executable: f.executable === true });
    },
    close() {
      state.close();
    },
  };
}
