/** Paths of deps and outs: '/'-separated, relative to the workspace root, never leaving it. */
import { lstatSync } from 'node:fs';
import { join, posix } from 'node:path';
import { WORKSPACE_DIR } from '../data/data-types.js';

/**
 * Normalizes a path written in `slipway.yaml` (`./data//raw.csv` → `data/raw.csv`), or returns
 * why it cannot be used: absolute, escaping the workspace, the root itself, or Slipway's own folder.
 */
export function normalizeStagePath(raw: string, opts: { allowRoot?: boolean } = {}): { path: string } | { problem: string } {
  const text = raw.trim();
  if (text === '') return { problem: 'must be a non-empty path.' };
  if (text.includes('\0')) return { problem: 'must not contain a NUL character.' };
  if (posix.isAbsolute(text) || /^[A-Za-z]:[\\/]/.test(text) || text.startsWith('\\')) return { problem: `'${raw}' must be relative to the workspace root.` };
  const norm = posix.normalize(text.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) return { problem: `'${raw}' escapes the workspace root.` };
  if (norm === '.' || norm === '') return opts.allowRoot ? { path: '' } : { problem: `'${raw}' is the workspace root itself; name a file or folder inside it.` };
  if (norm === WORKSPACE_DIR || norm.startsWith(`${WORKSPACE_DIR}/`) || norm === '.git' || norm.startsWith('.git/')) return { problem: `'${raw}' is inside ${norm.startsWith('.git') ? 'git' : 'Slipway'}'s own folder.` };
  return { path: norm };
}

/** True when `path` is `folder` itself or inside it (both normalized). */
export function isSameOrInside(path: string, folder: string): boolean {
  return path === folder || path.startsWith(`${folder}/`);
}

/** True when one of the two paths is the other or inside it. */
export function overlaps(a: string, b: string): boolean {
  return isSameOrInside(a, b) || isSameOrInside(b, a);
}

/**
 * The first folder on the way to `path` (from the workspace root, `path` itself excluded) that is a
 * symbolic link, or undefined. Removing or restoring an out under such a link would act outside the
 * workspace.
 */
export function linkedParent(root: string, path: string): string | undefined {
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join('/');
    if (lstatSync(join(root, parent), { throwIfNoEntry: false })?.isSymbolicLink()) return parent;
  }
  return undefined;
}
