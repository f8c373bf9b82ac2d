/**
 * Which local files may be read as models: files under the artifact store's root or
 * an allow-listed folder, plus single files an operator named on the command line.
 * Symbolic links are resolved before the check, so a link planted in an allowed
 * folder cannot lead a load (or a signature read) elsewhere on the machine.
 */
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import type { ArtifactStore } from './artifact-store.js';
import { LocalArtifactStore } from './local-artifact-store.js';

/** Where model files may come from. */
export interface ModelFileAllowListInit {
  /** Folders whose files (at any depth) may be loaded: the artifact root and the allow-listed folders. */
  dirs: string[];
  /** Single files that may be loaded wherever they are (a file given on the command line by the operator). */
  files?: string[];
}

const RULE =
  'serving reads model files only inside the artifact store or a folder allowed by --model-source-allowed-dirs (SLIPWAY_MODEL_SOURCE_ALLOWED_DIRS, server.modelSourceAllowedDirs), which includes a local --default-artifact-root folder';

function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

async function realOrResolved(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

/** The allow-list of local model files. */
export class ModelFileAllowList {
  readonly #dirs: string[];
  readonly #files: string[];

  constructor(init: ModelFileAllowListInit) {
    this.#dirs = init.dirs.map((d) => resolve(d));
    this.#files = (init.files ?? []).map((f) => resolve(f));
  }

  // Looked up at every check (loads are rare): a root may be created, or relinked, after start.
  async #roots(): Promise<{ dirs: string[]; files: string[] }> {
    return { dirs: await Promise.all(this.#dirs.map(realOrResolved)), files: await Promise.all(this.#files.map(realOrResolved)) };
  }

  /**
   * The real path of `path` when it may be loaded; throws MODEL_SOURCE_NOT_ALLOWED otherwise. A path
   * outside every root is refused before the file system is touched, so the answer says nothing
   * about whether it exists.
   */
  async check(path: string): Promise<string> {
    const given = resolve(path);
    const roots = await this.#roots();
    const lexical = [...this.#dirs, ...roots.dirs].some((d) => inside(given, d)) || [...this.#files, ...roots.files].includes(given);
    if (!lexical) throw new SlipwayError('MODEL_SOURCE_NOT_ALLOWED', `Model file '${path}' is not allowed: ${RULE}.`, { path });
    let real: string;
    try {
      real = await realpath(given);
    } catch {
      // Nothing there to read: the loader names the problem (file not found) in its usual words.
      return given;
    }
    if (!roots.dirs.some((d) => inside(real, d)) && !roots.files.includes(real)) {
      throw new SlipwayError('MODEL_SOURCE_NOT_ALLOWED', `Model file '${path}' is not allowed: it resolves through a symbolic link to a file outside the allowed folders; ${RULE}.`, { path });
    }
    return real;
  }

  /** True when `path` may be loaded (see `check`). */
  async allows(path: string): Promise<boolean> {
    return this.check(path).then(
      () => true,
      () => false,
    );
  }
}

/** The allow-list for a store and the operator's extra folders: the store's root (when it is local) and `allowedDirs`. */
export function modelFileAllowList(artifacts: ArtifactStore | undefined, allowedDirs: readonly string[] = [], files: readonly string[] = []): ModelFileAllowList {
  const local = artifacts instanceof LocalArtifactStore ? artifacts.root : artifacts?.localRoot;
  const dirs = [...(local !== undefined ? [local] : []), ...allowedDirs];
  return new ModelFileAllowList({ dirs, files: [...files] });
}
