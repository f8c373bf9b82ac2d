/** `slipway artifacts list|gc`: look into the local artifact store and reclaim unreferenced content. */
import { InvalidArgumentError, type Command } from 'commander';
import { EXIT, addHelpEpilogue, formatJson, printList, runAction, usageErrorsExit2 } from '../output.js';

interface ArtifactFlags {
  artifactsDestination?: string;
  config?: string;
  json?: boolean;
}

interface GcFlags extends ArtifactFlags {
  minAge: number;
}

function nonNegativeSeconds(raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--min-age must be a number of seconds, 0 or more.');
  return n;
}

function withStoreOptions(cmd: Command): Command {
  return cmd
    .option('--artifacts-destination <path>', 'artifact folder (default: $SLIPWAY_HOME/artifacts)')
    .option('--config <file>', 'config file (default: ./slipway.yaml when present)')
    .option('--json', 'print JSON');
}

/** Opens the local artifact store the flags name; refuses a folder that does not exist rather than creating it. */
async function openArtifacts(flags: ArtifactFlags) {
  const { resolveConfig } = await import('../../config.js');
  const { existsSync } = await import('node:fs');
  const { SlipwayError } = await import('../../core/errors.js');
  const { LocalArtifactStore } = await import('../../artifacts/local-artifact-store.js');
  const config = resolveConfig({ artifactsDestination: flags.artifactsDestination, config: flags.config });
  if (!existsSync(config.artifactsDestination)) throw new SlipwayError('NOT_FOUND', `Artifact folder ${config.artifactsDestination} does not exist.`);
  return new LocalArtifactStore(config.artifactsDestination);
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Registers `slipway artifacts`. */
export function register(program: Command): void {
  const artifacts = program.command('artifacts').description('Inspect the local artifact store and reclaim unreferenced content');

  withStoreOptions(artifacts.command('list').argument('[path]', 'folder to list (default: the root)', '').description('List the files and folders directly under a path')).action(
    runAction(async (path: string, flags: ArtifactFlags) => {
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
      .option('--min-age <seconds>', 'keep content younger than this (an upload may be about to refer to it)', nonNegativeSeconds, 3600),
  ).action(
    runAction(async (flags: GcFlags) => {
      const store = await openArtifacts(flags);
      const result = await store.collectGarbage({ minAgeMs: flags.minAge * 1000 });
      if (flags.json) process.stdout.write(formatJson(result));
      else {
        process.stdout.write(
          `Scanned ${result.scannedBlobs} stored files; removed ${result.removedBlobs} unreferenced (${formatBytes(result.freedBytes)} freed), ${result.removedTempFiles} abandoned upload(s) and ${result.removedCheckouts} unused model checkout(s).\n`,
        );
      }
      return EXIT.OK;
    }),
  );
  usageErrorsExit2(artifacts);
  addHelpEpilogue(artifacts, {
    examples: [
      'slipway artifacts list',
      'slipway artifacts list models --json',
      'slipway artifacts gc --min-age 86400',
    ],
    docs: ['artifacts.md', 'cli.md'],
  });
}
