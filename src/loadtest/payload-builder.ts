/**
 * Turns dataset rows into request bodies for the target's protocol. V2 bodies follow
 * the model's input metadata (one 2-D input fed by the columns in order, or one input
 * per column); MLflow bodies use `dataframe_split`; raw templates substitute rows.
 */
import { SlipwayError } from '../core/errors.js';
import type { Dataset } from './dataset-reader.js';
import type { LoadTarget, TensorMetadata } from './load-target.js';
import { specKeyNaming, type OptionNaming } from './option-naming.js';

/** How rows become requests. */
export interface PayloadOptions {
  /** Rows per request. @default 1 */
  rowsPerRequest?: number;
  /** Columns to send, in this order. @default all columns except label columns the model does not take */
  columns?: string[];
  /** Shuffle rows with this seed before grouping them into requests; omit to keep file order. */
  seed?: number;
  /** Raw protocol: body template; `{{rows}}` becomes a JSON array of row objects, `{{row}}` the first row object. */
  bodyTemplate?: string;
  /** Upper bound on distinct bodies kept in memory. @default 10000 */
  maxPayloads?: number;
  /** How messages name options. @default spec keys */
  naming?: OptionNaming;
}

// Columns a data file commonly carries for evaluation but a model never takes as a feature.
const LABEL_COLUMNS = new Set(['target', 'label', 'labels', 'class']);

function dataError(why: string): SlipwayError {
  return new SlipwayError('DATA_ERROR', why);
}

function seededShuffle<T>(items: T[], seed: number): T[] {
  // Mulberry32: small, fast, reproducible; Math.random cannot be seeded.
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function pickColumns(ds: Dataset, wanted: number | undefined, explicit?: string[], dropLabels = false): number[] {
  if (explicit && explicit.length > 0) {
    return explicit.map((c) => {
      const i = ds.columns.indexOf(c);
      if (i < 0) throw dataError(`Column '${c}' is not in the data (columns: ${ds.columns.join(', ')}).`);
      return i;
    });
  }
  let idx = ds.columns.map((_, i) => i);
  if ((wanted !== undefined && idx.length > wanted) || dropLabels) idx = idx.filter((i) => !LABEL_COLUMNS.has((ds.columns[i] as string).toLowerCase()));
  if (wanted !== undefined && idx.length !== wanted) {
    throw dataError(`The model input takes ${wanted} features but the data has ${idx.length} usable columns (${idx.map((i) => ds.columns[i]).join(', ')}); choose them with columns / --columns.`);
  }
  return idx;
}

function cell(value: unknown, datatype: string, column: string): unknown {
  if (datatype === 'BYTES') return value === null ? '' : String(value);
  if (datatype === 'BOOL') return value === true || value === 1 || value === 'true';
  if (typeof value === 'number') return value;
  if (value === null) return Number.NaN;
  const n = Number(value);
  if (!Number.isFinite(n)) throw dataError(`Column '${column}' holds '${String(value)}', which is not a number as the model's ${datatype} input needs.`);
  return n;
}

function chunk<T>(rows: T[], size: number, max: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length && out.length < max; i += size) {
    const group = rows.slice(i, i + size);
    // The last short group is topped up from the start so every request has the same size.
    while (group.length < size) group.push(rows[group.length % rows.length] as T);
    out.push(group);
  }
  return out;
}

function v2Bodies(ds: Dataset, inputs: TensorMetadata[], groups: unknown[][][], opts: PayloadOptions): string[] {
  if (inputs.length === 1) {
    const input = inputs[0] as TensorMetadata;
    const last = input.shape.length >= 2 ? input.shape[input.shape.length - 1] : 1;
    const width = last !== undefined && last > 0 ? last : undefined;
    const cols = pickColumns(ds, input.shape.length >= 2 ? width : 1, opts.columns);
    return groups.map((g) => {
      const data = g.flatMap((row) => cols.map((c) => cell(row[c], input.datatype, ds.columns[c] as string)));
      const shape = input.shape.length >= 2 ? [g.length, cols.length] : [g.length];
      return JSON.stringify({ inputs: [{ name: input.name, shape, datatype: input.datatype, data }] });
    });
  }
  const byInput = inputs.map((input) => {
    const c = ds.columns.indexOf(input.name);
    if (c < 0) throw dataError(`The model has several inputs; input '${input.name}' needs a data column of that name (columns: ${ds.columns.join(', ')}).`);
    return { input, c };
  });
  return groups.map((g) =>
    JSON.stringify({
      inputs: byInput.map(({ input, c }) => ({
        name: input.name,
        shape: input.shape.length >= 2 ? [g.length, 1] : [g.length],
        datatype: input.datatype,
        data: g.map((row) => cell(row[c], input.datatype, input.name)),
      })),
    }),
  );
}

/** Builds the request bodies for a target from a dataset (or the raw template alone). */
export function buildPayloads(target: LoadTarget, ds: Dataset | undefined, opts: PayloadOptions = {}): string[] {
  const size = opts.rowsPerRequest ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new SlipwayError('INVALID_ARGUMENT', `rowsPerRequest must be a positive integer, got '${size}'.`);
  const max = opts.maxPayloads ?? 10_000;
  if (!ds) {
    if (target.protocol !== 'raw') {
      const naming = opts.naming ?? specKeyNaming;
      throw new SlipwayError('MISSING_ARGUMENT', `Protocol '${target.protocol}' needs data rows to build requests: give ${naming.full('data')} (a CSV, JSON lines or Parquet file) or ${naming.full('rows')} (inline rows).`, { field: 'data' });
    }
    return opts.bodyTemplate !== undefined ? [opts.bodyTemplate] : [];
  }
  if (ds.rows.length === 0) throw dataError('The data holds no rows.');
  const rows = opts.seed !== undefined ? seededShuffle(ds.rows, opts.seed) : ds.rows;
  const groups = chunk(rows, size, max);
  if (target.protocol === 'v2') return v2Bodies(ds, target.inputs ?? [], groups, opts);
  if (target.protocol === 'mlflow') {
    const cols = pickColumns(ds, undefined, opts.columns, true);
    const columns = cols.map((c) => ds.columns[c] as string);
    // A text model reads its column as text: a review that reads "42" is still a string, not a number.
    const inputs = target.inputs ?? [];
    const text = inputs.length > 0 && inputs.every((i) => i.datatype === 'BYTES');
    const value = (v: unknown, c: number): unknown => (text ? cell(v, 'BYTES', ds.columns[c] as string) : (v ?? null));
    return groups.map((g) => JSON.stringify({ dataframe_split: { columns, data: g.map((row) => cols.map((c) => value(row[c], c))) } }));
  }
  const template = opts.bodyTemplate ?? '{{rows}}';
  const cols = pickColumns(ds, undefined, opts.columns);
  return groups.map((g) => {
    const records = g.map((row) => Object.fromEntries(cols.map((c) => [ds.columns[c] as string, row[c] ?? null])));
    return template.replaceAll('{{rows}}', JSON.stringify(records)).replaceAll('{{row}}', JSON.stringify(records[0]));
  });
}
