/** What several gates share: number formatting for reasons, and finding the holdout a gate reads. */
import { SlipwayError } from '../../core/errors.js';
import type { GateContext, GateOutcome } from './gate.js';

/** A figure as reasons show it: integers whole, others with four significant digits. */
export function formatFigure(x: number | null | undefined): string {
  if (x === null || x === undefined || Number.isNaN(x)) return 'n/a';
  if (Number.isInteger(x)) return String(x);
  return Number(x.toPrecision(4)).toString();
}

/** An `error` outcome (the gate could not decide). */
export function gateError(reason: string, figures: Record<string, unknown> = {}): GateOutcome {
  return { verdict: 'error', reason, figures };
}

/** The local path of the gate's holdout; throws MISSING_ARGUMENT naming the gate kind when the spec has none. */
export async function holdoutFile(kind: string, holdout: string | undefined, ctx: GateContext): Promise<string> {
  if (holdout === undefined) {
    throw new SlipwayError('MISSING_ARGUMENT', `The ${kind} gate needs a holdout: give the gate or the policy a holdout (slipway release --holdout FILE).`, { gate: kind });
  }
  return ctx.holdoutPath(holdout);
}

/** Throws INVALID_STATE when the release's signal fired, so a gate stops between its steps. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new SlipwayError('INVALID_STATE', 'The release was aborted while the gate ran.');
}
