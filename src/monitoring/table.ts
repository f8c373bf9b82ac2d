/** An in-memory, columnar table: numbers in Float64Arrays (NaN = missing), everything else as strings. */

/** A numeric column; NaN marks a missing value. */
export interface NumericColumn {
  name: string;
  type: 'number';
  values: Float64Array;
}

/** A text column; null marks a missing value. */
export interface StringColumn {
  name: string;
  type: 'string';
  values: Array<string | null>;
  /** Values that looked numeric before the first non-numeric one (for "non-numeric values" messages). */
  numericLike?: number;
}

/** One column of a table. */
export type Column = NumericColumn | StringColumn;

/** A columnar table. */
export interface Table {
  columns: Column[];
  rows: number;
  /** Where it came from (file path), for messages. */
  source?: string;
}

/** Finds a column by name. */
export function columnByName(t: Table, name: string): Column | undefined {
  return t.columns.find((c) => c.name === name);
}

/** Builds a table from row objects (used for small JSON payloads and tests). */
export function tableFromRows(rows: Array<Record<string, unknown>>, source?: string): Table {
  const names: string[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    for (const k of Object.keys(r)) {
      if (seen.has(k)) continue;
      seen.add(k);
      names.push(k);
    }
  }
  const columns: Column[] = names.map((name) => {
    const raw = rows.map((r) => r[name]);
    const numeric = raw.every((v) => v === null || v === undefined || typeof v === 'number');
    if (numeric) return { name, type: 'number', values: Float64Array.from(raw, (v) => (typeof v === 'number' ? v : NaN)) };
    return { name, type: 'string', values: raw.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v))) };
  });
  return { columns, rows: rows.length, source };
}
