/**
 * Reads the rows that load-test payloads are built from: CSV, JSON lines or Parquet
 * (hyparquet). Rows keep the file's column order because the model's tensor layout
 * follows it.
 */
import { readFile } from 'node:fs/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { SlipwayError } from '../core/errors.js';

/** A dataset as column names plus row-major cells. */
export interface Dataset {
  columns: string[];
  rows: unknown[][];
}

/** Data file formats a load test reads. */
export type DatasetFormat = 'csv' | 'jsonl' | 'parquet';

/** Guesses the format from the file name; undefined when it cannot tell. */
export function formatOf(path: string): DatasetFormat | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  if (ext === 'csv') return 'csv';
  if (ext === 'jsonl' || ext === 'ndjson') return 'jsonl';
  if (ext === 'parquet') return 'parquet';
  return undefined;
}

function dataError(path: string, why: string): SlipwayError {
  return new SlipwayError('DATA_ERROR', `Data file ${path}: ${why}`, { path });
}

/** Splits CSV text into records (RFC 4180 quoting). Written here because no CSV library is a dependency. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      field = '';
      if (record.length > 1 || record[0] !== '') records.push(record);
      record = [];
    } else field += ch;
  }
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

function csvCell(raw: string): unknown {
  if (raw === '') return null;
  const n = Number(raw);
  return Number.isFinite(n) && /^\s*[-+]?(\d|\.\d)/.test(raw) ? n : raw;
}

async function readCsvDataset(path: string): Promise<Dataset> {
  const records = parseCsv(await readFile(path, 'utf8'));
  const header = records.shift();
  if (!header || header.length === 0) throw dataError(path, 'the file is empty.');
  const rows = records.map((r, i) => {
    if (r.length !== header.length) throw dataError(path, `line ${i + 2} has ${r.length} fields, the header has ${header.length}.`);
    return r.map(csvCell);
  });
  return { columns: header.map((h) => h.trim()), rows };
}

async function readJsonLinesDataset(path: string): Promise<Dataset> {
  const text = await readFile(path, 'utf8');
  const columns: string[] = [];
  const seen = new Set<string>();
  const objects: Record<string, unknown>[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw dataError(path, `line ${i + 1} is not valid JSON.`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw dataError(path, `line ${i + 1} is not a JSON object.`);
    for (const k of Object.keys(value)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
    objects.push(value as Record<string, unknown>);
  });
  return { columns, rows: objects.map((o) => columns.map((c) => o[c] ?? null)) };
}

async function readParquetDataset(path: string): Promise<Dataset> {
  let file;
  try {
    file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    const columns = metadata.schema.slice(1).filter((s) => !s.num_children).map((s) => s.name);
    const objects = await parquetReadObjects({ file, metadata });
    const rows = objects.map((o) => columns.map((c) => normaliseParquetValue(o[c])));
    return { columns, rows };
  } catch (err) {
    if (err instanceof SlipwayError) throw err;
    throw dataError(path, `not a readable Parquet file (${(err as Error).message}).`);
  }
}

function normaliseParquetValue(v: unknown): unknown {
  // Parquet INT64 arrives as bigint; JSON payloads need numbers.
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined) return null;
  return v;
}

/** Reads a data file; throws DATA_ERROR naming the file and the problem. */
export async function readDataset(path: string, format?: DatasetFormat): Promise<Dataset> {
  const fmt = format ?? formatOf(path);
  if (!fmt) throw dataError(path, 'cannot tell the format from the name; use .csv, .jsonl/.ndjson or .parquet, or set the data format.');
  let ds: Dataset;
  try {
    if (fmt === 'csv') ds = await readCsvDataset(path);
    else if (fmt === 'jsonl') ds = await readJsonLinesDataset(path);
    else ds = await readParquetDataset(path);
  } catch (err) {
    if (err instanceof SlipwayError) throw err;
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') throw dataError(path, 'no such file.');
    throw dataError(path, (err as Error).message);
  }
  if (ds.rows.length === 0) throw dataError(path, 'it holds no rows.');
  return ds;
}

/** A dataset from inline row objects (the HTTP API's `rows`). */
export function datasetFromRecords(records: ReadonlyArray<Record<string, unknown>>): Dataset {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    for (const k of Object.keys(r)) {
      if (!seen.has(k)) {
        seen.add(k);
        columns.push(k);
      }
    }
  }
  return { columns, rows: records.map((r) => columns.map((c) => r[c] ?? null)) };
}
