/** The `drift` gate: drift of the holdout against the model's training reference. */
import type { GateSpec } from '../../client/schemas/releases.js';
import { computeDrift } from '../../monitoring/drift/data-drift.js';
import type { GateContext, GateOutcome } from './gate.js';
import { formatFigure, gateError } from './gate-support.js';
import { profileSides } from './holdout-profile.js';

/** The drift gate's spec; the release fills `holdout` and `label` from the policy. */
export type DriftGateSpec = Extract<GateSpec, { kind: 'drift' }> & { label?: string };

/** Fails when the share of drifted feature columns is above `maxDriftShare`. */
export async function runDriftGate(spec: DriftGateSpec, ctx: GateContext): Promise<GateOutcome> {
  const sides = await profileSides('drift', spec, ctx);
  if ('missing' in sides) return gateError(sides.missing);
  const maxDriftShare = spec.maxDriftShare ?? 0.5;
  // The label is judged by the evaluation gate; drift here is of the model's inputs.
  const exclude = spec.label !== undefined ? [spec.label] : [];
  const drift = computeDrift(sides.reference.profile, sides.current, { exclude });
  const column = (c: (typeof drift.columns)[number]) => ({ column: c.column, test: c.test, scoreKind: c.scoreKind, score: c.score, statistic: c.statistic, threshold: c.threshold, drifted: c.drifted });
  const figures = {
    reference: { model: sides.reference.model, version: sides.reference.version, rows: sides.reference.rows },
    holdoutRows: sides.holdoutRows,
    share: drift.share,
    maxDriftShare,
    driftedColumns: drift.driftedColumns,
    testedColumns: drift.testedColumns,
    drifted: drift.columns.filter((c) => c.drifted).map(column),
    columns: drift.columns.map(column),
  };
  const share = `${drift.driftedColumns} of ${drift.testedColumns} columns drifted (share ${formatFigure(drift.share)}`;
  if (drift.share <= maxDriftShare) return { verdict: 'pass', reason: `No dataset drift: ${share}, bound ${formatFigure(maxDriftShare)}).`, figures };
  const worst = drift.columns
    .filter((c) => c.drifted)
    .slice(0, 3)
    .map((c) => `${c.column} (${c.test} ${c.scoreKind} ${formatFigure(c.score)})`)
    .join(', ');
  return { verdict: 'fail', reason: `Dataset drift: ${share} > bound ${formatFigure(maxDriftShare)}), most of all ${worst}.`, figures };
}
