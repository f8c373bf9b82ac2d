/**
 * A pipeline's metrics and params at two points, compared key by key: the workspace, a git
 * revision (files read with `git show REV:path`, a metrics file kept only in the object cache
 * found through that revision's slipway.lock), or a tracking run.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { SlipwayError } from '../core/errors.js';
import { WORKSPACE_DIR } from '../data/data-types.js';
import { DEFAULT_PARAMS_FILE, PIPELINE_FILE, parsePipeline } from './pipeline-config.js';
import { flattenValues, git, parseMetrics, readMetricsFile, workspaceFile, LOCK_FILE, MAX_METRICS_FILE_BYTES } from './pipeline-tracking-values.js';
import type { Pipeline } from './pipeline-types.js';
import { parseLockFile } from './stage-lock-file.js';

/** Where values are read from. */
export type ReportSource = { kind: 'workspace' } | { kind: 'revision'; rev: string; commit: string } | { kind: 'run'; runId: string };

/** Metrics by file, then key. */
export type MetricsByFile = Record<string, Record<string, number>>;
/** Params by file, then dotted key. */
export type ParamsByFile = Record<string, Record<string, unknown>>;

/** The metrics and params of a pipeline at one point, with what could not be read. */
export interface PipelineSnapshot {
  source: ReportSource;
  /** A short label: `workspace`, the revision as given, or the run id. */
  label: string;
  metrics: MetricsByFile;
  params: ParamsByFile;
  /** Files the pipeline names that could not be read there, with why. */
  missing: string[];
  /** The same, split by what they hold, so a comparison of params does not warn about metrics files. */
  missingMetrics: string[];
  missingParams: string[];
}

/** Records a file that could not be read, in `missing` and in the lists of what it holds. */
function note(snap: PipelineSnapshot, kinds: ReadonlyArray<'missingMetrics' | 'missingParams'>, text: string): void {
  snap.missing.push(text);
  for (const k of kinds) snap[k].push(text);
}

/** One compared value. */
export interface DiffRow {
  /** The file (or `run` for a tracking run's values). */
  path: string;
  key: string;
  old: unknown;
  new: unknown;
  /** new - old for numbers; null when either side is missing or not a number. */
  change: number | null;
  /** True when the two sides differ. */
  changed: boolean;
}

/** The path under which a run's values appear. */
export const RUN_PATH = 'run';

function isMissing(err: unknown): boolean {
  const text = (err as Error).message ?? '';
  return /does not exist|exists on disk, but not in|not in '|bad revision|invalid object name|unknown revision|path .* does not exist/i.test(text);
}

/** Resolves a revision to its commit; INVALID_ARGUMENT naming it when git does not know it. */
export async function resolveRevision(root: string, rev: string): Promise<string> {
  if (rev.startsWith('-') || rev.trim() === '' || /[\0\s]/.test(rev)) throw new SlipwayError('INVALID_ARGUMENT', `'${rev}' is not a git revision.`, { rev });
  try {
    return (await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${rev}^{commit}`])).trim();
  } catch (err) {
    // git missing altogether: its own message says so.
    if (err instanceof SlipwayError && err.code === 'INVALID_STATE' && !/not inside a git repository/.test(err.message)) throw err;
    if (err instanceof SlipwayError && err.code === 'INVALID_STATE') throw new SlipwayError('INVALID_ARGUMENT', `${root} is not in a git repository: comparing revisions needs git (or compare runs with --runs).`, { root });
    throw new SlipwayError('INVALID_ARGUMENT', `Unknown git revision '${rev}'.`, { rev });
  }
}

/** A file's text at a commit, or undefined when the commit does not have it. */
export async function fileAtRevision(root: string, commit: string, path: string): Promise<string | undefined> {
  try {
    // `./` makes the path relative to the workspace root, which may sit below the repository's top.
    return await git(root, ['show', `${commit}:./${path}`]);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw new SlipwayError('UNAVAILABLE', `git cannot read ${path} at ${commit.slice(0, 12)}: ${(err as Error).message}`, { path });
  }
}

/** The metrics files and params files a pipeline names (the params file first). */
export function reportFiles(pipeline: Pipeline | undefined): { metrics: string[]; params: string[] } {
  if (!pipeline) return { metrics: [], params: [] };
  const metrics = [...new Set(pipeline.stages.flatMap((s) => s.metrics.map((m) => m.path)))];
  const used = pipeline.stages.flatMap((s) => s.params.map((p) => p.file));
  const params = [...new Set([pipeline.paramsFile, ...used])];
  return { metrics, params };
}

/** Parses a params file's text (YAML or JSON) to its leaves by dotted key. */
export function parseParams(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) throw new SlipwayError('DATA_ERROR', `Params file ${file} is neither YAML nor JSON: ${doc.errors[0]?.message.split('\n')[0] ?? 'parse error'}`, { file });
  const data: unknown = doc.toJSON();
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new SlipwayError('DATA_ERROR', `Params file ${file} must hold a mapping of names to values.`, { file });
  return flattenValues(data);
}

/** Reads the pipeline, metrics and params in the workspace. */
export async function workspaceSnapshot(root: string, file = PIPELINE_FILE): Promise<PipelineSnapshot> {
  let pipeline: Pipeline | undefined;
  const configText = await readFile(join(root, file), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (configText !== undefined) pipeline = parsePipeline(configText, root, file);
  const files = reportFiles(pipeline);
  const snap: PipelineSnapshot = { source: { kind: 'workspace' }, label: 'workspace', metrics: {}, params: {}, missing: [], missingMetrics: [], missingParams: [] };
  for (const path of files.metrics) {
    const values = await readMetricsFile(root, path);
    if (values === undefined) note(snap, ['missingMetrics'], `${path} (not in the workspace; run the stage that writes it)`);
    else snap.metrics[path] = values;
  }
  for (const path of files.params) {
    const real = await workspaceFile(root, path);
    if (real === undefined) {
      if (path !== DEFAULT_PARAMS_FILE || pipeline?.stages.some((s) => s.params.length > 0)) note(snap, ['missingParams'], `${path} (not in the workspace)`);
      continue;
    }
    snap.params[path] = parseParams(await readFile(real, 'utf8'), path);
  }
  return snap;
}

/** Reads the pipeline, metrics and params at a git revision. */
export async function revisionSnapshot(root: string, rev: string, file = PIPELINE_FILE): Promise<PipelineSnapshot> {
  const commit = await resolveRevision(root, rev);
  const snap: PipelineSnapshot = { source: { kind: 'revision', rev, commit }, label: rev, metrics: {}, params: {}, missing: [], missingMetrics: [], missingParams: [] };
  const configText = await fileAtRevision(root, commit, file);
  if (configText === undefined) {
    note(snap, ['missingMetrics', 'missingParams'], `${file} (not in ${rev})`);
    return snap;
  }
  let pipeline: Pipeline;
  try {
    pipeline = parsePipeline(configText, root, file);
  } catch (err) {
    throw new SlipwayError('DATA_ERROR', `${file} at ${rev} cannot be read: ${(err as Error).message}`, { rev });
  }
  const files = reportFiles(pipeline);
  let lock: Awaited<ReturnType<typeof parseLockFile>> | undefined;
  for (const path of files.metrics) {
    let text = await fileAtRevision(root, commit, path);
    if (text === undefined) {
      // A cached metrics file is not in git: its digest in that revision's lock names it in the object cache.
      lock ??= await lockAt(root, commit);
      const digest = Object.values(lock).flatMap((s) => s.outs).find((o) => o.path === path && o.kind === 'file')?.sha256;
      if (digest) text = await cachedObject(root, digest);
    }
    if (text === undefined) note(snap, ['missingMetrics'], `${path} (neither committed in ${rev} nor in the object cache)`);
    else snap.metrics[path] = parseMetrics(text, `${path} at ${rev}`);
  }
  for (const path of files.params) {
    const text = await fileAtRevision(root, commit, path);
    if (text === undefined) {
      if (path !== DEFAULT_PARAMS_FILE || pipeline.stages.some((s) => s.params.length > 0)) note(snap, ['missingParams'], `${path} (not in ${rev})`);
      continue;
    }
    snap.params[path] = parseParams(text, `${path} at ${rev}`);
  }
  return snap;
}

async function lockAt(root: string, commit: string): Promise<ReturnType<typeof parseLockFile>> {
  const text = await fileAtRevision(root, commit, LOCK_FILE);
  if (text === undefined) return {};
  try {
    return parseLockFile(text, `${LOCK_FILE} at ${commit.slice(0, 12)}`);
  } catch {
    return {};
  }
}

async function cachedObject(root: string, sha256: string): Promise<string | undefined> {
  if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  const file = join(root, WORKSPACE_DIR, 'cache', 'objects', sha256.slice(0, 2), sha256.slice(2));
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_METRICS_FILE_BYTES) return undefined;
    return bytes.toString('utf8');
  } catch {
    return undefined;
  }
}

/** A tracking run's metrics and params as a snapshot (under the path `run`). */
export function runSnapshot(run: { info: { runId: string }; data: { metrics: Array<{ key: string; value: number | string }>; params: Array<{ key: string; value: string }> } }): PipelineSnapshot {
  const metrics: Record<string, number> = {};
  for (const m of run.data.metrics) metrics[m.key] = typeof m.value === 'number' ? m.value : Number(m.value);
  const params: Record<string, unknown> = {};
  for (const p of run.data.params) params[p.key] = p.value;
  return { source: { kind: 'run', runId: run.info.runId }, label: run.info.runId, metrics: { [RUN_PATH]: metrics }, params: { [RUN_PATH]: params }, missing: [], missingMetrics: [], missingParams: [] };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || (Number.isNaN(a) && Number.isNaN(b));
  return JSON.stringify(a) === JSON.stringify(b);
}

function diffMaps(oldSide: Record<string, Record<string, unknown>>, newSide: Record<string, Record<string, unknown>>): DiffRow[] {
  const rows: DiffRow[] = [];
  const paths = [...new Set([...Object.keys(oldSide), ...Object.keys(newSide)])].sort();
  for (const path of paths) {
    const a = oldSide[path] ?? {};
    const b = newSide[path] ?? {};
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const key of keys) {
      const o = Object.hasOwn(a, key) ? a[key] : null;
      const n = Object.hasOwn(b, key) ? b[key] : null;
      // Rounded to 12 significant digits, so 0.75 - 0.7 reads 0.05 rather than 0.050000000000000044.
      const change = typeof o === 'number' && typeof n === 'number' && Number.isFinite(o) && Number.isFinite(n) ? Number((n - o).toPrecision(12)) : null;
      const changed = !(Object.hasOwn(a, key) && Object.hasOwn(b, key) && sameValue(o, n));
      rows.push({ path, key, old: o, new: n, change, changed });
    }
  }
  return rows;
}

/** Every metric of either side, compared (unchanged ones included, as a metrics report shows them). */
export function diffMetrics(oldSide: PipelineSnapshot, newSide: PipelineSnapshot): DiffRow[] {
  return diffMaps(oldSide.metrics, newSide.metrics);
}

/** The params that differ between the sides (every param with `all`). */
export function diffParams(oldSide: PipelineSnapshot, newSide: PipelineSnapshot, all = false): DiffRow[] {
  const rows = diffMaps(oldSide.params, newSide.params);
  return all ? rows : rows.filter((r) => r.changed);
}
