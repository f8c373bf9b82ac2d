/** The `evaluation` gate: candidate and champion scored on one holdout in the same run, thresholds absolute or relative to the champion. */
import type { GateSpec } from '../../client/schemas/releases.js';
import { checkMetricThresholds, evaluateOnHoldout, needsChampion, parseMetricThreshold } from '../evaluation/index.js';
import type { GateContext, GateOutcome } from './gate.js';
import { gateError, holdoutFile } from './gate-support.js';

/** The evaluation gate's spec (the release fills `holdout` and `label` from the policy). */
export type EvaluationGateSpec = Extract<GateSpec, { kind: 'evaluation' }>;

/** Passes when every threshold holds for the candidate. */
export async function runEvaluationGate(spec: EvaluationGateSpec, ctx: GateContext): Promise<GateOutcome> {
  if (spec.label === undefined) return gateError('The evaluation gate needs the label column of its holdout: give the gate or the policy a label (slipway release --label COLUMN).');
  // Thresholds are parsed before any model runs, so a typo costs nothing.
  const thresholds = spec.metrics.map((m) => parseMetricThreshold(m));
  const relative = needsChampion(thresholds);
  if (relative && !ctx.champion) {
    return gateError(`The thresholds ${spec.metrics.join(', ')} compare with the champion, but environment '${ctx.release.environment}' has none yet (first release): use absolute thresholds.`);
  }
  const holdoutPath = await holdoutFile('evaluation', spec.holdout, ctx);
  const result = await evaluateOnHoldout({
    holdoutPath,
    label: spec.label,
    ...(spec.task ? { task: spec.task } : {}),
    candidate: { onnxPath: ctx.candidate.onnxPath, version: ctx.candidate.version, ...(ctx.candidate.columns ? { columns: ctx.candidate.columns } : {}) },
    ...(ctx.champion ? { champion: { onnxPath: ctx.champion.onnxPath, version: ctx.champion.version, ...(ctx.champion.columns ? { columns: ctx.champion.columns } : {}) } } : {}),
    signal: ctx.signal,
    onProgress: (done: number, total: number) => ctx.progress(`evaluation: ${done} of ${total} rows scored`),
  });
  const verdict = checkMetricThresholds(thresholds, result);
  const figures = { task: result.task, label: result.label, rows: result.rows, candidate: result.candidate, ...(result.champion ? { champion: result.champion } : {}), checks: verdict.checks };
  const failed = verdict.checks.filter((c) => !c.pass);
  if (verdict.pass) return { verdict: 'pass', reason: `All ${verdict.checks.length} metric thresholds held on ${result.rows} holdout rows: ${verdict.checks.map((c) => c.reason).join('; ')}.`, figures };
  return { verdict: 'fail', reason: `${failed.length} of ${verdict.checks.length} metric thresholds failed on ${result.rows} holdout rows: ${failed.map((c) => c.reason).join('; ')}.`, figures };
}
