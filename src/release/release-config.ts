/**
 * Releases as code: the `releases:` section of `slipway.yaml` and the one-off flags
 * of `slipway release`, turned into the `ReleasePolicy` a release runs.
 *
 * ```yaml
 * releases:
 *   cancer:
 *     holdout: data/holdout.csv      # a local file; `apply` and `release` upload it
 *     label: target
 *     environments:
 *       champion:
 *         gates: [ { kind: evaluation, metrics: ["accuracy >= champion - 0.02"] } ]
 *         strategy: { kind: canary, steps: [10, 50, 100], interval: 30s }
 *     alerts:
 *       - { name: cancer-accuracy, figure: accuracy, comparison: "<", threshold: 0.85 }
 * ```
 *
 * Every mistake is reported as `FILE:LINE:COL: releases.cancer.environments.champion.strategy.steps: …`,
 * pointing at the offending key. Holdout paths in the file are relative to the file's folder.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ReleasePolicy, type GateSpec, type StrategySpec } from '../client/schemas/releases.js';
import { parseDuration } from '../core/duration.js';
import { SlipwayError } from '../core/errors.js';
import { YamlLocator, dottedPath, type PathKey } from '../core/yaml-locator.js';
import { parseThreshold } from '../loadtest/threshold-parser.js';
import { parseMetricThreshold } from './evaluation/thresholds.js';
import { parseRelativeSlo } from './gates/load-test-gate.js';

/** An alert rule of a model as the file declares it (the monitoring alert API's fields). */
export interface AlertRuleSpec {
  name: string;
  figure: string;
  comparison: string;
  threshold: number;
  forWindows?: number;
  webhookUrl?: string;
  /** What the alert does besides notifying, e.g. `{ kind: rollback }`. */
  action?: Record<string, unknown>;
}

/** One model's part of the `releases:` section. */
export interface ModelReleases {
  /** The model-wide holdout as an absolute local path. */
  holdout?: string;
  label?: string;
  /** Per environment (alias), the policy, holdouts as absolute local paths. */
  environments: Record<string, ReleasePolicy>;
  alerts: AlertRuleSpec[];
}

/** The `releases:` section of one config file. */
export interface ReleasesConfig {
  /** The file as messages name it (relative to the working folder when inside it). */
  file: string;
  /** Per model name. */
  models: Record<string, ModelReleases>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

const DURATION_KEYS = new Set(['interval', 'duration', 'bake', 'timeout']);
const MODEL_KEYS = new Set(['holdout', 'label', 'environments', 'alerts']);
const ALERT_KEYS = new Set(['name', 'figure', 'comparison', 'threshold', 'forWindows', 'webhookUrl', 'action']);

// Durations are checked here so a typo names its line; the server reads the same text.
function checkDurations(policy: ReleasePolicy, at: readonly PathKey[], loc: YamlLocator): void {
  const check = (value: string | undefined, path: readonly PathKey[]): void => {
    if (value === undefined) return;
    try {
      parseDuration(value, { name: dottedPath(path) });
    } catch (err) {
      throw loc.error(path, (err as Error).message.replace(/^\S+ must/, 'must'));
    }
  };
  policy.gates.forEach((g, i) => {
    if (g.kind === 'loadtest') check(g.duration, [...at, 'gates', i, 'duration']);
    if (g.kind === 'command') check(g.timeout, [...at, 'gates', i, 'timeout']);
  });
  const s = policy.strategy;
  if (s.kind === 'canary' || s.kind === 'shadow') check(s.interval, [...at, 'strategy', 'interval']);
  if (s.kind === 'shadow') check(s.duration, [...at, 'strategy', 'duration']);
  if (s.kind === 'blue-green') check(s.bake, [...at, 'strategy', 'bake']);
}

/** Checks threshold texts and step order that the schema alone does not; throws naming `at` + the offending key. */
function checkPolicyTexts(policy: ReleasePolicy, at: readonly PathKey[], fail: (path: readonly PathKey[], message: string) => never): void {
  policy.gates.forEach((g, i) => {
    if (g.kind === 'evaluation') {
      g.metrics.forEach((m, j) => {
        try {
          parseMetricThreshold(m);
        } catch (err) {
          fail([...at, 'gates', i, 'metrics', j], (err as Error).message);
        }
      });
    }
    if (g.kind === 'loadtest') {
      g.slo.forEach((m, j) => {
        try {
          // An SLO against the champion as the load-test gate reads it, else an absolute one as `slipway loadtest --slo` does.
          if (parseRelativeSlo(m) === undefined) parseThreshold(m);
        } catch (err) {
          fail([...at, 'gates', i, 'slo', j], (err as Error).message);
        }
      });
    }
  });
  const s = policy.strategy;
  if (s.kind === 'canary') {
    for (let i = 1; i < s.steps.length; i++) {
      if ((s.steps[i] as number) <= (s.steps[i - 1] as number)) fail([...at, 'strategy', 'steps', i], `steps must ascend; ${s.steps[i]} follows ${s.steps[i - 1]}.`);
    }
  }
}

function zodMessage(issue: { code: string; message: string; keys?: string[]; options?: unknown[]; note?: string }): { extraKey?: string; message: string } {
  if (issue.code === 'unrecognized_keys' && issue.keys?.[0] !== undefined) return { extraKey: issue.keys[0], message: `unknown key '${issue.keys[0]}'.` };
  if (issue.code === 'invalid_union' && Array.isArray(issue.options)) return { message: `must be one of ${issue.options.join(', ')}.` };
  return { message: issue.message.replace(/^Invalid input: /, '') };
}

function parsePolicy(raw: unknown, at: readonly PathKey[], loc: YamlLocator, configDir: string): ReleasePolicy {
  const parsed = ReleasePolicy.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as (typeof parsed.error.issues)[number];
    const { extraKey, message: said } = zodMessage(issue as never);
    const last = issue.path[issue.path.length - 1];
    // A bare number where a duration belongs is the commonest slip: say which unit it lacks.
    const message = issue.code === 'invalid_type' && typeof last === 'string' && DURATION_KEYS.has(last) ? `must be a duration with its unit, such as 250ms, 10s or 5m; ${said}.` : said;
    const path = [...at, ...(issue.path as PathKey[]), ...(extraKey !== undefined ? [extraKey] : [])];
    throw loc.error(path, message);
  }
  const policy = parsed.data;
  checkPolicyTexts(policy, at, (path, message) => {
    throw loc.error(path, message);
  });
  checkDurations(policy, at, loc);
  // Holdouts named in the file are local files next to it.
  const local = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(configDir, p));
  return {
    ...policy,
    ...(policy.holdout !== undefined ? { holdout: local(policy.holdout) } : {}),
    gates: policy.gates.map((g) => ('holdout' in g && g.holdout !== undefined ? { ...g, holdout: local(g.holdout) } : g)) as GateSpec[],
  };
}

function parseAlerts(raw: unknown, at: readonly PathKey[], loc: YamlLocator): AlertRuleSpec[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw loc.error(at, 'must be a list of alert rules.');
  const names = new Set<string>();
  return raw.map((rule, i) => {
    const here = [...at, i];
    if (!isRecord(rule)) throw loc.error(here, 'must be a mapping with name, figure, comparison and threshold.');
    for (const k of Object.keys(rule)) if (!ALERT_KEYS.has(k)) throw loc.error([...here, k], `unknown key '${k}'; use ${[...ALERT_KEYS].join(', ')}.`);
    for (const k of ['name', 'figure', 'comparison'] as const) if (typeof rule[k] !== 'string' || rule[k] === '') throw loc.error([...here, k], `'${k}' is required and must be text.`);
    if (typeof rule.threshold !== 'number' || !Number.isFinite(rule.threshold)) throw loc.error([...here, 'threshold'], "'threshold' is required and must be a number.");
    if (rule.forWindows !== undefined && (typeof rule.forWindows !== 'number' || !Number.isInteger(rule.forWindows) || rule.forWindows < 1)) throw loc.error([...here, 'forWindows'], 'must be a positive integer.');
    if (rule.webhookUrl !== undefined && typeof rule.webhookUrl !== 'string') throw loc.error([...here, 'webhookUrl'], 'must be an http(s) URL.');
    if (rule.action !== undefined && !isRecord(rule.action)) throw loc.error([...here, 'action'], 'must be a mapping such as { kind: rollback }.');
    const name = rule.name as string;
    if (names.has(name)) throw loc.error([...here, 'name'], `the alert name '${name}' is used twice.`);
    names.add(name);
    return {
      name,
      figure: rule.figure as string,
      comparison: rule.comparison as string,
      threshold: rule.threshold,
      ...(rule.forWindows !== undefined ? { forWindows: rule.forWindows as number } : {}),
      ...(rule.webhookUrl !== undefined ? { webhookUrl: rule.webhookUrl as string } : {}),
      ...(rule.action !== undefined ? { action: rule.action as Record<string, unknown> } : {}),
    };
  });
}

/**
 * Parses the `releases:` section of a config file's text; undefined when the file has none.
 * Throws INVALID_ARGUMENT as `FILE:LINE:COL: key.path: problem`.
 */
export function parseReleasesConfig(text: string, filePath: string, cwd = process.cwd()): ReleasesConfig | undefined {
  const file = displayPath(resolve(cwd, filePath), cwd);
  const configDir = dirname(resolve(cwd, filePath));
  const { locator: loc, value: root } = YamlLocator.parse(text, file);
  if (!isRecord(root) || root.releases === undefined || root.releases === null) return undefined;
  const section = root.releases;
  if (!isRecord(section)) throw loc.error(['releases'], 'must be a mapping of model names to their environments.');
  const models: Record<string, ModelReleases> = {};
  for (const [model, body] of Object.entries(section)) {
    const at = ['releases', model];
    if (!isRecord(body)) throw loc.error(at, 'must be a mapping with environments (and optionally holdout, label, alerts).');
    for (const k of Object.keys(body)) if (!MODEL_KEYS.has(k)) throw loc.error([...at, k], `unknown key '${k}'; use ${[...MODEL_KEYS].join(', ')}.`);
    if (body.holdout !== undefined && (typeof body.holdout !== 'string' || body.holdout.trim() === '')) throw loc.error([...at, 'holdout'], 'must be the path of a local file (CSV, TSV, JSON lines or Parquet).');
    if (body.label !== undefined && (typeof body.label !== 'string' || body.label.trim() === '')) throw loc.error([...at, 'label'], 'must be the name of the label column.');
    const envs = body.environments ?? {};
    if (!isRecord(envs)) throw loc.error([...at, 'environments'], 'must be a mapping of environment (alias) names to policies.');
    const environments: Record<string, ReleasePolicy> = {};
    for (const [env, raw] of Object.entries(envs)) {
      if (raw !== null && !isRecord(raw)) throw loc.error([...at, 'environments', env], 'must be a mapping with gates and strategy.');
      environments[env] = parsePolicy(raw, [...at, 'environments', env], loc, configDir);
    }
    models[model] = {
      ...(typeof body.holdout === 'string' ? { holdout: resolve(configDir, body.holdout) } : {}),
      ...(typeof body.label === 'string' ? { label: body.label } : {}),
      environments,
      alerts: parseAlerts(body.alerts, [...at, 'alerts'], loc),
    };
  }
  return { file, models };
}

/** Reads and parses a config file's `releases:` section; undefined when it has none. */
export function readReleasesConfig(filePath: string, cwd = process.cwd()): ReleasesConfig | undefined {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, filePath), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SlipwayError('INVALID_ARGUMENT', `Config file ${resolve(cwd, filePath)} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}.`);
  }
  return parseReleasesConfig(text, filePath, cwd);
}

/**
 * The policy a model's environment runs, with the model-wide holdout and label filled in
 * where the environment gives none. Undefined when the model has no section; a model with
 * a section that lacks `environment` is an error listing the configured ones.
 */
export function configuredPolicy(config: ReleasesConfig, model: string, environment: string): ReleasePolicy | undefined {
  const section = config.models[model];
  if (!section) return undefined;
  const policy = section.environments[environment];
  if (!policy) {
    const known = Object.keys(section.environments);
    throw new SlipwayError(
      'INVALID_ARGUMENT',
      `${config.file} configures no environment '${environment}' for model '${model}'; ${known.length > 0 ? `configured: ${known.join(', ')}` : 'it configures none'}.`,
      { model, environment, environments: known },
    );
  }
  return {
    ...policy,
    ...(policy.holdout === undefined && section.holdout !== undefined ? { holdout: section.holdout } : {}),
    ...(policy.label === undefined && section.label !== undefined ? { label: section.label } : {}),
  };
}

/** The one-off flags of `slipway release` that shape a policy. */
export interface ReleasePolicyFlags {
  holdout?: string;
  label?: string;
  metric?: string[];
  slo?: string[];
  rate?: number;
  duration?: string;
  signature?: boolean;
  allowBreaking?: boolean;
  quality?: boolean;
  drift?: boolean;
  maxDriftShare?: number;
  approvals?: number;
  command?: string[];
  strategy?: string;
  steps?: string;
  interval?: string;
  failureLimit?: number;
  inconclusiveLimit?: number;
  stickyHeader?: string;
  bake?: string;
  shadowShare?: number;
  shadowDuration?: string;
  onRestart?: string;
}

const GATE_FLAGS: readonly (keyof ReleasePolicyFlags)[] = ['metric', 'slo', 'rate', 'duration', 'signature', 'allowBreaking', 'quality', 'drift', 'maxDriftShare', 'approvals', 'command'];
const STRATEGY_FLAGS: readonly (keyof ReleasePolicyFlags)[] = ['strategy', 'steps', 'interval', 'failureLimit', 'inconclusiveLimit', 'stickyHeader', 'bake', 'shadowShare', 'shadowDuration'];
/** The strategy kinds each strategy detail flag belongs to. */
const DETAIL_KINDS: Partial<Record<keyof ReleasePolicyFlags, { flag: string; kinds: readonly StrategySpec['kind'][] }>> = {
  steps: { flag: '--steps', kinds: ['canary'] },
  interval: { flag: '--interval', kinds: ['canary', 'shadow'] },
  failureLimit: { flag: '--failure-limit', kinds: ['canary'] },
  inconclusiveLimit: { flag: '--inconclusive-limit', kinds: ['canary'] },
  stickyHeader: { flag: '--sticky-header', kinds: ['canary'] },
  bake: { flag: '--bake', kinds: ['blue-green'] },
  shadowShare: { flag: '--shadow-share', kinds: ['shadow'] },
  shadowDuration: { flag: '--shadow-duration', kinds: ['shadow'] },
};

/** Whether any flag that shapes a policy was given. */
export function hasPolicyFlags(flags: ReleasePolicyFlags): boolean {
  return [...GATE_FLAGS, ...STRATEGY_FLAGS, 'holdout', 'label', 'onRestart'].some((k) => flags[k as keyof ReleasePolicyFlags] !== undefined && flags[k as keyof ReleasePolicyFlags] !== false);
}

function usage(message: string, field?: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message, field ? { field } : undefined);
}

function parseSteps(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const steps = parts.map(Number);
  if (parts.some((p) => !/^\d+(\.\d+)?$/.test(p)) || steps.some((n) => n <= 0 || n > 100)) throw usage(`--steps '${text}' must be ascending percentages in (0, 100], e.g. 10,50,100.`, '--steps');
  return steps;
}

function checkFlagDuration(value: string | undefined, name: string): void {
  if (value !== undefined) parseDuration(value, { name });
}

function strategyFromFlags(flags: ReleasePolicyFlags, base: StrategySpec | undefined): StrategySpec | undefined {
  if (!STRATEGY_FLAGS.some((k) => flags[k] !== undefined)) return base;
  const kinds = ['direct', 'canary', 'shadow', 'blue-green'] as const;
  if (flags.strategy !== undefined && !(kinds as readonly string[]).includes(flags.strategy)) throw usage(`--strategy '${flags.strategy}' must be one of ${kinds.join(', ')}.`, '--strategy');
  // --strategy replaces the section's strategy; detail flags alone change the strategy in force.
  const kind = (flags.strategy as StrategySpec['kind'] | undefined) ?? base?.kind ?? 'direct';
  const start: Record<string, unknown> = flags.strategy === undefined && base ? { ...base } : { kind };
  for (const [key, rule] of Object.entries(DETAIL_KINDS) as [keyof ReleasePolicyFlags, { flag: string; kinds: readonly string[] }][]) {
    if (flags[key] !== undefined && !rule.kinds.includes(kind)) throw usage(`${rule.flag} applies to the ${rule.kinds.join(' or ')} strategy, not ${kind}${flags.strategy === undefined ? ' (give --strategy)' : ''}.`, rule.flag);
  }
  checkFlagDuration(flags.interval, '--interval');
  checkFlagDuration(flags.bake, '--bake');
  checkFlagDuration(flags.shadowDuration, '--shadow-duration');
  if (flags.steps !== undefined) start.steps = parseSteps(flags.steps);
  if (flags.interval !== undefined) start.interval = flags.interval;
  if (flags.failureLimit !== undefined) start.failureLimit = flags.failureLimit;
  if (flags.inconclusiveLimit !== undefined) start.inconclusiveLimit = flags.inconclusiveLimit;
  if (flags.stickyHeader !== undefined) start.stickyHeader = flags.stickyHeader;
  if (flags.bake !== undefined) start.bake = flags.bake;
  if (flags.shadowShare !== undefined) start.share = flags.shadowShare;
  if (flags.shadowDuration !== undefined) start.duration = flags.shadowDuration;
  return start as StrategySpec;
}

function gatesFromFlags(flags: ReleasePolicyFlags, holdout: string | undefined, label: string | undefined): GateSpec[] {
  const gates: Record<string, unknown>[] = [];
  if (flags.allowBreaking && !flags.signature) throw usage('--allow-breaking goes with --signature.', '--allow-breaking');
  if (flags.signature) gates.push({ kind: 'signature', allowBreaking: Boolean(flags.allowBreaking) });
  if (flags.metric?.length) {
    if (holdout === undefined || label === undefined) throw usage('--metric runs an evaluation gate on a holdout: give --holdout FILE and --label COLUMN (or holdout and label in the config section).', '--metric');
    gates.push({ kind: 'evaluation', metrics: flags.metric });
  }
  if (flags.maxDriftShare !== undefined && !flags.drift) throw usage('--max-drift-share goes with --drift.', '--max-drift-share');
  if ((flags.quality || flags.drift) && holdout === undefined) throw usage(`--${flags.quality ? 'quality' : 'drift'} checks a holdout: give --holdout FILE (or holdout in the config section).`, flags.quality ? '--quality' : '--drift');
  if (flags.quality) gates.push({ kind: 'quality' });
  if (flags.drift) gates.push({ kind: 'drift', ...(flags.maxDriftShare !== undefined ? { maxDriftShare: flags.maxDriftShare } : {}) });
  if ((flags.rate !== undefined || flags.duration !== undefined) && !flags.slo?.length) throw usage(`${flags.rate !== undefined ? '--rate' : '--duration'} sets the load-test gate's load: give at least one --slo, e.g. --slo 'p99<20ms'.`, '--slo');
  if (flags.slo?.length) {
    checkFlagDuration(flags.duration, '--duration');
    gates.push({ kind: 'loadtest', slo: flags.slo, ...(flags.rate !== undefined ? { rate: flags.rate } : {}), ...(flags.duration !== undefined ? { duration: flags.duration } : {}) });
  }
  for (const run of flags.command ?? []) gates.push({ kind: 'command', run });
  if (flags.approvals !== undefined) gates.push({ kind: 'approval', count: flags.approvals });
  return gates as GateSpec[];
}

const FLAG_OF_GATE: Record<string, string> = { evaluation: '--metric', loadtest: '--slo', approval: '--approvals', command: '--command', drift: '--max-drift-share' };

/**
 * The policy a release runs from the config section (`base`, may be absent) and the
 * one-off flags. The rule: the section's gates run first, then the gates the flags add;
 * `--strategy` replaces the section's strategy, and strategy detail flags (`--steps`,
 * `--interval`, …) change the strategy in force; `--holdout`, `--label` and
 * `--on-restart` replace the section's. Holdouts stay local paths (absolute).
 * Undefined when there is neither a section nor a flag: the server's stored policy applies.
 */
export function releasePolicyFrom(base: ReleasePolicy | undefined, flags: ReleasePolicyFlags, cwd = process.cwd()): ReleasePolicy | undefined {
  if (!hasPolicyFlags(flags)) return base;
  const holdout = flags.holdout !== undefined ? resolve(cwd, flags.holdout) : base?.holdout;
  const label = flags.label ?? base?.label;
  if (flags.label !== undefined && holdout === undefined) throw usage('--label names a column of the holdout: give --holdout FILE too.', '--label');
  if (flags.onRestart !== undefined && flags.onRestart !== 'rollback' && flags.onRestart !== 'resume') throw usage(`--on-restart '${flags.onRestart}' must be rollback or resume.`, '--on-restart');
  const gates = [...(base?.gates ?? []), ...gatesFromFlags(flags, holdout, label)];
  const strategy = strategyFromFlags(flags, base?.strategy);
  const draft = {
    gates,
    ...(strategy ? { strategy } : {}),
    ...(flags.onRestart !== undefined ? { onRestart: flags.onRestart } : base ? { onRestart: base.onRestart } : {}),
    ...(holdout !== undefined ? { holdout } : {}),
    ...(label !== undefined ? { label } : {}),
  };
  const parsed = ReleasePolicy.safeParse(draft);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as (typeof parsed.error.issues)[number];
    const where = issue.path[0] === 'strategy' ? `--${String(issue.path[1] ?? 'strategy')}` : issue.path[0] === 'gates' ? (FLAG_OF_GATE[(gates[issue.path[1] as number] as GateSpec | undefined)?.kind ?? ''] ?? 'a gate flag') : String(issue.path.join('.'));
    throw usage(`${where}: ${issue.message.replace(/^Invalid input: /, '')}`, where);
  }
  const policy = parsed.data;
  checkPolicyTexts(policy, [], (path, message) => {
    const gate = typeof path[1] === 'number' ? policy.gates[path[1]] : undefined;
    throw usage(message, gate ? FLAG_OF_GATE[gate.kind] : '--steps');
  });
  return policy;
}

/** Every local holdout file a policy names (its own and its gates'), once each. */
export function localHoldouts(policy: ReleasePolicy): string[] {
  const paths = [policy.holdout, ...policy.gates.map((g) => ('holdout' in g ? g.holdout : undefined))].filter((p): p is string => p !== undefined);
  return [...new Set(paths)];
}

/**
 * The policy with each local holdout path replaced by its path in the artifact store, and
 * the policy-wide holdout and label written into each gate that reads them, so every gate
 * names its own data whatever reads the stored policy.
 */
export function withStoredHoldouts(policy: ReleasePolicy, stored: ReadonlyMap<string, string>): ReleasePolicy {
  const swap = (p: string | undefined): string | undefined => (p === undefined ? undefined : (stored.get(p) ?? p));
  const gates = policy.gates.map((g) => {
    if (g.kind !== 'evaluation' && g.kind !== 'quality' && g.kind !== 'drift') return g;
    const holdout = swap(g.holdout ?? policy.holdout);
    const label = g.kind === 'evaluation' ? (g.label ?? policy.label) : undefined;
    return { ...g, ...(holdout !== undefined ? { holdout } : {}), ...(label !== undefined ? { label } : {}) };
  });
  return { ...policy, ...(policy.holdout !== undefined ? { holdout: swap(policy.holdout) } : {}), gates: gates as GateSpec[] };
}
