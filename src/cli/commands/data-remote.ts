/** `slipway data push|pull|fetch`: move cached objects to and from a remote named in slipway.yaml. */
import type { Command } from 'commander';
import type { FetchResult, PushResult, TransferProgress } from '../../data/remote-transfer.js';
import type { CheckoutEntry } from '../../data/data-service.js';
import { addHelpEpilogue, errorLine, errTerminal, EXIT, formatBytes, type OutputStreams, positiveInt, printValue, processStreams, runAction } from '../output.js';

interface RemoteFlags {
  remote?: string;
  rev?: string[];
  jobs?: number;
  json?: boolean;
}

interface PullFlags extends RemoteFlags {
  force?: boolean;
}

/** Digests listed in an error line: the first few, then how many more (--json lists all). */
const NAMED = 5;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function named(digests: readonly string[]): string {
  const more = digests.length - NAMED;
  return `${digests.slice(0, NAMED).join(', ')}${more > 0 ? ` and ${more} more (--json lists all)` : ''}`;
}

/** A one-line progress display on a terminal's stderr, redrawn at most ten times a second. */
function progressDisplay(flags: RemoteFlags, io: OutputStreams): { onProgress?: (p: TransferProgress) => void; done: () => void } {
  if (flags.json || !process.stderr.isTTY) return { done: () => {} };
  let last = 0;
  let shown = false;
  return {
    onProgress: (p) => {
      const now = Date.now();
      const finished = p.phase !== 'checking' && p.objects === p.totalObjects;
      if (now - last < 100 && !finished) return;
      last = now;
      shown = true;
      const line = p.phase === 'checking' ? `checking ${plural(p.totalObjects, 'object')} on the remote…` : `${p.phase} ${p.objects}/${p.totalObjects} objects, ${formatBytes(p.bytes)} of ${formatBytes(p.totalBytes)}`;
      io.err(`\r\x1b[2K${line}`);
    },
    done: () => {
      if (shown) io.err('\r\x1b[2K');
    },
  };
}

function pushSummary(r: PushResult): string {
  const how = r.transferred === 0 ? '' : ` in ${plural(r.packsWritten, 'pack')} and ${plural(r.looseWritten, 'single object')}`;
  return `pushed ${plural(r.transferred, 'object')} (${formatBytes(r.bytes)}) to '${r.remote}'${how}; ${r.alreadyPresent} already there\n`;
}

function fetchSummary(r: FetchResult): string {
  return `fetched ${plural(r.transferred, 'object')} (${formatBytes(r.bytes)}) from '${r.remote}' (${plural(r.packsRead, 'pack')} read); ${r.alreadyPresent} already in the cache\n`;
}

/** Prints what went wrong with a fetch on stderr; true when anything did. */
function reportFetchProblems(r: FetchResult, io: OutputStreams): boolean {
  const t = errTerminal(io);
  for (const b of r.badPacks) io.err(errorLine(`${b.reason} Its objects count as absent.`, t));
  if (r.missingOnRemote.length > 0) io.err(errorLine(`${plural(r.missingOnRemote.length, 'object is', 'objects are')} missing on remote '${r.remote}': ${named(r.missingOnRemote)}; push them from a workspace that has them.`, t));
  if (r.corruptOnRemote.length > 0) io.err(errorLine(`${plural(r.corruptOnRemote.length, 'object', 'objects')} on remote '${r.remote}' ${r.corruptOnRemote.length === 1 ? 'is' : 'are'} corrupt (content does not match the digest) and ${r.corruptOnRemote.length === 1 ? 'was' : 'were'} not stored: ${named(r.corruptOnRemote)}.`, t));
  return r.missingOnRemote.length > 0 || r.corruptOnRemote.length > 0;
}

async function push(paths: string[], flags: RemoteFlags, io: OutputStreams = processStreams): Promise<number> {
  const { openWorkspace } = await import('../../data/workspace.js');
  const { pushWorkspace } = await import('../../data/remote-sync.js');
  const progress = progressDisplay(flags, io);
  let result: PushResult;
  try {
    result = await pushWorkspace(openWorkspace(), { remote: flags.remote, paths, revs: flags.rev, jobs: flags.jobs, onProgress: progress.onProgress });
  } finally {
    progress.done();
  }
  printValue(result, flags, () => pushSummary(result), io);
  const t = errTerminal(io);
  for (const b of result.badPacks) io.err(errorLine(`${b.reason} Its objects were sent again.`, t));
  if (result.missingLocally.length > 0) io.err(errorLine(`${plural(result.missingLocally.length, 'object is', 'objects are')} not in the local cache, so ${result.missingLocally.length === 1 ? 'it was' : 'they were'} not pushed: ${named(result.missingLocally)}; fetch them or add the files again.`, t));
  if (result.corruptLocally.length > 0) io.err(errorLine(`${plural(result.corruptLocally.length, 'cached object is', 'cached objects are')} corrupt (content does not match the digest) and ${result.corruptLocally.length === 1 ? 'was' : 'were'} not pushed: ${named(result.corruptLocally)}.`, t));
  return result.missingLocally.length > 0 || result.corruptLocally.length > 0 ? EXIT.FAILED : EXIT.OK;
}

async function fetch(paths: string[], flags: RemoteFlags, io: OutputStreams = processStreams): Promise<number> {
  const { openWorkspace } = await import('../../data/workspace.js');
  const { fetchWorkspace } = await import('../../data/remote-sync.js');
  const progress = progressDisplay(flags, io);
  let result: FetchResult;
  try {
    result = await fetchWorkspace(openWorkspace(), { remote: flags.remote, paths, revs: flags.rev, jobs: flags.jobs, onProgress: progress.onProgress });
  } finally {
    progress.done();
  }
  printValue(result, flags, () => fetchSummary(result), io);
  return reportFetchProblems(result, io) ? EXIT.FAILED : EXIT.OK;
}

async function pull(paths: string[], flags: PullFlags, io: OutputStreams = processStreams): Promise<number> {
  const { openWorkspace } = await import('../../data/workspace.js');
  const { fetchWorkspace } = await import('../../data/remote-sync.js');
  const { DataService } = await import('../../data/data-service.js');
  const ws = openWorkspace();
  const progress = progressDisplay(flags, io);
  let fetched: FetchResult;
  try {
    fetched = await fetchWorkspace(ws, { remote: flags.remote, paths, jobs: flags.jobs, onProgress: progress.onProgress });
  } finally {
    progress.done();
  }
  const service = new DataService(ws);
  let checkout: CheckoutEntry[];
  try {
    checkout = await service.checkout(paths, { force: flags.force });
  } finally {
    service.close();
  }
  const restored = checkout.filter((c) => c.result === 'restored').length;
  const unchanged = checkout.filter((c) => c.result === 'unchanged').length;
  printValue({ fetch: fetched, checkout }, flags, () => `${fetchSummary(fetched)}checked out ${plural(restored, 'path')}; ${unchanged} unchanged\n`, io);
  const problems = reportFetchProblems(fetched, io);
  const failed = checkout.filter((c) => c.result === 'failed');
  for (const c of failed) io.err(errorLine(`${c.path}: ${c.reason ?? 'not checked out'}`, errTerminal(io)));
  return problems || failed.length > 0 ? EXIT.FAILED : EXIT.OK;
}

function remoteOptions(cmd: Command): Command {
  return cmd
    .argument('[paths...]', 'tracked files or folders (default: every pointer file in the workspace)')
    .option('-r, --remote <name>', 'remote from data.remotes in slipway.yaml (default: data.remote, else the only one)')
    .option('-j, --jobs <n>', 'transfers at a time (default: data.jobs, else 4 per core)', positiveInt('--jobs'))
    .option('--json', 'print JSON');
}

/** Registers the remote subcommands on `slipway data`. */
export function registerRemoteCommands(data: Command): void {
  const help = {
    examples: [
      'slipway data push  # send what the pointer files need and the remote lacks',
      'slipway data push data/train.csv --remote backup',
      'slipway data fetch --json',
      'slipway data fetch data/train.csv data/images',
      'slipway data push --rev v1.0 --rev main  # also the versions those revisions name',
      'slipway data pull  # fetch, then check out every tracked path',
      'slipway data pull data/images --jobs 16',
    ],
    exitCodes: {
      [EXIT.FAILED]: 'some objects are missing (locally for push, on the remote for fetch and pull) or corrupt, the remote folder does not exist (fetch, pull), or a path could not be checked out',
      [EXIT.USAGE]: 'bad usage or configuration: no remote configured, an unknown remote, an unsupported URL (s3:// for now), a path outside the workspace',
    },
    docs: ['data.md'],
  } as const;
  const revOption = '--rev <revision...>';
  const revHelp = 'also the versions the pointer files name at these git revisions (repeatable)';
  const pushCmd = remoteOptions(data.command('push'))
    .option(revOption, revHelp)
    .description('Send to a remote the objects that the pointer files (or the named paths) need and the remote lacks')
    .action(runAction((paths: string[], flags: RemoteFlags) => push(paths, flags)));
  const fetchCmd = remoteOptions(data.command('fetch'))
    .option(revOption, revHelp)
    .description('Download into the local cache the objects the pointer files (or the named paths) need and the cache lacks')
    .action(runAction((paths: string[], flags: RemoteFlags) => fetch(paths, flags)));
  const pullCmd = remoteOptions(data.command('pull'))
    .option('-f, --force', 'discard local changes that are not in the cache when checking out')
    .description('Fetch, then check out the tracked paths as their pointer files name them')
    .action(runAction((paths: string[], flags: PullFlags) => pull(paths, flags)));
  for (const cmd of [pushCmd, fetchCmd, pullCmd]) addHelpEpilogue(cmd, { ...help, examples: help.examples.filter((e) => e.startsWith(`slipway data ${cmd.name()} `)) });
}
