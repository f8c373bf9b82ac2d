/**
 * Pointer files: `PATH.slipway`, a small YAML file committed to git in place of the data it names
 * (its digest, kind, size and file count). Read and written here, listed across a workspace, and
 * read at any git revision (through `git ls-tree` and `git cat-file`, run without a shell).
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { SlipwayError } from '../core/errors.js';
import { DATA_FORMAT_VERSION, POINTER_SUFFIX, WORKSPACE_DIR, type Pointer } from './data-types.js';

/** The comment line that opens every pointer file. */
export const POINTER_HEADER = '# Slipway data pointer: commit this file; the data it names lives in the cache (.slipway/) and on remotes.';

/** Folders never searched for pointers. */
const SKIPPED = new Set(['.git', WORKSPACE_DIR, 'node_modules']);
const SHA256 = /^[0-9a-f]{64}$/;
const KEYS = new Set(['format', 'path', 'kind', 'sha256', 'size', 'files', 'dataset']);

/** The pointer file that tracks `path` (both relative to the root, '/'-separated). */
export function pointerPathFor(path: string): string {
  return `${path}${POINTER_SUFFIX}`;
}

/** The tracked path (relative to the root) of a pointer at `pointerRel` holding `pointer`. */
export function trackedPathOf(pointerRel: string, pointer: Pointer): string {
  const dir = posix.dirname(pointerRel);
  return dir === '.' ? pointer.path : `${dir}/${pointer.path}`;
}

/** Checks a parsed pointer's shape; `where` names the file in messages. */
export function validatePointer(raw: unknown, where: string): Pointer {
  const bad = (problem: string) => new SlipwayError('INVALID_ARGUMENT', `${where}: not a valid pointer file: ${problem}.`, { path: where });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('expected a mapping with format, path, kind, sha256, size and files');
  const p = raw as Record<string, unknown>;
  for (const k of Object.keys(p)) if (!KEYS.has(k)) throw bad(`unknown key '${k}'`);
  if (p.format !== DATA_FORMAT_VERSION) throw bad(`format must be ${DATA_FORMAT_VERSION} (found ${JSON.stringify(p.format)}); a newer Slipway may have written it`);
  if (typeof p.path !== 'string' || p.path === '' || p.path.includes('\0')) throw bad('path must be the name of the tracked file or folder');
  // The tracked path lives beside its pointer or below it, never elsewhere.
  const norm = posix.normalize(p.path);
  if (norm !== p.path.replace(/\/+$/, '') || norm.startsWith('../') || norm === '..' || norm === '.' || posix.isAbsolute(norm) || norm.includes('\\')) {
    throw bad(`path '${p.path}' leaves the pointer's folder; it must name a file or folder beside the pointer`);
  }
  // git's own folder (its config and hooks run commands) and Slipway's are never data: a checkout there would let a
  // committed pointer plant code or overwrite the cache. Case-blind, as file systems on macOS and Windows are.
  const own = norm.split('/').find((part) => part.toLowerCase() === '.git' || part.toLowerCase() === WORKSPACE_DIR);
  if (own !== undefined) throw bad(`path '${p.path}' is inside ${own}/, which Slipway never writes data into`);
  if (p.kind !== 'file' && p.kind !== 'folder') throw bad("kind must be 'file' or 'folder'");
  if (typeof p.sha256 !== 'string' || !SHA256.test(p.sha256)) throw bad('sha256 must be 64 lowercase hex digits');
  if (typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size < 0) throw bad('size must be a whole number of bytes');
  if (typeof p.files !== 'number' || !Number.isSafeInteger(p.files) || p.files < 0) throw bad('files must be a whole number');
  if (p.dataset !== undefined && typeof p.dataset !== 'string') throw bad('dataset must be NAME@VERSION');
  return { format: p.format, path: norm, kind: p.kind, sha256: p.sha256, size: p.size, files: p.files, ...(p.dataset !== undefined ? { dataset: p.dataset as string } : {}) };
}

/** Parses pointer file text; `where` names it in messages. */
export function parsePointer(text: string, where: string): Pointer {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `${where}: not a valid pointer file: ${(err as Error).message.split('\n')[0]}.`, { path: where });
  }
  return validatePointer(raw, where);
}

/** Reads and validates the pointer file at `abs` (`where` names it in messages). */
export function readPointerFile(abs: string, where = abs): Pointer {
  return parsePointer(readFileSync(abs, 'utf8'), where);
}

/** The text of a pointer file. */
export function formatPointer(pointer: Pointer): string {
  const body: Record<string, unknown> = { format: pointer.format, path: pointer.path, kind: pointer.kind, sha256: pointer.sha256, size: pointer.size, files: pointer.files };
  if (pointer.dataset !== undefined) body.dataset = pointer.dataset;
  return `${POINTER_HEADER}\n${stringifyYaml(body)}`;
}

/** Writes a pointer file atomically (temp file beside it, then rename). */
export async function writePointerFile(abs: string, pointer: Pointer): Promise<void> {
  validatePointer(pointer, abs);
  const temp = join(dirname(abs), `.${basename(abs)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, formatPointer(pointer), { flag: 'wx' });
    await rename(temp, abs);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

/** A pointer found in the workspace or at a revision. */
export interface FoundPointer {
  /** The pointer file, relative to the workspace root. */
  pointer: string;
  /** The tracked path, relative to the workspace root. */
  path: string;
  content: Pointer;
}

/**
 * Every pointer file in the workspace (skipping .git, .slipway and node_modules, never following
 * links), sorted by path. An invalid pointer file fails with INVALID_ARGUMENT naming it.
 */
export function listPointers(root: string): FoundPointer[] {
  const out: FoundPointer[] = [];
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop() as string;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(rel === '' ? root : join(root, rel), { withFileTypes: true });
    } catch {
      continue;
    }
    // A tracked folder holds no pointers (add refuses that): its files need no listing.
    const tracked = new Set(entries.filter((e) => e.name.endsWith(POINTER_SUFFIX)).map((e) => e.name.slice(0, -POINTER_SUFFIX.length)));
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!SKIPPED.has(e.name) && !tracked.has(e.name)) stack.push(r);
      } else if (e.isFile() && e.name.endsWith(POINTER_SUFFIX) && e.name.length > POINTER_SUFFIX.length) {
        const content = readPointerFile(join(root, r), r);
        out.push({ pointer: r, path: trackedPathOf(r, content), content });
      }
    }
  }
  return out.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}

/** Runs git in `cwd` (no shell); stdout as a Buffer, or INVALID_ARGUMENT / INVALID_STATE with git's message. */
export function git(cwd: string, args: string[], input?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (input === undefined) {
      execFile('git', args, { cwd, encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(gitError(args, err, stderr.toString('utf8')));
        else resolve(stdout);
      });
      return;
    }
    const child = spawn('git', args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => errOut.push(c));
    child.on('error', (err) => reject(gitError(args, err, '')));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(gitError(args, Object.assign(new Error(`exit ${code}`), { code }), Buffer.concat(errOut).toString('utf8')));
    });
    child.stdin.end(input);
  });
}

function gitError(args: string[], err: Error & { code?: unknown }, stderr: string): SlipwayError {
  if (err.code === 'ENOENT') return new SlipwayError('INVALID_STATE', 'git is not installed or not on PATH; reading pointers at a revision needs it.');
  const line = stderr.trim().split('\n')[0] ?? '';
  if (/not a git repository/i.test(line)) return new SlipwayError('INVALID_STATE', 'The workspace is not inside a git repository; revisions need one.');
  return new SlipwayError('INVALID_ARGUMENT', `git ${args[0]} failed: ${line || err.message}`);
}

/** The commit a revision names, or INVALID_ARGUMENT naming the revision when git does not know it. */
export async function resolveRevision(root: string, rev: string): Promise<string> {
  if (rev.startsWith('-') || rev.trim() === '') throw new SlipwayError('INVALID_ARGUMENT', `'${rev}' is not a git revision.`);
  try {
    return (await git(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`])).toString('utf8').trim();
  } catch (err) {
    if (err instanceof SlipwayError && err.code === 'INVALID_STATE') throw err;
    throw new SlipwayError('INVALID_ARGUMENT', `'${rev}' is not a revision of this git repository.`, { rev });
  }
}

/**
 * The pointers committed at git revision `rev` below the workspace root (which may be a sub-folder
 * of the repository), read with one `git ls-tree` and one `git cat-file --batch`.
 */
export async function listPointersAtRevision(root: string, rev: string): Promise<FoundPointer[]> {
  const commit = await resolveRevision(root, rev);
  const prefix = (await git(root, ['rev-parse', '--show-prefix'])).toString('utf8').trim();
  // ls-tree run in the root lists only what is below it, with paths relative to it.
  const names = (await git(root, ['ls-tree', '-r', '-z', '--name-only', commit])).toString('utf8').split('\0');
  const pointers = names.filter((n) => n.endsWith(POINTER_SUFFIX) && basename(n).length > POINTER_SUFFIX.length && !n.split('/').some((part) => SKIPPED.has(part)));
  if (pointers.length === 0) return [];
  const batch = await git(root, ['cat-file', '--batch'], pointers.map((p) => `${commit}:${prefix}${p}\n`).join(''));
  const out: FoundPointer[] = [];
  let at = 0;
  for (const p of pointers) {
    const nl = batch.indexOf(10, at);
    const header = batch.subarray(at, nl).toString('utf8').split(' ');
    if (header[1] !== 'blob') throw new SlipwayError('INVALID_STATE', `Cannot read ${p} at ${rev}: git answered '${header.join(' ')}'.`);
    const size = Number(header[2]);
    const text = batch.subarray(nl + 1, nl + 1 + size).toString('utf8');
    at = nl + 1 + size + 1;
    const content = parsePointer(text, `${p} at ${rev}`);
    out.push({ pointer: p, path: trackedPathOf(p, content), content });
  }
  return out.sort((a, b) => (a.pointer < b.pointer ? -1 : a.pointer > b.pointer ? 1 : 0));
}
