/**
 * The shapes shared by data versioning (`src/data/`), its remotes, the dataset registry and the
 * pipelines: pointer files, folder manifests, the object cache's layout and what hashing returns.
 *
 * Workspace layout (the workspace root is the folder holding `slipway.yaml`, or else `.slipway/`,
 * found by walking up from the current folder; else the current folder):
 *
 *   <root>/.slipway/cache/objects/ab/<62 hex>   immutable objects named by their sha256, read-only
 *                                               (the artifact store's `objects/` layout)
 *   <root>/.slipway/state.db                    the state cache: inode, size and mtime -> sha256
 *   <root>/.slipway/tmp/                        files in flight (temp file, fsync, rename)
 *   <root>/.slipway/locks/                      stage and workspace locks
 *   <root>/.slipway/runs/                       the pipeline run cache
 *   <root>/.slipway/.gitignore                  keeps all of the above out of git
 *   <root>/PATH.slipway                         a pointer file, committed to git
 */

/** The name of the workspace's own folder. */
export const WORKSPACE_DIR = '.slipway';
/** The suffix of a pointer file: `data/train.csv` is tracked by `data/train.csv.slipway`. */
export const POINTER_SUFFIX = '.slipway';
/** The first line of every pipeline lock file (`slipway.lock`), so gc can tell them from other tools' `*.lock` files. */
export const PIPELINE_LOCK_HEADER = '# Written by slipway repro: what each stage last ran on and produced. Commit it with slipway.yaml.';
/** The format version written into pointer files and manifests. */
export const DATA_FORMAT_VERSION = 1;

/** One file of a folder version (paths are relative to the folder, '/'-separated, sorted by code unit). */
export interface ManifestEntry {
  path: string;
  sha256: string;
  size: number;
  /** True when the file was executable when added, so checkout restores the bit. */
  executable?: boolean;
}

/**
 * A folder version: stored in the object cache as canonical JSON `{"format":1,"files":[...]}` (see
 * `canonicalJson`), so its sha256 is the folder's digest.
 */
export interface Manifest {
  format: number;
  files: ManifestEntry[];
}

/**
 * The content of `PATH.slipway` (YAML, human-readable, committed to git). `path` is relative to the
 * pointer's own folder and never leaves it. A file has `sha256` = the file's digest; a folder has
 * `sha256` = its manifest's digest, `kind: folder`, and the totals.
 */
export interface Pointer {
  format: number;
  path: string;
  kind: 'file' | 'folder';
  sha256: string;
  /** Bytes of the file, or of all files of the folder. */
  size: number;
  /** Files in the folder (1 for a file). */
  files: number;
  /** A registered dataset version this content was registered as, when it was (`NAME@VERSION`). */
  dataset?: string;
}

/** A tracked path's digest as hashing found it now. */
export interface HashedFile {
  /** Path relative to the workspace root, '/'-separated. */
  path: string;
  sha256: string;
  size: number;
  executable: boolean;
  /** True when the state cache answered without reading the file. */
  fromState: boolean;
}

/** What `status` reports for one pointer. */
export interface PointerStatus {
  /** The pointer file, relative to the workspace root. */
  pointer: string;
  /** The tracked path, relative to the workspace root. */
  path: string;
  state: 'unchanged' | 'modified' | 'missing' | 'not-in-cache';
  /** For folders: files added, modified and deleted against the pointer's manifest (relative to the folder). */
  added: string[];
  modified: string[];
  deleted: string[];
}

/** The cache's view other parts use: where an object lives, whether it is present, and adding one. */
export interface ObjectCacheView {
  /** Absolute path of the object folder's root (`<root>/.slipway/cache`). */
  readonly root: string;
  /** Absolute path where the object `sha256` lives (present or not): `<root>/objects/ab/<62 hex>`. */
  pathOf(sha256: string): string;
  /** True when the object is present (no hash check). */
  has(sha256: string): Promise<boolean>;
  /**
   * Stores `bytes` (or the file at `file`) as the object `sha256`, verifying the digest while
   * writing; a mismatch throws INTEGRITY_ERROR and stores nothing. Atomic: temp file, fsync, rename.
   */
  putBytes(sha256: string, bytes: Uint8Array): Promise<void>;
  putFile(sha256: string, file: string): Promise<void>;
  /** Reads and parses the manifest object `sha256`; NOT_FOUND when absent, INTEGRITY_ERROR when corrupt. */
  readManifest(sha256: string): Promise<Manifest>;
}

/** Where remotes are configured: the `data:` section of `slipway.yaml`. */
export interface DataConfig {
  /** The remote used when a command names none. */
  remote?: string;
  /** Remotes by name: a folder path (relative to the workspace root), a `file://` URL, or later `s3://`. */
  remotes: Record<string, { url: string }>;
  /** Parallel transfers and hashing workers. @default the number of cores (transfers: 4 per core) */
  jobs?: number;
  /** How add and checkout place files, in order of preference (hardlink is opt-in: see docs/data.md). @default ['reflink', 'copy'] */
  linkTypes?: Array<'reflink' | 'hardlink' | 'copy'>;
}
