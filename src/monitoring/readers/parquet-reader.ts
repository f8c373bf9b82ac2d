/** Reads Parquet files (hyparquet) into a columnar table, one column chunk at a time. */
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import { SlipwayError } from '../../core/errors.js';
import type { Column, Table } from '../table.js';

/** Reads a `.parquet` file: numeric leaf columns become Float64Arrays, the rest strings. */
export async function readParquet(path: string): Promise<Table> {
  let file;
  let metadata;
  try {
    file = await asyncBufferFromFile(path);
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SlipwayError('DATA_ERROR', `Cannot read ${path} as Parquet: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}.`, { path });
  }
  const rows = Number(metadata.num_rows);
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  const numeric = new Map<string, Float64Array>();
  const text = new Map<string, Array<string | null>>();
  const isNumericChunk = (data: ArrayLike<unknown>): boolean => {
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v === null || v === undefined) continue;
      return typeof v === 'number' || typeof v === 'bigint';
    }
    return true;
  };
  await parquetRead({
    file,
    metadata,
    columns: names,
    onChunk(chunk) {
      const { columnName, columnData, rowStart } = chunk;
      const data = columnData as ArrayLike<unknown>;
      let strings = text.get(columnName);
      if (!strings && !isNumericChunk(data)) {
        const nums = numeric.get(columnName);
        strings = Array.from({ length: rows }, (_, i) => (nums && nums[i] === nums[i] ? String(nums[i]) : null));
        text.set(columnName, strings);
        numeric.delete(columnName);
      }
      if (strings) {
        for (let i = 0; i < data.length && rowStart + i < rows; i++) {
          const v = data[i];
          strings[rowStart + i] = v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
        }
        return;
      }
      let nums = numeric.get(columnName);
      if (!nums) {
        nums = new Float64Array(rows).fill(NaN);
        numeric.set(columnName, nums);
      }
      for (let i = 0; i < data.length && rowStart + i < rows; i++) {
        const v = data[i];
        nums[rowStart + i] = v === null || v === undefined ? NaN : Number(v);
      }
    },
  });
  const columns: Column[] = names.map((name) => {
    const s = text.get(name);
    if (s) return { name, type: 'string', values: s };
    return { name, type: 'number', values: numeric.get(name) ?? new Float64Array(rows).fill(NaN) };
  });
  return { columns, rows, source: path };
}
