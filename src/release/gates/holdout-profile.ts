/** The quality and drift gates' two sides: the model's reference profile and the holdout's profile. */
import type { DatasetProfile } from '../../monitoring/profile/dataset-profile.js';
import { profileTable } from '../../monitoring/profile/dataset-profile.js';
import { readTable } from '../../monitoring/readers/table-reader.js';
import { findReference, type StoredReference } from '../../monitoring/reference/reference-repository.js';
import type { GateContext } from './gate.js';
import { holdoutFile, throwIfAborted } from './gate-support.js';

/** Both sides, or why there is no reference. */
export type ProfiledSides =
  | { reference: StoredReference; current: DatasetProfile; holdoutRows: number; excluded: string[] }
  | { missing: string };

/** Finds the reference (the candidate's, else the champion's) and profiles the holdout. */
export async function profileSides(kind: string, spec: { holdout?: string; label?: string }, ctx: GateContext): Promise<ProfiledSides> {
  const reference = (await findReference(ctx.store, ctx.candidate.name, ctx.candidate.version)) ?? (ctx.champion ? await findReference(ctx.store, ctx.champion.name, ctx.champion.version) : undefined);
  if (!reference) {
    const versions = ctx.champion ? `version ${ctx.candidate.version} nor champion version ${ctx.champion.version}` : `version ${ctx.candidate.version}`;
    return {
      missing: `The ${kind} gate needs a reference profile but neither ${versions} of model '${ctx.candidate.name}' has one: attach one with 'slipway monitor reference set models:/${ctx.candidate.name}/${ctx.candidate.version} --data TRAINING_DATA'.`,
    };
  }
  const path = await holdoutFile(kind, spec.holdout, ctx);
  ctx.progress(`${kind}: profiling the holdout`);
  const table = await readTable(path);
  throwIfAborted(ctx.signal);
  const current = profileTable(table);
  // The label is not an input: a reference profiled from features alone would count it as a new column.
  const excluded = spec.label !== undefined && !reference.profile.columns.has(spec.label) ? [spec.label] : [];
  return { reference, current, holdoutRows: table.rows, excluded };
}
