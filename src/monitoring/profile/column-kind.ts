/** Column kinds and how they are inferred. */

/** What a column holds, which decides its statistics and drift test. */
export type ColumnKind = 'numerical' | 'categorical' | 'boolean' | 'text';

/** Every kind, for validation. */
export const COLUMN_KINDS: readonly ColumnKind[] = ['numerical', 'categorical', 'boolean', 'text'];

const BOOLEAN_WORDS = new Set(['true', 'false']);

/**
 * Infers the kind of a string column: only true/false → boolean; many distinct long
 * values (more than 50 distinct, over half the rows, average length over 20) → text;
 * otherwise categorical. Numeric columns are numerical.
 */
export function inferStringKind(values: ReadonlyArray<string | null>): ColumnKind {
  const distinct = new Set<string>();
  let n = 0;
  let len = 0;
  let bool = true;
  for (const v of values) {
    if (v === null) continue;
    n++;
    len += v.length;
    if (bool && !BOOLEAN_WORDS.has(v.toLowerCase())) bool = false;
    if (distinct.size <= 100_000) distinct.add(v);
  }
  if (n > 0 && bool) return 'boolean';
  if (distinct.size > 50 && distinct.size > n / 2 && len / Math.max(1, n) > 20) return 'text';
  return 'categorical';
}
