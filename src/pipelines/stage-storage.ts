/** What the pipeline engine needs of data versioning: digests of paths, and outs stored and restored. */
import type { LockedPath, StageOut } from './pipeline-types.js';

/**
 * Hashing and the object cache, as the engine sees them. Paths are relative to the workspace root.
 * The workspace implementation (workspace-storage.ts) hashes through the state cache and stores outs
 * in the object cache; tests may stand in another.
 */
export interface StageStorage {
  /** The digest of a file or folder now; undefined when it does not exist. */
  hash(path: string): Promise<LockedPath | undefined>;
  /** Hashes an out the stage just wrote and, when `out.cache`, stores it in the object cache. */
  save(out: StageOut): Promise<LockedPath>;
  /** True when every object needed to restore `locked` is in the object cache. */
  restorable(locked: LockedPath): Promise<boolean>;
  /** Replaces whatever is at `locked.path` with the version the object cache holds. */
  restore(locked: LockedPath): Promise<void>;
  /** Releases what the storage holds open (the state cache). */
  close(): void;
}
