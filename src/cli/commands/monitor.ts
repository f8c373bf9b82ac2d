/**
 * `slipway monitor report|text|profile|reference|windows|alerts|labels`: offline reports, and the
 * live-monitoring state of a server or the embedded store.
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { SlipwayClient } from '../../client/slipway-client.js';
import { SlipwayError } from '../../core/errors.js';
import { parseModelUri } from '../../core/model-source.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { EXIT, addHelpEpilogue, formatJson, formatStatus, formatTable, formatTime, formatVerdict, positiveInt, printWarning, runAction, usageErrorsExit2 } from '../output.js';

type StoreFlags = ConnectionFlags;

const KINDS = ['numerical', 'categorical', 'boolean', 'text'];

function kindOption(raw: string, prev: Record<string, string> = {}): Record<string, string> {
  const m = /^([^=]+)=(.+)$/.exec(raw);
  if (!m || !KINDS.includes(m[2] as string)) throw new InvalidArgumentError(`--kind expects COLUMN=KIND with KIND one of ${KINDS.join(', ')}.`);
  return { ...prev, [m[1] as string]: m[2] as string };
}

/** The version `models:/NAME@ALIAS` or `models:/NAME/VERSION` names, checked with the registry. */
async function resolveModel(client: SlipwayClient, uri: string): Promise<{ name: string; version: string; text: boolean }> {
  const ref = parseModelUri(uri);
  if (!ref) throw new SlipwayError('INVALID_ARGUMENT', `--model must be models:/NAME@ALIAS or models:/NAME/VERSION, got '${uri}'.`);
  const v = ref.alias !== undefined ? await client.models.getByAlias(ref.name, ref.alias) : await client.models.getVersion(ref.name, ref.version as string);
  return { name: v.name, version: v.version, text: v.signature?.text !== undefined };
}

/** A table as row objects (missing values as null), for the server to profile. */
function rowsOfTable(table: import('../../monitoring/index.js').Table): Array<Record<string, unknown>> {
  const rows = Array.from({ length: table.rows }, () => ({}) as Record<string, unknown>);
  for (const c of table.columns) {
    for (let i = 0; i < table.rows; i++) {
      const v = c.values[i];
      (rows[i] as Record<string, unknown>)[c.name] = typeof v === 'number' && Number.isNaN(v) ? null : v;
    }
  }
  return rows;
}

const seg = encodeURIComponent;

/** A stored reference profile as the monitoring API returns it. */
interface StoredReference {
  model: string;
  version: string;
  rows: number;
  source: string | null;
  createdTime: number;
  profile: unknown;
}

async function fetchReference(client: SlipwayClient, uri: string): Promise<StoredReference> {
  const v = await resolveModel(client, uri);
  return client.request<StoredReference>('GET', `/monitoring/models/${seg(v.name)}/versions/${seg(v.version)}/reference`);
}

function num(x: number | null | undefined): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x !== 0 && Math.abs(x) < 1e-4 ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

interface ReportFlags extends StoreFlags {
  reference?: string;
  current: string;
  spec?: string;
  html?: string;
  out?: string;
  json?: boolean;
  model?: string;
  target?: string;
  prediction?: string;
  task?: 'classification' | 'regression';
}

interface LabelsFlags extends ConnectionFlags {
  file?: string;
  requestIdColumn: string;
  labelColumn: string;
  requestId?: string;
  label?: string;
  json?: boolean;
}

const LABELS_PER_REQUEST = 10_000;

type Label = { requestId: string; label: unknown };

function labelValue(text: string): unknown {
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

/** The labels `--file` holds, or the one `--request-id`/`--label` names. */
async function readLabels(flags: LabelsFlags): Promise<Label[]> {
  const single = flags.requestId !== undefined || flags.label !== undefined;
  if (single === (flags.file !== undefined)) throw new SlipwayError('INVALID_ARGUMENT', 'Give either --file <labels file>, or --request-id with --label.');
  if (single) {
    if (flags.requestId === undefined || flags.label === undefined) throw new SlipwayError('INVALID_ARGUMENT', '--request-id and --label go together.');
    return [{ requestId: flags.requestId, label: labelValue(flags.label) }];
  }
  const m = await import('../../monitoring/index.js');
  const table = await m.readTable(flags.file as string);
  const find = (name: string, flag: string) => {
    const column = table.columns.find((c) => c.name === name);
    if (!column) throw new SlipwayError('DATA_ERROR', `${flags.file} has no column '${name}' (name it with ${flag}); its columns are ${table.columns.map((c) => c.name).join(', ')}.`);
    return column;
  };
  const ids = find(flags.requestIdColumn, '--request-id-column');
  const values = find(flags.labelColumn, '--label-column');
  const out: Label[] = [];
  for (let i = 0; i < table.rows; i++) {
    const id = ids.values[i];
    if (id === null || id === undefined || id === '' || (typeof id === 'number' && Number.isNaN(id))) throw new SlipwayError('DATA_ERROR', `${flags.file} row ${i + 1} has no request id.`);
    const label = values.values[i];
    if (label === null || label === undefined || (typeof label === 'number' && Number.isNaN(label))) throw new SlipwayError('DATA_ERROR', `${flags.file} row ${i + 1} has no label.`);
    out.push({ requestId: String(id), label: typeof label === 'string' ? labelValue(label) : label });
  }
  return out;
}

/** Registers `slipway monitor`. */
export function register(program: Command): void {
  const monitor = program.command('monitor').description('Data drift, data quality and model performance monitoring');

  addConnectionOptions(
    monitor
      .command('report')
      .description('Compare current data with a reference: drift, quality suite, HTML/JSON report; exit 1 when the suite fails')
      .option('--reference <file>', 'reference data (.csv, .tsv, .jsonl, .parquet) or a profile (.json)')
      .option('--model <uri>', 'use the reference profile attached to models:/NAME@ALIAS or models:/NAME/VERSION')
      .requiredOption('--current <file>', 'current data (.csv, .tsv, .jsonl, .parquet)')
      .option('--spec <file>', 'monitor.yaml with kinds, drift tests and quality thresholds')
      .option('--target <column>', 'the label column: drift reported apart from the features, model performance with --prediction')
      .option('--prediction <column>', "the model's output column (label, regression value, or P(label = 1) for binary classification)")
      .option('--task <task>', 'classification or regression (default: inferred from the target column)', (v: string) => {
        if (v !== 'classification' && v !== 'regression') throw new InvalidArgumentError('--task expects classification or regression.');
        return v;
      })
      .option('--html <file>', 'write the self-contained HTML report here')
      .option('--out <file>', 'write the JSON report here')
      .option('--json', 'print the JSON report instead of a summary'),
  ).action(
    runAction(async (flags: ReportFlags) => {
      if (!flags.reference === !flags.model) throw new SlipwayError('INVALID_ARGUMENT', 'Give exactly one of --reference <file> or --model <uri>.');
      const m = await import('../../monitoring/index.js');
      const fromFile = flags.spec ? await m.loadMonitorSpec(flags.spec) : {};
      // Flags win over the spec file.
      const spec = { ...fromFile, ...(flags.target ? { target: flags.target } : {}), ...(flags.prediction ? { prediction: flags.prediction } : {}), ...(flags.task ? { task: flags.task } : {}) };
      let reference: import('../../monitoring/index.js').ReportSide;
      let current: import('../../monitoring/index.js').ReportSide;
      if (flags.model) {
        const model = flags.model;
        const ref = await withConnection(flags, (client) => fetchReference(client, model), { readOnly: true, plugins: ['monitoring'] });
        reference = { profile: m.DatasetProfile.fromJSON(ref.profile), source: `models:/${ref.model}/${ref.version}` };
        current = m.prepareSide({ table: await m.readTable(flags.current) }, spec, true);
      } else if ((flags.reference as string).toLowerCase().endsWith('.json')) {
        const { readFile } = await import('node:fs/promises');
        let doc: unknown;
        try {
          doc = JSON.parse(await readFile(flags.reference as string, 'utf8'));
        } catch (err) {
          throw new SlipwayError('DATA_ERROR', `Cannot read profile ${flags.reference}: ${(err as Error).message}`);
        }
        reference = { profile: m.DatasetProfile.fromJSON(doc), source: flags.reference as string };
        current = m.prepareSide({ table: await m.readTable(flags.current) }, spec, true);
      } else {
        // Two data files: the reference is parsed and profiled in a worker thread meanwhile.
        [reference, current] = await m.prepareSidesInParallel(flags.reference as string, flags.current, spec);
      }
      const doc = m.buildReport(reference, current, { spec });
      if (flags.html) await writeFile(flags.html, m.reportToHtml(doc));
      if (flags.out) await writeFile(flags.out, m.reportToJson(doc));
      if (flags.json) process.stdout.write(`${m.reportToJson(doc)}\n`);
      else {
        process.stdout.write(
          formatTable(doc.drift.columns, [
            { header: 'COLUMN', value: (c) => c.column },
            { header: 'KIND', value: (c) => c.kind },
            { header: 'TEST', value: (c) => c.test },
            { header: 'SCORE', value: (c) => num(c.score), alignRight: true },
            { header: 'THRESHOLD', value: (c) => num(c.threshold), alignRight: true },
            { header: 'STATUS', value: (c) => c.status },
            { header: 'NOTE', value: (c) => c.note ?? '' },
          ]),
        );
        const roles = [doc.targetDrift && { role: 'target', d: doc.targetDrift }, doc.predictionDrift && { role: 'prediction', d: doc.predictionDrift }].filter((x) => !!x);
        if (roles.length > 0) {
          process.stdout.write('\n');
          process.stdout.write(formatTable(roles, [{ header: 'ROLE', value: (r) => r.role }, { header: 'COLUMN', value: (r) => r.d.column }, { header: 'TEST', value: (r) => r.d.test }, { header: 'SCORE', value: (r) => num(r.d.score), alignRight: true }, { header: 'STATUS', value: (r) => r.d.status }, { header: 'NOTE', value: (r) => r.d.note ?? '' }]));
        }
        const perf = doc.performance;
        if (perf) {
          const scored = [perf.reference, perf.current].some((s) => s?.task === 'classification' && s.threshold !== null);
          const keys = perf.task === 'regression' ? ['rows', 'mae', 'rmse', 'r2'] : ['rows', 'accuracy', 'precision', 'recall', 'f1', ...(scored ? ['rocAuc', 'logLoss'] : [])];
          const figure = (side: unknown, k: string) => (side ? num((side as Record<string, number | null>)[k]) : '-');
          process.stdout.write(`\nmodel performance (${perf.task}, ${perf.prediction} against ${perf.target}):\n`);
          process.stdout.write(formatTable(keys, [{ header: 'METRIC', value: (k) => k }, { header: 'REFERENCE', value: (k) => figure(perf.reference, k), alignRight: true }, { header: 'CURRENT', value: (k) => figure(perf.current, k), alignRight: true }]));
          for (const n of perf.notes) process.stdout.write(`note: ${n}\n`);
        }
        const bad = doc.quality.tests.filter((t) => t.status !== 'pass');
        if (bad.length > 0) {
          process.stdout.write('\n');
          process.stdout.write(formatTable(bad, [{ header: 'QUALITY TEST', value: (t) => t.name }, { header: 'COLUMN', value: (t) => t.column ?? '' }, { header: 'STATUS', value: (t) => t.status }, { header: 'MESSAGE', value: (t) => t.message, maxWidth: 80 }]));
        }
        const q = doc.quality.counts;
        const drift = formatVerdict(!doc.drift.drifted, `dataset drift: ${formatStatus(doc.drift.drifted ? 'DETECTED' : 'not detected')} (${doc.drift.driftedColumns}/${doc.drift.testedColumns} columns drifted)`);
        const quality = formatVerdict(doc.status !== 'fail' && doc.status !== 'error', `quality: ${formatStatus(doc.status)} (${q.pass} pass, ${q.warn} warn, ${q.fail} fail, ${q.error} error)`);
        process.stdout.write(`\n${drift}\n${quality}\n`);
      }
      return doc.status === 'fail' || doc.status === 'error' ? EXIT.FAILED : EXIT.OK;
    }),
  );

  monitor
    .command('text')
    .description("Text drift and quality of a text column against a reference: lengths, out-of-vocabulary rate against the model's tokenizer, empty and non-text shares, token distribution")
    .requiredOption('--reference <file>', 'reference data (.csv, .tsv, .jsonl, .parquet)')
    .requiredOption('--current <file>', 'current data, same formats')
    .requiredOption('--tokenizer <file>', "a tokenizer.json, or a text model's .onnx file with its text-model.json beside it")
    .option('--column <name>', 'the text column', 'text')
    .option('--json', 'print the JSON result instead of a summary')
    .action(
      runAction(async (flags: { reference: string; current: string; tokenizer: string; column: string; json?: boolean }) => {
        const m = await import('../../monitoring/index.js');
        const { TextTokenizer } = await import('../../serving/text-model.js');
        const tokenizer = flags.tokenizer.toLowerCase().endsWith('.onnx') ? await TextTokenizer.load(flags.tokenizer) : await TextTokenizer.fromTokenizerFile(flags.tokenizer);
        if (!tokenizer) throw new SlipwayError('INVALID_ARGUMENT', `${flags.tokenizer} is not a text model: it has no text-model.json beside it. Give its tokenizer.json instead.`);
        const column = async (file: string) => {
          const table = await m.readTable(file);
          const c = table.columns.find((x) => x.name === flags.column);
          if (!c) throw new SlipwayError('DATA_ERROR', `${file} has no column '${flags.column}' (name it with --column); its columns are ${table.columns.map((x) => x.name).join(', ')}.`);
          return c.type === 'string' ? c.values : Array.from(c.values, (v) => (Number.isNaN(v) ? null : v));
        };
        const [ref, cur] = await Promise.all([column(flags.reference), column(flags.current)]);
        const drift = m.textDrift(m.profileTexts(ref, tokenizer), m.profileTexts(cur, tokenizer));
        if (flags.json) {
          process.stdout.write(formatJson({ column: flags.column, tokenizer: tokenizer.kind, ...drift }));
          return EXIT.OK;
        }
        const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
        const rows = [
          { metric: 'rows', reference: String(drift.rows.reference), current: String(drift.rows.current), test: '' },
          { metric: 'tokens per text (mean)', reference: num(drift.tokenLength.reference), current: num(drift.tokenLength.current), test: `KS p = ${num(drift.tokenLength.pValue)}${drift.tokenLength.drift ? ' DRIFT' : ''}` },
          { metric: 'characters per text (mean)', reference: num(drift.charLength.reference), current: num(drift.charLength.current), test: '' },
          { metric: 'out-of-vocabulary tokens', reference: pct(drift.oovRate.reference), current: pct(drift.oovRate.current), test: '' },
          { metric: 'empty or missing', reference: pct(drift.emptyShare.reference), current: pct(drift.emptyShare.current), test: '' },
          { metric: 'not text', reference: pct(drift.nonTextShare.reference), current: pct(drift.nonTextShare.current), test: '' },
          { metric: 'token distribution', reference: '', current: '', test: `Jensen-Shannon ${num(drift.tokens.jensenShannon)} (threshold ${drift.tokens.threshold})${drift.tokens.drift ? ' DRIFT' : ''}` },
        ];
        process.stdout.write(
          formatTable(rows, [
            { header: 'METRIC', value: (r) => r.metric },
            { header: 'REFERENCE', value: (r) => r.reference, alignRight: true },
            { header: 'CURRENT', value: (r) => r.current, alignRight: true },
            { header: 'TEST', value: (r) => r.test },
          ]),
        );
        process.stdout.write(`\n${formatVerdict(!drift.drift, `text drift in '${flags.column}': ${formatStatus(drift.drift ? 'DETECTED' : 'not detected')}`)}\n`);
        return EXIT.OK;
      }),
    );

  monitor
    .command('profile')
    .description('Profile a data file into a mergeable JSON profile')
    .argument('<data>', 'data file (.csv, .tsv, .jsonl, .parquet)')
    .requiredOption('--out <file>', 'where to write the profile JSON')
    .option('--kind <column=kind>', 'override a column kind (repeatable)', kindOption)
    .option('--exact-limit <n>', 'keep exact values up to this many per column, then a DDSketch', positiveInt('--exact-limit'))
    .option('--json', 'print a JSON summary')
    .action(
      runAction(async (data: string, flags: { out: string; kind?: Record<string, string>; exactLimit?: number; json?: boolean }) => {
        const m = await import('../../monitoring/index.js');
        const table = await m.readTable(data);
        if (table.rows === 0) throw new SlipwayError('DATA_ERROR', `${data} has no rows: nothing to profile.`);
        const profile = m.profileTable(table, { kinds: flags.kind as Record<string, import('../../monitoring/index.js').ColumnKind>, ...(flags.exactLimit ? { exactLimit: flags.exactLimit } : {}) });
        await writeFile(flags.out, JSON.stringify(profile.toJSON()));
        const summary = { out: flags.out, rows: profile.rows, columns: [...profile.columns.values()].map((c) => ({ name: c.name, kind: c.kind, missing: c.missing, distinct: c.distinct() })) };
        if (flags.json) process.stdout.write(formatJson(summary));
        else process.stdout.write(`${formatTable(summary.columns, [{ header: 'COLUMN', value: (c) => c.name }, { header: 'KIND', value: (c) => c.kind }, { header: 'MISSING', value: (c) => c.missing, alignRight: true }, { header: 'DISTINCT', value: (c) => c.distinct, alignRight: true }])}wrote ${flags.out} (${profile.rows} rows)\n`);
      }),
    );

  const reference = monitor.command('reference').description('Reference profiles attached to registered model versions');
  addConnectionOptions(
    reference
      .command('set')
      .description('Attach a reference profile to a model version')
      .argument('<model>', 'models:/NAME/VERSION or models:/NAME@ALIAS')
      .option('--data <file>', 'data file to profile')
      .option('--profile <file>', 'a profile written by `slipway monitor profile`')
      .option('--dataset <name@version>', 'the stored profile of a registered dataset version')
      .option('--from-training-data', "the registered dataset version the model version's run logged as its training input")
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (uri: string, flags: StoreFlags & { data?: string; profile?: string; dataset?: string; fromTrainingData?: boolean; json?: boolean }) => {
      const given = [flags.data, flags.profile, flags.dataset, flags.fromTrainingData].filter((f) => f !== undefined).length;
      if (given !== 1) throw new SlipwayError('INVALID_ARGUMENT', 'Give exactly one of --data <file>, --profile <file>, --dataset NAME@VERSION or --from-training-data.');
      if (flags.dataset !== undefined || flags.fromTrainingData) {
        // The server reads the registered version's stored profile: nothing is read or profiled here.
        const { parseDatasetSpec } = await import('../../data/dataset-service.js');
        const body = flags.dataset !== undefined ? { dataset: parseDatasetSpec(flags.dataset) } : { fromTrainingData: true };
        const stored = await withConnection(
          flags,
          async (client) => {
            const v = await resolveModel(client, uri);
            return client.request<{ model: string; version: string; rows: number; columns: string[]; source: string }>('PUT', `/monitoring/models/${seg(v.name)}/versions/${seg(v.version)}/reference`, { body });
          },
          { plugins: ['monitoring'] },
        );
        const out = { model: stored.model, version: stored.version, rows: stored.rows, columns: stored.columns.length, source: stored.source };
        process.stdout.write(flags.json ? formatJson(out) : `attached the profile of ${out.source.replace(/^dataset:/, '')} (${out.rows} rows × ${out.columns} columns) as the reference of ${out.model} version ${out.version}\n`);
        return;
      }
      const m = await import('../../monitoring/index.js');
      let profile: import('../../monitoring/index.js').DatasetProfile;
      let table: import('../../monitoring/index.js').Table | undefined;
      if (flags.profile) {
        const { readFile } = await import('node:fs/promises');
        let doc: unknown;
        try {
          doc = JSON.parse(await readFile(flags.profile, 'utf8'));
        } catch (err) {
          throw new SlipwayError('DATA_ERROR', `Cannot read profile ${flags.profile}: ${(err as Error).message}`);
        }
        profile = m.DatasetProfile.fromJSON(doc);
      } else {
        table = await m.readTable(flags.data as string);
        if (table.rows === 0) throw new SlipwayError('DATA_ERROR', `${flags.data} has no rows: a reference needs data.`);
        profile = m.profileTable(table);
      }
      const out = await withConnection(
        flags,
        async (client) => {
          const v = await resolveModel(client, uri);
          // A text model's reference also summarises its text column with the model's tokenizer, which the server holds: the rows go there.
          const body = table && v.text ? { rows: rowsOfTable(table), source: flags.data } : { ...profile.toJSON(), source: flags.data ?? flags.profile ?? null };
          const stored = await client.request<{ model: string; version: string; rows: number; columns: string[] }>('PUT', `/monitoring/models/${seg(v.name)}/versions/${seg(v.version)}/reference`, { body });
          return { model: stored.model, version: stored.version, rows: stored.rows, columns: stored.columns.length };
        },
        { plugins: ['monitoring'] },
      );
      process.stdout.write(flags.json ? formatJson(out) : `attached a reference of ${out.rows} rows × ${out.columns} columns to ${out.model} version ${out.version}\n`);
    }),
  );
  addConnectionOptions(
    reference
      .command('show')
      .description('Show the reference profile of a model version')
      .argument('<model>', 'models:/NAME/VERSION or models:/NAME@ALIAS')
      .option('--json', 'print the whole profile as JSON'),
  ).action(
    runAction(async (uri: string, flags: StoreFlags & { json?: boolean }) => {
      const m = await import('../../monitoring/index.js');
      const ref = await withConnection(flags, (client) => fetchReference(client, uri), { readOnly: true, plugins: ['monitoring'] });
      if (flags.json) return void process.stdout.write(formatJson(ref));
      const profile = m.DatasetProfile.fromJSON(ref.profile);
      process.stdout.write(`${ref.model} version ${ref.version}: ${ref.rows} rows from ${ref.source ?? '-'} (${formatTime(ref.createdTime)})\n`);
      process.stdout.write(
        formatTable([...profile.columns.values()], [
          { header: 'COLUMN', value: (c) => c.name },
          { header: 'KIND', value: (c) => c.kind },
          { header: 'MISSING', value: (c) => c.missing, alignRight: true },
          { header: 'MEAN', value: (c) => (c.kind === 'numerical' ? num(c.mean) : '-'), alignRight: true },
          { header: 'STD', value: (c) => (c.kind === 'numerical' ? num(c.std) : '-'), alignRight: true },
        ]),
      );
    }),
  );

  addConnectionOptions(
    monitor
      .command('windows')
      .description('Live-monitoring windows of a model, newest first')
      .argument('<model>', 'registered model name')
      .option('--limit <n>', 'most windows to list', positiveInt('--limit'), 60)
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (model: string, flags: StoreFlags & { limit: number; json?: boolean }) => {
      type Window = { windowStart: number; version: string; rows: number; droppedRows: number; figures: Record<string, number | null> };
      const { windows } = await withConnection(
        flags,
        (client) => client.request<{ windows: Window[] }>('GET', `/monitoring/models/${seg(model)}/windows`, { query: { limit: flags.limit } }),
        { readOnly: true, plugins: ['monitoring'] },
      );
      if (flags.json) return void process.stdout.write(formatJson(windows));
      // A text model's windows also say which text inputs drifted against the reference.
      const textDrift = (w: Window) => {
        const inputs = Object.keys(w.figures).filter((k) => k.startsWith('text_drift:'));
        if (inputs.length === 0) return '-';
        const drifted = inputs.filter((k) => w.figures[k] === 1).map((k) => k.slice('text_drift:'.length));
        return drifted.length > 0 ? drifted.join(', ') : 'none';
      };
      const hasText = windows.some((w) => Object.keys(w.figures).some((k) => k.startsWith('text_drift:')));
      process.stdout.write(
        formatTable(
          windows,
          [
            { header: 'WINDOW', value: (w) => formatTime(w.windowStart) },
            { header: 'VERSION', value: (w) => w.version },
            { header: 'ROWS', value: (w) => w.rows, alignRight: true },
            { header: 'DROPPED', value: (w) => w.droppedRows, alignRight: true },
            { header: 'DRIFT SHARE', value: (w) => num(w.figures.drift_share), alignRight: true },
            { header: 'QUALITY FAILED', value: (w) => num(w.figures.quality_failed), alignRight: true },
            ...(hasText ? [{ header: 'TEXT DRIFT', value: textDrift }] : []),
          ],
          '(no windows yet)',
        ),
      );
    }),
  );

  addConnectionOptions(
    monitor
      .command('alerts')
      .description('Alert rules and their state (ok / firing)')
      .option('--model <name>', 'only rules of this model')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: StoreFlags & { model?: string; json?: boolean }) => {
      type AlertStatus = Awaited<ReturnType<typeof import('../../monitoring/index.js').listAlertStatus>>[number];
      const { alerts } = await withConnection(
        flags,
        (client) => client.request<{ alerts: AlertStatus[] }>('GET', '/monitoring/alerts', { query: { model: flags.model } }),
        { readOnly: true, plugins: ['monitoring'] },
      );
      if (flags.json) return void process.stdout.write(formatJson(alerts));
      process.stdout.write(
        formatTable(
          alerts,
          [
            { header: 'NAME', value: (a) => a.name },
            { header: 'MODEL', value: (a) => a.model },
            { header: 'RULE', value: (a) => `${a.figure} ${a.comparison} ${a.threshold} for ${a.forWindows}` },
            { header: 'STATE', value: (a) => a.state },
            { header: 'LAST VALUE', value: (a) => num(a.lastValue), alignRight: true },
            { header: 'SINCE', value: (a) => (a.since === null ? '-' : formatTime(a.since)) },
          ],
          '(no alert rules)',
        ),
      );
      return alerts.some((a) => a.state === 'firing') ? EXIT.FAILED : EXIT.OK;
    }),
  );

  addConnectionOptions(
    monitor
      .command('labels')
      .description('Send ground-truth labels for served predictions, matched by request id, so live monitoring can score the model')
      .argument('<model>', 'registered model name the predictions were served for')
      .option('--file <file>', 'labels file (.csv, .tsv, .jsonl, .parquet) with a request id column and a label column')
      .option('--request-id-column <name>', 'the request id column of --file', 'request_id')
      .option('--label-column <name>', 'the label column of --file', 'label')
      .option('--request-id <id>', 'one request id (with --label)')
      .option('--label <value>', 'its label (numbers are sent as numbers)')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (model: string, flags: LabelsFlags) => {
      const labels = await readLabels(flags);
      const result = await withConnection(
        flags,
        async (client) => {
          let accepted = 0;
          const unknown: string[] = [];
          // The API takes at most 10,000 labels a request.
          for (let i = 0; i < labels.length; i += LABELS_PER_REQUEST) {
            const r = await client.monitoring.sendGroundTruth(model, labels.slice(i, i + LABELS_PER_REQUEST));
            accepted += r.accepted;
            unknown.push(...r.unknown);
          }
          return { accepted, unknown };
        },
        { plugins: ['monitoring'] },
      );
      if (flags.json) process.stdout.write(formatJson(result));
      else {
        process.stdout.write(`accepted ${result.accepted} of ${labels.length} label(s) for ${model}\n`);
        if (result.unknown.length > 0) {
          const shown = result.unknown.slice(0, 5).join(', ');
          printWarning(`${result.unknown.length} request id(s) have no stored prediction (never served, not sampled, or older than the retention): ${shown}${result.unknown.length > 5 ? ', …' : ''}`);
        }
      }
      return result.accepted === 0 && labels.length > 0 ? EXIT.FAILED : EXIT.OK;
    }),
  );

  usageErrorsExit2(monitor);
  addHelpEpilogue(monitor, {
    examples: [
      'slipway monitor report --reference train.csv --current today.csv --html drift.html',
      'slipway monitor report --model models:/cancer@champion --current today.csv --spec monitor.yaml --json',
      'slipway monitor profile train.csv --out profile.json',
      'slipway monitor reference set models:/cancer/3 --data train.csv',
      'slipway monitor reference set models:/cancer/3 --dataset cancer-train@2',
      'slipway monitor reference set models:/cancer@champion --from-training-data',
      'slipway monitor windows cancer',
      'slipway monitor alerts --model cancer',
      'slipway monitor labels cancer --file labels.csv --server http://127.0.0.1:5000',
      'slipway monitor labels cancer --request-id 5b1c0e9a --label 1',
    ],
    exitCodes: { 1: 'the quality suite or dataset drift failed, or something named was not found', 2: 'bad usage, or unreadable or mismatched data' },
    docs: ['monitoring.md', 'cli.md'],
  });
}
