/**
 * Metric thresholds a candidate must meet, absolute ("accuracy >= 0.9") or relative to
 * the champion evaluated in the same run ("rmse <= champion * 1.05"), after MLflow's
 * MetricThreshold. A check that cannot be decided fails with its reason instead of throwing,
 * so a gate reports every threshold at once.
 */
import { SlipwayError } from '../../core/errors.js';
import type { EvaluationResult, EvaluationTask } from './evaluate.js';

/** Classification metrics by wire name. */
export const CLASSIFICATION_METRIC_NAMES = [
  'accuracy',
  'balanced_accuracy',
  'precision',
  'recall',
  'f1',
  'precision_macro',
  'recall_macro',
  'f1_macro',
  'precision_weighted',
  'recall_weighted',
  'f1_weighted',
  'roc_auc',
  'log_loss',
] as const;

/** Regression metrics by wire name. */
export const REGRESSION_METRIC_NAMES = ['mae', 'mse', 'rmse', 'r2', 'mape', 'max_error'] as const;

/** Every metric a threshold may name. */
export const METRIC_NAMES: readonly string[] = [...CLASSIFICATION_METRIC_NAMES, ...REGRESSION_METRIC_NAMES];

/** A parsed threshold. */
export interface MetricThreshold {
  /** The text it was parsed from. */
  text: string;
  metric: string;
  comparison: '>=' | '>' | '<=' | '<';
  /** True when the bound is computed from the champion's value of the same metric. */
  relative: boolean;
  /** Absolute thresholds: the bound. */
  value?: number;
  /** Relative thresholds: bound = champion `op` operand; absent means bound = champion. */
  op?: '+' | '-' | '*' | '/';
  operand?: number;
}

/** The outcome of one threshold. */
export interface ThresholdCheck {
  threshold: string;
  metric: string;
  candidate: number | null;
  champion: number | null;
  bound: number | null;
  pass: boolean;
  /** One line, e.g. "accuracy 0.912 < bound 0.931 (champion 0.951 - 0.02)". */
  reason: string;
}

const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const PATTERN = new RegExp(String.raw`^\s*([a-z_0-9]+)\s*(>=|<=|>|<)\s*(?:(champion)\s*(?:([-+*/])\s*(${NUMBER}))?|(${NUMBER}))\s*$`);

/** Parses 'accuracy >= 0.9', 'accuracy >= champion - 0.02', 'rmse <= champion * 1.05' or 'f1_macro > champion'. */
export function parseMetricThreshold(text: string): MetricThreshold {
  const m = PATTERN.exec(text.toLowerCase());
  if (!m) {
    throw new SlipwayError('INVALID_ARGUMENT', `Cannot read the metric threshold '${text}': write '<metric> <op> <number>' or '<metric> <op> champion [+|-|*|/ <number>]' with op one of >=, >, <=, <.`, { threshold: text });
  }
  const [, metric, comparison, champion, op, operand, value] = m;
  if (!METRIC_NAMES.includes(metric as string)) {
    throw new SlipwayError('INVALID_ARGUMENT', `Unknown metric '${metric}' in threshold '${text}'; known metrics: ${METRIC_NAMES.join(', ')}.`, { threshold: text, metric, known: METRIC_NAMES });
  }
  const base = { text, metric: metric as string, comparison: comparison as MetricThreshold['comparison'] };
  if (champion) return { ...base, relative: true, ...(op ? { op: op as NonNullable<MetricThreshold['op']>, operand: Number(operand) } : {}) };
  return { ...base, relative: false, value: Number(value) };
}

/** True when any threshold compares with the champion. */
export function needsChampion(thresholds: MetricThreshold[]): boolean {
  return thresholds.some((t) => t.relative);
}

/** The task a metric belongs to. */
export function metricTask(metric: string): EvaluationTask | undefined {
  if ((CLASSIFICATION_METRIC_NAMES as readonly string[]).includes(metric)) return 'classification';
  if ((REGRESSION_METRIC_NAMES as readonly string[]).includes(metric)) return 'regression';
  return undefined;
}

const FAILED: Record<MetricThreshold['comparison'], string> = { '>=': '<', '>': '<=', '<=': '>', '<': '>=' };

const fmt = (x: number): string => String(Number(x.toPrecision(6)));

function holds(candidate: number, comparison: MetricThreshold['comparison'], bound: number): boolean {
  switch (comparison) {
    case '>=':
      return candidate >= bound;
    case '>':
      return candidate > bound;
    case '<=':
      return candidate <= bound;
    case '<':
      return candidate < bound;
  }
}

function check(t: MetricThreshold, result: EvaluationResult): ThresholdCheck {
  const candidate = result.candidate.metrics[t.metric] ?? null;
  const champion = result.champion ? (result.champion.metrics[t.metric] ?? null) : null;
  const out = (pass: boolean, bound: number | null, reason: string): ThresholdCheck => ({ threshold: t.text, metric: t.metric, candidate, champion, bound, pass, reason });
  const task = metricTask(t.metric);
  if (task !== result.task) return out(false, null, `${t.metric} is a ${task ?? 'unknown'} metric, but the holdout was evaluated as ${result.task}.`);
  if (candidate === null) return out(false, null, `${t.metric} is undefined for candidate version ${result.candidate.version} on this holdout (e.g. ROC AUC with a single class).`);
  let bound: number;
  let from = '';
  if (t.relative) {
    if (!result.champion) return out(false, null, `${t.text} compares with the champion, but there is no champion to evaluate.`);
    if (champion === null) return out(false, null, `${t.metric} is undefined for champion version ${result.champion.version} on this holdout, so '${t.text}' has no bound.`);
    const operand = t.operand ?? 0;
    bound = t.op === '+' ? champion + operand : t.op === '-' ? champion - operand : t.op === '*' ? champion * operand : t.op === '/' ? champion / operand : champion;
    from = t.op ? ` (champion ${fmt(champion)} ${t.op} ${fmt(operand)})` : ` (champion ${fmt(champion)})`;
  } else bound = t.value as number;
  const pass = holds(candidate, t.comparison, bound);
  return out(pass, bound, `${t.metric} ${fmt(candidate)} ${pass ? t.comparison : FAILED[t.comparison]} bound ${fmt(bound)}${from}`);
}

/** Checks every threshold against an evaluation; passes when all pass. */
export function checkMetricThresholds(thresholds: MetricThreshold[], result: EvaluationResult): { pass: boolean; checks: ThresholdCheck[] } {
  const checks = thresholds.map((t) => check(t, result));
  return { pass: checks.every((c) => c.pass), checks };
}
