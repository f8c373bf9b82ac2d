/** The `quality` gate: the monitoring quality suite on the holdout against the model's reference profile. */
import type { GateSpec } from '../../client/schemas/releases.js';
import { runQualitySuite } from '../../monitoring/quality/quality-suite.js';
import type { GateContext, GateOutcome } from './gate.js';
import { gateError } from './gate-support.js';
import { profileSides } from './holdout-profile.js';

/** The quality gate's spec; the release fills `holdout` and `label` from the policy. */
export type QualityGateSpec = Extract<GateSpec, { kind: 'quality' }> & { label?: string };

/** Fails on any failed test of the suite (and on warnings with `failOnWarning`). */
export async function runQualityGate(spec: QualityGateSpec, ctx: GateContext): Promise<GateOutcome> {
  const sides = await profileSides('quality', spec, ctx);
  if ('missing' in sides) return gateError(sides.missing);
  const result = runQualitySuite(sides.reference.profile, sides.current, { exclude: sides.excluded });
  const failOnWarning = spec.failOnWarning ?? false;
  const failing = result.tests.filter((t) => t.status === 'fail' || t.status === 'error' || (failOnWarning && t.status === 'warn'));
  const figures = {
    reference: { model: sides.reference.model, version: sides.reference.version, rows: sides.reference.rows },
    holdoutRows: sides.holdoutRows,
    failOnWarning,
    counts: result.counts,
    tests: result.tests,
  };
  const allowed = failOnWarning ? '0 failed or warned tests allowed' : '0 failed tests allowed';
  if (failing.length === 0) {
    return { verdict: 'pass', reason: `Quality suite passed: ${result.counts.fail} failed and ${result.counts.warn} warned of ${result.tests.length} tests (${allowed}) on ${sides.holdoutRows} holdout rows.`, figures };
  }
  const named = failing
    .slice(0, 5)
    .map((t) => `${t.name}${t.column ? ` (${t.column})` : ''}: ${t.message}`)
    .join('; ');
  return { verdict: 'fail', reason: `Quality suite failed: ${failing.length} of ${result.tests.length} tests failed (${allowed}): ${named}${failing.length > 5 ? '; …' : ''}`, figures };
}
