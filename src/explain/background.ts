/**
 * The background sample explanations are measured against, drawn from a model version's
 * reference profile (the one monitoring compares live traffic with). A profile keeps each
 * column's distribution, not its rows, so the background is a sample of the product of the
 * columns' distributions: row k takes, in every column, the quantile at one of the levels
 * (k + 0.5) / size, the levels shuffled per column with a fixed seed. The same reference
 * therefore always gives the same background, and each column's values follow the reference.
 */
import { SlipwayError } from '../core/errors.js';
import type { DatasetProfile } from '../monitoring/profile/dataset-profile.js';
import { mulberry32 } from './coalitions.js';

/** The most background rows a request may ask for. */
export const MAX_BACKGROUND_SIZE = 1000;

/** `size` background rows over `features` (the model's input columns, in order) from `profile`. */
export function backgroundFromProfile(profile: DatasetProfile, features: readonly string[], size: number): number[][] {
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_BACKGROUND_SIZE) {
    throw new SlipwayError('INVALID_ARGUMENT', `The background size must be an integer from 1 to ${MAX_BACKGROUND_SIZE}, got ${size}.`);
  }
  const rows = Array.from({ length: size }, () => new Array<number>(features.length).fill(0));
  features.forEach((name, j) => {
    const column = profile.columns.get(name);
    if (!column) {
      throw new SlipwayError('INVALID_STATE', `The reference profile has no column '${name}' (the model's input ${j}); it has ${profile.names.map((n) => `'${n}'`).join(', ')}. Attach a reference whose columns are the model's inputs.`, { column: name });
    }
    if (column.kind !== 'numerical' || column.count === 0) {
      throw new SlipwayError('INVALID_STATE', `Reference column '${name}' has no numeric values (kind ${column.kind}), so it cannot give background values.`, { column: name });
    }
    const random = mulberry32(0x9e3779b9 ^ (j + 1));
    const levels = Array.from({ length: size }, (_, k) => (k + 0.5) / size);
    for (let k = size - 1; k > 0; k--) {
      const pick = Math.floor(random() * (k + 1));
      const t = levels[k] as number;
      levels[k] = levels[pick] as number;
      levels[pick] = t;
    }
    levels.forEach((q, k) => ((rows[k] as number[])[j] = column.quantile(q) as number));
  });
  return rows;
}
