/**
 * The `stages:` section of `slipway.yaml`, turned into the expanded `Pipeline` the engine runs.
 *
 * ```yaml
 * params: params.yaml            # the default params file (this is the default)
 * stages:
 *   prepare:
 *     cmd: node prepare.js
 *     deps: [data/raw.csv, prepare.js]
 *     outs: [data/clean.csv]
 *   train:
 *     foreach: [small, large]    # train@small, train@large
 *     do:
 *       cmd: node train.js ${item}
 *       deps: [data/clean.csv]
 *       params: [train.lr, { eval.yaml: [threshold] }]
 *       outs: [models/${item}.bin, { cache/${item}: { cache: false, persist: true } }]
 *       metrics: [metrics/${item}.json]
 * ```
 *
 * `${params.KEY}` reads the default params file in any stage; other `${NAME}`s are left to the shell.
 * Every mistake is reported as `FILE:LINE:COL: stages.train.do.outs[1]: …`, pointing at the key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import { SlipwayError } from '../core/errors.js';
import type { Pipeline, Stage, StageOut, StageRegister } from './pipeline-types.js';
import { isSameOrInside, normalizeStagePath } from './stage-paths.js';
import { YamlLocator, type PathKey } from '../core/yaml-locator.js';

/** The config file a workspace's pipeline lives in. */
export const PIPELINE_FILE = 'slipway.yaml';
/** The params file `params:` keys of a stage refer to unless a file is named. */
export const DEFAULT_PARAMS_FILE = 'params.yaml';

const STAGE_KEYS = ['cmd', 'wdir', 'deps', 'params', 'outs', 'metrics', 'plots', 'env', 'register', 'alwaysChanged'] as const;
const EXPANSION_KEYS = ['foreach', 'matrix', 'do'] as const;
const OUT_OPTION_KEYS = ['cache', 'persist', 'dataset'] as const;
const REGISTER_KEYS = ['name', 'path', 'aliases'] as const;
const NAME_RULE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalarValue(v: unknown): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** The values `${…}` may name: the foreach/matrix item and key (inside `do:`), and the default params file. */
interface ExpansionVars {
  /** Absent outside a foreach or matrix. */
  expansion?: { key: string; item: unknown };
  /** The default params file's values, read on first use. */
  params: () => Record<string, unknown>;
}

// Only these names are Slipway's; any other `${NAME}` (such as `${HOME}` in a command) is left to the shell.
const OUR_NAME = /^(item|key|params)(\.|$)/;

/** Reads `${item}`, `${key}`, `${item.a.b}` or `${params.a.b}`; undefined when it names nothing. */
function lookup(vars: ExpansionVars, name: string): unknown {
  const [head, ...rest] = name.split('.');
  if (head === 'key' && rest.length === 0) return vars.expansion?.key;
  let value: unknown;
  if (head === 'item' && vars.expansion) value = vars.expansion.item;
  else if (head === 'params' && rest.length > 0) value = vars.params();
  else return undefined;
  for (const part of rest) {
    if (!isRecord(value) || !(part in value)) return undefined;
    value = value[part];
  }
  return value;
}

/** Replaces Slipway's `${…}` names in every string of `value`; a whole-string `${item.n}` keeps the value's type. */
function interpolate(value: unknown, vars: ExpansionVars, at: readonly PathKey[], loc: YamlLocator): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    const whole = /^\$\{\s*([A-Za-z0-9_.-]+)\s*\}$/.exec(value);
    const resolveName = (name: string): unknown => {
      const v = lookup(vars, name);
      if (v !== undefined) return v;
      if (name.startsWith('params.')) throw loc.error(at, `\${${name}} names no key of the params file.`);
      throw loc.error(at, vars.expansion ? `\${${name}} names nothing; use \${item}, \${key} or \${item.FIELD} of the foreach or matrix item.` : `\${${name}} exists only inside the do: of a foreach or matrix stage.`);
    };
    if (whole && OUR_NAME.test(whole[1] as string)) return resolveName(whole[1] as string);
    return value.replace(/\$\{\s*([^}]*?)\s*\}/g, (text, name: string) => {
      if (!OUR_NAME.test(name)) return text;
      const v = resolveName(name);
      if (!isScalarValue(v)) throw loc.error(at, `\${${name}} is a ${Array.isArray(v) ? 'list' : 'mapping'}, which cannot be placed inside text.`);
      return String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, vars, [...at, i], loc));
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[String(interpolate(k, vars, [...at, k], loc))] = interpolate(v, vars, [...at, k], loc);
    return out;
  }
  return value;
}

function checkName(name: string, at: readonly PathKey[], loc: YamlLocator, what = 'stage name'): void {
  if (name.includes('@')) throw loc.error(at, `the ${what} '${name}' contains '@', which Slipway keeps for foreach and matrix stages (NAME@KEY).`);
  if (name.includes('/')) throw loc.error(at, `the ${what} '${name}' contains '/'; stage names are single words such as train or prepare-data.`);
  if (!NAME_RULE.test(name)) throw loc.error(at, `the ${what} '${name}' must start with a letter, digit or '_' and hold only letters, digits, '_', '.' and '-'.`);
}

function checkKey(key: string, at: readonly PathKey[], loc: YamlLocator): void {
  if (key === '' || key.includes('@') || key.includes('/') || /\s/.test(key)) throw loc.error(at, `the expansion key '${key}' must be non-empty without '@', '/' or spaces (it becomes part of the stage name NAME@KEY).`);
}

function stagePath(raw: unknown, at: readonly PathKey[], loc: YamlLocator, opts: { allowRoot?: boolean } = {}): string {
  if (typeof raw !== 'string') throw loc.error(at, 'must be a path (text), relative to the workspace root.');
  const norm = normalizeStagePath(raw, opts);
  if ('problem' in norm) throw loc.error(at, norm.problem);
  return norm.path;
}

function pathList(raw: unknown, at: readonly PathKey[], loc: YamlLocator): string[] {
  if (raw === undefined || raw === null) return [];
  const items = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(items)) throw loc.error(at, 'must be a list of paths.');
  const seen = new Set<string>();
  return items.map((item, i) => {
    const path = stagePath(item, typeof raw === 'string' ? at : [...at, i], loc);
    if (seen.has(path)) throw loc.error([...at, i], `'${path}' is listed twice.`);
    seen.add(path);
    return path;
  });
}

function outList(raw: unknown, at: readonly PathKey[], loc: YamlLocator, defaultCache: boolean): StageOut[] {
  if (raw === undefined || raw === null) return [];
  const items = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(items)) throw loc.error(at, 'must be a list of paths or { PATH: { cache, persist, dataset } } entries.');
  return items.map((item, i): StageOut => {
    const here = typeof raw === 'string' ? at : [...at, i];
    if (typeof item === 'string') return { path: stagePath(item, here, loc), cache: defaultCache, persist: false };
    if (!isRecord(item) || Object.keys(item).length !== 1) throw loc.error(here, 'must be a path or a one-key mapping { PATH: { cache, persist, dataset } }.');
    const [rawPath, options] = Object.entries(item)[0] as [string, unknown];
    const path = stagePath(rawPath, [...here, rawPath], loc);
    if (options !== null && !isRecord(options)) throw loc.error([...here, rawPath], 'must be a mapping of cache, persist and dataset.');
    const opts = options ?? {};
    for (const k of Object.keys(opts)) if (!(OUT_OPTION_KEYS as readonly string[]).includes(k)) throw loc.error([...here, rawPath, k], `unknown key '${k}'; use ${OUT_OPTION_KEYS.join(', ')}.`);
    for (const k of ['cache', 'persist'] as const) if (opts[k] !== undefined && typeof opts[k] !== 'boolean') throw loc.error([...here, rawPath, k], 'must be true or false.');
    if (opts.dataset !== undefined && (typeof opts.dataset !== 'string' || opts.dataset.trim() === '')) throw loc.error([...here, rawPath, 'dataset'], 'must be a dataset name.');
    return {
      path,
      cache: (opts.cache as boolean | undefined) ?? defaultCache,
      persist: (opts.persist as boolean | undefined) ?? false,
      ...(typeof opts.dataset === 'string' ? { dataset: opts.dataset } : {}),
    };
  });
}

function paramList(raw: unknown, at: readonly PathKey[], loc: YamlLocator, defaultFile: string): Stage['params'] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw loc.error(at, `must be a list of keys of ${defaultFile} or { FILE: [keys] } entries.`);
  const byFile = new Map<string, string[]>();
  const add = (file: string, key: string, here: readonly PathKey[]): void => {
    const keys = byFile.get(file) ?? [];
    if (keys.includes(key)) throw loc.error(here, `the param '${key}' of ${file} is listed twice.`);
    keys.push(key);
    byFile.set(file, keys);
  };
  raw.forEach((item, i) => {
    if (typeof item === 'string') {
      if (item.trim() === '') throw loc.error([...at, i], 'must be a param key such as train.lr.');
      add(defaultFile, item.trim(), [...at, i]);
      return;
    }
    if (!isRecord(item)) throw loc.error([...at, i], `must be a key of ${defaultFile} or a { FILE: [keys] } mapping.`);
    for (const [rawFile, keys] of Object.entries(item)) {
      const file = stagePath(rawFile, [...at, i, rawFile], loc);
      if (keys === null || (Array.isArray(keys) && keys.length === 0)) {
        byFile.set(file, ['*']);
        continue;
      }
      if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || k.trim() === '')) throw loc.error([...at, i, rawFile], 'must be a list of param keys (an empty list means the whole file).');
      for (const k of keys as string[]) add(file, k.trim(), [...at, i, rawFile]);
    }
  });
  return [...byFile].map(([file, keys]) => ({ file, keys }));
}

function envMap(raw: unknown, at: readonly PathKey[], loc: YamlLocator): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) throw loc.error(at, 'must be a mapping of variable names to values.');
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw loc.error([...at, k], `'${k}' is not a valid environment variable name.`);
    if (!isScalarValue(v)) throw loc.error([...at, k], 'must be text, a number or true/false.');
    env[k] = String(v);
  }
  return env;
}

function registerSpec(raw: unknown, at: readonly PathKey[], loc: YamlLocator, outs: readonly StageOut[]): StageRegister | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw)) throw loc.error(at, 'must be a mapping with name, path and optionally aliases.');
  for (const k of Object.keys(raw)) if (!(REGISTER_KEYS as readonly string[]).includes(k)) throw loc.error([...at, k], `unknown key '${k}'; use ${REGISTER_KEYS.join(', ')}.`);
  if (typeof raw.name !== 'string' || raw.name.trim() === '') throw loc.error([...at, 'name'], "'name' is required: the registered model's name.");
  const path = stagePath(raw.path, [...at, 'path'], loc);
  if (!outs.some((o) => isSameOrInside(path, o.path))) throw loc.error([...at, 'path'], `'${path}' is not one of the stage's outs; register a file or folder the stage writes.`);
  let aliases: string[] = [];
  if (raw.aliases !== undefined && raw.aliases !== null) {
    const list = typeof raw.aliases === 'string' ? [raw.aliases] : raw.aliases;
    if (!Array.isArray(list) || list.some((a) => typeof a !== 'string' || a.trim() === '')) throw loc.error([...at, 'aliases'], 'must be a list of alias names.');
    aliases = list as string[];
  }
  return { name: raw.name, path, aliases };
}

function parseStage(name: string, body: unknown, at: readonly PathKey[], loc: YamlLocator, declaredAt: string, paramsFile: string): Stage {
  if (!isRecord(body)) throw loc.error(at, 'must be a mapping with cmd (and optionally deps, params, outs, metrics, plots, wdir, env, register, alwaysChanged).');
  for (const k of Object.keys(body)) {
    if (!(STAGE_KEYS as readonly string[]).includes(k)) throw loc.error([...at, k], `unknown key '${k}'; use ${STAGE_KEYS.join(', ')}${at.includes('do') ? '' : ' (or foreach/matrix with do)'}.`);
  }
  let cmd: string;
  if (typeof body.cmd === 'string' && body.cmd.trim() !== '') cmd = body.cmd;
  else if (Array.isArray(body.cmd) && body.cmd.length > 0 && body.cmd.every((c) => typeof c === 'string' && c.trim() !== '')) cmd = (body.cmd as string[]).join(' && ');
  else throw loc.error([...at, 'cmd'], "'cmd' is required: the command to run (text, or a list of commands run one after another).");
  const wdir = body.wdir === undefined || body.wdir === null ? '' : stagePath(body.wdir, [...at, 'wdir'], loc, { allowRoot: true });
  const outs = outList(body.outs, [...at, 'outs'], loc, true);
  const metrics = outList(body.metrics, [...at, 'metrics'], loc, false);
  const plots = outList(body.plots, [...at, 'plots'], loc, false);
  const all = [...outs.map((o) => ['outs', o] as const), ...metrics.map((o) => ['metrics', o] as const), ...plots.map((o) => ['plots', o] as const)];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const [ka, a] = all[i] as (typeof all)[number];
      const [kb, b] = all[j] as (typeof all)[number];
      if (isSameOrInside(a.path, b.path) || isSameOrInside(b.path, a.path)) throw loc.error([...at, kb], `'${b.path}' overlaps '${a.path}' of ${ka}; a path is declared once.`);
    }
  }
  const deps = pathList(body.deps, [...at, 'deps'], loc);
  const register = registerSpec(body.register, [...at, 'register'], loc, [...outs, ...metrics, ...plots]);
  if (body.alwaysChanged !== undefined && typeof body.alwaysChanged !== 'boolean') throw loc.error([...at, 'alwaysChanged'], 'must be true or false.');
  return {
    name,
    cmd,
    wdir,
    deps,
    params: paramList(body.params, [...at, 'params'], loc, paramsFile),
    outs,
    metrics,
    plots,
    env: envMap(body.env, [...at, 'env'], loc),
    ...(register ? { register } : {}),
    ...(body.alwaysChanged === true ? { alwaysChanged: true } : {}),
    declaredAt,
  };
}

/** The (key, item) pairs a `foreach:` or `matrix:` expands to, in declared order. */
function expansions(body: Record<string, unknown>, at: readonly PathKey[], loc: YamlLocator): Array<{ vars: { key: string; item: unknown }; keyAt: readonly PathKey[] }> {
  if (body.foreach !== undefined && body.matrix !== undefined) throw loc.error([...at, 'matrix'], 'use foreach or matrix, not both.');
  for (const k of Object.keys(body)) {
    if (!(EXPANSION_KEYS as readonly string[]).includes(k)) throw loc.error([...at, k], `'${k}' belongs inside do: (a foreach or matrix stage has only foreach/matrix and do).`);
  }
  if (!isRecord(body.do)) throw loc.error([...at, body.do === undefined ? (body.foreach !== undefined ? 'foreach' : 'matrix') : 'do'], "'do' is required: a mapping with the stage's cmd, deps, outs… in which ${item} and ${key} are replaced.");
  if (body.foreach !== undefined) {
    const each = body.foreach;
    if (Array.isArray(each)) {
      if (each.length === 0) throw loc.error([...at, 'foreach'], 'must list at least one item.');
      return each.map((item, i) => ({ vars: { key: isScalarValue(item) ? String(item) : String(i), item }, keyAt: [...at, 'foreach', i] }));
    }
    if (isRecord(each)) {
      if (Object.keys(each).length === 0) throw loc.error([...at, 'foreach'], 'must hold at least one item.');
      return Object.entries(each).map(([key, item]) => ({ vars: { key, item }, keyAt: [...at, 'foreach', key] }));
    }
    throw loc.error([...at, 'foreach'], 'must be a list of items or a mapping of keys to items.');
  }
  const matrix = body.matrix;
  if (!isRecord(matrix) || Object.keys(matrix).length === 0) throw loc.error([...at, 'matrix'], 'must be a mapping of names to lists of values, e.g. { lr: [0.1, 0.01], model: [small, large] }.');
  let combos: Array<{ parts: string[]; item: Record<string, unknown> }> = [{ parts: [], item: {} }];
  for (const [dim, values] of Object.entries(matrix)) {
    if (!Array.isArray(values) || values.length === 0) throw loc.error([...at, 'matrix', dim], 'must be a non-empty list of values.');
    combos = combos.flatMap((c) => values.map((v, i) => ({ parts: [...c.parts, isScalarValue(v) ? String(v) : String(i)], item: { ...c.item, [dim]: v } })));
  }
  return combos.map((c) => ({ vars: { key: c.parts.join('-'), item: c.item }, keyAt: [...at, 'matrix'] }));
}

/**
 * Parses the text of a pipeline config: `stages:` expanded (`foreach`/`matrix` → `NAME@KEY`) and
 * checked. `root` is the workspace root (absolute); `file` the config's path relative to it.
 * Throws INVALID_ARGUMENT as `FILE:LINE:COL: key.path: problem`.
 */
export function parsePipeline(text: string, root: string, file = PIPELINE_FILE, cwd = process.cwd()): Pipeline {
  const shown = displayPath(resolve(root, file), cwd);
  const { locator: loc, value: doc } = YamlLocator.parse(text, shown);
  if (!isRecord(doc)) throw new SlipwayError('INVALID_ARGUMENT', `${shown} declares no stages: add a 'stages:' mapping of stage names to { cmd, deps, outs }.`, { file: shown });
  let paramsFile = DEFAULT_PARAMS_FILE;
  if (doc.params !== undefined && doc.params !== null) paramsFile = stagePath(doc.params, ['params'], loc);
  let paramValues: Record<string, unknown> | undefined;
  const params = (): Record<string, unknown> => {
    if (paramValues) return paramValues;
    let parsed: unknown;
    try {
      parsed = parse(readFileSync(resolve(root, paramsFile), 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SlipwayError('INVALID_ARGUMENT', `${shown} uses \${params.…}, but ${paramsFile} ${code === 'ENOENT' ? 'does not exist' : code ? `cannot be read (${code})` : `is not valid YAML: ${(err as Error).message.split('\n')[0]}`}.`, { file: paramsFile });
    }
    paramValues = isRecord(parsed) ? parsed : {};
    return paramValues;
  };
  const section = doc.stages;
  if (section === undefined || section === null) throw new SlipwayError('INVALID_ARGUMENT', `${shown} declares no stages: add a 'stages:' mapping of stage names to { cmd, deps, outs }.`, { file: shown });
  if (!isRecord(section)) throw loc.error(['stages'], 'must be a mapping of stage names to { cmd, deps, outs }.');
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const [name, body] of Object.entries(section)) {
    const at = ['stages', name];
    checkName(name, at, loc);
    const declaredAt = loc.where(at);
    if (isRecord(body) && (body.foreach !== undefined || body.matrix !== undefined || body.do !== undefined)) {
      // `foreach: ${params.models}` takes its items from the params file.
      const lists = { ...body };
      for (const k of ['foreach', 'matrix'] as const) if (lists[k] !== undefined) lists[k] = interpolate(lists[k], { params }, [...at, k], loc);
      for (const { vars, keyAt } of expansions(lists, at, loc)) {
        checkKey(vars.key, keyAt, loc);
        const full = `${name}@${vars.key}`;
        if (names.has(full)) throw loc.error(keyAt, `the stage '${full}' is produced twice; expansion keys must differ.`);
        names.add(full);
        const expanded = interpolate(body.do, { expansion: vars, params }, [...at, 'do'], loc);
        stages.push(parseStage(full, expanded, [...at, 'do'], loc, declaredAt, paramsFile));
      }
      continue;
    }
    names.add(name);
    stages.push(parseStage(name, interpolate(body, { params }, at, loc), at, loc, declaredAt, paramsFile));
  }
  if (stages.length === 0) throw loc.error(['stages'], 'declares no stages.');
  return { root, file, paramsFile, stages };
}

/** Reads and parses the pipeline at `configPath` (absolute or relative to `cwd`); its folder is the workspace root. */
export function readPipeline(configPath: string, cwd = process.cwd()): Pipeline {
  const abs = resolve(cwd, configPath);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SlipwayError('INVALID_ARGUMENT', `${displayPath(abs, cwd)} ${code === 'ENOENT' ? 'does not exist; a pipeline is declared under stages: in slipway.yaml' : code === 'EISDIR' ? 'is a folder, not a pipeline file' : `cannot be read (${code ?? (err as Error).message})`}.`, { file: abs });
  }
  const root = dirname(abs);
  return parsePipeline(text, root, relative(root, abs), cwd);
}

/**
 * The pipeline config to use: `config` when given (relative to `cwd`), else the nearest
 * slipway.yaml in `cwd` or a folder above it. INVALID_ARGUMENT when there is none.
 */
export function locatePipelineFile(config: string | undefined, cwd = process.cwd()): string {
  if (config !== undefined) return resolve(cwd, config);
  for (let at = resolve(cwd); ; ) {
    const candidate = resolve(at, PIPELINE_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  throw new SlipwayError('INVALID_ARGUMENT', `no ${PIPELINE_FILE} in ${resolve(cwd)} or a folder above it; declare the pipeline's stages there (or name the file with --config).`);
}
