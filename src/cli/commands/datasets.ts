/** `slipway datasets …`: dataset versions registered in the store, with schema, profile and lineage. */
import type { Command } from 'commander';
import type { DatasetLineage, DatasetVersion, DatasetVersionDetail, RegisterDatasetBody } from '../../client/schemas/datasets.js';
import type { Pointer } from '../../data/data-types.js';
import { SlipwayError } from '../../core/errors.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, EXIT, formatBytes, formatJson, formatRecord, formatTable, formatTime, positiveInt, printList, printValue, runAction, usageErrorsExit2 } from '../output.js';

type JsonFlags = ConnectionFlags & { json?: boolean };

interface RegisterFlags extends JsonFlags {
  name: string;
  description?: string;
  table?: string;
  source?: string;
  runId?: string;
}

const TABLE_EXTENSIONS = /\.(csv|tsv|jsonl|ndjson|parquet)$/i;

async function datasetSpec(spec: string, allowBare = false) {
  const { parseDatasetSpec } = await import('../../data/dataset-service.js');
  return parseDatasetSpec(spec, allowBare);
}

function sizeText(v: DatasetVersion): string {
  const table = v.schema ? `, ${v.rows ?? '?'} rows × ${v.schema.columns.length} columns` : '';
  return `${v.kind === 'folder' ? `${v.files} file${v.files === 1 ? '' : 's'}, ` : ''}${formatBytes(v.bytes)}${table}`;
}

function versionRecord(v: DatasetVersion): string {
  return formatRecord([
    ['name', v.name],
    ['version', v.version],
    ['uri', v.uri],
    ['digest', `sha256:${v.digest}`],
    ['kind', v.kind],
    ['size', sizeText(v)],
    ['source', v.source],
    ['description', v.description ?? undefined],
    ['produced by run', v.runId ?? undefined],
    ['registered', `${formatTime(v.createdTime)} by ${v.createdBy}`],
  ]);
}

function lineageText(l: DatasetLineage): string {
  const out = [`${l.name}@${l.version} (sha256:${l.digest.slice(0, 12)}…)${l.producedBy ? `, produced by run ${l.producedBy}` : ''}\n`];
  out.push(`runs that used it\n${formatTable(l.runs, [
    { header: 'RUN', value: (r) => r.runId },
    { header: 'NAME', value: (r) => r.runName },
    { header: 'EXPERIMENT', value: (r) => r.experimentId },
    { header: 'CONTEXT', value: (r) => r.context ?? '-' },
    { header: 'STATUS', value: (r) => r.status },
    { header: 'STARTED', value: (r) => formatTime(r.startTime) },
  ])}`);
  out.push(`model versions registered from those runs\n${formatTable(l.modelVersions, [
    { header: 'MODEL', value: (m) => m.name },
    { header: 'VERSION', value: (m) => m.version, alignRight: true },
    { header: 'RUN', value: (m) => m.runId },
    { header: 'REGISTERED', value: (m) => formatTime(m.createdTime) },
  ])}`);
  return out.join('');
}

/** `git:<commit>:<path>` when the pointer is committed unchanged in a git repository; undefined otherwise. */
async function gitSource(root: string, pointerRel: string, trackedRel: string): Promise<string | undefined> {
  const { git } = await import('../../data/pointer-file.js');
  try {
    const commit = (await git(root, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'])).toString('utf8').trim();
    const prefix = (await git(root, ['rev-parse', '--show-prefix'])).toString('utf8').trim();
    await git(root, ['ls-files', '--error-unmatch', '--', pointerRel]);
    // A pointer changed since the commit names other content than the commit holds.
    const dirty = (await git(root, ['status', '--porcelain', '--', pointerRel])).toString('utf8').trim();
    return commit && dirty === '' ? `git:${commit}:${prefix}${trackedRel}` : undefined;
  } catch {
    return undefined;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const [{ createHash }, { createReadStream }] = await Promise.all([import('node:crypto'), import('node:fs')]);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The table file to profile, checked against the pointer's digest (the profile must describe the
 * registered content): the pointer's own file when it is a table, or `--table` inside its folder.
 */
async function tableFileOf(wsRoot: string, cacheDir: string, tmpDir: string, trackedAbs: string, trackedRel: string, pointer: Pointer, table: string | undefined): Promise<string | undefined> {
  const { existsSync } = await import('node:fs');
  const { join, posix } = await import('node:path');
  if (pointer.kind === 'file') {
    if (table !== undefined) throw new SlipwayError('INVALID_ARGUMENT', `--table names a file inside a tracked folder, but ${trackedRel} is a file.`);
    if (!TABLE_EXTENSIONS.test(trackedRel)) return undefined;
    if (!existsSync(trackedAbs)) throw new SlipwayError('INVALID_STATE', `${trackedRel} is not in the workspace; run 'slipway data checkout ${trackedRel}' to profile it.`);
    if ((await sha256OfFile(trackedAbs)) !== pointer.sha256) throw new SlipwayError('INVALID_STATE', `${trackedRel} changed since it was added; run 'slipway data add ${trackedRel}' first.`);
    return trackedAbs;
  }
  if (table === undefined) return undefined;
  const inside = posix.normalize(table.split('\\').join('/'));
  if (inside === '..' || inside.startsWith('../') || posix.isAbsolute(inside) || inside === '.') throw new SlipwayError('INVALID_ARGUMENT', `--table '${table}' must name a file inside ${trackedRel}.`);
  if (!TABLE_EXTENSIONS.test(inside)) throw new SlipwayError('INVALID_ARGUMENT', `--table '${table}' is not a table file: use a .csv, .tsv, .jsonl, .ndjson or .parquet file.`);
  const { ObjectCache } = await import('../../data/object-cache.js');
  let manifest;
  try {
    manifest = await new ObjectCache(cacheDir, tmpDir).readManifest(pointer.sha256);
  } catch {
    throw new SlipwayError('INVALID_STATE', `The manifest of ${trackedRel} is not in the cache (${join(wsRoot, '.slipway')}); run 'slipway data pull ${trackedRel}' first.`);
  }
  const entry = manifest.files.find((f) => f.path === inside);
  if (!entry) throw new SlipwayError('INVALID_ARGUMENT', `--table '${table}' is not a file of ${trackedRel} as it was added.`);
  const abs = join(trackedAbs, ...inside.split('/'));
  const { resolveWorkspacePath, workspaceAt } = await import('../../data/workspace.js');
  // Refuses a table reached through a link that leaves the workspace.
  resolveWorkspacePath(workspaceAt(wsRoot), abs, wsRoot);
  if (!existsSync(abs)) throw new SlipwayError('INVALID_STATE', `${trackedRel}/${inside} is not in the workspace; run 'slipway data checkout ${trackedRel}' to profile it.`);
  if ((await sha256OfFile(abs)) !== entry.sha256) throw new SlipwayError('INVALID_STATE', `${trackedRel}/${inside} changed since ${trackedRel} was added; run 'slipway data add ${trackedRel}' first.`);
  return abs;
}

async function registerAction(path: string, flags: RegisterFlags): Promise<void> {
  const { validateDatasetName } = await import('../../data/dataset-service.js');
  validateDatasetName(flags.name);
  const [{ existsSync }, { openWorkspace, resolveWorkspacePath }, { readPointerFile, writePointerFile }, { POINTER_SUFFIX }] = await Promise.all([
    import('node:fs'),
    import('../../data/workspace.js'),
    import('../../data/pointer-file.js'),
    import('../../data/data-types.js'),
  ]);
  const ws = openWorkspace();
  // PATH or PATH.slipway: either names the same pointer.
  const target = resolveWorkspacePath(ws, path.endsWith(POINTER_SUFFIX) ? path.slice(0, -POINTER_SUFFIX.length) : path);
  const pointerAbs = `${target.abs}${POINTER_SUFFIX}`;
  const pointerRel = `${target.rel}${POINTER_SUFFIX}`;
  if (!existsSync(pointerAbs)) throw new SlipwayError('INVALID_ARGUMENT', `${target.rel} is not tracked (no ${pointerRel}); run 'slipway data add ${target.rel}' first.`);
  const pointer = readPointerFile(pointerAbs, pointerRel);
  const tableFile = await tableFileOf(ws.root, ws.cacheDir, ws.tmpDir, target.abs, target.rel, pointer, flags.table);
  const body: RegisterDatasetBody = {
    digest: pointer.sha256,
    kind: pointer.kind,
    files: pointer.files,
    bytes: pointer.size,
    source: flags.source ?? (await gitSource(ws.root, pointerRel, target.rel)) ?? target.rel,
    ...(flags.description !== undefined ? { description: flags.description } : {}),
    ...(flags.runId !== undefined ? { runId: flags.runId } : {}),
  };
  if (tableFile) {
    const [{ readTable, profileTable }, { schemaOfTable }] = await Promise.all([import('../../monitoring/index.js'), import('../../data/dataset-schema.js')]);
    const table = await readTable(tableFile);
    body.schema = schemaOfTable(table);
    body.profile = profileTable(table).toJSON() as unknown as Record<string, unknown>;
  }
  const registered = await withConnection(flags, (client) => client.datasets.register(flags.name, body));
  const spec = `${registered.name}@${registered.version}`;
  if (pointer.dataset !== spec) await writePointerFile(pointerAbs, { ...pointer, dataset: spec });
  printValue(registered, flags, () =>
    registered.created ? `registered ${spec} (${sizeText(registered)}) from ${registered.source}\n` : `${spec} already holds this content (${sizeText(registered)}); nothing registered\n`,
  );
}

/** Registers `slipway datasets`. */
export function register(program: Command): void {
  const datasets = program.command('datasets').description('Dataset versions registered in the store: content digests named NAME@VERSION, with schema, profile and lineage');

  addConnectionOptions(
    datasets
      .command('register')
      .description("Register the content a pointer file names (after 'slipway data add PATH') as the next version of a dataset; a table is profiled")
      .argument('<path>', 'a tracked file or folder (or its .slipway pointer)')
      .requiredOption('--name <name>', 'the dataset name')
      .option('--description <text>', 'what the version holds')
      .option('--table <file>', 'for a folder: the table file inside it to take the schema and profile from')
      .option('--source <text>', 'where the content came from (default: git:<commit>:<path> when the pointer is committed, else the path)')
      .option('--run-id <id>', 'the run that produced the content')
      .option('--json', 'print JSON'),
  ).action(runAction(registerAction));

  addConnectionOptions(
    datasets
      .command('list')
      .description('List registered datasets with their newest version')
      .option('--max-results <n>', 'most datasets to list', positiveInt('--max-results'), 100)
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: JsonFlags & { maxResults: number }) => {
      const page = await withConnection(flags, (client) => client.datasets.list({ maxResults: flags.maxResults }), { readOnly: true });
      printList(page.datasets, [
        { header: 'NAME', value: (d) => d.name },
        { header: 'LATEST', value: (d) => d.latest.version, alignRight: true },
        { header: 'VERSIONS', value: (d) => d.versions, alignRight: true },
        { header: 'KIND', value: (d) => d.latest.kind },
        { header: 'SIZE', value: (d) => sizeText(d.latest) },
        { header: 'REGISTERED', value: (d) => formatTime(d.latest.createdTime) },
      ], { json: flags.json, emptyText: "(no dataset registered; see 'slipway datasets register --help')" });
    }),
  );

  addConnectionOptions(
    datasets
      .command('show')
      .description('Show a dataset version (the newest when no version is given): digest, size, source, schema; --json adds the profile')
      .argument('<dataset>', 'NAME, NAME@VERSION or NAME@latest')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (spec: string, flags: JsonFlags) => {
      const ref = await datasetSpec(spec, true);
      const v: DatasetVersionDetail = await withConnection(flags, (client) => client.datasets.get(ref.name, ref.version), { readOnly: true });
      printValue(v, flags, () => {
        const schema = v.schema
          ? `schema\n${formatTable(v.schema.columns, [
              { header: 'COLUMN', value: (c) => c.name },
              { header: 'TYPE', value: (c) => c.type },
              { header: 'REQUIRED', value: (c) => (c.required ? 'yes' : 'no') },
            ])}`
          : '';
        return `${versionRecord(v)}${schema}`;
      });
    }),
  );

  addConnectionOptions(
    datasets
      .command('lineage')
      .description('Show the runs that used a dataset version as an input and the model versions registered from them')
      .argument('<dataset>', 'NAME@VERSION or NAME@latest')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (spec: string, flags: JsonFlags) => {
      const ref = await datasetSpec(spec);
      const lineage = await withConnection(flags, (client) => client.datasets.lineage(ref.name, ref.version), { readOnly: true });
      printValue(lineage, flags, () => lineageText(lineage));
    }),
  );

  addConnectionOptions(
    datasets
      .command('log-input')
      .description("Record a dataset version as an input of a run (MLflow's log_input), so the run's and the model's lineage name it")
      .argument('<dataset>', 'NAME@VERSION or NAME@latest')
      .requiredOption('--run-id <id>', 'the run that used it')
      .option('--context <context>', 'what the run used it for: training, evaluation, …')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (spec: string, flags: JsonFlags & { runId: string; context?: string }) => {
      const ref = await datasetSpec(spec);
      const input = await withConnection(flags, (client) => client.datasets.logInput(flags.runId, ref.name, ref.version, flags.context));
      printValue(input, flags, () => `logged ${input.dataset.name} (${JSON.parse(input.dataset.source).uri}) as an input of run ${input.runId}${flags.context ? ` (${flags.context})` : ''}\n`);
    }),
  );

  addConnectionOptions(
    datasets
      .command('delete')
      .description('Delete a dataset version; refused while runs used it as an input, unless --force')
      .argument('<dataset>', 'NAME@VERSION')
      .option('--yes', 'confirm the deletion')
      .option('--force', 'delete even when runs used it (their inputs then name a version that is gone)')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (spec: string, flags: JsonFlags & { yes?: boolean; force?: boolean }) => {
      const ref = await datasetSpec(spec);
      if (ref.version === 'latest') throw new SlipwayError('INVALID_ARGUMENT', `Name the version to delete by number (NAME@VERSION), not '${spec}'.`);
      if (!flags.yes) throw new SlipwayError('INVALID_ARGUMENT', `Deleting ${spec} cannot be undone; add --yes to confirm.`);
      await withConnection(flags, (client) => client.datasets.delete(ref.name, ref.version, { force: flags.force === true }));
      if (flags.json) process.stdout.write(formatJson({ deleted: { name: ref.name, version: ref.version } }));
      else process.stdout.write(`deleted ${ref.name}@${ref.version}\n`);
      return EXIT.OK;
    }),
  );

  usageErrorsExit2(datasets);
  addHelpEpilogue(datasets, {
    examples: [
      'slipway datasets register data/train.csv --name cancer-train --description "2024 training split"',
      'slipway datasets register data/images --name scans --table labels.csv',
      'slipway datasets list',
      'slipway datasets show cancer-train@2 --json',
      'slipway datasets log-input cancer-train@2 --run-id 5b1c0e9a… --context training',
      'slipway datasets lineage cancer-train@2',
      'slipway datasets delete cancer-train@1 --yes',
    ],
    exitCodes: {
      1: 'unknown dataset or version, a version still used by runs (delete without --force), a table not checked out or changed since it was added, or a server that cannot be reached',
      2: 'bad usage or input: an untracked path, a path outside the workspace, a bad NAME@VERSION, an unreadable table',
    },
    docs: ['data.md', 'cli.md'],
  });
}
