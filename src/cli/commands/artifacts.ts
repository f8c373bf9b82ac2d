/**
 * `slipway artifacts …`: a run's artifacts (list, upload, download) on a server or the
 * embedded store, and the admin commands on the local artifact folder (list without
 * --run, gc).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { SlipwayClient } from '../../client/slipway-client.js';
import { parseDuration } from '../../core/duration.js';
import { addConnectionOptions, addTargetOptions, withConnection, type ConnectionFlags } from '../connection.js';
import { addHelpEpilogue, errorLine, EXIT, formatBytes, formatJson, printList, printWarning, runAction, usageErrorsExit2 } from '../output.js';

interface ArtifactFlags {
  artifactsDestination?: string;
  config?: string;
  json?: boolean;
}

interface GcFlags extends ArtifactFlags {
  minAge: number;
}

function minAge(raw: string): number {
  try {
    return parseDuration(raw, { name: '--min-age', allowZero: true, suggest: ['h', 'm'] });
  } catch (err) {
    // commander reports InvalidArgumentError as a usage error (exit 2).
    throw new InvalidArgumentError((err as Error).message);
  }
}

function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--artifacts-destination <path>', 'artifact folder, or s3://bucket/prefix with endpoint, region and credentials from the AWS environment (default: $SLIPWAY_HOME/artifacts, env SLIPWAY_ARTIFACTS_DESTINATION)')
    .option('--config <file>', 'config file (default: ./slipway.yaml when present)')
    .option('--json', 'print JSON');
}

/** Opens the artifact store the flags name (a folder or an S3 location); refuses a folder that does not exist rather than creating it. */
async function openArtifacts(flags: ArtifactFlags) {
  const { resolveConfig } = await import('../../config.js');
  const { existsSync } = await import('node:fs');
  const { SlipwayError } = await import('../../core/errors.js');
  const { openArtifactStore } = await import('../../artifacts/open-artifact-store.js');
  const config = resolveConfig({ artifactsDestination: flags.artifactsDestination, config: flags.config });
  for (const warning of config.warnings) printWarning(warning);
  if (!config.s3Artifacts && !existsSync(config.artifactsDestination)) throw new SlipwayError('NOT_FOUND', `Artifact folder ${config.artifactsDestination} does not exist.`);
  return openArtifactStore(config.artifactsDestination, config.s3Artifacts);
}

/** Registers `slipway artifacts`. */
export function register(program: Command): void {
  const artifacts = program.command('artifacts').description("Upload, download and list a run's artifacts; inspect the local artifact folder and reclaim unreferenced content");

  addTargetOptions(
    withStoreOptions(
      artifacts
        .command('list')
        .argument('[path]', 'folder to list (default: the root)', '')
        .option('--run <run-id>', "list this run's artifacts (through a server or the embedded store's API)")
        .description("List the files and folders directly under a path: of a run's artifacts with --run, else of the local artifact folder"),
    ),
  ).action(
    runAction(async (path: string, flags: ArtifactFlags & ConnectionFlags & { run?: string }) => {
      if (flags.run !== undefined) {
        const runId = flags.run;
        const listing = await withConnection(flags, (client) => client.artifacts.list(runId, path), { readOnly: true });
        printList(
          listing.files,
          [
            { header: 'PATH', value: (e) => (e.isDir ? `${e.path}/` : e.path), maxWidth: 120 },
            { header: 'SIZE', value: (e) => (e.isDir ? '' : formatBytes(e.size ?? 0)), alignRight: true },
          ],
          { json: flags.json, emptyText: `(no artifacts under '${path}' in run ${runId})` },
        );
        return EXIT.OK;
      }
      const store = await openArtifacts(flags);
      const entries = await store.list(path);
      printList(
        entries,
        [
          { header: 'PATH', value: (e) => (e.isDir ? `${e.path}/` : e.path), maxWidth: 120 },
          { header: 'SIZE', value: (e) => (e.isDir ? '' : formatBytes(e.size ?? 0)), alignRight: true },
        ],
        { json: flags.json, emptyText: `(nothing under '${path}')` },
      );
      return EXIT.OK;
    }),
  );

  withStoreOptions(
    artifacts
      .command('gc')
      .description('Remove stored content that no artifact path refers to, and leftovers of interrupted uploads')
      .option('--min-age <duration>', 'keep content younger than this, e.g. 30m or 24h (an upload may be about to refer to it)', minAge, 3_600_000),
  ).action(
    runAction(async (flags: GcFlags) => {
      const store = await openArtifacts(flags);
      // Both stores collect garbage; the interface leaves it optional for stores that cannot.
      const result = await store.collectGarbage?.({ minAgeMs: flags.minAge }) ?? { scannedBlobs: 0, removedBlobs: 0, freedBytes: 0, removedTempFiles: 0, removedCheckouts: 0 };
      if (flags.json) process.stdout.write(formatJson(result));
      else {
        process.stdout.write(
          `Scanned ${result.scannedBlobs} stored files; removed ${result.removedBlobs} unreferenced (${formatBytes(result.freedBytes)} freed), ${result.removedTempFiles} abandoned upload(s) and ${result.removedCheckouts} unused model checkout(s).\n`,
        );
      }
      return EXIT.OK;
    }),
  );
  addConnectionOptions(
    artifacts
      .command('upload')
      .description("Upload files or folders (recursively) to a run's artifacts")
      .argument('<file...>', 'files or folders to upload')
      .requiredOption('--run <run-id>', 'the run they belong to')
      .option('--path <dir>', 'folder inside the run to put them in (default: the root)', '')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (files: string[], flags: ConnectionFlags & { run: string; path: string; json?: boolean }) => {
      const plan = await uploadPlan(files, flags.path);
      const stored = await withConnection(flags, async (client) => {
        const out: Array<{ path: string; size: number; sha256: string }> = [];
        for (const item of plan) out.push(await uploadOne(client, flags.run, item));
        return out;
      });
      if (flags.json) process.stdout.write(formatJson(stored));
      else for (const a of stored) process.stdout.write(`uploaded ${a.path} (${formatBytes(a.size)})\n`);
      return EXIT.OK;
    }),
  );

  addConnectionOptions(
    artifacts
      .command('download')
      .description("Download a run's artifact, or a folder of them, into a local folder")
      .argument('[path]', 'artifact file or folder inside the run (default: every artifact)', '')
      .requiredOption('--run <run-id>', 'the run they belong to')
      .option('--out <dir>', 'local folder to write into (created if missing)', '.')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (path: string, flags: ConnectionFlags & { run: string; out: string; json?: boolean }) => {
      const written = await withConnection(flags, (client) => downloadTree(client, flags.run, path, flags.out), { readOnly: true });
      if (flags.json) process.stdout.write(formatJson(written));
      else for (const f of written) process.stdout.write(`downloaded ${f.path} -> ${f.file} (${formatBytes(f.size)})\n`);
      if (written.length === 0) {
        process.stderr.write(errorLine(`run ${flags.run} has no artifacts under '${path}'`));
        return EXIT.FAILED;
      }
      return EXIT.OK;
    }),
  );

  usageErrorsExit2(artifacts);
  addHelpEpilogue(artifacts, {
    examples: [
      'slipway artifacts upload confusion.png report/ --run 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19 --path eval',
      'slipway artifacts download model --run 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19 --out ./model',
      'slipway artifacts list --run 5f0c3b1e9a6d4c2f8e7b6a5d4c3b2a19 --server http://127.0.0.1:5000',
      'slipway artifacts list',
      'slipway artifacts list models --json',
      'slipway artifacts gc --min-age 24h',
    ],
    docs: ['artifacts.md', 'cli.md'],
  });
}

/** One local file and where it goes inside the run. */
interface UploadItem {
  file: string;
  path: string;
}

/** Expands files and folders into the files to upload, refusing links (they could point anywhere on this machine). */
async function uploadPlan(inputs: string[], into: string): Promise<UploadItem[]> {
  const [{ lstat, readdir }, { basename, join }, { SlipwayError }] = await Promise.all([import('node:fs/promises'), import('node:path'), import('../../core/errors.js')]);
  const prefix = into.replace(/^\/+|\/+$/g, '');
  const under = (name: string) => (prefix ? `${prefix}/${name}` : name);
  const out: UploadItem[] = [];
  const walk = async (file: string, path: string): Promise<void> => {
    const info = await lstat(file).catch(() => undefined);
    if (!info) throw new SlipwayError('DATA_ERROR', `Cannot upload '${file}': no such file or directory.`);
    if (info.isSymbolicLink()) throw new SlipwayError('DATA_ERROR', `Cannot upload '${file}': it is a symbolic link; upload what it points to instead.`);
    if (info.isDirectory()) {
      for (const entry of (await readdir(file)).sort()) await walk(join(file, entry), `${path}/${entry}`);
      return;
    }
    if (!info.isFile()) throw new SlipwayError('DATA_ERROR', `Cannot upload '${file}': not a regular file.`);
    out.push({ file, path });
  };
  for (const input of inputs) await walk(input, under(basename(input.replace(/\/+$/, '')) || input));
  return out;
}

async function uploadOne(client: SlipwayClient, runId: string, item: UploadItem): Promise<{ path: string; size: number; sha256: string }> {
  const [{ createReadStream }, { Readable }] = await Promise.all([import('node:fs'), import('node:stream')]);
  return client.artifacts.upload(runId, item.path, Readable.toWeb(createReadStream(item.file)) as ReadableStream<Uint8Array>);
}

/** Downloads a file or every file under a folder of a run into `out`, each written whole or not at all. */
async function downloadTree(client: SlipwayClient, runId: string, path: string, out: string): Promise<Array<{ path: string; file: string; size: number }>> {
  const [{ mkdir, rename, rm }, { createWriteStream }, { dirname, join, resolve, sep }, { Readable }, { pipeline }, { SlipwayError }] = await Promise.all([
    import('node:fs/promises'),
    import('node:fs'),
    import('node:path'),
    import('node:stream'),
    import('node:stream/promises'),
    import('../../core/errors.js'),
  ]);
  const root = resolve(out);
  const base = path.replace(/^\/+|\/+$/g, '');
  // Files to fetch: the folder's contents, recursively, else the one file named.
  const files: Array<{ path: string; local: string }> = [];
  const walk = async (dir: string): Promise<boolean> => {
    const listing = await client.artifacts.list(runId, dir);
    for (const entry of listing.files) {
      if (entry.isDir) await walk(entry.path);
      else files.push({ path: entry.path, local: base && entry.path.startsWith(`${base}/`) ? entry.path.slice(base.length + 1) : entry.path });
    }
    return listing.files.length > 0;
  };
  const isFolder = await walk(base);
  if (!isFolder && base) files.push({ path: base, local: base.split('/').pop() as string });
  const written: Array<{ path: string; file: string; size: number }> = [];
  for (const f of files) {
    // A server names the paths: never let one write outside the folder asked for.
    const target = resolve(root, ...f.local.split('/'));
    if (target !== root && !target.startsWith(root + sep)) throw new SlipwayError('INTEGRITY_ERROR', `Refusing artifact path '${f.path}': it would be written outside ${root}.`);
    const download = await client.artifacts.download(runId, f.path).catch(async (err: unknown) => {
      const { isSlipwayApiError } = await import('../../client/api-error.js');
      // The API's message points at its own route; a command line user lists with the command.
      if (isSlipwayApiError(err) && err.status === 404) throw new SlipwayError('NOT_FOUND', `Run ${runId} has no artifact '${f.path}'; list them with: slipway artifacts list --run ${runId}`);
      throw err;
    });
    await mkdir(dirname(target), { recursive: true });
    const partial = join(dirname(target), `.${f.local.split('/').pop()}.partial-${process.pid}`);
    try {
      await pipeline(Readable.fromWeb(download.body as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(partial, { flags: 'wx' }));
      await rename(partial, target);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(target));
    written.push({ path: f.path, file: target, size });
  }
  return written;
}
