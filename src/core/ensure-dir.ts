/**
 * `mkdir -p` that always ends. Node's recursive mkdir loops forever when a parent
 * exists but refuses new entries with ENOENT, as /proc and similar pseudo file systems
 * do (both the promise and the sync form hang), so a mistyped setting could freeze
 * start-up. This walks up to the deepest existing ancestor and creates each missing
 * folder below it once, so it fails with the system's own error instead.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Creates `path` and any missing parents; throws the errno error of the first step that fails. */
export function ensureDirSync(path: string): void {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      if (statSync(at).isDirectory()) break;
      const err = new Error(`ENOTDIR: not a directory, mkdir '${at}'`) as NodeJS.ErrnoException;
      err.code = at === resolve(path) ? 'EEXIST' : 'ENOTDIR';
      throw err;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir);
    } catch (err) {
      // Created meanwhile by someone else: fine if it is a folder.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(dir).isDirectory()) throw err;
    }
  }
}
