/**
 * Evaluates alert rules over the newest windows and notifies webhooks on transitions.
 * A rule fires when its figure breached in each of the last `forWindows` windows and
 * resolves when the newest window no longer breaches. Each transition is stored once
 * under a de-duplication key (rule, kind, episode start), so re-evaluation, restarts
 * and several replicas never notify the same transition twice; undelivered
 * notifications are retried on later evaluations (up to 5 attempts).
 */
import type { Clock } from '../../core/clock.js';
import type { OutboundPolicy } from '../../core/outbound-policy.js';
import type { Logger } from '../../core/logger.js';
import type { Transaction } from 'kysely';
import type { Database } from '../../store/schema.js';
import type { Store } from '../../store/store.js';
import { listWindows } from '../live/window-repository.js';
import { windowPerformance, type WindowPerformance } from '../performance/performance-repository.js';
import { breaches, listAlertRules, PERFORMANCE_FIGURES, type AlertAction, type AlertRule } from './alert-rules.js';
import { deliverWebhook, type WebhookPayload } from './webhook-notifier.js';

const MAX_ATTEMPTS = 5;

function performanceFigure(p: WindowPerformance | undefined, figure: string): number | null {
  if (!p) return null;
  const c = p.classification;
  const r = p.regression;
  const map: Record<string, number | null | undefined> = {
    accuracy: c?.accuracy,
    precision: c?.precision,
    recall: c?.recall,
    f1: c?.f1,
    roc_auc: c?.rocAuc,
    log_loss: c?.logLoss,
    mae: r?.mae,
    rmse: r?.rmse,
    r2: r?.r2,
  };
  return map[figure] ?? null;
}

/** The firing a rule's action answers. */
export interface AlertFiring {
  /** `<rule id>:firing:<episode start>`, as in the webhook notification. */
  dedupKey: string;
  value: number | null;
  windowStart: number | null;
  time: number;
}

/** Runs a rule's action (a rollback, a command); the server wires it to the release service. */
export type AlertActionHook = (rule: AlertRule, action: AlertAction, firing: AlertFiring) => Promise<void> | void;

/** Runs an evaluation's state change in one transaction (e.g. fenced by a job lease). */
export type AlertTransaction = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

/** Options of the engine beyond its store, clock and logger. */
export interface AlertEngineOptions {
  /** Called once per firing episode of a rule with an action; a failure is logged, never retried. */
  onAction?: AlertActionHook;
}

/** Evaluates rules and sends notifications. */
export class AlertEngine {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly webhookTimeoutMs = 5000,
    private readonly webhookPolicy?: OutboundPolicy,
    private readonly options: AlertEngineOptions = {},
  ) {}

  /** Figure values of the newest `n` windows (newest first; all versions of the model). */
  private async series(rule: AlertRule, n: number): Promise<Array<{ windowStart: number; value: number | null }>> {
    const windows = await listWindows(this.store, rule.model, { limit: n });
    if ((PERFORMANCE_FIGURES as readonly string[]).includes(rule.figure)) {
      const perf = await windowPerformance(this.store, rule.model, windows.length > 0 ? { from: Math.min(...windows.map((w) => w.windowStart)) } : {});
      const byStart = new Map(perf.map((p) => [`${p.windowStart}|${p.version}`, p]));
      return windows.map((w) => ({ windowStart: w.windowStart, value: performanceFigure(byStart.get(`${w.windowStart}|${w.version}`), rule.figure) }));
    }
    return windows.map((w) => ({ windowStart: w.windowStart, value: w.figures[rule.figure] ?? null }));
  }

  /**
   * Evaluates every rule of `model` (or all rules) and delivers pending notifications. State
   * changes commit through `transaction` when given (a lease's fence), else a plain transaction.
   */
  async evaluate(model?: string, transaction?: AlertTransaction): Promise<void> {
    const rules = await listAlertRules(this.store, model);
    for (const rule of rules) {
      try {
        await this.evaluateRule(rule, transaction);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, rule: rule.name }, 'monitoring: alert evaluation failed');
      }
    }
    await this.deliverPending(rules);
  }

  private async evaluateRule(rule: AlertRule, transaction: AlertTransaction = (work) => this.store.db.transaction().execute(work)): Promise<void> {
    const series = await this.series(rule, rule.forWindows);
    let consecutive = 0;
    for (const s of series) {
      if (s.value === null || !breaches(s.value, rule.comparison, rule.threshold)) break;
      consecutive++;
    }
    const newest = series[0];
    const now = this.clock.now();
    const state = await this.store.db.selectFrom('monitoring_alert_states').selectAll().where('rule_id', '=', rule.id).executeTakeFirst();
    const was = state?.state ?? 'ok';
    const firing = consecutive >= rule.forWindows && series.length >= rule.forWindows;
    const next = firing ? 'firing' : 'ok';
    const episodeStart = firing ? (series[rule.forWindows - 1]?.windowStart ?? null) : null;
    const since = next === was ? (state?.since === null || state?.since === undefined ? null : Number(state.since)) : episodeStart;
    const fired = await transaction(async (trx): Promise<AlertFiring | undefined> => {
      await trx
        .insertInto('monitoring_alert_states')
        .values({ rule_id: rule.id, state: next, consecutive, last_value: newest?.value ?? null, last_window: newest?.windowStart ?? null, since, updated_time: now })
        .onConflict((oc) => oc.column('rule_id').doUpdateSet({ state: next, consecutive, last_value: newest?.value ?? null, last_window: newest?.windowStart ?? null, since, updated_time: now }))
        .execute();
      if (next === was) return undefined;
      const kind = next === 'firing' ? 'firing' : 'resolved';
      const episode = kind === 'firing' ? since : (state?.since ?? null);
      const dedupKey = `${rule.id}:${kind}:${episode ?? 'none'}`;
      const inserted = await trx
        .insertInto('monitoring_alert_events')
        .values({ dedup_key: dedupKey, rule_id: rule.id, kind, time: now, value: newest?.value ?? null, window_start: newest?.windowStart ?? null, delivered: 0, attempts: 0, last_error: null })
        .onConflict((oc) => oc.column('dedup_key').doNothing())
        .executeTakeFirst();
      // Only the evaluation that stored the episode's firing acts on it, so replicas and restarts act once.
      if (kind !== 'firing' || Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return undefined;
      return { dedupKey, value: newest?.value ?? null, windowStart: newest?.windowStart ?? null, time: now };
    });
    if (fired && rule.action) await this.act(rule, rule.action, fired);
  }

  // After the transaction: an action (a rollback) may take a while and must not hold the store.
  private async act(rule: AlertRule, action: AlertAction, firing: AlertFiring): Promise<void> {
    const hook = this.options.onAction;
    if (!hook) {
      this.logger.warn({ rule: rule.name, action: action.kind }, 'monitoring: alert rule has an action but this server runs none');
      return;
    }
    try {
      await hook(rule, action, firing);
      this.logger.info({ rule: rule.name, action: action.kind, dedupKey: firing.dedupKey }, 'monitoring: alert action ran');
    } catch (err) {
      this.logger.error({ err: (err as Error).message, rule: rule.name, action: action.kind, dedupKey: firing.dedupKey }, 'monitoring: alert action failed');
    }
  }

  private async deliverPending(rules: AlertRule[]): Promise<void> {
    if (rules.length === 0) return;
    const byId = new Map(rules.map((r) => [r.id, r]));
    const pending = await this.store.db
      .selectFrom('monitoring_alert_events')
      .selectAll()
      .where('delivered', '=', 0)
      .where('attempts', '<', MAX_ATTEMPTS)
      .where('rule_id', 'in', [...byId.keys()])
      .orderBy('time')
      .execute();
    for (const ev of pending) {
      const rule = byId.get(ev.rule_id);
      if (!rule) continue;
      if (!rule.webhookUrl) {
        await this.store.db.updateTable('monitoring_alert_events').set({ delivered: 1 }).where('dedup_key', '=', ev.dedup_key).execute();
        continue;
      }
      const payload: WebhookPayload = {
        dedupKey: ev.dedup_key,
        status: ev.kind as 'firing' | 'resolved',
        rule: { id: rule.id, name: rule.name, model: rule.model, figure: rule.figure, comparison: rule.comparison, threshold: rule.threshold, forWindows: rule.forWindows },
        value: ev.value,
        windowStart: ev.window_start === null ? null : Number(ev.window_start),
        time: Number(ev.time),
      };
      const result = await deliverWebhook(rule.webhookUrl, payload, this.webhookTimeoutMs, this.webhookPolicy ? { policy: this.webhookPolicy } : {});
      await this.store.db
        .updateTable('monitoring_alert_events')
        .set({ delivered: result.ok ? 1 : 0, attempts: Number(ev.attempts) + 1, last_error: result.ok ? null : result.error })
        .where('dedup_key', '=', ev.dedup_key)
        .execute();
      if (!result.ok) this.logger.warn({ rule: rule.name, error: result.error }, 'monitoring: webhook delivery failed');
    }
  }

  /** Notifications of a rule (newest first). */
  async events(ruleId: string, limit = 50): Promise<Array<{ dedupKey: string; kind: string; time: number; value: number | null; delivered: boolean; attempts: number; lastError: string | null }>> {
    const rows = await this.store.db.selectFrom('monitoring_alert_events').selectAll().where('rule_id', '=', ruleId).orderBy('time', 'desc').limit(limit).execute();
    return rows.map((r) => ({ dedupKey: r.dedup_key, kind: r.kind, time: Number(r.time), value: r.value, delivered: r.delivered === 1, attempts: Number(r.attempts), lastError: r.last_error }));
  }
}
