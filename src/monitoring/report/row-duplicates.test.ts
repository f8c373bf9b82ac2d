import { describe, expect, it } from 'vitest';
import { tableFromRows } from '../table.js';
import { countDuplicateRows } from './row-duplicates.js';

describe('duplicated rows', () => {
  it('counts rows equal to an earlier row, treating missing values and -0 alike', () => {
    const t = tableFromRows([
      { a: 1, b: 'x', c: null },
      { a: 1, b: 'x', c: null },
      { a: 0, b: 'y', c: 2 },
      { a: -0, b: 'y', c: 2 },
      { a: 1, b: 'z', c: null },
      { a: 1, b: null, c: null },
      { a: 1, b: null, c: null },
    ]);
    expect(countDuplicateRows(t)).toBe(3);
  });

  it('finds no duplicates among distinct rows of many columns', () => {
    const rows = Array.from({ length: 5000 }, (_, i) => Object.fromEntries(Array.from({ length: 10 }, (_, c) => [`c${c}`, c === 3 ? i : c])));
    expect(countDuplicateRows(tableFromRows(rows))).toBe(0);
  });
});
