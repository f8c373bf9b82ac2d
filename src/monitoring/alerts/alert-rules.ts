/** Alert rules on monitored figures: "figure comparison threshold for N consecutive windows". */
import { randomUUID } from 'node:crypto';
import { appendAuditEvent } from '../../audit/audit-trail.js';
import { isSlipwayError, SlipwayError } from '../../core/errors.js';
import type { OutboundPolicy } from '../../core/outbound-policy.js';
import type { Store } from '../../store/store.js';
import type { MutationMeta } from '../reference/reference-repository.js';
import { createWebhookPolicy } from './webhook-notifier.js';

/** Comparisons a rule may use. */
export const COMPARISONS = ['>', '>=', '<', '<=', '==', '!='] as const;
/** A comparison operator. */
export type Comparison = (typeof COMPARISONS)[number];

/** Per-input figures of a text model's windows: `<figure>:<text input>`. */
export const TEXT_FIGURES = ['text_drift', 'text_length_pvalue', 'text_token_js', 'text_oov_rate', 'text_empty_share', 'text_non_text_share'] as const;
/** Window figures (per feature: `drift_score:<feature>`, `missing_share:<feature>`; per text input: TEXT_FIGURES). */
export const WINDOW_FIGURES = ['rows', 'requests', 'dropped_rows', 'drift_share', 'drifted_columns', 'dataset_drift', 'quality_failed', 'quality_warned'] as const;
/** Performance figures, computed from late labels. */
export const PERFORMANCE_FIGURES = ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss', 'mae', 'rmse', 'r2'] as const;

/**
 * What the server does when a rule fires, besides notifying: roll the model's environment
 * back to its previous version, or run a command (a retraining job, for instance).
 */
export type AlertAction = { kind: 'rollback'; environment?: string } | { kind: 'command'; run: string };

/** The kinds of alert actions. */
export const ALERT_ACTION_KINDS = ['rollback', 'command'] as const;

/** An alert rule. */
export interface AlertRule {
  id: string;
  name: string;
  model: string;
  figure: string;
  comparison: Comparison;
  threshold: number;
  /** Consecutive windows that must breach before the alert fires. */
  forWindows: number;
  webhookUrl: string | null;
  /** Run once per firing episode through the engine's `onAction` hook; null when the rule only notifies. */
  action: AlertAction | null;
  createdTime: number;
}

/** Input of `createAlertRule`. */
export interface AlertRuleInput {
  name?: unknown;
  model?: unknown;
  figure?: unknown;
  comparison?: unknown;
  threshold?: unknown;
  forWindows?: unknown;
  webhookUrl?: unknown;
  action?: unknown;
}

/** Validates an alert action, naming the bad field; null for none. */
export function validateAlertAction(input: unknown): AlertAction | null {
  if (input === undefined || input === null) return null;
  const bad = (msg: string) => new SlipwayError('INVALID_ARGUMENT', msg, { field: 'action' });
  if (typeof input !== 'object' || Array.isArray(input)) throw bad("'action' must be an object: { kind: 'rollback', environment? } or { kind: 'command', run }.");
  const a = input as Record<string, unknown>;
  if (a.kind === 'rollback') {
    const extra = Object.keys(a).filter((k) => k !== 'kind' && k !== 'environment');
    if (extra.length > 0) throw bad(`'action' of kind rollback takes only 'environment', not ${extra.map((k) => `'${k}'`).join(', ')}.`);
    if (a.environment === undefined) return { kind: 'rollback' };
    if (typeof a.environment !== 'string' || !/^[\w.-]{1,255}$/.test(a.environment)) throw bad("'action.environment' must be an alias name of 1-255 letters, digits, '.', '_' or '-'.");
    return { kind: 'rollback', environment: a.environment };
  }
  if (a.kind === 'command') {
    const extra = Object.keys(a).filter((k) => k !== 'kind' && k !== 'run');
    if (extra.length > 0) throw bad(`'action' of kind command takes only 'run', not ${extra.map((k) => `'${k}'`).join(', ')}.`);
    if (typeof a.run !== 'string' || a.run.trim() === '' || a.run.length > 10_000) throw bad("'action.run' must be a shell command of 1-10000 characters.");
    return { kind: 'command', run: a.run };
  }
  throw bad(`'action.kind' must be one of ${ALERT_ACTION_KINDS.join(', ')}.`);
}

/** Whether a figure name is one a rule may watch. */
export function isKnownFigure(f: string): boolean {
  return (WINDOW_FIGURES as readonly string[]).includes(f) || (PERFORMANCE_FIGURES as readonly string[]).includes(f) || new RegExp(`^(drift_score|missing_share|${TEXT_FIGURES.join('|')}):.+$`).test(f);
}

const DEFAULT_WEBHOOK_POLICY = createWebhookPolicy();

/** Validates a rule, naming the first bad field; `webhookPolicy` decides where its webhook may point. */
export function validateAlertRule(input: AlertRuleInput, webhookPolicy: OutboundPolicy = DEFAULT_WEBHOOK_POLICY): Omit<AlertRule, 'id' | 'createdTime'> {
  const bad = (msg: string) => new SlipwayError('INVALID_ARGUMENT', msg);
  if (typeof input.name !== 'string' || !/^[\w.-]{1,100}$/.test(input.name)) throw bad("'name' must be 1-100 letters, digits, '.', '_' or '-'.");
  if (typeof input.model !== 'string' || input.model === '') throw bad("'model' must name a registered model.");
  if (typeof input.figure !== 'string' || !isKnownFigure(input.figure)) {
    throw bad(`'figure' must be one of ${[...WINDOW_FIGURES, ...PERFORMANCE_FIGURES].join(', ')}, drift_score:<feature>, missing_share:<feature> or, for a text input, ${TEXT_FIGURES.map((t) => `${t}:<input>`).join(', ')}.`);
  }
  if (!COMPARISONS.includes(input.comparison as Comparison)) throw bad(`'comparison' must be one of ${COMPARISONS.join(' ')}.`);
  if (typeof input.threshold !== 'number' || !Number.isFinite(input.threshold)) throw bad("'threshold' must be a finite number.");
  const forWindows = input.forWindows ?? 1;
  if (typeof forWindows !== 'number' || !Number.isInteger(forWindows) || forWindows < 1 || forWindows > 1000) throw bad("'forWindows' must be an integer from 1 to 1000.");
  let webhookUrl: string | null = null;
  if (input.webhookUrl !== undefined && input.webhookUrl !== null) {
    if (typeof input.webhookUrl !== 'string') throw bad("'webhookUrl' must be an http(s) URL.");
    let u: URL;
    try {
      u = new URL(input.webhookUrl);
    } catch {
      throw bad("'webhookUrl' must be an http(s) URL.");
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad("'webhookUrl' must be an http(s) URL.");
    try {
      webhookPolicy.checkUrl(u.toString(), 'webhookUrl');
    } catch (err) {
      // A refused destination is a bad field of the rule being created: 400, with the policy's reason.
      if (isSlipwayError(err)) throw new SlipwayError('INVALID_ARGUMENT', err.message, { ...err.details, field: 'webhookUrl' });
      throw err;
    }
    webhookUrl = u.toString();
  }
  const action = validateAlertAction(input.action);
  return { name: input.name, model: input.model, figure: input.figure, comparison: input.comparison as Comparison, threshold: input.threshold, forWindows, webhookUrl, action };
}

/** Whether `value` breaches `comparison threshold`. */
export function breaches(value: number, comparison: Comparison, threshold: number): boolean {
  switch (comparison) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

function toRule(r: { id: string; name: string; model: string; figure: string; comparison: string; threshold: number; for_windows: number; webhook_url: string | null; action: string | null; created_time: number }): AlertRule {
  return {
    id: r.id,
    name: r.name,
    model: r.model,
    figure: r.figure,
    comparison: r.comparison as Comparison,
    threshold: Number(r.threshold),
    forWindows: Number(r.for_windows),
    webhookUrl: r.webhook_url,
    action: r.action === null ? null : (JSON.parse(r.action) as AlertAction),
    createdTime: Number(r.created_time),
  };
}

/** Creates a rule (state starts 'ok'); its webhook must satisfy `webhookPolicy` (public hosts only by default). */
export async function createAlertRule(store: Store, input: AlertRuleInput, meta: MutationMeta, webhookPolicy?: OutboundPolicy): Promise<AlertRule> {
  const v = validateAlertRule(input, webhookPolicy);
  const rule: AlertRule = { ...v, id: randomUUID(), createdTime: meta.time };
  const taken = () => new SlipwayError('ALREADY_EXISTS', `An alert rule named '${rule.name}' already exists.`, { name: rule.name });
  try {
    await insertAlertRule(store, rule, meta, taken);
  } catch (err) {
    // Two concurrent creates both pass the name check; the loser hits the unique index and hears why.
    if (isSlipwayError(err)) throw err;
    const clash = await store.db.selectFrom('monitoring_alert_rules').select('id').where('name', '=', rule.name).executeTakeFirst();
    throw clash ? taken() : err;
  }
  return rule;
}

// The name check, the rule, its state and the audit event in one transaction.
async function insertAlertRule(store: Store, rule: AlertRule, meta: MutationMeta, taken: () => SlipwayError): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    const clash = await trx.selectFrom('monitoring_alert_rules').select('id').where('name', '=', rule.name).executeTakeFirst();
    if (clash) throw taken();
    await trx
      .insertInto('monitoring_alert_rules')
      .values({ id: rule.id, name: rule.name, model: rule.model, figure: rule.figure, comparison: rule.comparison, threshold: rule.threshold, for_windows: rule.forWindows, webhook_url: rule.webhookUrl, action: rule.action === null ? null : JSON.stringify(rule.action), created_time: rule.createdTime })
      .execute();
    await trx.insertInto('monitoring_alert_states').values({ rule_id: rule.id, state: 'ok', consecutive: 0, last_value: null, last_window: null, since: null, updated_time: meta.time }).execute();
    await appendAuditEvent(trx, store.dialect, { actor: meta.actor, action: 'monitoring.alert_rule.create', entityType: 'alert_rule', entityId: rule.id, requestId: meta.requestId, change: rule, time: meta.time });
  });
}

/** Deletes a rule by id or name; NOT_FOUND when absent. */
export async function deleteAlertRule(store: Store, idOrName: string, meta: MutationMeta): Promise<void> {
  await store.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('monitoring_alert_rules').select('id').where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)])).executeTakeFirst();
    if (!row) throw new SlipwayError('NOT_FOUND', `No alert rule '${idOrName}'.`, { rule: idOrName });
    await trx.deleteFrom('monitoring_alert_states').where('rule_id', '=', row.id).execute();
    await trx.deleteFrom('monitoring_alert_rules').where('id', '=', row.id).execute();
    await appendAuditEvent(trx, store.dialect, { actor: meta.actor, action: 'monitoring.alert_rule.delete', entityType: 'alert_rule', entityId: row.id, requestId: meta.requestId, change: { id: row.id }, time: meta.time });
  });
}

/** Rules, optionally of one model. */
export async function listAlertRules(store: Store, model?: string): Promise<AlertRule[]> {
  let q = store.db.selectFrom('monitoring_alert_rules').selectAll();
  if (model) q = q.where('model', '=', model);
  return (await q.orderBy('name').execute()).map(toRule);
}

/** A rule with its current state. */
export interface AlertStatus extends AlertRule {
  state: 'ok' | 'firing';
  consecutive: number;
  lastValue: number | null;
  lastWindow: number | null;
  /** When the current firing episode started (window start), when firing. */
  since: number | null;
}

/** Rules with their state. */
export async function listAlertStatus(store: Store, model?: string): Promise<AlertStatus[]> {
  const rules = await listAlertRules(store, model);
  if (rules.length === 0) return [];
  const states = await store.db.selectFrom('monitoring_alert_states').selectAll().where('rule_id', 'in', rules.map((r) => r.id)).execute();
  const byId = new Map(states.map((s) => [s.rule_id, s]));
  return rules.map((r) => {
    const s = byId.get(r.id);
    return { ...r, state: (s?.state ?? 'ok') as 'ok' | 'firing', consecutive: Number(s?.consecutive ?? 0), lastValue: s?.last_value ?? null, lastWindow: s?.last_window === null || s?.last_window === undefined ? null : Number(s.last_window), since: s?.since === null || s?.since === undefined ? null : Number(s.since) };
  });
}
