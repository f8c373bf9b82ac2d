/** Release gates: each decides one question about a candidate version with its evidence (see gate.ts for the contract). */
import type { GateSpec } from '../../client/schemas/releases.js';
import { isSlipwayError } from '../../core/errors.js';
import { runCommandGate } from './command-gate.js';
import { runDriftGate, type DriftGateSpec } from './drift-gate.js';
import { runEvaluationGate, type EvaluationGateSpec } from './evaluation-gate.js';
import type { GateContext, GateOutcome } from './gate.js';
import { runLoadTestGate, type LoadTestGateSpec } from './load-test-gate.js';
import { runQualityGate, type QualityGateSpec } from './quality-gate.js';
import { runSignatureGate } from './signature-gate.js';

export type { GateContext, GateOutcome, GateRelease, PrivateServer } from './gate.js';
export { parseRelativeSlo, type RelativeSlo } from './load-test-gate.js';
export { RELEASE_TAG, ROLE_TAG } from './load-test-recording.js';

/**
 * Runs one gate. A gate that cannot decide (a missing holdout or reference, an unreadable file,
 * a bad threshold, an abort) returns verdict `error` with the reason instead of throwing;
 * `approval` gates belong to the release's state machine and are refused here.
 */
export async function runGate(spec: GateSpec, ctx: GateContext): Promise<GateOutcome> {
  try {
    switch (spec.kind) {
      case 'signature':
        return await runSignatureGate(spec, ctx);
      case 'evaluation':
        return await runEvaluationGate(spec as EvaluationGateSpec, ctx);
      case 'quality':
        return await runQualityGate(spec as QualityGateSpec, ctx);
      case 'drift':
        return await runDriftGate(spec as DriftGateSpec, ctx);
      case 'loadtest':
        return await runLoadTestGate(spec as LoadTestGateSpec, ctx);
      case 'command':
        return await runCommandGate(spec, ctx);
      case 'approval':
        return { verdict: 'error', reason: 'Approval gates are decided by the release itself (slipway releases approve), not run as checks.', figures: {} };
    }
  } catch (err) {
    if (ctx.signal.aborted) return { verdict: 'error', reason: `The ${spec.kind} gate stopped: the release was aborted.`, figures: {} };
    // A client's mistake or a missing input is the gate's reason; anything else is logged with its stack too.
    if (!isSlipwayError(err)) ctx.logger.error({ err, release: ctx.release.id, gate: spec.kind }, 'release: gate failed unexpectedly');
    const message = (err as Error).message;
    return { verdict: 'error', reason: `The ${spec.kind} gate could not decide: ${message}`, figures: isSlipwayError(err) ? { code: err.code, ...(err.details ?? {}) } : {} };
  }
}
