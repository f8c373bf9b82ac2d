/**
 * What a stage run's tracking record is made of, read from the workspace: params values and
 * metrics files flattened to dotted keys, the `pipeline:` settings of `slipway.yaml`, and the git
 * revision the stage ran at.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { SlipwayError } from '../core/errors.js';
import { YamlLocator } from '../core/yaml-locator.js';
import { WORKSPACE_DIR } from '../data/data-types.js';
import { git as runGit } from '../data/pointer-file.js';

/** The experiment stage runs are recorded in when `slipway.yaml` names none. */
export const DEFAULT_PIPELINE_EXPERIMENT = 'pipeline';
/** The pipeline's lock file, which records results rather than inputs. */
export const LOCK_FILE = 'slipway.lock';
/** The largest metrics file read (a metrics file is a handful of numbers). */
export const MAX_METRICS_FILE_BYTES = 4 * 1024 * 1024;

/** The `pipeline:` settings of `slipway.yaml` that tracking reads. */
export interface PipelineSettings {
  /** The experiment stage runs are recorded in. */
  experiment: string;
}

/**
 * Reads the `pipeline:` mapping of a config file's text (`experiment: NAME`); absent keys take
 * their defaults. `file` names the config in messages.
 */
export function parsePipelineSettings(text: string, file: string): PipelineSettings {
  const { locator, value: root } = YamlLocator.parse(text, file);
  if (root === null || typeof root !== 'object' || Array.isArray(root)) return { experiment: DEFAULT_PIPELINE_EXPERIMENT };
  const section = (root as Record<string, unknown>).pipeline;
  if (section === undefined || section === null) return { experiment: DEFAULT_PIPELINE_EXPERIMENT };
  if (typeof section !== 'object' || Array.isArray(section)) throw locator.error(['pipeline'], "must be a mapping such as 'pipeline: { experiment: training }'.");
  const settings = section as Record<string, unknown>;
  const known = new Set(['experiment']);
  for (const k of Object.keys(settings)) if (!known.has(k)) throw locator.error(['pipeline', k], `unknown key '${k}'; use ${[...known].join(', ')}.`);
  const experiment = settings.experiment;
  if (experiment === undefined || experiment === null) return { experiment: DEFAULT_PIPELINE_EXPERIMENT };
  if (typeof experiment !== 'string' || experiment.trim() === '') throw locator.error(['pipeline', 'experiment'], 'must be a non-empty experiment name.');
  return { experiment: experiment.trim() };
}

/** Reads the `pipeline:` settings of `root/file`; defaults when the file does not exist. */
export async function readPipelineSettings(root: string, file = 'slipway.yaml'): Promise<PipelineSettings> {
  let text: string;
  try {
    text = await readFile(join(root, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { experiment: DEFAULT_PIPELINE_EXPERIMENT };
    throw new SlipwayError('DATA_ERROR', `Cannot read ${file}: ${(err as Error).message}`, { file });
  }
  return parsePipelineSettings(text, file);
}

// Tracking keys allow only these characters; anything else in a YAML key becomes '_'.
const UNSAFE_KEY_CHARS = /[^A-Za-z0-9_\-. /]/g;

/** A key usable as a metric, param or tag name (at most 250 characters). */
export function safeKey(key: string): string {
  return key.replace(UNSAFE_KEY_CHARS, '_').slice(0, 250);
}

/** Flattens nested mappings to dotted keys (`{train: {lr: 0.1}}` → `train.lr`); lists and scalars are leaves. */
export function flattenValues(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix !== '') out[prefix] = {};
    for (const [k, v] of entries) flattenValues(v, prefix === '' ? k : `${prefix}.${k}`, out);
    return out;
  }
  if (prefix !== '') out[prefix] = value;
  return out;
}

/** A param value as text: strings as written, everything else as JSON. */
export function paramText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? 'null';
}

/** Parses a metrics file's text (JSON or YAML) to its numeric leaves by dotted key; other leaves are left out. */
export function parseMetrics(text: string, file: string): Record<string, number> {
  let data: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    const doc = parseDocument(text, { prettyErrors: false });
    if (doc.errors.length > 0) throw new Error(doc.errors[0]?.message.split('\n')[0] ?? 'parse error');
    data = doc.toJSON();
  } catch (err) {
    throw new SlipwayError('DATA_ERROR', `Metrics file ${file} is neither JSON nor YAML: ${(err as Error).message}`, { file });
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new SlipwayError('DATA_ERROR', `Metrics file ${file} must hold a mapping of names to numbers.`, { file });
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(flattenValues(data))) {
    if (typeof value === 'number') out[key] = value;
  }
  return out;
}

/**
 * The real path of `root/path` when it is a file inside the workspace (symlinks followed, but
 * never out of the root); undefined when it does not exist. Refuses paths that escape.
 */
export async function workspaceFile(root: string, path: string): Promise<string | undefined> {
  const full = join(root, path);
  let real: string;
  try {
    real = await realpath(full);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') throw new SlipwayError('PATH_NOT_ALLOWED', `${path} is a symlink loop.`, { path });
    throw err;
  }
  const realRoot = await realpath(root);
  const rel = relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new SlipwayError('PATH_NOT_ALLOWED', `${path} leads outside the workspace (${real}).`, { path });
  if (rel.split(sep)[0] === WORKSPACE_DIR) throw new SlipwayError('PATH_NOT_ALLOWED', `${path} leads into Slipway's own folder.`, { path });
  return real;
}

/** Reads the metrics of a metrics file in the workspace; undefined when the file does not exist. */
export async function readMetricsFile(root: string, path: string): Promise<Record<string, number> | undefined> {
  const file = await workspaceFile(root, path);
  if (file === undefined) return undefined;
  const info = await stat(file);
  if (!info.isFile()) throw new SlipwayError('DATA_ERROR', `Metrics file ${path} is not a file.`, { path });
  if (info.size > MAX_METRICS_FILE_BYTES) throw new SlipwayError('DATA_ERROR', `Metrics file ${path} is ${info.size} bytes; a metrics file holds at most ${MAX_METRICS_FILE_BYTES}.`, { path });
  return parseMetrics(await readFile(file, 'utf8'), path);
}

/** Runs git in `cwd` (no shell) and returns its stdout as text; rejects as data versioning's runner does. */
export async function git(cwd: string, args: string[]): Promise<string> {
  return (await runGit(cwd, args)).toString('utf8');
}

/** The git revision a workspace is at. */
export interface GitState {
  /** The commit HEAD names; undefined outside a git repository or before the first commit. */
  commit?: string;
  /** Whether tracked or untracked files differ from HEAD, not counting the lock file and Slipway's folder. */
  dirty?: boolean;
}

/** Reads the commit and dirtiness of the repository holding `root`. */
export async function gitState(root: string): Promise<GitState> {
  let commit: string;
  try {
    commit = (await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD'])).trim();
  } catch {
    return {};
  }
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return {};
  let dirty: boolean | undefined;
  try {
    // The lock file and Slipway's folder record results of the pipeline, not the code it ran. Untracked
    // files are left out (as `git describe --dirty` does): a first run's own outputs are untracked.
    const status = await git(root, ['status', '--porcelain', '-z', '--untracked-files=no', '--', '.', `:(exclude)${LOCK_FILE}`, `:(exclude)${WORKSPACE_DIR}`]);
    dirty = status.length > 0;
  } catch {
    dirty = undefined;
  }
  return { commit, ...(dirty !== undefined ? { dirty } : {}) };
}
