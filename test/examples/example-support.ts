/**
 * Helpers of the example and README tests: running commands as child processes with a bound on
 * their time, and checking the Python example with whatever Python this machine has.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The repository root: the examples and the README Quickstart run from here. */
export const REPO = resolve(import.meta.dirname, '../..');

/** The MLflow example, relative to the repository root, as the README names it. */
export const TRAIN_SCRIPT = 'examples/mlflow/train.py';

/** The third-party modules the MLflow example needs, as the probe of the brief imports them. */
export const EXAMPLE_MODULES = ['mlflow', 'sklearn', 'torch', 'skl2onnx', 'onnx'];

/** How a command ended and what it printed. */
export interface Finished {
  /** The exit code; null when it was killed (by the time bound or a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Whether it was killed for running past its time bound. */
  timedOut: boolean;
}

/**
 * Runs a program to completion, asynchronously (the event loop keeps reading the output of the
 * processes a test started in the background). Never throws for a failing program; a program
 * that cannot be started ends with code 127 and the reason in `stderr`.
 */
export function run(command: string, args: string[], opts: SpawnOptions & { timeoutMs: number }): Promise<Finished> {
  return new Promise((done) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ code: 127, stdout, stderr: `${stderr}${err.message}`, timedOut });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, timedOut });
    });
  });
}

/** The environment a command gets: this one without SLIPWAY_* settings, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_'))), ...extra };
}

/** Whether `python` runs and imports every module the MLflow example needs (importing torch takes seconds). */
export async function hasExampleModules(python: string): Promise<boolean> {
  const probe = await run(python, ['-c', `import ${EXAMPLE_MODULES.join(', ')}`], { cwd: REPO, env: cleanEnv(), timeoutMs: 120_000 });
  return probe.code === 0;
}

/** What a Python file imports and which of those modules are in Python's standard library. */
export interface PythonImports {
  /** Top-level names of every module imported anywhere in the file, sorted. */
  imports: string[];
  /** The subset of `imports` that ships with Python. */
  stdlib: string[];
}

// Compiles the file (a syntax error fails here, without writing a .pyc into the repository) and
// walks its syntax tree for imports; sys.stdlib_module_names needs Python 3.10 or newer.
const IMPORTS_SCRIPT = `
import ast, json, sys
path = sys.argv[1]
source = open(path, encoding="utf-8").read()
compile(source, path, "exec")
names = set()
for node in ast.walk(ast.parse(source, path)):
    if isinstance(node, ast.Import):
        names.update(a.name.split(".")[0] for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names.add(node.module.split(".")[0])
print(json.dumps({"imports": sorted(names), "stdlib": sorted(n for n in names if n in sys.stdlib_module_names)}))
`;

/** Compiles `file` with `python` and lists its imports; throws with Python's message when it does not compile. */
export async function pythonImports(python: string, file: string): Promise<PythonImports> {
  const res = await run(python, ['-c', IMPORTS_SCRIPT, file], { cwd: REPO, env: cleanEnv(), timeoutMs: 30_000 });
  if (res.code !== 0) throw new Error(`${python} could not compile ${file} (exit ${res.code}):\n${res.stderr}`);
  return JSON.parse(res.stdout) as PythonImports;
}

// Import names whose pip distribution is called something else.
const DISTRIBUTIONS: Record<string, string> = { sklearn: 'scikit-learn' };

/** The distribution names a requirements file lists, lower-cased, without versions or comments. */
export function requirementNames(file: string): string[] {
  return readFileSync(resolve(REPO, file), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line) => (/^[A-Za-z0-9_.-]+/.exec(line)?.[0] ?? line).toLowerCase());
}

/** The pip distribution that provides an imported top-level module. */
export function distributionOf(module: string): string {
  return (DISTRIBUTIONS[module] ?? module).toLowerCase();
}
