/**
 * `slipway explain MODEL --input rows.csv|rows.json`: per-feature attributions (Shapley values)
 * of each row's prediction, or per-token attributions (occlusion) of a text model's texts, from POST /v2/models/{name}/explain on a server (or the embedded
 * store's models answered in this process).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseModelUri } from '../../core/model-source.js';
import { SlipwayError } from '../../core/errors.js';
import type { ExplainResponse } from '../../client/schemas/explain.js';
import { addTargetOptions, authorizationFor, requireExistingStore, resolveTarget, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, formatJson, formatTable, positiveInt, printWarning, processStreams, runAction, usageErrorsExit2, type OutputStreams } from '../output.js';

/** The flags of `slipway explain`. */
export interface ExplainFlags extends ConnectionFlags {
  input?: string;
  output?: string;
  class?: string;
  backgroundSize?: number;
  sampleBudget?: number;
  json?: boolean;
}

/** Model metadata as GET /v2/models/{name} answers it. */
interface ModelMetadata {
  inputs: Array<{ name: string; datatype: string; shape: number[] }>;
  parameters?: { columns?: string[] };
}

/** Sends a request to the serving API of the target: a server over HTTP, or the embedded store in this process. */
type ServingCall = (method: 'GET' | 'POST', path: string, body?: unknown) => Promise<unknown>;

/** Explains the rows of `flags.input` for `model`; writes a table or JSON and returns the exit code. */
export async function explainCommand(model: string, flags: ExplainFlags, io: OutputStreams = processStreams): Promise<number> {
  const { name, version } = modelOf(model);
  if (!flags.input) throw new SlipwayError('MISSING_ARGUMENT', "Give the rows to explain with --input FILE (a .csv with a header row, or .json: a V2 infer body, a list of rows or a list of {column: value} objects).");
  const answer = await withServing(flags, io, async (call) => {
    const base = `/v2/models/${encodeURIComponent(name)}`;
    const resolved = version ?? (model.includes('@') ? await aliasVersion(call, name, model) : undefined);
    const path = resolved !== undefined ? `${base}/versions/${encodeURIComponent(resolved)}` : base;
    const meta = (await call('GET', path)) as ModelMetadata;
    const body = await requestBody(flags.input as string, meta);
    const parameters: Record<string, unknown> = {};
    if (flags.output !== undefined) parameters.output = flags.output;
    if (flags.class !== undefined) parameters.class = /^\d+$/.test(flags.class) ? Number(flags.class) : flags.class;
    if (flags.backgroundSize !== undefined) parameters.background_size = flags.backgroundSize;
    if (flags.sampleBudget !== undefined) parameters.sample_budget = flags.sampleBudget;
    if (Object.keys(parameters).length > 0) body.parameters = { ...(body.parameters as object | undefined), ...parameters };
    // The schema (and zod) load only when the command runs, so `--help` stays fast.
    const { ExplainResponse: schema } = await import('../../client/schemas/explain.js');
    const parsed = schema.safeParse(await call('POST', `${path}/explain`, body));
    if (!parsed.success) throw new SlipwayError('UNAVAILABLE', `The server's explain answer is not of the expected shape: ${parsed.error.issues[0]?.message ?? 'unknown'}.`);
    return parsed.data;
  });
  io.out(flags.json ? formatJson(answer) : explanationText(answer));
  return 0;
}

/** The explanation as text: what was explained and how, then per row the features by the size of their attribution. */
export function explanationText(e: ExplainResponse): string {
  if (e.method === 'occlusion') return occlusionText(e);
  const how = e.method === 'exact' ? 'exact Shapley values' : `KernelSHAP with a budget of ${e.sample_budget} coalitions per row`;
  const out = [
    `model ${e.model_name} version ${e.model_version}: ${how}, against ${e.background_size} background rows from ${e.background_source}`,
    `output ${e.output.description}`,
    `baseline (mean output over the background) ${round(e.baseline)}`,
  ];
  e.explanations.forEach((row, i) => {
    const sum = row.attributions.reduce((s, a) => s + a.value, 0);
    out.push('', `row ${i + 1}: prediction ${round(row.prediction)} = baseline ${round(e.baseline)} + attributions ${round(sum)}`);
    const sorted = [...row.attributions].sort((a, b) => Math.abs(b.value) - Math.abs(a.value));
    out.push(formatTable(sorted, [
      { header: 'FEATURE', value: (a) => a.feature },
      { header: 'ATTRIBUTION', value: (a) => round(a.value), alignRight: true },
    ]).replace(/\n$/, ''));
  });
  return `${out.join('\n')}\n`;
}

/** A text model's explanation: per row, its tokens in input order with where they lie and their attribution. */
function occlusionText(e: ExplainResponse): string {
  const out = [
    `model ${e.model_name} version ${e.model_version}: occlusion, each token removed in turn (${e.occlusion?.tokenization ?? 'tokens'}; at most ${e.occlusion?.max_tokens_per_row ?? '?'} per row)`,
    `output ${e.output.description}`,
    `baseline (output for the empty text) ${round(e.baseline)}; a token's attribution is the prediction minus the output without it, and they do not add up to prediction - baseline`,
  ];
  e.explanations.forEach((row, i) => {
    const cut = row.truncated_tokens ? `, ${row.truncated_tokens} more cut by the model's truncation` : '';
    out.push('', `row ${i + 1}: prediction ${round(row.prediction)}, ${row.attributions.length} token${row.attributions.length === 1 ? '' : 's'}${cut}`);
    out.push(formatTable(row.attributions, [
      { header: 'TOKEN', value: (a) => a.feature },
      { header: 'AT', value: (a) => (a.start != null && a.end != null ? `${a.start}-${a.end}` : '-') },
      { header: 'ATTRIBUTION', value: (a) => round(a.value), alignRight: true },
    ]).replace(/\n$/, ''));
  });
  return `${out.join('\n')}\n`;
}

function round(n: number): string {
  return Number.isFinite(n) ? String(Number(n.toPrecision(6))) : String(n);
}

function modelOf(model: string): { name: string; version?: string } {
  if (model.startsWith('models:/')) {
    const ref = parseModelUri(model);
    if (!ref) throw new SlipwayError('INVALID_ARGUMENT', `MODEL must be a served model's name, models:/NAME/VERSION or models:/NAME@ALIAS, got '${model}'.`);
    return ref.version !== undefined ? { name: ref.name, version: ref.version } : { name: ref.name };
  }
  if (model === '' || /[/@]/.test(model)) throw new SlipwayError('INVALID_ARGUMENT', `MODEL must be a served model's name, models:/NAME/VERSION or models:/NAME@ALIAS, got '${model}'.`);
  return { name: model };
}

async function aliasVersion(call: ServingCall, name: string, uri: string): Promise<string> {
  const alias = parseModelUri(uri)?.alias as string;
  const v = (await call('GET', `/api/v1/models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`)) as { version?: unknown };
  if (typeof v?.version !== 'string' && typeof v?.version !== 'number') throw new SlipwayError('NOT_FOUND', `Alias '${alias}' of model '${name}' points at no version.`);
  return String(v.version);
}

/** The V2 body for the rows of `file`, columns ordered as the model reads them. */
async function requestBody(file: string, meta: ModelMetadata): Promise<Record<string, unknown>> {
  const input = meta.inputs[0];
  if (!input) throw new SlipwayError('INVALID_ARGUMENT', 'The model has no input to explain.');
  if (input.datatype === 'BYTES') return textBody(file, input);
  const width = input.shape[1] ?? -1;
  const columns = meta.parameters?.columns;
  let rows: number[][];
  if (/\.json$/i.test(file)) {
    const doc = await readJsonFile(file);
    // A V2 infer body goes as it is.
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'inputs' in doc) return doc as Record<string, unknown>;
    const list = Array.isArray(doc) ? doc : (doc as { rows?: unknown } | null)?.rows;
    if (!Array.isArray(list) || list.length === 0) throw new SlipwayError('DATA_ERROR', `${file} must hold a V2 infer body ({"inputs": [...]}), a non-empty list of rows, or {"rows": [...]}.`);
    rows = list.map((r, i) => rowOf(r, i, file, columns, width));
  } else {
    const { readTable } = await import('../../monitoring/readers/table-reader.js');
    const table = await readTable(file);
    const names = table.columns.map((c) => c.name);
    const use = columns && columns.every((c) => names.includes(c)) ? columns : undefined;
    if (!use && columns) {
      const missing = columns.filter((c) => !names.includes(c));
      throw new SlipwayError('DATA_ERROR', `${file} lacks the model's column${missing.length === 1 ? '' : 's'} ${missing.map((c) => `'${c}'`).join(', ')}.`);
    }
    const picked = (use ?? names).map((n) => table.columns.find((c) => c.name === n) as (typeof table.columns)[number]);
    if (width > 0 && picked.length !== width) throw new SlipwayError('DATA_ERROR', `${file} has ${picked.length} columns; the model reads ${width} features per row.`);
    rows = Array.from({ length: table.rows }, (_, r) =>
      picked.map((c) => {
        const v = c.type === 'number' ? (c.values[r] as number) : Number(c.values[r] ?? NaN);
        if (!Number.isFinite(v)) throw new SlipwayError('DATA_ERROR', `${file} row ${r + 1}, column '${c.name}': ${JSON.stringify(c.type === 'number' ? 'missing' : c.values[r])} is not a number.`);
        return v;
      }),
    );
  }
  if (rows.length === 0) throw new SlipwayError('DATA_ERROR', `${file} has no rows.`);
  return { inputs: [{ name: input.name, datatype: input.datatype, shape: [rows.length, rows[0]?.length ?? 0], data: rows.flat() }] };
}

/** The V2 body for the texts of `file`: a column named as the model's text input (or the file's only text column), or a JSON list. */
async function textBody(file: string, input: ModelMetadata['inputs'][number]): Promise<Record<string, unknown>> {
  let texts: string[];
  if (/\.json$/i.test(file)) {
    const doc = await readJsonFile(file);
    if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'inputs' in doc) return doc as Record<string, unknown>;
    const list = Array.isArray(doc) ? doc : (doc as { rows?: unknown } | null)?.rows;
    if (!Array.isArray(list) || list.length === 0) throw new SlipwayError('DATA_ERROR', `${file} must hold a V2 infer body ({"inputs": [...]}), a non-empty list of texts, or a list of {"${input.name}": text} objects.`);
    texts = list.map((r: unknown, i) => {
      const v = r && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>)[input.name] : r;
      if (typeof v !== 'string') throw new SlipwayError('DATA_ERROR', `${file} row ${i + 1}: the model reads text ('${input.name}'), got ${v === undefined ? 'nothing' : JSON.stringify(v)}.`);
      return v;
    });
  } else {
    const { readTable } = await import('../../monitoring/readers/table-reader.js');
    const table = await readTable(file);
    const strings = table.columns.filter((c) => c.type === 'string');
    const column = table.columns.find((c) => c.name === input.name) ?? (strings.length === 1 ? strings[0] : undefined);
    if (!column) throw new SlipwayError('DATA_ERROR', `${file} has no column '${input.name}' (the model's text input)${strings.length > 1 ? `, and several text columns (${strings.map((c) => `'${c.name}'`).join(', ')})` : ''}; name one '${input.name}'.`);
    if (column.type !== 'string') throw new SlipwayError('DATA_ERROR', `${file} column '${column.name}' holds numbers; the model reads text.`);
    // A missing cell goes as an empty text, which the server refuses naming the row's element.
    texts = column.values.map((v) => v ?? '');
  }
  if (texts.length === 0) throw new SlipwayError('DATA_ERROR', `${file} has no rows.`);
  return { inputs: [{ name: input.name, datatype: 'BYTES', shape: input.shape.length === 2 ? [texts.length, 1] : [texts.length], data: texts }] };
}

function rowOf(r: unknown, i: number, file: string, columns: string[] | undefined, width: number): number[] {
  let values: unknown[];
  if (Array.isArray(r)) values = r;
  else if (r && typeof r === 'object') {
    if (!columns) throw new SlipwayError('DATA_ERROR', `${file} row ${i + 1} is an object, but the model has no column names; give rows as lists of numbers.`);
    const obj = r as Record<string, unknown>;
    const missing = columns.filter((c) => !(c in obj));
    if (missing.length > 0) throw new SlipwayError('DATA_ERROR', `${file} row ${i + 1} lacks ${missing.map((c) => `'${c}'`).join(', ')}.`);
    values = columns.map((c) => obj[c]);
  } else throw new SlipwayError('DATA_ERROR', `${file} row ${i + 1} must be a list of numbers or a {column: value} object.`);
  if (width > 0 && values.length !== width) throw new SlipwayError('DATA_ERROR', `${file} row ${i + 1} has ${values.length} values; the model reads ${width}.`);
  return values.map((v, j) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new SlipwayError('DATA_ERROR', `${file} row ${i + 1}, ${columns ? `column '${columns[j]}'` : `value ${j + 1}`}: ${JSON.stringify(v)} is not a number.`);
    return v;
  });
}

/** Runs `fn` with a caller of the serving API: the named server, or the embedded store's models served in this process. */
async function withServing<R>(flags: ConnectionFlags, io: OutputStreams, fn: (call: ServingCall) => Promise<R>): Promise<R> {
  const target = resolveTarget(flags);
  const authorization = authorizationFor(flags, process.env, target.kind === 'server' ? target.url : undefined);
  let fetcher: typeof fetch;
  let base: string;
  let close = async () => {};
  if (target.kind === 'server') {
    const { nodeHttpFetch } = await import('../node-http-fetch.js');
    fetcher = nodeHttpFetch;
    base = target.url;
  } else {
    const [{ resolveConfig }, { openInProcessApi }, { pino }] = await Promise.all([import('../../config.js'), import('../../server/in-process-api.js'), import('pino')]);
    const config = resolveConfig({ backendStoreUri: target.backendStoreUri, artifactsDestination: flags.artifactsDestination, config: flags.config });
    for (const warning of config.warnings) printWarning(warning, io);
    await requireExistingStore(config.backendStoreUri);
    const logger = pino({ level: 'error', base: { name: 'slipway' } }, pino.destination({ dest: 2, sync: true }));
    // The registry plugin gives serving its model source: registered models load on their first request.
    const api = await openInProcessApi(config, { logger, plugins: ['native-api', 'mlflow-registry', 'serving'] });
    fetcher = api.fetch;
    base = api.url;
    close = () => api.close();
    io.err(`using the embedded store ${await storeLabel(config.backendStoreUri)}\n`);
  }
  const call: ServingCall = async (method, path, body) => {
    const headers: Record<string, string> = { accept: 'application/json', ...(authorization ? { authorization } : {}) };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetcher(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}), signal: AbortSignal.timeout(300_000) });
    } catch (err) {
      throw new SlipwayError('UNAVAILABLE', `Cannot reach Slipway at ${base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let doc: unknown = text;
    try {
      doc = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: the text itself goes into the message.
    }
    if (!res.ok) throw errorOf(res.status, doc);
    return doc;
  };
  try {
    return await fn(call);
  } finally {
    await close();
  }
}

/** A SQLite store as its file's path, any other as its URI with the password masked (as other commands name it). */
async function storeLabel(uri: string): Promise<string> {
  if (!uri.startsWith('sqlite:')) return (await import('../../core/redact-uri.js')).redactUri(uri);
  const [{ sqliteFileFromUri }, { resolve }] = await Promise.all([import('../../store/sqlite/sqlite-dialect.js'), import('node:path')]);
  const file = sqliteFileFromUri(uri);
  return file === ':memory:' ? uri : resolve(file);
}

/** A failed serving call as a catalogued error: the V2 routes answer {"error": "..."}, the native API {"error": {code, message}}. */
function errorOf(status: number, doc: unknown): SlipwayError {
  const err = (doc as { error?: unknown } | null)?.error;
  const message = typeof err === 'string' ? err : typeof (err as { message?: unknown })?.message === 'string' ? (err as { message: string }).message : `HTTP ${status}${typeof doc === 'string' && doc !== '' ? `: ${doc.slice(0, 200)}` : ''}`;
  const code = status === 404 ? 'NOT_FOUND' : status === 409 ? 'REFERENCE_DATA_MISSING' : status === 401 ? 'UNAUTHENTICATED' : status === 403 ? 'PERMISSION_DENIED' : status < 500 ? 'INVALID_ARGUMENT' : 'UNAVAILABLE';
  return new SlipwayError(code, message);
}

/** Registers `slipway explain`. */
export function register(program: Command): void {
  const cmd = addTargetOptions(
    program
      .command('explain')
      .description("Explain a served model's predictions: per-feature attributions (Shapley values) of each row, with the baseline they add up from; per-token attributions (occlusion) for text models")
      .argument('<model>', "a served model's name, models:/NAME/VERSION or models:/NAME@ALIAS")
      .option('--input <file>', 'the rows: .csv (header row; the model\'s columns are picked by name; for a text model, the column named as its text input), .jsonl, .parquet, or .json (a V2 infer body, a list of rows, texts or {column: value} objects)')
      .option('--output <name>', 'the model output to explain (default: the first floating-point output)')
      .option('--class <class>', 'the column or class label of that output (default: the positive class of a two-column output)')
      .option('--background-size <n>', 'background rows drawn from the reference data (default 100)', positiveInt('--background-size'))
      .option('--sample-budget <n>', 'KernelSHAP coalitions per row, for models with more than 12 features (default 2048)', positiveInt('--sample-budget'))
      .option('--json', 'print JSON'),
  ).action(runAction(async (model: string, flags: ExplainFlags) => explainCommand(model, flags)));
  usageErrorsExit2(cmd);
  addHelpEpilogue(cmd, {
    examples: ['slipway explain diabetes --input rows.csv --server http://127.0.0.1:5000', 'slipway explain models:/cancer@champion --input rows.json --json', 'slipway explain cancer --input rows.csv --sample-budget 4096', 'slipway explain reviews --input reviews.csv --class negative'],
    exitCodes: { 1: 'unknown model, no reference data attached, a server that cannot be reached, or a runtime failure', 2: 'bad usage, an unreadable input file, or rows the model cannot take' },
    docs: ['explanations.md', 'cli.md'],
  });
}

/** The JSON document in `file`; a file that does not parse is a DATA_ERROR naming it (read errors pass through). */
async function readJsonFile(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== undefined) throw err;
    throw new SlipwayError('DATA_ERROR', `${file} is not valid JSON: ${(err as Error).message}`);
  }
}
