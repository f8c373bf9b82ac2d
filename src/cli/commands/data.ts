/** `slipway data …`: version files and folders by content, with pointer files for git and remotes for sharing. */
import type { Command } from 'commander';
import { addHelpEpilogue, errorLine, errTerminal, EXIT, formatBytes, formatJson, processStreams, runAction } from '../output.js';
import { registerRemoteCommands } from './data-remote.js';

interface JsonFlag {
  json?: boolean;
}

/** A one-line hashing progress on stderr, only where stderr is a terminal and output is not JSON. */
function progressFor(json: boolean | undefined): ((p: { files: number; totalFiles: number; bytes: number; totalBytes: number }) => void) | undefined {
  if (json || !process.stderr.isTTY) return undefined;
  let shown = false;
  return (p) => {
    if (!shown && p.files === p.totalFiles) return;
    shown = true;
    const end = p.files === p.totalFiles ? '\n' : '';
    process.stderr.write(`\rhashing ${p.files}/${p.totalFiles} files, ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}\x1b[K${end}`);
  };
}

async function openService(json?: boolean) {
  const { DataService } = await import('../../data/data-service.js');
  return DataService.open(process.cwd(), { onProgress: progressFor(json) });
}

/**
 * gc removes what no pointer, lock file or run-cache entry names yet, which is exactly what a stage being run
 * is saving: while a repro holds a stage lock in this workspace, gc is refused (exit 1) instead.
 */
async function refuseWhileReproRuns(workspaceDir: string): Promise<void> {
  const [{ readdir }, { join }, { liveHolder }, { SlipwayError }] = await Promise.all([import('node:fs/promises'), import('node:path'), import('../../pipelines/pid-lock.js'), import('../../core/errors.js')]);
  const locks = join(workspaceDir, 'locks');
  for (const name of (await readdir(locks).catch(() => [] as string[])).filter((n) => /^stage-.*\.lock$/.test(n)).sort()) {
    const holder = await liveHolder(join(locks, name));
    if (!holder) continue;
    const stage = name.slice('stage-'.length, -'.lock'.length).replace(/%([0-9a-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    throw new SlipwayError('CONFLICT', `slipway repro (pid ${holder.pid}${holder.host !== '' ? ` on ${holder.host}` : ''}) is running stage '${stage}' in this workspace; gc could remove the outs it is saving. Run gc once it has finished.`, { stage, pid: holder.pid });
  }
}

/** A root-relative path as the user can type it from the current folder. */
async function fromCwd(root: string, rel: string): Promise<string> {
  const { join, relative } = await import('node:path');
  return relative(process.cwd(), join(root, rel)) || '.';
}

function list(label: string, items: readonly string[], max = 20): string {
  if (items.length === 0) return '';
  const shown = items.slice(0, max).map((f) => `      ${label} ${f}\n`).join('');
  return items.length > max ? `${shown}      … and ${items.length - max} more\n` : shown;
}

/** Registers `slipway data`. */
export function register(program: Command): void {
  const data = program.command('data').description('Version data files and folders by content: add, status, checkout, diff, gc, push, pull, fetch');

  data
    .command('add')
    .description('Track files or folders: hash them, store them in the cache (.slipway/cache), write PATH.slipway for git and list PATH in the .gitignore beside it')
    .argument('<paths...>', 'files or folders inside the workspace')
    .option('--json', 'print JSON')
    .action(
      runAction(async (paths: string[], flags: JsonFlag) => {
        const service = await openService(flags.json);
        try {
          const result = await service.add(paths);
          if (flags.json) {
            process.stdout.write(formatJson(result));
            return EXIT.OK;
          }
          for (const a of result.added) {
            const what = a.kind === 'file' ? formatBytes(a.size) : `${a.files} files, ${formatBytes(a.size)}`;
            process.stdout.write(`Added ${await fromCwd(service.ws.root, a.path)} (${what})\n`);
          }
          process.stdout.write(`Hashed ${result.hashed} file(s); ${result.fromState} unchanged since last hashed.\n\nTo track the data with git, run:\n\n    git add ${(await Promise.all(result.gitAdd.map((p) => fromCwd(service.ws.root, p)))).join(' ')}\n`);
          return EXIT.OK;
        } finally {
          service.close();
        }
      }),
    );

  data
    .command('status')
    .description('Compare tracked data with its pointer files: unchanged, modified (with the files added, modified and deleted in folders), missing, or not in the cache. Exit code 1 when anything is not unchanged')
    .argument('[paths...]', 'tracked paths or pointer files (default: every pointer in the workspace)')
    .option('--json', 'print JSON')
    .action(
      runAction(async (paths: string[], flags: JsonFlag) => {
        const service = await openService(flags.json);
        try {
          const result = await service.status(paths);
          if (flags.json) process.stdout.write(formatJson(result));
          else if (result.pointers.length === 0) process.stdout.write('No tracked data (add some with slipway data add PATH).\n');
          else if (result.clean) process.stdout.write(`Data and pointers are up to date (${result.pointers.length} tracked path(s)).\n`);
          else {
            for (const s of result.pointers) {
              if (s.state === 'unchanged') continue;
              const counts = s.added.length + s.modified.length + s.deleted.length > 0 ? `  (+${s.added.length} ~${s.modified.length} -${s.deleted.length})` : '';
              process.stdout.write(`${`${s.state}:`.padEnd(14)}${await fromCwd(service.ws.root, s.path)}${counts}\n${list('added:   ', s.added)}${list('modified:', s.modified)}${list('deleted: ', s.deleted)}`);
            }
          }
          return result.clean ? EXIT.OK : EXIT.FAILED;
        } finally {
          service.close();
        }
      }),
    );

  data
    .command('checkout')
    .description("Restore tracked data to the versions its pointer files name (after git checkout, pull or a mistake); files are replaced whole, a folder's extra files are removed")
    .argument('[paths...]', 'tracked paths or pointer files (default: every pointer in the workspace)')
    .option('--force', 'overwrite changes that are not in the cache (they are lost)')
    .option('--json', 'print JSON')
    .action(
      runAction(async (paths: string[], flags: JsonFlag & { force?: boolean }) => {
        const service = await openService(flags.json);
        try {
          const result = await service.checkout(paths, { force: flags.force });
          const failed = result.filter((r) => r.result === 'failed');
          if (flags.json) process.stdout.write(formatJson(result));
          else {
            for (const r of result) {
              if (r.result === 'restored') process.stdout.write(`restored ${await fromCwd(service.ws.root, r.path)} (${r.placed} written, ${r.removed} removed)\n`);
            }
            for (const r of failed) process.stderr.write(errorLine(`${r.path}: ${r.reason ?? 'failed'}`, errTerminal(processStreams)));
            if (failed.length === 0 && result.every((r) => r.result === 'unchanged')) process.stdout.write('Nothing to restore: the data matches its pointers.\n');
          }
          return failed.length > 0 ? EXIT.FAILED : EXIT.OK;
        } finally {
          service.close();
        }
      }),
    );

  data
    .command('unprotect')
    .description('Give tracked files private, writable copies (in place of read-only links into the cache) so they can be edited in place')
    .argument('<paths...>', 'tracked files or folders')
    .option('--json', 'print JSON')
    .action(
      runAction(async (paths: string[], flags: JsonFlag) => {
        const service = await openService(flags.json);
        try {
          const files = await service.unprotect(paths);
          if (flags.json) process.stdout.write(formatJson({ unprotected: files }));
          else process.stdout.write(`Unprotected ${files.length} file(s); run slipway data add after editing them.\n`);
          return EXIT.OK;
        } finally {
          service.close();
        }
      }),
    );

  data
    .command('gc')
    .description('Remove cached objects that neither the workspace pointers, the named git revisions, the pipeline lock files (slipway.lock) nor the run cache need')
    .option('-w, --workspace', 'keep what the current pointer files name (always kept)')
    .option('--rev <rev...>', 'also keep what the pointers at these git revisions name (repeatable)')
    .option('--no-run-cache', 'do not keep outputs recorded in slipway.lock and .slipway/runs/')
    .option('--dry-run', 'only report what would be removed')
    .option('--json', 'print JSON')
    .action(
      runAction(async (flags: JsonFlag & { workspace?: boolean; rev?: string[]; runCache?: boolean; dryRun?: boolean }) => {
        const service = await openService(flags.json);
        try {
          if (!flags.dryRun) await refuseWhileReproRuns(service.ws.dir);
          const result = await service.gc({ workspace: flags.workspace, revs: flags.rev, dryRun: flags.dryRun, runCache: flags.runCache });
          if (flags.json) process.stdout.write(formatJson(result));
          else {
            const verb = result.dryRun ? 'Would remove' : 'Removed';
            process.stdout.write(`${verb} ${result.removed} of ${result.scanned} cached object(s) (${formatBytes(result.freedBytes)}); kept ${result.kept}.\n`);
            if (result.missingManifests.length > 0) process.stderr.write(`warning: ${result.missingManifests.length} folder manifest(s) named by kept pointers are not in the cache; their files were not told apart.\n`);
          }
          return EXIT.OK;
        } finally {
          service.close();
        }
      }),
    );

  data
    .command('diff')
    .description('Show tracked paths added, deleted or modified between two git revisions (default second: the workspace as it is now), with the files of folders')
    .argument('<rev1>', 'git revision to compare from')
    .argument('[rev2]', 'git revision to compare to (default: the workspace)')
    .option('--json', 'print JSON')
    .action(
      runAction(async (rev1: string, rev2: string | undefined, flags: JsonFlag) => {
        const service = await openService(flags.json);
        try {
          const result = await service.diff(rev1, rev2);
          if (flags.json) process.stdout.write(formatJson(result));
          else if (result.entries.length === 0) process.stdout.write(`No data changes between ${result.from} and ${result.to}.\n`);
          else {
            for (const e of result.entries) {
              const f = e.files;
              const counts = f ? `  (+${f.added.length} ~${f.modified.length} -${f.deleted.length})` : '';
              const note = e.manifestMissing ? '  (folder manifest not in the cache: fetch it for file details)' : '';
              process.stdout.write(`${`${e.change}:`.padEnd(10)}${e.path}${counts}${note}\n${f ? list('added:   ', f.added) + list('modified:', f.modified) + list('deleted: ', f.deleted) : ''}`);
            }
          }
          return EXIT.OK;
        } finally {
          service.close();
        }
      }),
    );

  // Before the remote commands, which end their help with their own examples.
  addHelpEpilogue(data, {
    examples: [
      'slipway data add data/train.csv data/images  # track a file and a folder',
      'slipway data status  # exit 1 when tracked data differs from its pointers',
      'slipway data status --json',
      'slipway data checkout  # after git checkout: restore the data the pointers name',
      'slipway data checkout data/images --force',
      'slipway data unprotect data/train.csv  # edit a tracked file in place',
      'slipway data gc --workspace --rev main --dry-run',
      'slipway data diff HEAD~1  # what changed since the previous commit',
      'slipway data diff v1.0 v2.0 --json',
    ],
    exitCodes: {
      [EXIT.FAILED]: 'status: something changed, is missing or not in the cache; checkout: a path could not be restored; gc: a repro is running a stage or an add is storing objects here; add: a gc is running; a runtime failure',
      [EXIT.USAGE]: 'bad usage or input: a path outside the workspace, a symbolic link loop, an unknown revision, an invalid slipway.yaml',
    },
    docs: ['data.md'],
  });

  registerRemoteCommands(data);
}
