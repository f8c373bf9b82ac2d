/** Counts duplicated rows of a columnar table by a 53-bit hash of each row (collisions: ~n²/2^54). */
import { fmix, hashString } from '../sketch/hyperloglog.js';
import type { Table } from '../table.js';

/** Rows equal to an earlier row. */
export function countDuplicateRows(table: Table): number {
  const n = table.rows;
  if (n < 2) return 0;
  const h1 = new Uint32Array(n);
  const h2 = new Uint32Array(n).fill(0x9e3779b9);
  for (const col of table.columns) {
    if (col.type === 'number') {
      // Mix the IEEE-754 halves straight from the column's buffer (no per-cell hash call);
      // NaN payloads and -0 are normalised first so equal values mix equally.
      const vals = col.values;
      const bits = new Uint32Array(vals.buffer, vals.byteOffset, n * 2);
      for (let i = 0; i < n; i++) {
        const v = vals[i] as number;
        const lo = v !== v ? 0 : v === 0 ? 0 : (bits[2 * i] as number);
        const hi = v !== v ? 0x7ff80000 : v === 0 ? 0 : (bits[2 * i + 1] as number);
        h1[i] = Math.imul((h1[i] as number) ^ lo, 0x01000193) ^ Math.imul(hi, 0x85ebca6b);
        h2[i] = Math.imul(((h2[i] as number) + hi) | 0, 0x5bd1e995) ^ Math.imul(lo ^ 0x9e3779b9, 0xc2b2ae35) ^ ((h2[i] as number) >>> 15);
      }
      continue;
    }
    for (let i = 0; i < n; i++) {
      const v = col.values[i] as string | null;
      const h = v === null ? 0x7ff9 : hashString(v);
      h1[i] = Math.imul((h1[i] as number) ^ h, 0x01000193) ^ 0x7f4a7c15;
      h2[i] = Math.imul(((h2[i] as number) + h) | 0, 0x5bd1e995) ^ ((h2[i] as number) >>> 15);
    }
  }
  const seen = new Set<number>();
  let dup = 0;
  for (let i = 0; i < n; i++) {
    const key = fmix(h1[i] as number) * 2097152 + (fmix(h2[i] as number) >>> 11);
    if (seen.has(key)) dup++;
    else seen.add(key);
  }
  return dup;
}
