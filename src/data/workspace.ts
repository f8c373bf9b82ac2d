/**
 * The data workspace: where it is (the nearest folder with `slipway.yaml` or `.slipway/`), its own
 * folder `.slipway/` (created with a `.gitignore` that keeps the cache and the state out of git),
 * user paths resolved so none leaves the root, and the `data:` section of `slipway.yaml`.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SlipwayError } from '../core/errors.js';
import { YamlLocator, type PathKey } from '../core/yaml-locator.js';
import { WORKSPACE_DIR, type DataConfig } from './data-types.js';

/** The config file that marks a workspace root. */
export const CONFIG_FILE = 'slipway.yaml';

/**
 * What `.slipway/.gitignore` holds: everything but the folder's committed files stays out of git,
 * including the embedded tracking store that `SLIPWAY_HOME` (default `./.slipway`) puts here (its
 * database, artifacts and audit key), which `slipway repro` fills with stage runs.
 */
export const WORKSPACE_GITIGNORE = ['/cache/', '/state.db*', '/tmp/', '/locks/', '/runs/', '/slipway.db*', '/artifacts/', '/audit*'];

/** A located workspace: absolute paths of its root and its own folders. */
export interface Workspace {
  /** The workspace root (real path, links resolved). */
  root: string;
  /** `<root>/.slipway`. */
  dir: string;
  /** `<root>/.slipway/cache` (the object cache). */
  cacheDir: string;
  /** `<root>/.slipway/tmp` (files in flight). */
  tmpDir: string;
  /** `<root>/.slipway/state.db`. */
  stateFile: string;
}

function errnoOf(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
}

/** The nearest ancestor of `cwd` (itself included) holding slipway.yaml or .slipway/, else `cwd`. */
export function findWorkspaceRoot(cwd = process.cwd()): string {
  const start = realpathSync(resolve(cwd));
  for (let at = start; ; ) {
    if (existsSync(join(at, CONFIG_FILE)) || existsSync(join(at, WORKSPACE_DIR))) return at;
    const parent = dirname(at);
    if (parent === at) return start;
    at = parent;
  }
}

/** The workspace's paths for `root` (nothing is created). */
export function workspaceAt(root: string): Workspace {
  const dir = join(root, WORKSPACE_DIR);
  return { root, dir, cacheDir: join(dir, 'cache'), tmpDir: join(dir, 'tmp'), stateFile: join(dir, 'state.db') };
}

/** Finds the workspace around `cwd` (see findWorkspaceRoot). */
export function openWorkspace(cwd = process.cwd()): Workspace {
  return workspaceAt(findWorkspaceRoot(cwd));
}

/** Creates `.slipway/` (with its .gitignore), its cache and tmp folders, where missing. */
export function initWorkspaceDir(ws: Workspace): void {
  const existing = lstatSync(ws.dir, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw new SlipwayError('INVALID_STATE', `${ws.dir} exists but is not a folder; Slipway keeps its cache there.`, { path: ws.dir });
  mkdirSync(ws.dir, { recursive: true });
  const ignore = join(ws.dir, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, `# Slipway's local cache and state: never committed.\n${WORKSPACE_GITIGNORE.join('\n')}\n`);
  for (const d of [ws.cacheDir, ws.tmpDir]) mkdirSync(d, { recursive: true });
}

/** A user path resolved inside the workspace. */
export interface WorkspacePath {
  /** Absolute path. */
  abs: string;
  /** Relative to the root, '/'-separated ('' for the root itself). */
  rel: string;
}

/** `path` relative to the root as '/'-separated text. */
export function relToRoot(ws: Workspace, abs: string): string {
  return relative(ws.root, abs).split(sep).join('/');
}

function escapes(rel: string): boolean {
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

/**
 * Resolves a path the user typed (relative to `cwd`) inside the workspace. Refused with
 * INVALID_ARGUMENT: a path leaving the root (`..`, an absolute path elsewhere, a link whose target
 * leaves it), a link loop, and paths inside `.slipway/` or `.git/`. The path need not exist.
 */
export function resolveWorkspacePath(ws: Workspace, userPath: string, cwd = process.cwd()): WorkspacePath {
  if (userPath.trim() === '' || userPath.includes('\0')) throw new SlipwayError('INVALID_ARGUMENT', `'${userPath}' is not a usable path.`, { path: userPath });
  // The cwd may itself sit behind a link: compare real paths with the (real) root.
  let base: string;
  try {
    base = realpathSync(resolve(cwd));
  } catch {
    base = resolve(cwd);
  }
  const abs = resolve(base, userPath);
  const outside = () => new SlipwayError('INVALID_ARGUMENT', `'${userPath}' is outside the workspace ${ws.root}; Slipway only tracks paths inside it.`, { path: userPath, root: ws.root });
  if (escapes(relative(ws.root, abs))) throw outside();
  // The deepest existing ancestor decides where the path really lands once links are followed.
  let probe = abs;
  for (;;) {
    try {
      const real = realpathSync(probe);
      if (escapes(relative(ws.root, real))) throw new SlipwayError('INVALID_ARGUMENT', `'${userPath}' leads outside the workspace through the symbolic link ${relToRoot(ws, probe) || probe}; Slipway never follows links out of it.`, { path: userPath });
      break;
    } catch (err) {
      if (err instanceof SlipwayError) throw err;
      const code = errnoOf(err);
      if (code === 'ELOOP') throw new SlipwayError('INVALID_ARGUMENT', `'${userPath}' is a symbolic link loop.`, { path: userPath });
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const parent = dirname(probe);
      if (parent === probe) break;
      probe = parent;
    }
  }
  const rel = relToRoot(ws, abs);
  const first = rel.split('/')[0];
  if (first === WORKSPACE_DIR || first === '.git') throw new SlipwayError('INVALID_ARGUMENT', `'${userPath}' is inside ${first}/, which Slipway does not track.`, { path: userPath });
  return { abs, rel };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const DATA_KEYS = new Set(['remote', 'remotes', 'jobs', 'linkTypes']);
const LINK_TYPES = new Set(['reflink', 'hardlink', 'copy']);
const REMOTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses the `data:` section of slipway.yaml's text (`file` names it in messages). Mistakes throw
 * INVALID_ARGUMENT as `FILE:LINE:COL: data.key: problem`.
 */
export function parseDataConfig(text: string, file: string): DataConfig {
  const { locator, value: root } = YamlLocator.parse(text, file);
  const fail = (path: readonly PathKey[], message: string): never => {
    throw locator.error(path, message);
  };
  const config: DataConfig = { remotes: {} };
  if (!isRecord(root) || root.data === undefined || root.data === null) return config;
  const data = root.data;
  if (!isRecord(data)) return fail(['data'], 'must be a mapping (remotes, remote, jobs, linkTypes).');
  for (const k of Object.keys(data)) if (!DATA_KEYS.has(k)) fail(['data', k], `unknown key '${k}'; use ${[...DATA_KEYS].join(', ')}.`);
  if (data.remotes !== undefined && data.remotes !== null) {
    if (!isRecord(data.remotes)) fail(['data', 'remotes'], 'must be a mapping of remote names to { url: … }.');
    for (const [name, body] of Object.entries(data.remotes as Record<string, unknown>)) {
      const at = ['data', 'remotes', name];
      if (!REMOTE_NAME.test(name)) fail(at, 'a remote name uses letters, digits, ".", "_" and "-" only.');
      const url = typeof body === 'string' ? body : isRecord(body) ? body.url : undefined;
      if (isRecord(body)) for (const k of Object.keys(body)) if (k !== 'url') fail([...at, k], `unknown key '${k}'; a remote has only url.`);
      if (typeof url !== 'string' || url.trim() === '') fail(isRecord(body) ? [...at, 'url'] : at, 'must give the remote\'s url: a folder path, a file:// URL or an s3:// URL.');
      config.remotes[name] = { url: url as string };
    }
  }
  if (data.remote !== undefined) {
    if (typeof data.remote !== 'string' || !(data.remote in config.remotes)) {
      fail(['data', 'remote'], `must name one of the remotes under data.remotes (${Object.keys(config.remotes).join(', ') || 'none defined'}).`);
    }
    config.remote = data.remote as string;
  }
  if (data.jobs !== undefined) {
    if (typeof data.jobs !== 'number' || !Number.isInteger(data.jobs) || data.jobs < 1 || data.jobs > 1024) fail(['data', 'jobs'], 'must be a whole number from 1 to 1024.');
    config.jobs = data.jobs as number;
  }
  if (data.linkTypes !== undefined) {
    const list = typeof data.linkTypes === 'string' ? data.linkTypes.split(',').map((s) => s.trim()) : data.linkTypes;
    if (!Array.isArray(list) || list.length === 0) return fail(['data', 'linkTypes'], 'must be a list of reflink, hardlink and copy, in order of preference.');
    list.forEach((t, i) => {
      if (typeof t !== 'string' || !LINK_TYPES.has(t)) fail(Array.isArray(data.linkTypes) ? ['data', 'linkTypes', i] : ['data', 'linkTypes'], `'${String(t)}' is not a link type; use reflink, hardlink or copy.`);
    });
    config.linkTypes = list as DataConfig['linkTypes'];
  }
  return config;
}

/** Reads the `data:` section of `<root>/slipway.yaml`; an absent file or section gives no remotes. */
export function readDataConfig(root: string): DataConfig {
  const file = join(root, CONFIG_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { remotes: {} };
    throw err;
  }
  const shown = relative(process.cwd(), file);
  return parseDataConfig(text, shown && !shown.startsWith('..') && !isAbsolute(shown) ? shown : file);
}
