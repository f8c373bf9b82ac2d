import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv, readDataset } from './dataset-reader.js';
import type { LoadTarget } from './load-target.js';
import { buildPayloads } from './payload-builder.js';

const fixture = (name: string): string => resolve(import.meta.dirname, '../../test/fixtures', name);
const scratch = mkdtempSync(join(tmpdir(), 'slipway-loadtest-data-'));
const base = { url: 'http://127.0.0.1:1/x', origin: 'http://127.0.0.1:1', path: '/x', method: 'POST', headers: {} };
const v2Target: LoadTarget = { ...base, protocol: 'v2', inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 30] }] };

describe('datasets', () => {
  it('reads the CSV fixture with its header order and numbers', async () => {
    const ds = await readDataset(fixture('breast_cancer_holdout.csv'));
    expect(ds.columns).toHaveLength(31);
    expect(ds.columns[0]).toBe('mean_radius');
    expect(ds.columns.at(-1)).toBe('target');
    expect(typeof ds.rows[0]?.[0]).toBe('number');
  });

  it('reads Parquet (hyparquet) with the same rows as the CSV it was written from', async () => {
    // diabetes_holdout.parquet holds diabetes_holdout.csv: DOUBLE features, INT64 target.
    const parquet = await readDataset(fixture('diabetes_holdout.parquet'));
    const csv = await readDataset(fixture('diabetes_holdout.csv'));
    expect(parquet.columns).toEqual(csv.columns);
    expect(parquet.rows).toEqual(csv.rows);
    expect(typeof parquet.rows[0]?.at(-1)).toBe('number');
  });

  it('parses quoted CSV fields', () => {
    expect(parseCsv('a,b\n"x, y","say ""hi"""\r\n1,\n')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['1', ''],
    ]);
  });

  it('reads JSON lines', async () => {
    const path = join(scratch, 'rows.jsonl');
    writeFileSync(path, '{"a":1,"b":2}\n\n{"b":4,"a":3,"c":"x"}\n');
    expect(await readDataset(path)).toEqual({ columns: ['a', 'b', 'c'], rows: [[1, 2, null], [3, 4, 'x']] });
  });

  it.each([
    ['missing.csv', undefined, 'no such file'],
    ['rows.txt', 'x', 'cannot tell the format'],
    ['ragged.csv', 'a,b\n1,2\n3\n', 'line 3 has 1 fields'],
    ['empty.csv', 'a,b\n', 'holds no rows'],
    ['bad.jsonl', '{"a":1}\nnot json\n', 'line 2 is not valid JSON'],
    ['bad.parquet', 'PAR1 not really', 'not a readable Parquet file'],
  ])('rejects %s with a DATA_ERROR naming the problem', async (name, content, why) => {
    const path = join(scratch, name);
    if (content !== undefined) writeFileSync(path, content);
    await expect(readDataset(path)).rejects.toMatchObject({ code: 'DATA_ERROR', message: expect.stringContaining(why) });
  });
});

describe('buildPayloads', () => {
  it('builds V2 tensors from the model metadata, dropping the label column', async () => {
    const ds = await readDataset(fixture('breast_cancer_holdout.csv'));
    const bodies = buildPayloads(v2Target, ds, { rowsPerRequest: 4 });
    expect(bodies).toHaveLength(Math.ceil(ds.rows.length / 4));
    const first = JSON.parse(bodies[0] as string) as { inputs: Array<{ name: string; shape: number[]; datatype: string; data: number[] }> };
    expect(first.inputs[0]).toMatchObject({ name: 'features', shape: [4, 30], datatype: 'FP32' });
    expect(first.inputs[0]?.data).toHaveLength(120);
    expect(first.inputs[0]?.data.slice(0, 30)).toEqual(ds.rows[0]?.slice(0, 30));
  });

  it('builds one input per column for multi-input models', () => {
    const target: LoadTarget = { ...base, protocol: 'v2', inputs: [{ name: 'age', datatype: 'INT64', shape: [-1, 1] }, { name: 'city', datatype: 'BYTES', shape: [-1] }] };
    const [body] = buildPayloads(target, { columns: ['city', 'age'], rows: [['Oslo', 30], ['Rome', 40]] }, { rowsPerRequest: 2 });
    expect(JSON.parse(body as string)).toEqual({
      inputs: [
        { name: 'age', shape: [2, 1], datatype: 'INT64', data: [30, 40] },
        { name: 'city', shape: [2], datatype: 'BYTES', data: ['Oslo', 'Rome'] },
      ],
    });
  });

  it('builds MLflow dataframe_split bodies and raw templates', () => {
    const ds = { columns: ['x', 'y', 'target'], rows: [[1, 2, 0], [3, 4, 1]] };
    const [mlflow] = buildPayloads({ ...base, protocol: 'mlflow' }, ds, { rowsPerRequest: 2 });
    expect(JSON.parse(mlflow as string)).toEqual({ dataframe_split: { columns: ['x', 'y'], data: [[1, 2], [3, 4]] } });
    const raw = buildPayloads({ ...base, protocol: 'raw' }, ds, { bodyTemplate: '{"instances":{{rows}}}', columns: ['y'] });
    expect(raw).toEqual(['{"instances":[{"y":2}]}', '{"instances":[{"y":4}]}']);
  });

  it('sends a text model its column as text in MLflow bodies, also where a value reads as a number', () => {
    const ds = { columns: ['text', 'label'], rows: [['great film', 1], [42, 0]] };
    const target: LoadTarget = { ...base, protocol: 'mlflow', inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1, 1] }] };
    const [body] = buildPayloads(target, ds, { rowsPerRequest: 2 });
    expect(JSON.parse(body as string)).toEqual({ dataframe_split: { columns: ['text'], data: [['great film'], ['42']] } });
  });

  it('shuffles rows reproducibly with a seed', async () => {
    const ds = await readDataset(fixture('diabetes_holdout.csv'));
    const t: LoadTarget = { ...base, protocol: 'v2', inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 10] }] };
    const a = buildPayloads(t, ds, { seed: 7 });
    expect(buildPayloads(t, ds, { seed: 7 })).toEqual(a);
    expect(buildPayloads(t, ds, { seed: 8 })).not.toEqual(a);
    expect([...a].sort()).toEqual([...buildPayloads(t, ds, {})].sort());
  });

  it('names the problem when data and model do not fit', () => {
    const ds = { columns: ['a', 'b'], rows: [[1, 2]] };
    expect(() => buildPayloads(v2Target, ds)).toThrow('takes 30 features but the data has 2 usable columns');
    expect(() => buildPayloads(v2Target, { columns: ['a'], rows: [['x']] }, { columns: ['zz'] })).toThrow("Column 'zz' is not in the data");
    const t: LoadTarget = { ...base, protocol: 'v2', inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 1] }] };
    expect(() => buildPayloads(t, { columns: ['a'], rows: [['abc']] })).toThrow("Column 'a' holds 'abc', which is not a number");
    expect(() => buildPayloads({ ...base, protocol: 'v2' }, undefined)).toThrow('needs data rows');
  });
});
