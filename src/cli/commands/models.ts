/** `slipway models …`: the model registry from the command line, on a server or the embedded store. */
import type { Command } from 'commander';
import type { SlipwayClient } from '../../client/slipway-client.js';
import type { ModelVersion, RegisteredModel } from '../../client/schemas/models.js';
import type { ModelSignature } from '../../registry/index.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { EXIT, addHelpEpilogue, errorLine, formatRecord, formatTable, formatTime, positiveInt, printList, printValue, printWarning, runAction, usageErrorsExit2 } from '../output.js';
import { collect } from './experiments.js';

interface RegisterFlags extends ConnectionFlags {
  name: string;
  alias?: string;
  description?: string;
  columns?: string;
  columnsFrom?: string;
  target?: string;
  requireCompatible?: boolean;
  tokenizer?: string;
  textConfig?: string;
  json?: boolean;
}

interface ListFlags extends ConnectionFlags {
  filter?: string;
  orderBy?: string[];
  maxResults: number;
  pageToken?: string;
  json?: boolean;
}

interface ShowFlags extends ConnectionFlags {
  version?: number;
  json?: boolean;
}

type JsonFlags = ConnectionFlags & { json?: boolean };

async function isNotFound(err: unknown): Promise<boolean> {
  const { isSlipwayApiError } = await import('../../client/api-error.js');
  return isSlipwayApiError(err) && (err.code === 'NOT_FOUND' || err.status === 404);
}

function shape(dims: Array<number | string>): string {
  return `[${dims.join(',')}]`;
}

function signatureText(v: ModelVersion): string | undefined {
  if (!v.signature) return undefined;
  const side = (specs: NonNullable<ModelVersion['signature']>['inputs']) => specs.map((s) => `${s.name} ${s.type} ${shape(s.shape)}`).join(', ');
  return `${side(v.signature.inputs)} -> ${side(v.signature.outputs)}`;
}

function versionRecord(v: ModelVersion): string {
  return formatRecord([
    ['name', v.name],
    ['version', v.version],
    ['status', v.statusMessage ? `${v.status} (${v.statusMessage})` : v.status],
    ['stage', v.currentStage],
    ['aliases', v.aliases.join(', ')],
    ['signature', signatureText(v)],
    ['source', v.source],
    ['location', v.storageLocation],
    ['run', v.runId],
    ['description', v.description],
    ['tags', Object.keys(v.tags).length > 0 ? Object.entries(v.tags).map(([k, val]) => `${k}=${val}`).join(', ') : undefined],
    ['created', formatTime(v.creationTimestamp)],
    ['updated', formatTime(v.lastUpdatedTimestamp)],
  ]);
}

function modelText(m: RegisteredModel, versions: ModelVersion[]): string {
  const head = formatRecord([
    ['name', m.name],
    ['description', m.description],
    ['aliases', m.aliases.map((a) => `${a.alias}=v${a.version}`).join(', ')],
    ['tags', Object.keys(m.tags).length > 0 ? Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(', ') : undefined],
    ['created', formatTime(m.creationTimestamp)],
    ['updated', formatTime(m.lastUpdatedTimestamp)],
  ]);
  const table = formatTable(
    versions,
    [
      { header: 'VERSION', value: (v) => v.version, alignRight: true },
      { header: 'STATUS', value: (v) => v.status },
      { header: 'STAGE', value: (v) => v.currentStage },
      { header: 'ALIASES', value: (v) => v.aliases.join(',') },
      { header: 'SIGNATURE', value: (v) => signatureText(v), maxWidth: 70 },
      { header: 'CREATED', value: (v) => formatTime(v.creationTimestamp) },
    ],
    '(no versions)',
  );
  return `${head}\n${table}`;
}

/** Reads the `slipway.columns` tag value from --columns or the header of --columns-from. */
async function columnsTag(flags: RegisterFlags): Promise<string | undefined> {
  const { SlipwayError } = await import('../../core/errors.js');
  if (flags.columns !== undefined && flags.columnsFrom !== undefined) throw new SlipwayError('INVALID_ARGUMENT', 'Give either --columns or --columns-from, not both.');
  if (flags.columns !== undefined) {
    const { columnsFromTag } = await import('../../registry/model-columns.js');
    const cols = columnsFromTag(flags.columns);
    if (!cols) throw new SlipwayError('INVALID_ARGUMENT', '--columns needs a comma-separated list of column names.');
    return JSON.stringify(cols);
  }
  if (flags.columnsFrom === undefined) return undefined;
  const { open } = await import('node:fs/promises');
  const { columnsFromCsvHeader } = await import('../../registry/model-columns.js');
  let head: string;
  try {
    // Only the header line matters; read the first 64 KiB rather than a whole training set.
    const file = await open(flags.columnsFrom, 'r');
    try {
      const buf = Buffer.alloc(64 * 1024);
      const { bytesRead } = await file.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    throw new SlipwayError('DATA_ERROR', `Cannot read --columns-from file '${flags.columnsFrom}': ${(err as Error).message}`);
  }
  const cols = columnsFromCsvHeader(head, flags.target);
  if (cols.length === 0) throw new SlipwayError('DATA_ERROR', `The file '${flags.columnsFrom}' has no CSV header line.`);
  return JSON.stringify(cols);
}

/**
 * How a new version's signature differs from the model's `champion` version, else its latest
 * version, as one sentence; undefined when it matches, or there is nothing to compare with.
 */
async function signatureChange(client: SlipwayClient, name: string, signature: ModelSignature): Promise<string | undefined> {
  const { signatureDifferences } = await import('../../registry/signature-compatibility.js');
  let model: RegisteredModel;
  try {
    model = await client.models.get(name);
  } catch (err) {
    if (await isNotFound(err)) return undefined;
    throw err;
  }
  const champion = model.aliases.find((a) => a.alias === 'champion');
  const base = champion ? await client.models.getVersion(name, champion.version) : (await client.models.listVersions(name, { maxResults: 1 })).versions[0];
  if (!base?.signature) return undefined;
  const differences = signatureDifferences(base.signature, signature);
  if (differences.length === 0) return undefined;
  const which = champion ? `version ${base.version} (champion)` : `version ${base.version} (latest)`;
  return `The new version's signature differs from ${name} ${which}: ${differences.join('; ')}.`;
}

async function registerModelFile(file: string, flags: RegisterFlags): Promise<number> {
  const { SlipwayError } = await import('../../core/errors.js');
  const { stat } = await import('node:fs/promises');
  const { createReadStream } = await import('node:fs');
  const { basename } = await import('node:path');
  const { randomUUID } = await import('node:crypto');
  const { readOnnxSignature, textModelFiles, textModelSignature, COLUMNS_TAG } = await import('../../registry/index.js');
  const { validateAlias, validateModelName } = await import('../../registry/registry-validation.js');

  validateModelName(flags.name, '--name');
  if (flags.alias !== undefined) validateAlias(flags.alias);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new SlipwayError('DATA_ERROR', `Model file '${file}' does not exist or is not a file.`);
  if (!file.toLowerCase().endsWith('.onnx')) throw new SlipwayError('DATA_ERROR', `Model file '${file}' is not an .onnx file.`);
  // A text model's tokenizer and settings are stored beside the ONNX file (see docs/registry.md).
  const textFiles = await textModelFiles(file, { tokenizer: flags.tokenizer, textConfig: flags.textConfig });
  // Refuse an unreadable model up front instead of registering a FAILED version.
  let signature: Awaited<ReturnType<typeof readOnnxSignature>>;
  try {
    signature = textFiles.length > 0 ? await textModelSignature(file, textFiles) : await readOnnxSignature(file, file);
  } catch (err) {
    if (textFiles.length > 0) throw err;
    throw new SlipwayError('DATA_ERROR', `Model file '${file}' is not a readable ONNX model: ${(err as Error).message.split('\n')[0]}`);
  }
  const tagValue = await columnsTag(flags);
  // Column names that do not cover the input width would only fail later, on every dataframe request.
  const only = signature.inputs.length === 1 ? signature.inputs[0] : undefined;
  const width = only?.shape.length === 2 ? only.shape[1] : undefined;
  const named = tagValue === undefined ? undefined : (JSON.parse(tagValue) as string[]).length;
  if (typeof width === 'number' && named !== undefined && named !== width) {
    throw new SlipwayError('INVALID_ARGUMENT', `${flags.columns !== undefined ? '--columns' : '--columns-from'} names ${named} column(s) but the model's input '${only?.name}' takes ${width}.`);
  }

  const version = await withConnection(flags, async (client) => {
    const differences = await signatureChange(client, flags.name, signature);
    if (differences) {
      if (flags.requireCompatible) throw new SlipwayError('INVALID_STATE', `${differences} Nothing was registered (--require-compatible).`);
      printWarning(differences);
    }
    const { Readable } = await import('node:stream');
    const folder = `models/${randomUUID()}`;
    for (const f of textFiles) {
      const content = f.content ?? (Readable.toWeb(createReadStream(f.path as string)) as ReadableStream<Uint8Array>);
      await client.artifacts.put(`${folder}/${f.name}`, content);
    }
    const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
    const stored = await client.artifacts.put(`${folder}/${basename(file)}`, body);
    try {
      await client.models.create({ name: flags.name });
    } catch (err) {
      const { isSlipwayApiError } = await import('../../client/api-error.js');
      if (!isSlipwayApiError(err) || err.code !== 'ALREADY_EXISTS') throw err;
    }
    const created = await client.models.createVersion(flags.name, {
      source: stored.uri,
      ...(flags.description !== undefined ? { description: flags.description } : {}),
      ...(tagValue ? { tags: { [COLUMNS_TAG]: tagValue } } : {}),
    });
    if (flags.alias === undefined) return created;
    return client.models.setAlias(flags.name, flags.alias, created.version);
  });
  printValue(version, flags, () => versionRecord(version));
  return version.status === 'READY' ? EXIT.OK : EXIT.FAILED;
}

/** Registers `slipway models`. */
export function register(program: Command): void {
  const models = program.command('models').description('Register, list, inspect, stage and delete models in the registry');

  addConnectionOptions(
    models
      .command('register')
      .description('Upload an ONNX file to the artifact store and register it as a new version (its signature is read from the file)')
      .argument('<file>', 'the .onnx model file')
      .requiredOption('--name <name>', 'registered model name (created if it does not exist)')
      .option('--alias <alias>', 'point this alias (e.g. champion) at the new version')
      .option('--description <text>', 'description of the new version')
      .option('--columns <names>', 'input column names, comma-separated (stored as the slipway.columns tag)')
      .option('--columns-from <csv>', 'take the input column names from the header of this CSV file')
      .option('--target <column>', 'with --columns-from: the label column to leave out (default: a column named target/label/y)')
      .option('--require-compatible', "refuse a version whose signature differs from the champion's (else the latest version's) instead of warning")
      .option('--tokenizer <file>', 'a text model: the tokenizer.json to store beside the model (default: the one text-model.json beside the file names)')
      .option('--text-config <file>', 'a text model: its text-model.json settings (default: text-model.json beside the file, if any)')
      .option('--json', 'print JSON'),
  ).action(runAction(registerModelFile));

  addConnectionOptions(
    models
      .command('list')
      .description('List registered models, by name, or as --order-by says')
      .option('--filter <filter>', "MLflow search filter, e.g. \"name LIKE 'fraud%'\"")
      .option('--order-by <clause>', 'order clause: name or last_updated_timestamp, ASC or DESC (repeatable)', collect)
      .option('--max-results <n>', 'most models to list', positiveInt('--max-results'), 100)
      .option('--page-token <token>', 'continue a previous listing')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ListFlags) => {
      const page = await withConnection(
        flags,
        (client) => client.models.list({ filter: flags.filter, orderBy: flags.orderBy, maxResults: flags.maxResults, pageToken: flags.pageToken }),
        { readOnly: true },
      );
      printList(
        page.models,
        [
          { header: 'NAME', value: (m) => m.name },
          { header: 'LATEST', value: (m) => m.latestVersions.reduce((top, v) => Math.max(top, Number(v.version)), 0) || undefined, alignRight: true },
          { header: 'ALIASES', value: (m) => m.aliases.map((a) => `${a.alias}=v${a.version}`).join(', ') },
          { header: 'UPDATED', value: (m) => formatTime(m.lastUpdatedTimestamp) },
          { header: 'DESCRIPTION', value: (m) => m.description, maxWidth: 40 },
        ],
        { json: flags.json, emptyText: '(no registered models)' },
      );
      if (page.nextPageToken) process.stderr.write(`note: more models follow; continue with --page-token ${page.nextPageToken}\n`);
    }),
  );

  addConnectionOptions(
    models
      .command('show')
      .description('Show a registered model and its versions, or one version with --version')
      .argument('<name>', 'registered model name')
      .option('--version <n>', 'show this version (status, signature, source, tags)', positiveInt('--version'))
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, flags: ShowFlags) => {
      await withConnection(
        flags,
        async (client) => {
          if (flags.version !== undefined) {
            const v = await client.models.getVersion(name, flags.version);
            printValue(v, flags, () => versionRecord(v));
            return;
          }
          const model = await client.models.get(name);
          const versions: ModelVersion[] = [];
          let pageToken: string | undefined;
          do {
            const page = await client.models.listVersions(name, { maxResults: 1000, pageToken });
            versions.push(...page.versions);
            pageToken = page.nextPageToken;
          } while (pageToken);
          printValue({ ...model, versions }, flags, () => modelText(model, versions));
        },
        { readOnly: true },
      );
    }),
  );

  addConnectionOptions(
    models
      .command('stage')
      .description('Move VERSION of model NAME to a stage: None, Staging, Production or Archived')
      .argument('<name>', 'registered model name')
      .argument('<version>', 'version number', positiveInt('VERSION'))
      .argument('<stage>', 'None, Staging, Production or Archived (any case)')
      .option('--archive-existing', 'archive the versions now in that stage')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, version: number, stage: string, flags: JsonFlags & { archiveExisting?: boolean }) => {
      const v = await withConnection(flags, (client) => client.models.transitionStage(name, version, { stage, archiveExistingVersions: flags.archiveExisting === true }));
      printValue(v, flags, () => `${name} version ${v.version} is now in stage ${v.currentStage}\n`);
    }),
  );

  addConnectionOptions(
    models
      .command('delete')
      .description('Delete a registered model with all its versions, or one version with --version')
      .argument('<name>', 'registered model name')
      .option('--version <n>', 'delete only this version', positiveInt('--version'))
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, flags: ShowFlags) => {
      await withConnection(flags, async (client) => {
        if (flags.version !== undefined) await client.models.deleteVersion(name, flags.version);
        else await client.models.delete(name);
      });
      const what = flags.version !== undefined ? `${name} version ${flags.version}` : `model ${name} and its versions`;
      printValue({ name, ...(flags.version !== undefined ? { version: String(flags.version) } : {}), deleted: true }, flags, () => `deleted ${what}\n`);
    }),
  );

  const alias = models.command('alias').description('Point an alias at a version, or remove it');
  addConnectionOptions(
    alias
      .command('set')
      .description('Point ALIAS of model NAME at VERSION (moving it if it points elsewhere)')
      .argument('<name>', 'registered model name')
      .argument('<alias>', 'alias, e.g. champion')
      .argument('<version>', 'version number', positiveInt('VERSION'))
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, aliasName: string, version: number, flags: JsonFlags) => {
      const v = await withConnection(flags, (client) => client.models.setAlias(name, aliasName, version));
      printValue(v, flags, () => `${name}@${aliasName} -> version ${v.version}\n`);
    }),
  );
  addConnectionOptions(
    alias
      .command('delete')
      .description('Remove ALIAS from model NAME')
      .argument('<name>', 'registered model name')
      .argument('<alias>', 'alias to remove')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, aliasName: string, flags: JsonFlags) => {
      const existed = await withConnection(flags, async (client) => {
        const before = (await client.models.get(name)).aliases.some((a) => a.alias === aliasName);
        if (!before) return false;
        await client.models.deleteAlias(name, aliasName);
        return true;
      });
      if (!existed) {
        process.stderr.write(errorLine(`model ${name} has no alias '${aliasName}'`));
        return EXIT.FAILED;
      }
      printValue({ name, alias: aliasName, deleted: true }, flags, () => `${name}@${aliasName} deleted\n`);
      return EXIT.OK;
    }),
  );

  addConnectionOptions(
    models
      .command('card')
      .description('Write the model card of a version: description and intended use (tags), signature, lineage, gate results, monitoring baseline and drift, release history')
      .argument('<name>', 'registered model name')
      .requiredOption('--version <n>', 'the version', positiveInt('--version'))
      .option('--format <format>', 'md (Markdown), html (one self-contained page) or json', 'md')
      .option('--out <file>', 'write the card to this file instead of standard output'),
  ).action(
    runAction(async (name: string, flags: ConnectionFlags & { version: number; format: string; out?: string }) => {
      const format = flags.format;
      const { SlipwayError } = await import('../../core/errors.js');
      if (format !== 'md' && format !== 'html' && format !== 'json') throw new SlipwayError('INVALID_ARGUMENT', `--format must be md, html or json, got '${format}'.`);
      const text = await withConnection(
        flags,
        async (client) => (format === 'json' ? `${JSON.stringify(await client.governance.card(name, flags.version), null, 2)}\n` : client.governance.cardDocument(name, flags.version, format)),
        { readOnly: true },
      );
      if (flags.out === undefined) {
        process.stdout.write(text);
        return;
      }
      const { writeFileSync } = await import('node:fs');
      writeFileSync(flags.out, text);
      process.stderr.write(`wrote the ${format} card of ${name} version ${flags.version} to ${flags.out}\n`);
    }),
  );

  usageErrorsExit2(models);
  addHelpEpilogue(models, {
    examples: [
      'slipway models register model.onnx --name cancer --alias champion --columns-from train.csv',
      'slipway models register model.onnx --name cancer --server http://127.0.0.1:5000',
      "slipway models list --filter \"name LIKE 'canc%'\" --order-by \"last_updated_timestamp DESC\"",
      'slipway models show cancer --version 3 --json',
      'slipway models stage cancer 3 Production --archive-existing',
      'slipway models alias set cancer champion 3',
      'slipway models alias delete cancer staging',
      'slipway models delete cancer --version 2',
      'slipway models card cancer --version 3 --format md --out MODEL_CARD.md',
    ],
    exitCodes: { 1: 'unknown model, version or alias, a server that cannot be reached, or a runtime failure', 2: 'bad usage, an invalid name, alias or stage, or a model file that is missing or not ONNX' },
    docs: ['registry.md', 'cli.md'],
  });
}
