/**
 * What an alert rule's action does to a model (the feedback loop from monitoring to releases):
 * `rollback` puts the environment back on the version its last promotion replaced — or, while a
 * release of the model is still unfinished, aborts it so its traffic returns to the champion;
 * `command` runs a shell command with a time bound and keeps the tail of its output. Every action is
 * recorded under the actor `alert:<rule name>`: in the history of the release it touched (the abort,
 * the rollback) or of the model's last promoted release, and in the audit trail.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { AlertAction, AlertRule } from '../monitoring/alerts/alert-rules.js';
import type { GateContext } from './gates/gate.js';
import { runCommandGate } from './gates/command-gate.js';
import type { ReleaseService } from './release-service.js';

/** The firing an action answers (the monitoring engine's `AlertFiring`). */
export interface AlertActionFiring {
  dedupKey: string;
  value: number | null;
  time: number;
}

/** What an action did, as recorded. */
export interface AlertActionOutcome {
  ok: boolean;
  message: string;
  /** The release whose history holds the record, if any. */
  releaseId?: string;
  details: Record<string, unknown>;
}

/** Options of `runAlertAction`. */
export interface AlertActionOptions {
  clock: Clock;
  logger: Logger;
  /** Longest a `command` action may run before its process group is killed. @default 10 min */
  commandTimeout?: string;
  /** Stops a running command (server shutdown). */
  signal?: AbortSignal;
}

/** The actor an alert's actions are recorded under. */
export function alertActor(rule: Pick<AlertRule, 'name'>): string {
  return `alert:${rule.name}`;
}

function why(rule: AlertRule, firing: AlertActionFiring): string {
  return `alert '${rule.name}' fired: ${rule.figure} ${firing.value ?? 'n/a'} ${rule.comparison} ${rule.threshold} for ${rule.forWindows} window(s)`;
}

/** Runs one alert action and records it; resolves with what it did, and throws only when recording fails. */
export async function runAlertAction(service: ReleaseService, rule: AlertRule, action: AlertAction, firing: AlertActionFiring, opts: AlertActionOptions): Promise<AlertActionOutcome> {
  const actor = alertActor(rule);
  const reason = why(rule, firing);
  const base = { rule: { id: rule.id, name: rule.name }, dedupKey: firing.dedupKey, value: firing.value };
  if (action.kind === 'rollback') {
    try {
      const active = await service.activeOf(rule.model);
      if (active) {
        // A rollout in progress is what the alert sees: abort it, which returns its traffic to the champion.
        await service.abort(active.id, { reason }, { actor });
        return { ok: true, message: `Aborted release ${active.id} of ${rule.model}: ${reason}.`, releaseId: active.id, details: { ...base, aborted: active.id } };
      }
      const done = await service.rollback(rule.model, { ...(action.environment !== undefined ? { environment: action.environment } : {}), reason }, { actor });
      return { ok: true, message: `Rolled ${rule.model} '${done.environment}' back to version ${done.version}: ${reason}.`, ...(done.releaseId ? { releaseId: done.releaseId } : {}), details: { ...base, ...done } };
    } catch (err) {
      const message = `Alert '${rule.name}' asked to roll ${rule.model} back, which failed: ${err instanceof Error ? err.message : String(err)}`;
      const details = { ...base, action, error: err instanceof Error ? err.message : String(err) };
      const releaseId = await service.recordModelEvent(rule.model, action.environment, { type: 'alert_action', action: 'release.alert_action', actor, message, details });
      return { ok: false, message, ...(releaseId ? { releaseId } : {}), details };
    }
  }
  // The command gate's runner: same time bound, process-group kill and output tails. The command sees
  // SLIPWAY_MODEL (and the environment's version as SLIPWAY_VERSION) as a gate's command would.
  const current = await service.currentVersion(rule.model, 'champion');
  const ctx: Pick<GateContext, 'clock' | 'signal' | 'progress' | 'release'> = {
    clock: opts.clock,
    signal: opts.signal ?? new AbortController().signal,
    progress: (message) => opts.logger.info({ rule: rule.name }, message),
    release: { id: '', model: rule.model, version: current ?? '', environment: 'champion' } as GateContext['release'],
  };
  let outcome: Awaited<ReturnType<typeof runCommandGate>>;
  try {
    outcome = await runCommandGate({ kind: 'command', run: action.run, timeout: opts.commandTimeout ?? '10m' }, ctx as GateContext);
  } catch (err) {
    outcome = { verdict: 'error', reason: `the command could not run: ${err instanceof Error ? err.message : String(err)}`, figures: { command: action.run } };
  }
  const ok = outcome.verdict === 'pass';
  const message = `Alert '${rule.name}' ran its command: ${outcome.reason}`;
  const details = { ...base, ...outcome.figures };
  const releaseId = await service.recordModelEvent(rule.model, undefined, { type: 'alert_action', action: 'release.alert_action', actor, message, details });
  return { ok, message, ...(releaseId ? { releaseId } : {}), details };
}
