/**
 * MLflow's scoring protocol (`POST /invocations`): pandas-style `dataframe_split`
 * and `dataframe_records`, tensor-style `instances` and `inputs`, and text/csv.
 * Tabular rows map onto a model's single 2-D input by the version's column names
 * (in order when the names are unknown); models with several inputs take one
 * column or one named tensor per input.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { SlipwayError } from '../core/errors.js';
import type { ModelSignature, TensorSpec } from './model-signature.js';
import { tabularWidth } from './model-signature.js';
import { exactBody, holdsExact, markExact } from './exact-json.js';
import type { TensorData } from './tensor-types.js';
import { notUtf8At } from './v2-protocol.js';
import { batchRows, checkDeclared, tensorFromJson, type NonFinitePolicy } from './tensor-validation.js';

/** What a model offers to the MLflow decoder. */
export interface MlflowModelView {
  signature: ModelSignature;
  columns: string[] | undefined;
}

/** A decoded scoring request. */
export interface MlflowRequest {
  inputs: TensorData[];
  rows: number;
}

const FORMATS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;

function bad(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message);
}

function malformed(message: string): SlipwayError {
  return new SlipwayError('MALFORMED_REQUEST', message);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes a JSON scoring body. */
export function decodeMlflowJson(parsed: unknown, model: MlflowModelView, policy: NonFinitePolicy): MlflowRequest {
  const notUtf8 = notUtf8At(parsed);
  if (notUtf8 !== undefined) throw bad(notUtf8 ? `The request body is not valid UTF-8: the string at ${notUtf8} holds bytes that are not.` : 'The request body is not valid UTF-8.');
  const body = exactBody(parsed, model.signature);
  if (!isObject(body)) throw malformed(`The body must be a JSON object with one of ${FORMATS.join(', ')}.`);
  const present = FORMATS.filter((f) => body[f] !== undefined);
  if (present.length !== 1) {
    throw malformed(
      present.length === 0
        ? `The body must hold exactly one of ${FORMATS.join(', ')}; found ${Object.keys(body).map((k) => `'${k}'`).join(', ') || 'none'}.`
        : `The body holds ${present.join(' and ')}; send exactly one format.`,
    );
  }
  const format = present[0] as (typeof FORMATS)[number];
  const value = body[format];
  switch (format) {
    case 'dataframe_split': {
      if (!isObject(value) || !Array.isArray(value.data)) throw malformed('dataframe_split must be an object {columns, data} with data a list of rows.');
      const columns = value.columns;
      if (columns !== undefined && (!Array.isArray(columns) || !columns.every((c) => typeof c === 'string'))) throw malformed('dataframe_split.columns must be a list of strings.');
      return fromTable(model, columns as string[] | undefined, value.data, policy);
    }
    case 'dataframe_records':
      if (!Array.isArray(value)) throw malformed('dataframe_records must be a list of {column: value} objects.');
      return fromRecords(model, value, policy);
    case 'instances':
    case 'inputs':
      if (Array.isArray(value) && value.length > 0 && value.every(isObject) && !isTensorMap(model, value)) return fromRecords(model, value, policy);
      return fromTensors(model, value, format, policy);
  }
}

function isTensorMap(model: MlflowModelView, v: unknown[]): boolean {
  // `instances: [{input: ...}]` names inputs per row; a tabular model's records name columns instead.
  return model.signature.inputs.length > 1 && v.every((r) => Object.keys(r as object).every((k) => model.signature.inputs.some((s) => s.name === k)));
}

/**
 * The text of a text/csv body. Bytes that are not UTF-8 are refused with a 400 naming the line and
 * column that holds them (decoding would silently turn them into U+FFFD).
 */
export function csvText(body: Buffer): string {
  if (isAscii(body)) return body.toString('latin1');
  const text = body.toString('utf8');
  if (isUtf8(body)) return text;
  const records = parseCsv(text);
  for (const [line, r] of records.entries()) {
    const column = r.findIndex((f) => f.includes('\ufffd'));
    if (column < 0) continue;
    const name = line > 0 ? records[0]?.[column] : undefined;
    throw bad(line === 0 ? `CSV header field ${column + 1} is not valid UTF-8.` : `CSV line ${line + 1}, column ${name !== undefined ? `'${name}'` : column + 1} is not valid UTF-8.`);
  }
  throw bad('The CSV body is not valid UTF-8.');
}

/** Decodes a text/csv body: a header line of column names, then one row per line. */
export function decodeMlflowCsv(text: string, model: MlflowModelView, policy: NonFinitePolicy): MlflowRequest {
  const records = parseCsv(text);
  if (records.length === 0) throw bad('The CSV body is empty; send a header line and at least one row.');
  const header = records[0] as string[];
  // A text model's fields stay text; every other model reads numbers.
  const textModel = model.signature.inputs.every((s) => s.datatype === 'BYTES');
  const rows = records.slice(1).map((r, i) => {
    if (r.length !== header.length) throw bad(`CSV line ${i + 2} has ${r.length} fields but the header has ${header.length}.`);
    if (textModel) return r;
    return r.map((f) => {
      if (f.trim() === '') return NaN;
      const n = Number(f);
      // An integer beyond ±2^53 stays exact for INT64/UINT64 inputs.
      return Number.isInteger(n) && !Number.isSafeInteger(n) && /^\s*[-+]?\d+\s*$/.test(f) ? BigInt(f.trim()) : n;
    });
  });
  if (rows.length === 0) throw bad('The CSV body has a header but no rows.');
  return fromTable(model, header, rows, policy);
}

function fromRecords(model: MlflowModelView, records: unknown[], policy: NonFinitePolicy): MlflowRequest {
  if (records.length === 0) throw bad('The request has no rows.');
  const first = records[0];
  if (!isObject(first)) throw malformed('Each record must be a {column: value} object.');
  const columns = Object.keys(first);
  const data = records.map((r, i) => {
    if (!isObject(r)) throw malformed(`Record ${i} is not a {column: value} object.`);
    return columns.map((c) => r[c]);
  });
  return fromTable(model, columns, data, policy);
}

function fromTable(model: MlflowModelView, given: string[] | undefined, data: unknown[], policy: NonFinitePolicy): MlflowRequest {
  const sig = model.signature;
  const rows = data.length;
  if (rows === 0) throw bad('The request has no rows.');
  for (const [i, r] of data.entries()) if (!Array.isArray(r)) throw malformed(`Row ${i} is not a list of values.`);
  const table = data as unknown[][];
  const width = tabularWidth(sig);
  if (width !== undefined) {
    const spec = sig.inputs[0] as TensorSpec;
    const expected = model.columns;
    // A column list registered with the wrong count would leave holes in every row; say so instead.
    if (expected && expected.length !== width) {
      throw bad(`The model's column list names ${expected.length} column(s) but input '${spec.name}' takes ${width}; correct the version's slipway.columns tag or send 'instances'.`);
    }
    let order: number[];
    if (expected && given) {
      order = expected.map((c) => {
        const at = given.indexOf(c);
        if (at < 0) throw bad(`Column '${c}' is missing; the model expects columns ${expected.join(', ')}.`);
        return at;
      });
    } else {
      const n = given?.length ?? (table[0] as unknown[]).length;
      if (n !== width) throw bad(`The request has ${n} columns but input '${spec.name}' expects ${width}${expected ? ` (${expected.join(', ')})` : ''}.`);
      order = Array.from({ length: width }, (_, i) => i);
    }
    const names = expected ?? given;
    const flat = new Array<unknown>(rows * width);
    table.forEach((r, i) => {
      if (!given && r.length !== width) throw bad(`Row ${i} has ${r.length} values but input '${spec.name}' expects ${width}.`);
      order.forEach((src, j) => {
        const v = r[src];
        checkCell(v, i, names?.[j] ?? `#${j}`, policy, spec.datatype);
        flat[i * width + j] = v;
      });
    });
    return { inputs: [tensorFromJson(spec, [rows, width], flat, policy)], rows };
  }
  // Several inputs (or one 1-D input): one column per input, matched by name; a single
  // input takes the only column whatever its name (a text model's `text` or `review`).
  const single = sig.inputs.length === 1 && (given ? given.length === 1 : table.every((r) => r.length === 1));
  if (single) {
    const spec = sig.inputs[0] as TensorSpec;
    const shape = spec.shape.length === 1 ? [rows] : [rows, 1];
    checkDeclared(spec, spec.datatype, shape);
    table.forEach((r, i) => checkCell(r[0], i, given?.[0] ?? spec.name, policy, spec.datatype));
    return { inputs: [tensorFromJson(spec, shape, table.map((r) => r[0]), policy)], rows };
  }
  if (!given) throw bad(`The model has inputs ${sig.inputs.map((s) => `'${s.name}'`).join(', ')}; name the columns after them.`);
  const inputs = sig.inputs.map((spec) => {
    const at = given.indexOf(spec.name);
    if (at < 0) throw bad(`Column '${spec.name}' is missing; the model's inputs are ${sig.inputs.map((s) => s.name).join(', ')}.`);
    const shape = spec.shape.length === 1 ? [rows] : [rows, 1];
    checkDeclared(spec, spec.datatype, shape);
    return tensorFromJson(spec, shape, table.map((r) => r[at]), policy);
  });
  return { inputs, rows };
}

function checkCell(v: unknown, row: number, column: string, policy: NonFinitePolicy, datatype: TensorSpec['datatype']): void {
  if (datatype === 'BYTES') {
    if (typeof v !== 'string') throw bad(`Row ${row}, column '${column}' is ${v === null ? 'null' : JSON.stringify(v)}, not a string (the model takes text).`);
    return;
  }
  if (typeof v === 'bigint') return;
  if (typeof v !== 'number') throw bad(`Row ${row}, column '${column}' is ${v === null ? 'null' : JSON.stringify(v)}, not a number.`);
  if (policy === 'reject' && !Number.isFinite(v)) throw bad(`Row ${row}, column '${column}' is ${v} (missing or not finite); NaN and Infinity are rejected.`);
}

function fromTensors(model: MlflowModelView, value: unknown, format: string, policy: NonFinitePolicy): MlflowRequest {
  const sig = model.signature;
  let named: Record<string, unknown>;
  if (Array.isArray(value)) {
    if (sig.inputs.length !== 1) throw bad(`${format} is a list but the model has ${sig.inputs.length} inputs; send an object keyed by input name.`);
    named = { [(sig.inputs[0] as TensorSpec).name]: value };
  } else if (isObject(value)) {
    named = value;
  } else {
    throw malformed(`${format} must be a list (one input) or an object keyed by input name.`);
  }
  for (const k of Object.keys(named)) {
    if (!sig.inputs.some((s) => s.name === k)) throw bad(`Unexpected input '${k}'; the model expects ${sig.inputs.map((s) => `'${s.name}'`).join(', ')}.`);
  }
  const inputs = sig.inputs.map((spec) => {
    if (!(spec.name in named)) throw bad(`Missing input '${spec.name}'.`);
    let data = named[spec.name];
    let shape = inferShape(data);
    // A list of values for an input of shape [-1, 1] (scikit-learn's text and column inputs) is one value per row.
    if (Array.isArray(data) && shape.length === 1 && spec.shape.length === 2 && spec.shape[1] === 1) {
      data = data.map((v) => [v]);
      shape = [shape[0] as number, 1];
    }
    checkDeclared(spec, spec.datatype, shape);
    return tensorFromJson(spec, shape, data, policy);
  });
  return { inputs, rows: sig.batchable ? batchRows(sig.inputs, inputs) : 1 };
}

function inferShape(data: unknown): number[] {
  const shape: number[] = [];
  let v = data;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * Predictions as MLflow returns them: one output → its rows; several → an object keyed by
 * output name. Write the body with `stringifyJson` so INT64/UINT64 values beyond ±2^53 stay exact.
 */
export function encodePredictions(sig: ModelSignature, outputs: TensorData[], toJson: (t: TensorData) => unknown[]): unknown {
  let exact = false;
  const one = (t: TensorData): unknown[] => {
    const flat = toJson(t);
    if (holdsExact(flat)) exact = true;
    const rows = t.shape[0] ?? 1;
    const width = t.shape.length <= 1 ? 1 : flat.length / Math.max(rows, 1);
    if (t.shape.length <= 1 || width === 1) return flat;
    const out: unknown[] = [];
    for (let i = 0; i < rows; i++) out.push(flat.slice(i * width, (i + 1) * width));
    return out;
  };
  const predictions = outputs.length === 1 ? one(outputs[0] as TensorData) : Object.fromEntries(sig.outputs.map((s, i) => [s.name, one(outputs[i] as TensorData)]));
  return exact ? markExact(predictions) : predictions;
}

/**
 * A small RFC 4180 reader (quoted fields, doubled quotes, CRLF). Written here
 * because the scoring bodies are small and no CSV library is among the dependencies.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      field = '';
      if (row.length > 1 || (row[0] ?? '') !== '') rows.push(row);
      row = [];
    } else field += c;
  }
  if (quoted) throw bad('The CSV body ends inside a quoted field.');
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
