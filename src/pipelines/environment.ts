/**
 * The environment a stage ran in, recorded as run tags (`env.os`, `env.arch`, `env.node`,
 * `env.python`, `env.onnxruntime`, `env.lockfile.<name>`), and how a recorded environment differs
 * from the one a model is about to run in: the differences that break a model (another OS or
 * architecture, an older or another major onnxruntime) are errors, those that may change results
 * (Node major, Python minor, changed lock files) warnings.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Stage } from './pipeline-types.js';

/** The prefix of every environment tag. */
export const ENV_TAG_PREFIX = 'env.';
/** The prefix of a lock file's digest tag: `env.lockfile.package-lock.json`. */
export const LOCKFILE_TAG_PREFIX = 'env.lockfile.';

/** Lock files whose sha256 is recorded when present at the workspace root (and `requirements*.txt`). */
export const LOCKFILE_NAMES: readonly string[] = ['package-lock.json', 'poetry.lock', 'uv.lock', 'Pipfile.lock', 'environment.yml'];
const REQUIREMENTS = /^requirements[\w.-]*\.txt$/;

/** What to capture. */
export interface CaptureOptions {
  /** The workspace root, where lock files are looked for. */
  root: string;
  /** Record `env.python` (the stage's command or deps use Python). */
  python?: boolean;
}

/** Where a stage's command or deps use Python, so `env.python` is worth recording. */
export function usesPython(stage: Pick<Stage, 'cmd' | 'deps'>): boolean {
  return /(^|[\s/;&|(])(python[\d.]*|pip[\d.]*|poetry|uv|pipenv|conda|jupyter|papermill)(\s|$)/.test(stage.cmd) || /\.py\b/.test(stage.cmd) || stage.deps.some((d) => /\.(py|ipynb)$/.test(d));
}

let pythonProbe: Promise<string | undefined> | undefined;

/** The version `python3 --version` prints (e.g. `3.11.7`), asked once per process; undefined when there is no python3. */
export function pythonVersion(): Promise<string | undefined> {
  pythonProbe ??= new Promise((resolve) => {
    execFile('python3', ['--version'], { timeout: 10_000, windowsHide: true }, (err, stdout, stderr) => {
      if (err) return resolve(undefined);
      // Python 2 printed its version on stderr.
      const m = /Python\s+(\d+\.\d+(?:\.\d+)?\S*)/.exec(`${stdout} ${stderr}`);
      resolve(m?.[1]);
    });
  });
  return pythonProbe;
}

/** The version of onnxruntime-node that Slipway serves models with; undefined when it is not installed. */
export async function onnxruntimeVersion(): Promise<string | undefined> {
  try {
    const file = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    const pkg = JSON.parse(await readFile(file, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

/** The sha256 of a file, read as a stream. */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** The lock files present at `root` (plain files only), sorted by name. */
export async function lockfilesAt(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return [];
  }
  const wanted = names.filter((n) => LOCKFILE_NAMES.includes(n) || REQUIREMENTS.test(n)).sort();
  const files: string[] = [];
  for (const name of wanted) {
    // A folder of that name is no lock file, and a link may lead out of the workspace: neither is read.
    const info = await lstat(join(root, name)).catch(() => undefined);
    if (info?.isFile()) files.push(name);
  }
  return files;
}

/** The current environment as run tags, keys sorted. */
export async function captureEnvironment(opts: CaptureOptions): Promise<Record<string, string>> {
  const tags: Record<string, string> = {
    'env.os': process.platform,
    'env.os.release': release(),
    'env.arch': process.arch,
    'env.node': process.versions.node,
  };
  const ort = await onnxruntimeVersion();
  if (ort) tags['env.onnxruntime'] = ort;
  if (opts.python) {
    const py = await pythonVersion();
    if (py) tags['env.python'] = py;
  }
  for (const name of await lockfilesAt(opts.root)) {
    const digest = await sha256File(join(opts.root, name)).catch(() => undefined);
    if (digest) tags[`${LOCKFILE_TAG_PREFIX}${name}`] = digest;
  }
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Only the environment tags of a run's tags. */
export function environmentTags(tags: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => k.startsWith(ENV_TAG_PREFIX)));
}

/** How much a difference matters. */
export type DifferenceLevel = 'error' | 'warning' | 'same';

/** One compared fact of the environment. */
export interface EnvironmentDifference {
  /** The tag compared, e.g. `env.onnxruntime`. */
  key: string;
  /** The recorded value; null when the run did not record it. */
  recorded: string | null;
  /** This machine's value; null when it has none. */
  current: string | null;
  level: DifferenceLevel;
  /** Why it matters, in one sentence. */
  note: string;
}

function versionParts(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function compareOnnxruntime(recorded: string, current: string | null): Omit<EnvironmentDifference, 'key' | 'recorded' | 'current'> {
  if (current === null) return { level: 'error', note: 'onnxruntime-node is not installed here: the model cannot be served.' };
  const r = versionParts(recorded);
  const c = versionParts(current);
  if (!r || !c) return recorded === current ? { level: 'same', note: 'same version' } : { level: 'warning', note: 'the versions cannot be compared; check them by hand.' };
  if (r[0] !== c[0]) return { level: 'error', note: `another major version of onnxruntime: operators and numerics may differ.` };
  if (c[1] < r[1]) return { level: 'error', note: `older than the model was built with: it may lack the model's opset or operators.` };
  if (c[1] > r[1]) return { level: 'warning', note: `a newer minor version of onnxruntime: results may differ slightly.` };
  return { level: 'same', note: r[2] === c[2] ? 'same version' : 'same minor version (patch releases differ).' };
}

function compareMajor(what: string, recorded: string, current: string | null, minor: boolean): Omit<EnvironmentDifference, 'key' | 'recorded' | 'current'> {
  if (current === null) return { level: 'warning', note: `${what} was recorded but is not found here.` };
  const r = versionParts(recorded);
  const c = versionParts(current);
  if (!r || !c) return recorded === current ? { level: 'same', note: 'same version' } : { level: 'warning', note: 'the versions cannot be compared; check them by hand.' };
  if (r[0] !== c[0] || (minor && r[1] !== c[1])) return { level: 'warning', note: `another ${minor ? 'minor' : 'major'} version of ${what}: code that ran the stage may behave differently.` };
  return { level: 'same', note: recorded === current ? 'same version' : `same ${minor ? 'minor' : 'major'} version.` };
}

/**
 * Compares a recorded environment with the current one, fact by fact, in a stable order: OS, arch,
 * onnxruntime, Node, Python, then each lock file. Facts neither side has are left out.
 */
export function compareEnvironments(recorded: Record<string, string>, current: Record<string, string>): EnvironmentDifference[] {
  const rows: EnvironmentDifference[] = [];
  const row = (key: string, judge: (r: string, c: string | null) => Omit<EnvironmentDifference, 'key' | 'recorded' | 'current'>) => {
    const r = recorded[key];
    if (r === undefined) return;
    const c = current[key] ?? null;
    rows.push({ key, recorded: r, current: c, ...judge(r, c) });
  };
  const exact = (what: string) => (r: string, c: string | null) =>
    r === c ? { level: 'same' as const, note: 'same' } : { level: 'error' as const, note: `another ${what} than the model was built on: another native onnxruntime build runs it.` };
  row('env.os', exact('operating system'));
  row('env.arch', exact('CPU architecture'));
  row('env.onnxruntime', compareOnnxruntime);
  row('env.node', (r, c) => compareMajor('Node.js', r, c, false));
  row('env.python', (r, c) => compareMajor('Python', r, c, true));
  const lockKeys = new Set([...Object.keys(recorded), ...Object.keys(current)].filter((k) => k.startsWith(LOCKFILE_TAG_PREFIX)));
  for (const key of [...lockKeys].sort()) {
    const r = recorded[key] ?? null;
    const c = current[key] ?? null;
    const name = key.slice(LOCKFILE_TAG_PREFIX.length);
    if (r === null) rows.push({ key, recorded: null, current: c, level: 'warning', note: `${name} is here but was not present when the model was built: its dependencies were not pinned by it.` });
    else if (c === null) rows.push({ key, recorded: r, current: null, level: 'warning', note: `${name} was present when the model was built but is not here.` });
    else if (r !== c) rows.push({ key, recorded: r, current: c, level: 'warning', note: `${name} changed since the model was built: its dependencies may differ.` });
    else rows.push({ key, recorded: r, current: c, level: 'same', note: 'same digest' });
  }
  return rows;
}
