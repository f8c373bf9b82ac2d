/** Picks the reader by file extension: .csv / .tsv, .jsonl / .ndjson, .parquet. */
import { SlipwayError } from '../../core/errors.js';
import type { Table } from '../table.js';
import { readCsv } from './csv-reader.js';
import { readJsonLines } from './jsonl-reader.js';
import { readParquet } from './parquet-reader.js';

/** The data formats Slipway reads. */
export const DATA_FORMATS = ['csv', 'tsv', 'jsonl', 'ndjson', 'parquet'] as const;

/** Reads a data file into a columnar table. */
export async function readTable(path: string): Promise<Table> {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  switch (ext) {
    case 'csv':
      return readCsv(path);
    case 'tsv':
      return readCsv(path, { delimiter: '\t' });
    case 'jsonl':
    case 'ndjson':
      return readJsonLines(path);
    case 'parquet':
      return readParquet(path);
    default:
      throw new SlipwayError('DATA_ERROR', `Cannot tell the format of ${path}: use a .csv, .tsv, .jsonl, .ndjson or .parquet file.`, { path });
  }
}
