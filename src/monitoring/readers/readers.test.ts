import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NumericColumn, StringColumn } from '../table.js';
import { readTable } from './table-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('CSV reader', () => {
  it('reads numbers into typed columns, missing tokens as NaN, quoted text and CRLF', async () => {
    const t = await readTable(file('a.csv', 'x,name,y\r\n1.5,"Smith, J",-2e3\r\n,"say ""hi""",NA\r\n3,plain,0.1'));
    expect(t.rows).toBe(3);
    const x = t.columns[0] as NumericColumn;
    expect(x.type).toBe('number');
    expect(Array.from(x.values)).toEqual([1.5, NaN, 3]);
    expect((t.columns[1] as StringColumn).values).toEqual(['Smith, J', 'say "hi"', 'plain']);
    expect(Array.from((t.columns[2] as NumericColumn).values)).toEqual([-2000, NaN, 0.1]);
  });

  it('parses digits exactly like Number() (correct rounding), including long mantissas', async () => {
    const texts = ['0.1', '123456.789', '-0.000001234', '1e-30', '9007199254740993', '3.141592653589793238', '17', '2.5E+3'];
    const t = await readTable(file('n.csv', `v\n${texts.join('\n')}\n`));
    expect(Array.from((t.columns[0] as NumericColumn).values)).toEqual(texts.map(Number));
  });

  it('rows that straddle the 4 MiB read chunks are read whole', async () => {
    const lines = ['a,b,c'];
    for (let i = 0; i < 400_000; i++) lines.push(`${i},${i * 0.5},"q${i % 7}"`);
    const t = await readTable(file('big.csv', lines.join('\n')));
    expect(t.rows).toBe(400_000);
    const a = (t.columns[0] as NumericColumn).values;
    expect(a[399_999]).toBe(399_999);
    expect(a.reduce((s, v) => s + v, 0)).toBe((399_999 * 400_000) / 2);
    expect((t.columns[2] as StringColumn).values[123_456]).toBe(`q${123_456 % 7}`);
  });

  it('a column with text after numbers becomes text and remembers the first bad value', async () => {
    const t = await readTable(file('mixed.csv', 'v\n1\n2\noops\n4\n'));
    const c = t.columns[0] as StringColumn;
    expect(c.type).toBe('string');
    expect(c.values).toEqual(['1', '2', 'oops', '4']);
  });

  it('a header-only file is a table with no rows', async () => {
    const t = await readTable(file('head.csv', 'a,b\n'));
    expect(t.rows).toBe(0);
    expect(t.columns.map((c) => c.name)).toEqual(['a', 'b']);
  });

  it('answers bad files with errors naming the problem', async () => {
    await expect(readTable(file('empty.csv', ''))).rejects.toThrow(/empty/);
    await expect(readTable(file('wide.csv', 'a,b\n1,2,3\n'))).rejects.toThrow(/line 2 has more than 2 fields/);
    await expect(readTable(file('narrow.csv', 'a,b\n1,2\n3\n'))).rejects.toThrow(/line 3 has 1 fields, the header has 2/);
    await expect(readTable(file('dup.csv', 'a,a\n1,2\n'))).rejects.toThrow(/column 'a' appears twice/);
    await expect(readTable(file('quote.csv', 'a\n"open\n'))).rejects.toThrow(/unclosed quote/);
    await expect(readTable(join(dir, 'absent.csv'))).rejects.toThrow(/no such file/);
    await expect(readTable(file('data.xlsx', 'x'))).rejects.toThrow(/Cannot tell the format/);
  });
});

describe('JSON lines reader', () => {
  it('reads objects, missing keys as missing values and text columns', async () => {
    const t = await readTable(file('a.jsonl', '{"x": 1, "c": "red"}\n\n{"x": null, "c": "blue", "z": 3}\n{"x": 2.5}\n'));
    expect(t.rows).toBe(3);
    expect(Array.from((t.columns.find((c) => c.name === 'x') as NumericColumn).values)).toEqual([1, NaN, 2.5]);
    expect(Array.from((t.columns.find((c) => c.name === 'z') as NumericColumn).values)).toEqual([NaN, 3, NaN]);
    expect((t.columns.find((c) => c.name === 'c') as StringColumn).values).toEqual(['red', 'blue', null]);
  });

  it('names the line that is not JSON', async () => {
    await expect(readTable(file('bad.jsonl', '{"x":1}\n{oops}\n'))).rejects.toThrow(/line 2 is not valid JSON/);
    await expect(readTable(file('arr.ndjson', '[1,2]\n'))).rejects.toThrow(/line 1 is not a JSON object/);
  });
});

describe('Parquet reader', () => {
  it('answers a file that is not Parquet with a data error', async () => {
    await expect(readTable(file('fake.parquet', 'not parquet at all'))).rejects.toThrow(/Cannot read .*fake\.parquet as Parquet/);
  });
});

describe('Parquet reader on a real file', () => {
  it('reads double and string columns with nulls', async () => {
    const { writeParquet } = await import('../../../test/support/parquet-writer.js');
    const path = file(
      'real.parquet',
      writeParquet([
        { name: 'x', type: 'double', values: [1.5, null, -3, 4.25, 1e-9, null, 7, 8, 9.5] },
        { name: 'city', type: 'string', values: ['Oslo', 'Rome', null, 'Oslo', 'Lima', 'Rome', 'Oslo', null, 'Kyiv'] },
      ]),
    );
    const t = await readTable(path);
    expect(t.rows).toBe(9);
    expect(Array.from((t.columns[0] as NumericColumn).values)).toEqual([1.5, NaN, -3, 4.25, 1e-9, NaN, 7, 8, 9.5]);
    expect((t.columns[1] as StringColumn).values).toEqual(['Oslo', 'Rome', null, 'Oslo', 'Lima', 'Rome', 'Oslo', null, 'Kyiv']);
  });
});
