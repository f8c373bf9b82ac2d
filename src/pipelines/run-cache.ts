/**
 * The run cache, `.slipway/runs/<key>.json`: for each (command, dep digests, param values, out
 * paths) a stage ran with successfully, the outs it produced. A stage about to run whose key is
 * there, with every object still in the object cache, gets its outs restored instead of running:
 * switching a param back, or checking out an older params file, costs a checkout, not a rerun.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '../core/canonical-json.js';
import { WORKSPACE_DIR } from '../data/data-types.js';
import type { LockedPath, Stage } from './pipeline-types.js';

/** One run cache record. */
export interface RunCacheEntry {
  key: string;
  stage: string;
  outs: LockedPath[];
  /** When the run finished (ms since the epoch). */
  time: number;
}

/** The run cache key of a stage about to run with these deps and params. */
export function runCacheKey(stage: Stage, deps: readonly LockedPath[], params: Record<string, Record<string, unknown>>): string {
  const outs = [...stage.outs, ...stage.metrics, ...stage.plots].map((o) => o.path).sort();
  const body = canonicalJson({ cmd: stage.cmd, deps: deps.map((d) => ({ path: d.path, sha256: d.sha256 })), params, outs });
  return createHash('sha256').update(body).digest('hex');
}

function fileOf(root: string, key: string): string {
  return join(root, WORKSPACE_DIR, 'runs', `${key}.json`);
}

const DIGEST = /^[0-9a-f]{64}$/;

/**
 * The record for `key`, or undefined when there is none, it is unreadable, or its outs are not
 * exactly `outs` (the stage's out paths) with valid digests — all misses. A restore removes and
 * rewrites each out it names, so a record naming any other path (`../elsewhere`) is never used.
 */
export async function readRunCache(root: string, key: string, outs: readonly string[]): Promise<RunCacheEntry | undefined> {
  let parsed: RunCacheEntry;
  try {
    parsed = JSON.parse(await readFile(fileOf(root, key), 'utf8')) as RunCacheEntry;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.key !== key || !Array.isArray(parsed.outs)) return undefined;
  const expected = new Set(outs);
  const seen = new Set<string>();
  for (const o of parsed.outs as unknown[]) {
    if (typeof o !== 'object' || o === null) return undefined;
    const { path, sha256, kind } = o as Partial<LockedPath>;
    if (typeof path !== 'string' || !expected.has(path) || seen.has(path)) return undefined;
    if (typeof sha256 !== 'string' || !DIGEST.test(sha256) || (kind !== 'file' && kind !== 'folder')) return undefined;
    seen.add(path);
  }
  return seen.size === expected.size ? parsed : undefined;
}

/** Stores a record (temp file + rename, so a reader never sees half of one). */
export async function writeRunCache(root: string, entry: RunCacheEntry): Promise<void> {
  const target = fileOf(root, entry.key);
  await mkdir(join(root, WORKSPACE_DIR, 'runs'), { recursive: true });
  const temp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(entry, null, 2)}\n`, { flag: 'wx' });
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}
