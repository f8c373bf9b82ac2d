/**
 * `slipway.lock`: what each stage last ran on (command, dep digests, param values) and produced
 * (out digests), committed to git beside `slipway.yaml`. Each stage's entry is written as soon as
 * the stage finishes, by read-modify-write under a short-lived lock and a temp file renamed over
 * the old one, so parallel stages and concurrent processes never lose each other's entries and a
 * reader never sees half a file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SlipwayError } from '../core/errors.js';
import { PIPELINE_LOCK_HEADER, WORKSPACE_DIR } from '../data/data-types.js';
import { waitLock } from './pid-lock.js';
import type { LockedPath, StageLock } from './pipeline-types.js';
import { YamlLocator } from '../core/yaml-locator.js';

/** The lock file's name, beside slipway.yaml. */
export const LOCK_FILE = 'slipway.lock';
/** The lock file's format version. */
export const LOCK_SCHEMA = 1;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lockedPaths(raw: unknown, at: string[], loc: YamlLocator): LockedPath[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw loc.error(at, 'must be a list of { path, sha256, size, kind }.');
  return raw.map((p, i) => {
    if (!isRecord(p) || typeof p.path !== 'string' || typeof p.sha256 !== 'string' || (p.kind !== 'file' && p.kind !== 'folder')) throw loc.error([...at, i], 'must be { path, sha256, size, kind: file|folder }.');
    return { path: p.path, sha256: p.sha256, size: Number(p.size ?? 0), kind: p.kind, ...(typeof p.files === 'number' ? { files: p.files } : {}) };
  });
}

/** Parses the lock file's text; INVALID_ARGUMENT `slipway.lock:LINE:COL: …` when it is not one. */
export function parseLockFile(text: string, file = LOCK_FILE): Record<string, StageLock> {
  const { locator: loc, value } = YamlLocator.parse(text, file);
  if (value === null || value === undefined) return {};
  if (!isRecord(value) || (value.stages !== undefined && value.stages !== null && !isRecord(value.stages))) throw loc.error(['stages'], `is not a stage lock file; delete ${file} to run every stage again.`);
  if (value.schema !== undefined && value.schema !== LOCK_SCHEMA) throw loc.error(['schema'], `schema ${String(value.schema)} is not one this version reads (${LOCK_SCHEMA}).`);
  const out: Record<string, StageLock> = {};
  for (const [name, raw] of Object.entries((value.stages ?? {}) as Record<string, unknown>)) {
    const at = ['stages', name];
    if (!isRecord(raw) || typeof raw.cmd !== 'string') throw loc.error(at, 'must be a stage entry with cmd, deps, params and outs.');
    const params: Record<string, Record<string, unknown>> = {};
    if (raw.params !== undefined && raw.params !== null) {
      if (!isRecord(raw.params)) throw loc.error([...at, 'params'], 'must map params files to their values.');
      for (const [file, values] of Object.entries(raw.params)) {
        if (!isRecord(values)) throw loc.error([...at, 'params', file], 'must map param keys to values.');
        params[file] = values;
      }
    }
    out[name] = {
      cmd: raw.cmd,
      deps: lockedPaths(raw.deps, [...at, 'deps'], loc),
      params,
      outs: lockedPaths(raw.outs, [...at, 'outs'], loc),
      ...(typeof raw.runId === 'string' ? { runId: raw.runId } : {}),
    };
  }
  return out;
}

// The lock file parsed, keyed by the digest of its text: YAML parsing costs more than the rest of a no-change repro's checks.
function parsedCopyOf(root: string, file: string): string {
  return join(root, WORKSPACE_DIR, 'runs', `${file.replace(/[^A-Za-z0-9_.-]/g, '_')}.parsed.json`);
}

/** The lock file of a pipeline file: `slipway.yaml` → `slipway.lock`, `train.yaml` → `train.lock` (beside it). */
export function lockFileFor(pipelineFile: string): string {
  return `${pipelineFile.replace(/\.ya?ml$/i, '')}.lock`;
}

function digestOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

async function rememberParsed(root: string, file: string, text: string, entries: Record<string, StageLock>): Promise<void> {
  try {
    await mkdir(join(root, WORKSPACE_DIR, 'runs'), { recursive: true });
    await writeAtomic(parsedCopyOf(root, file), JSON.stringify({ sha256: digestOf(text), entries }), false);
  } catch {
    // Only a shortcut: the next read parses the YAML again.
  }
}

/** Reads `<root>/slipway.lock` (or `file`); an absent file has no entries. */
export async function readLockFile(root: string, file = LOCK_FILE): Promise<Record<string, StageLock>> {
  let text: string;
  try {
    text = await readFile(join(root, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const copy = await readFile(parsedCopyOf(root, file), 'utf8')
    .then((t) => JSON.parse(t) as { sha256?: string; entries?: Record<string, StageLock> } | null)
    .catch(() => undefined);
  if (copy?.sha256 === digestOf(text) && isRecord(copy.entries)) return copy.entries;
  const entries = parseLockFile(text, file);
  await rememberParsed(root, file, text, entries);
  return entries;
}

function entryForFile(lock: StageLock): Record<string, unknown> {
  const paths = (list: LockedPath[]) => list.map((p) => ({ path: p.path, kind: p.kind, sha256: p.sha256, size: p.size, ...(p.files !== undefined ? { files: p.files } : {}) }));
  return {
    cmd: lock.cmd,
    ...(lock.deps.length > 0 ? { deps: paths(lock.deps) } : {}),
    ...(Object.keys(lock.params).length > 0 ? { params: lock.params } : {}),
    ...(lock.outs.length > 0 ? { outs: paths(lock.outs) } : {}),
    ...(lock.runId !== undefined ? { runId: lock.runId } : {}),
  };
}

/** The lock file's text for `entries` (stages sorted by name, so diffs stay small). */
export function formatLockFile(entries: Record<string, StageLock>): string {
  const stages: Record<string, unknown> = {};
  for (const name of Object.keys(entries).sort()) stages[name] = entryForFile(entries[name] as StageLock);
  return `${PIPELINE_LOCK_HEADER}\n${stringify({ schema: LOCK_SCHEMA, stages }, { lineWidth: 0 })}`;
}

/** Writes `text` to `path` atomically: a synced temp file beside it, renamed over it. */
async function writeAtomic(path: string, text: string, sync = true): Promise<void> {
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(text);
      if (sync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/**
 * Sets (or with `undefined` removes) the entries of `changes` in `<root>/slipway.lock` (or `file`), keeping
 * every other entry as the file holds it now. `keep`, when given, drops entries of stages no longer
 * in the pipeline.
 */
export async function updateLockFile(root: string, changes: Record<string, StageLock | undefined>, keep?: ReadonlySet<string>, file = LOCK_FILE): Promise<void> {
  const mutex = join(root, WORKSPACE_DIR, 'locks', `${file.replace(/[^A-Za-z0-9_.-]/g, '_')}.lock`);
  const held = await waitLock(mutex, 30_000);
  if (!('release' in held)) {
    throw new SlipwayError('CONFLICT', `${file} is being written by another process (pid ${held.holder.pid} on ${held.holder.host}, since ${held.holder.since}); if none is running, delete ${mutex}.`, { path: mutex });
  }
  try {
    const entries = await readLockFile(root, file);
    for (const [name, lock] of Object.entries(changes)) {
      if (lock) entries[name] = lock;
      else delete entries[name];
    }
    if (keep) for (const name of Object.keys(entries)) if (!keep.has(name)) delete entries[name];
    const text = formatLockFile(entries);
    await writeAtomic(join(root, file), text);
    await rememberParsed(root, file, text, entries);
  } finally {
    await held.release();
  }
}
