/** `slipway models register|list|show|alias`: the model registry from the command line, on the local store. */
import type { Command } from 'commander';
import type { ModelSignature, ModelVersion, RegisteredModel, RegistryService } from '../../registry/index.js';
import type { ResolvedConfig } from '../../config.js';
import type { Store } from '../../store/store.js';
import {
  EXIT,
  addHelpEpilogue,
  addStoreOptions,
  formatRecord,
  formatTable,
  formatTime,
  positiveInt,
  printList,
  printValue,
  runAction,
  usageErrorsExit2,
  withLocalStore,
  type LocalStoreUse,
  type StoreFlags,
} from '../output.js';

interface RegisterFlags extends StoreFlags {
  name: string;
  alias?: string;
  description?: string;
  columns?: string;
  columnsFrom?: string;
  target?: string;
  requireCompatible?: boolean;
  json?: boolean;
}

interface ListFlags extends StoreFlags {
  filter?: string;
  maxResults?: number;
  json?: boolean;
}

interface ShowFlags extends StoreFlags {
  version?: number;
  json?: boolean;
}

/** Opens the store and the artifact store the server would use, and a registry over them. */
async function withRegistry<R>(flags: StoreFlags, fn: (registry: RegistryService, store: Store, config: ResolvedConfig) => Promise<R>, use: LocalStoreUse = {}): Promise<R> {
  const [{ RegistryService }, { LocalArtifactStore }] = await Promise.all([import('../../registry/registry-service.js'), import('../../artifacts/local-artifact-store.js')]);
  return withLocalStore(flags, (store, config) => fn(new RegistryService({ store, artifacts: new LocalArtifactStore(config.artifactsDestination) }), store, config), use);
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
async function signatureChange(registry: RegistryService, name: string, signature: ModelSignature): Promise<string | undefined> {
  const { isSlipwayError } = await import('../../core/errors.js');
  const { signatureDifferences } = await import('../../registry/signature-compatibility.js');
  let model: RegisteredModel;
  try {
    model = await registry.getRegisteredModel(name);
  } catch (err) {
    if (isSlipwayError(err) && err.code === 'NOT_FOUND') return undefined;
    throw err;
  }
  const champion = model.aliases.find((a) => a.alias === 'champion');
  const base = champion ? await registry.getModelVersion(name, champion.version) : (await registry.listModelVersions(name, 1))[0];
  if (!base?.signature) return undefined;
  const differences = signatureDifferences(base.signature, signature);
  if (differences.length === 0) return undefined;
  const which = champion ? `version ${base.version} (champion)` : `version ${base.version} (latest)`;
  return `The new version's signature differs from ${name} ${which}: ${differences.join('; ')}.`;
}

async function registerModelFile(file: string, flags: RegisterFlags): Promise<number> {
  const { SlipwayError, isSlipwayError } = await import('../../core/errors.js');
  const { stat } = await import('node:fs/promises');
  const { createReadStream } = await import('node:fs');
  const { basename } = await import('node:path');
  const { randomUUID } = await import('node:crypto');
  const { readOnnxSignature, COLUMNS_TAG } = await import('../../registry/index.js');
  const { validateAlias, validateModelName } = await import('../../registry/registry-validation.js');

  validateModelName(flags.name, '--name');
  if (flags.alias !== undefined) validateAlias(flags.alias);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new SlipwayError('DATA_ERROR', `Model file '${file}' does not exist or is not a file.`);
  if (!file.toLowerCase().endsWith('.onnx')) throw new SlipwayError('DATA_ERROR', `Model file '${file}' is not an .onnx file.`);
  // Refuse an unreadable model up front instead of registering a FAILED version.
  let signature: Awaited<ReturnType<typeof readOnnxSignature>>;
  try {
    signature = await readOnnxSignature(file, file);
  } catch (err) {
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

  const version = await withRegistry(flags, async (registry) => {
    const differences = await signatureChange(registry, flags.name, signature);
    if (differences) {
      if (flags.requireCompatible) throw new SlipwayError('INVALID_STATE', `${differences} Nothing was registered (--require-compatible).`);
      process.stderr.write(`warning: ${differences}\n`);
    }
    const path = `models/${randomUUID()}/${basename(file)}`;
    await registry.artifacts?.put(path, createReadStream(file));
    try {
      await registry.createRegisteredModel({ name: flags.name });
    } catch (err) {
      if (!isSlipwayError(err) || err.code !== 'ALREADY_EXISTS') throw err;
    }
    const created = await registry.createModelVersion({
      name: flags.name,
      source: `mlflow-artifacts:/${path}`,
      description: flags.description,
      tags: tagValue ? { [COLUMNS_TAG]: tagValue } : undefined,
    });
    if (flags.alias === undefined) return created;
    await registry.setAlias(flags.name, flags.alias, created.version);
    return registry.getModelVersion(flags.name, created.version);
  });
  printValue(version, flags, () => versionRecord(version));
  return version.status === 'READY' ? EXIT.OK : EXIT.FAILED;
}

/** Registers `slipway models`. */
export function register(program: Command): void {
  const models = program.command('models').description('Register, list and inspect models in the registry');

  addStoreOptions(
    models
      .command('register')
      .description('Store an ONNX file in the artifact store and register it as a new version (reading its signature)')
      .argument('<file>', 'the .onnx model file')
      .requiredOption('--name <name>', 'registered model name (created if it does not exist)')
      .option('--alias <alias>', 'point this alias (e.g. champion) at the new version')
      .option('--description <text>', 'description of the new version')
      .option('--columns <names>', 'input column names, comma-separated (stored as the slipway.columns tag)')
      .option('--columns-from <csv>', 'take the input column names from the header of this CSV file')
      .option('--target <column>', 'with --columns-from: the label column to leave out (default: a column named target/label/y)')
      .option('--require-compatible', "refuse a version whose signature differs from the champion's (else the latest version's) instead of warning")
      .option('--json', 'print JSON'),
  ).action(runAction(registerModelFile));

  addStoreOptions(
    models
      .command('list')
      .description('List registered models')
      .option('--filter <filter>', "MLflow search filter, e.g. \"name LIKE 'fraud%'\"")
      .option('--max-results <n>', 'most models to list', positiveInt('--max-results'), 100)
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: ListFlags) => {
      const page = await withRegistry(flags, (registry) => registry.searchRegisteredModels({ filter: flags.filter, maxResults: flags.maxResults }), { readOnly: true });
      printList(
        page.items,
        [
          { header: 'NAME', value: (m) => m.name },
          { header: 'LATEST', value: (m) => m.latestVersions.reduce((top, v) => Math.max(top, Number(v.version)), 0) || undefined, alignRight: true },
          { header: 'ALIASES', value: (m) => m.aliases.map((a) => `${a.alias}=v${a.version}`).join(', ') },
          { header: 'UPDATED', value: (m) => formatTime(m.lastUpdatedTimestamp) },
          { header: 'DESCRIPTION', value: (m) => m.description, maxWidth: 40 },
        ],
        { json: flags.json, emptyText: '(no registered models)' },
      );
    }),
  );

  addStoreOptions(
    models
      .command('show')
      .description('Show a registered model and its versions, or one version with --version')
      .argument('<name>', 'registered model name')
      .option('--version <n>', 'show this version (status, signature, source, tags)', positiveInt('--version'))
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, flags: ShowFlags) => {
      await withRegistry(flags, async (registry) => {
        if (flags.version !== undefined) {
          const v = await registry.getModelVersion(name, flags.version);
          printValue(v, flags, () => versionRecord(v));
          return;
        }
        const model = await registry.getRegisteredModel(name);
        const versions = await registry.listModelVersions(name);
        printValue({ ...model, versions }, flags, () => modelText(model, versions));
      }, { readOnly: true });
    }),
  );

  const alias = models.command('alias').description('Point an alias at a version, or remove it');
  addStoreOptions(
    alias
      .command('set')
      .description('Point ALIAS of model NAME at VERSION (moving it if it points elsewhere)')
      .argument('<name>', 'registered model name')
      .argument('<alias>', 'alias, e.g. champion')
      .argument('<version>', 'version number', positiveInt('VERSION'))
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, aliasName: string, version: number, flags: StoreFlags & { json?: boolean }) => {
      const v = await withRegistry(flags, async (registry) => {
        await registry.setAlias(name, aliasName, version);
        return registry.getModelVersion(name, version);
      });
      printValue(v, flags, () => `${name}@${aliasName} -> version ${v.version}\n`);
    }),
  );
  addStoreOptions(
    alias
      .command('delete')
      .description('Remove ALIAS from model NAME')
      .argument('<name>', 'registered model name')
      .argument('<alias>', 'alias to remove')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (name: string, aliasName: string, flags: StoreFlags & { json?: boolean }) => {
      const existed = await withRegistry(flags, async (registry) => {
        const before = (await registry.getRegisteredModel(name)).aliases.some((a) => a.alias === aliasName);
        if (!before) return false;
        await registry.deleteAlias(name, aliasName);
        return true;
      });
      if (!existed) {
        process.stderr.write(`error: model ${name} has no alias '${aliasName}'\n`);
        return EXIT.FAILED;
      }
      printValue({ name, alias: aliasName, deleted: true }, flags, () => `${name}@${aliasName} deleted\n`);
      return EXIT.OK;
    }),
  );

  usageErrorsExit2(models);
  addHelpEpilogue(models, {
    examples: [
      'slipway models register model.onnx --name cancer --alias champion --columns-from train.csv',
      "slipway models list --filter \"name LIKE 'canc%'\"",
      'slipway models show cancer --version 3 --json',
      'slipway models alias set cancer champion 3',
      'slipway models alias delete cancer staging',
    ],
    exitCodes: { 1: 'unknown model, version or alias, or a runtime failure', 2: 'bad usage, an invalid name or alias, or a model file that is missing or not ONNX' },
    docs: ['registry.md', 'cli.md'],
  });
}
