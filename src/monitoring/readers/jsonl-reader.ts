/** Reads JSON lines (one object per line) into a columnar table, streaming the file. */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { SlipwayError } from '../../core/errors.js';
import type { Table } from '../table.js';
import { ColumnBuilder } from './column-builder.js';

/** Reads a `.jsonl` / `.ndjson` file; keys missing from a row are missing values. */
export async function readJsonLines(path: string): Promise<Table> {
  try {
    await access(path);
  } catch {
    throw new SlipwayError('DATA_ERROR', `Cannot read ${path}: no such file.`, { path });
  }
  const builders = new Map<string, ColumnBuilder>();
  let rows = 0;
  let line = 0;
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new SlipwayError('DATA_ERROR', `${path}: line ${line} is not valid JSON (${(err as Error).message}).`, { path, line });
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new SlipwayError('DATA_ERROR', `${path}: line ${line} is not a JSON object.`, { path, line });
    for (const [k, v] of Object.entries(obj)) {
      let b = builders.get(k);
      if (!b) {
        b = new ColumnBuilder(k);
        for (let i = 0; i < rows; i++) b.pushMissing();
        builders.set(k, b);
      }
      if (v === null || v === undefined) b.pushMissing();
      else if (typeof v === 'number') b.pushNumber(v);
      else if (typeof v === 'string') b.pushText(v === '' ? ' ' : v);
      else b.pushText(JSON.stringify(v));
    }
    rows++;
    for (const b of builders.values()) if (b.length < rows) b.pushMissing();
  }
  if (rows === 0 && builders.size === 0) throw new SlipwayError('DATA_ERROR', `${path} is empty: expected one JSON object per line.`, { path });
  return { columns: [...builders.values()].map((b) => b.finish()), rows, source: path };
}
