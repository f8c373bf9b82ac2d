/**
 * What a release policy asks of the world, checked before a release is written:
 * gate names, holdouts, thresholds relative to a champion, durations.
 */
import { parseDuration } from '../core/duration.js';
import { SlipwayError } from '../core/errors.js';
import type { GateSpec, ReleasePolicy, StrategySpec } from '../client/schemas/releases.js';

/** Where release holdouts live in the artifact store; the release routes read nothing outside it. */
export const HOLDOUT_PREFIX = 'releases/holdouts/';

/** Gate kinds that read a holdout. */
const HOLDOUT_KINDS = new Set<GateSpec['kind']>(['evaluation', 'quality', 'drift']);

/** Strategies that steer live traffic, so the model must be served here by the environment's alias. */
export const LIVE_STRATEGIES = new Set<StrategySpec['kind']>(['canary', 'shadow', 'blue-green']);

/** A gate's name in reports: its own, else its kind, numbered from the second of a kind on (`evaluation-2`). */
export function gateNames(gates: readonly GateSpec[]): string[] {
  const seen = new Map<string, number>();
  return gates.map((g) => {
    const n = (seen.get(g.kind) ?? 0) + 1;
    seen.set(g.kind, n);
    return g.name ?? (n === 1 ? g.kind : `${g.kind}-${n}`);
  });
}

/** The holdout a gate reads: its own, else the policy's. */
export function holdoutOf(gate: GateSpec, policy: ReleasePolicy): string | undefined {
  if (!HOLDOUT_KINDS.has(gate.kind)) return undefined;
  return ('holdout' in gate ? gate.holdout : undefined) ?? policy.holdout;
}

/** Whether a gate needs a holdout. */
export function needsHoldout(gate: GateSpec): boolean {
  return HOLDOUT_KINDS.has(gate.kind);
}

const CHAMPION_WORD = /\bchampion\b/i;

/** The thresholds of a gate that compare with the champion (`accuracy >= champion - 0.02`, `p99 <= champion * 1.25`). */
export function relativeThresholds(gate: GateSpec): string[] {
  if (gate.kind === 'evaluation') return gate.metrics.filter((m) => CHAMPION_WORD.test(m));
  if (gate.kind === 'loadtest') return gate.slo.filter((m) => CHAMPION_WORD.test(m));
  return [];
}

/** The number of approvals a policy waits for (the largest of its approval gates), 0 without one. */
export function approvalsNeeded(policy: ReleasePolicy): number {
  let n = 0;
  for (const g of policy.gates) if (g.kind === 'approval') n = Math.max(n, g.count);
  return n;
}

/** A policy duration in ms, its field named in the error. */
export function policyDuration(value: string, field: string): number {
  return parseDuration(value, { name: field, max: 7 * 24 * 3_600_000 });
}

/** Checks the parts of a strategy zod cannot: its durations and the order of canary steps. Throws INVALID_ARGUMENT. */
export function checkStrategy(strategy: StrategySpec): void {
  if (strategy.kind === 'canary') {
    policyDuration(strategy.interval, 'policy.strategy.interval');
    for (let i = 1; i < strategy.steps.length; i++) {
      if ((strategy.steps[i] as number) <= (strategy.steps[i - 1] as number)) {
        throw new SlipwayError('INVALID_ARGUMENT', `policy.strategy.steps must rise step by step (e.g. 10, 50, 100); got ${strategy.steps.join(', ')}.`, { field: 'policy.strategy.steps' });
      }
    }
  }
  if (strategy.kind === 'shadow') {
    policyDuration(strategy.duration, 'policy.strategy.duration');
    policyDuration(strategy.interval, 'policy.strategy.interval');
  }
  if (strategy.kind === 'blue-green') policyDuration(strategy.bake, 'policy.strategy.bake');
}
