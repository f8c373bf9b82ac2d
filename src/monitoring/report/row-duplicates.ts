/** Counts duplicated rows of a columnar table by a 53-bit hash of each row (collisions: ~n²/2^54). */
import { hashNumber, hashString } from '../sketch/hyperloglog.js';
import type { Table } from '../table.js';

/** Rows equal to an earlier row. */
export function countDuplicateRows(table: Table): number {
  const n = table.rows;
  if (n < 2) return 0;
  const h1 = new Uint32Array(n);
  const h2 = new Uint32Array(n).fill(0x9e3779b9);
  for (const col of table.columns) {
    for (let i = 0; i < n; i++) {
      const v = col.values[i];
      const h = col.type === 'number' ? (v !== v ? 0x7ff8 : hashNumber(v as number)) : v === null ? 0x7ff9 : hashString(v as string);
      h1[i] = (Math.imul((h1[i] as number) ^ h, 0x01000193) + 0x7f4a7c15) >>> 0;
      h2[i] = (Math.imul((h2[i] as number) + h, 0x5bd1e995) ^ ((h2[i] as number) >>> 15)) >>> 0;
    }
  }
  const seen = new Set<number>();
  let dup = 0;
  for (let i = 0; i < n; i++) {
    const key = (h1[i] as number) * 2097152 + ((h2[i] as number) >>> 11);
    if (seen.has(key)) dup++;
    else seen.add(key);
  }
  return dup;
}
