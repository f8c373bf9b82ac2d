/**
 * A minimal Parquet writer for tests: one row group, PLAIN encoding, no compression,
 * DOUBLE and UTF-8 string columns (optional, with nulls). No installed package writes
 * Parquet, and a test needs real files to prove the reader; this follows the format
 * specification (thrift compact protocol metadata, data pages v1).
 */

class CompactWriter {
  readonly bytes: number[] = [];
  private last: number[] = [0];

  private varint(n: bigint): void {
    let v = n;
    while (v >= 0x80n) {
      this.bytes.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.bytes.push(Number(v));
  }

  private zigzag(n: number | bigint): void {
    const v = BigInt(n);
    this.varint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
  }

  private header(id: number, type: number): void {
    const delta = id - (this.last[this.last.length - 1] as number);
    if (delta > 0 && delta <= 15) this.bytes.push((delta << 4) | type);
    else {
      this.bytes.push(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }

  i32(id: number, v: number): this {
    this.header(id, 5);
    this.zigzag(v);
    return this;
  }

  i64(id: number, v: number): this {
    this.header(id, 6);
    this.zigzag(v);
    return this;
  }

  string(id: number, s: string): this {
    this.header(id, 8);
    const b = Buffer.from(s);
    this.varint(BigInt(b.length));
    this.bytes.push(...b);
    return this;
  }

  /** A list of i32, strings or structs written by `item`. */
  list<T>(id: number, elemType: 5 | 8 | 12, items: T[], item: (w: CompactWriter, v: T) => void): this {
    this.header(id, 9);
    if (items.length < 15) this.bytes.push((items.length << 4) | elemType);
    else {
      this.bytes.push(0xf0 | elemType);
      this.varint(BigInt(items.length));
    }
    for (const v of items) item(this, v);
    return this;
  }

  listI32Item(v: number): void {
    this.zigzag(v);
  }

  listStringItem(s: string): void {
    const b = Buffer.from(s);
    this.varint(BigInt(b.length));
    this.bytes.push(...b);
  }

  struct(id: number | null, body: (w: CompactWriter) => void): this {
    if (id !== null) this.header(id, 12);
    this.last.push(0);
    body(this);
    this.bytes.push(0);
    this.last.pop();
    return this;
  }
}

/** A column to write: numbers (DOUBLE) or strings (UTF-8); null is a missing value. */
export type ParquetTestColumn = { name: string; type: 'double'; values: Array<number | null> } | { name: string; type: 'string'; values: Array<string | null> };

function definitionLevels(values: unknown[]): Buffer {
  // RLE/bit-packed hybrid, bit width 1, one bit-packed run; prefixed by its byte length (data page v1).
  const groups = Math.ceil(values.length / 8);
  const run = [(groups << 1) | 1];
  for (let g = 0; g < groups; g++) {
    let byte = 0;
    for (let b = 0; b < 8; b++) if (values[g * 8 + b] !== null && values[g * 8 + b] !== undefined) byte |= 1 << b;
    run.push(byte);
  }
  const len = Buffer.alloc(4);
  len.writeUInt32LE(run.length);
  return Buffer.concat([len, Buffer.from(run)]);
}

function plainValues(col: ParquetTestColumn): Buffer {
  const parts: Buffer[] = [];
  for (const v of col.values) {
    if (v === null) continue;
    if (col.type === 'double') {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v as number);
      parts.push(b);
    } else {
      const s = Buffer.from(v as string);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(s.length);
      parts.push(len, s);
    }
  }
  return Buffer.concat(parts);
}

/** The bytes of a Parquet file holding `columns` (all of the same length). */
export function writeParquet(columns: ParquetTestColumn[]): Buffer {
  const rows = columns[0]?.values.length ?? 0;
  const chunks: Buffer[] = [Buffer.from('PAR1')];
  let offset = 4;
  const metas: Array<{ col: ParquetTestColumn; offset: number; size: number }> = [];
  for (const col of columns) {
    const data = Buffer.concat([definitionLevels(col.values), plainValues(col)]);
    const header = new CompactWriter()
      .i32(1, 0)
      .i32(2, data.length)
      .i32(3, data.length)
      .struct(5, (w) => w.i32(1, col.values.length).i32(2, 0).i32(3, 3).i32(4, 3));
    const headerBytes = Buffer.from([...header.bytes, 0]);
    metas.push({ col, offset, size: headerBytes.length + data.length });
    chunks.push(headerBytes, data);
    offset += headerBytes.length + data.length;
  }
  const physical = (c: ParquetTestColumn) => (c.type === 'double' ? 5 : 6);
  const meta = new CompactWriter()
    .i32(1, 1)
    .list(2, 12, [null, ...columns], (w, c) =>
      w.struct(null, (s) => {
        if (c === null) s.string(4, 'schema').i32(5, columns.length);
        else {
          s.i32(1, physical(c)).i32(3, 1).string(4, c.name);
          if (c.type === 'string') s.i32(6, 0);
        }
      }),
    )
    .i64(3, rows)
    .list(4, 12, [0], (w) =>
      w.struct(null, (rg) =>
        rg
          .list(1, 12, metas, (lw, m) =>
            lw.struct(null, (cc) =>
              cc.i64(2, m.offset).struct(3, (md) =>
                md
                  .i32(1, physical(m.col))
                  .list(2, 5, [0, 3], (x, e) => x.listI32Item(e))
                  .list(3, 8, [m.col.name], (x, n) => x.listStringItem(n))
                  .i32(4, 0)
                  .i64(5, m.col.values.length)
                  .i64(6, m.size)
                  .i64(7, m.size)
                  .i64(9, m.offset),
              ),
            ),
          )
          .i64(2, metas.reduce((s, m) => s + m.size, 0))
          .i64(3, rows),
      ),
    );
  const metaBytes = Buffer.from([...meta.bytes, 0]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(metaBytes.length);
  chunks.push(metaBytes, len, Buffer.from('PAR1'));
  return Buffer.concat(chunks);
}
