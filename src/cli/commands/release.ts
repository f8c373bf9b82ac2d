/**
 * `slipway release`, `slipway releases list|show|approve|abort`, `slipway rollback`,
 * `slipway plan` and `slipway apply`: gated releases of model versions into
 * environments (aliases), and releases as code from `slipway.yaml`'s `releases:` section.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import type { SlipwayClient } from '../../client/slipway-client.js';
import type { Release, ReleasePolicy, ReleaseState } from '../../client/schemas/releases.js';
import type { ReleasePolicyFlags, ReleasesConfig } from '../../release/release-config.js';
import { addConnectionOptions, withConnection, type ConnectionFlags } from '../connection.js';
import {
  EXIT,
  addHelpEpilogue,
  errTerminal,
  formatJson,
  formatRecord,
  formatStatus,
  formatTable,
  formatTime,
  formatVerdict,
  outTerminal,
  positiveInt,
  printWarning,
  processStreams,
  runAction,
  type OutputStreams,
} from '../output.js';
import { SYMBOLS, type Terminal } from '../terminal.js';
import { collect } from './experiments.js';
import type { PlanChange } from './release-plan.js';

interface ReleaseFlags extends ConnectionFlags, ReleasePolicyFlags {
  to: string;
  requestedBy?: string;
  json?: boolean;
  junit?: string;
  summary?: string;
  wait: boolean;
  timeout?: string;
}

const TERMINAL: readonly ReleaseState[] = ['promoted', 'rejected', 'rolled_back', 'aborted'];
const isTerminal = (s: ReleaseState): boolean => TERMINAL.includes(s);

async function usage(message: string): Promise<never> {
  const { SlipwayError } = await import('../../core/errors.js');
  throw new SlipwayError('INVALID_ARGUMENT', message);
}

/** `models:/NAME/VERSION` or `models:/NAME@ALIAS` as the candidate of a release (parsed as every other command parses it). */
async function candidateOf(uri: string): Promise<{ model: string; version?: string; alias?: string }> {
  const { parseModelUri } = await import('../../core/model-source.js');
  const ref = parseModelUri(uri.trim());
  if (!ref) return usage(`'${uri}' is not a model URI: give models:/NAME/VERSION or models:/NAME@ALIAS, e.g. models:/cancer/3.`);
  return { model: ref.name, ...(ref.version !== undefined ? { version: ref.version } : {}), ...(ref.alias !== undefined ? { alias: ref.alias } : {}) };
}

/** The config file the flags and environment name: --config, SLIPWAY_CONFIG, else ./slipway.yaml when present. */
function configFileOf(flags: { config?: string }): { path: string; explicit: boolean } | undefined {
  const named = flags.config ?? process.env.SLIPWAY_CONFIG;
  if (named) return { path: named, explicit: true };
  return existsSync(resolve('slipway.yaml')) ? { path: 'slipway.yaml', explicit: false } : undefined;
}

async function loadReleasesConfig(flags: { config?: string }): Promise<ReleasesConfig | undefined> {
  const file = configFileOf(flags);
  if (!file) return undefined;
  const { readReleasesConfig } = await import('../../release/release-config.js');
  return readReleasesConfig(file.path);
}

const STATE_WORDS: Record<ReleaseState, string> = {
  pending: 'pending',
  gates: 'running gates',
  awaiting_approval: 'awaiting approval',
  rolling_out: 'rolling out',
  promoted: 'promoted',
  rejected: 'rejected',
  rolled_back: 'rolled back',
  aborted: 'aborted',
};

function verdictWord(verdict: string, terminal: Terminal): string {
  if (verdict === 'pass') return formatVerdict(true, 'pass', terminal);
  if (verdict === 'fail' || verdict === 'error') return formatVerdict(false, verdict, terminal);
  return formatStatus(verdict, terminal);
}

/** The gates of a release as a table: name, kind, verdict (✓/✗ on a terminal) and reason. */
export function gatesTable(release: Release, terminal: Terminal): string {
  return formatTable(
    release.gates,
    [
      { header: 'GATE', value: (g) => g.name },
      { header: 'KIND', value: (g) => g.kind },
      // ✓ / ✗ on a terminal, the bare word in a pipe (cells cannot carry colour codes).
      { header: 'VERDICT', value: (g) => (terminal.styled && g.verdict === 'pass' ? `${SYMBOLS.pass} pass` : terminal.styled && (g.verdict === 'fail' || g.verdict === 'error') ? `${SYMBOLS.fail} ${g.verdict}` : g.verdict), status: false },
      { header: 'REASON', value: (g) => g.reason, maxWidth: 100 },
    ],
    '(no gates)',
    terminal,
  );
}

function rolloutText(release: Release): string | undefined {
  const r = release.rollout;
  const s = release.policy.strategy;
  if (!r) {
    if (s.kind === 'direct') return undefined;
    // Blue-green has no steps: it switched when the release was promoted, and never started when it was not.
    return s.kind === 'blue-green' && release.state === 'promoted' ? `blue-green, switched at once (bake ${s.bake})` : release.state === 'rolling_out' ? `${s.kind} (starting)` : `${s.kind} (not started)`;
  }
  const steps = s.kind === 'canary' ? ` step ${r.step + 1} of ${s.steps.length}` : '';
  return `${s.kind}${steps}, challenger weight ${r.weight} %, ${r.analyses.length} analyses, ${r.failures} failed`;
}

/** What was released where, and how it stands: the first lines of the report and of `releases show`. */
function headFields(release: Release): Array<[string, string | undefined]> {
  return [
    ['release', release.id],
    ['model', `${release.model} version ${release.version}`],
    ['environment', release.environment],
    ['champion', release.championVersion !== undefined ? `version ${release.championVersion}` : 'none (first release)'],
    ['state', release.state],
    ['reason', release.reason],
  ];
}

/** The human report of a release: what was released, the gates, the rollout and the final state. */
export function releaseReport(release: Release, terminal: Terminal): string {
  const head = formatRecord([...headFields(release), ['rollout', rolloutText(release)], ['approvals', release.approvals.map((a) => a.by).join(', ') || undefined]], terminal);
  const ok = release.state === 'promoted';
  const last = isTerminal(release.state) ? `${formatVerdict(ok, `${release.model} version ${release.version} ${ok ? `is now ${release.environment}` : STATE_WORDS[release.state]}`, terminal)}\n` : '';
  return `${head}\n${gatesTable(release, terminal)}${last ? `\n${last}` : ''}`;
}

/** The approval hint: who must approve, and the exact command. */
function approvalHint(release: Release): string {
  const gate = release.policy.gates.find((g) => g.kind === 'approval');
  const needed = gate && gate.kind === 'approval' ? gate.count : 1;
  const have = release.approvals.length;
  return `Release ${release.id} awaits ${needed - have} more approval(s) (${have} of ${needed}) by someone other than ${release.requestedBy}:\n  slipway releases approve ${release.id} --by NAME\n`;
}

/** Lines of progress between two snapshots of a release: its state, each gate's verdict as it lands, canary steps. */
export function progressLines(before: Release | undefined, now: Release): string[] {
  const lines: string[] = [];
  if (!before || before.state !== now.state) lines.push(`${now.id}: ${STATE_WORDS[now.state]}${isTerminal(now.state) && now.reason ? ` (${now.reason})` : ''}`);
  for (const g of now.gates) {
    const old = before?.gates.find((b) => b.name === g.name);
    if (g.verdict === 'running' && old?.verdict !== 'running') lines.push(`  gate ${g.name}: running`);
    if (['pass', 'fail', 'error', 'skipped'].includes(g.verdict) && old?.verdict !== g.verdict) lines.push(`  gate ${g.name}: ${g.verdict} — ${g.reason}`);
  }
  const r = now.rollout;
  if (r && (before?.rollout?.step !== r.step || before?.rollout?.weight !== r.weight)) lines.push(`  rollout: challenger at ${r.weight} %${now.policy.strategy.kind === 'canary' ? ` (step ${r.step + 1})` : ''}`);
  if (r && before?.rollout && r.failures > before.rollout.failures) lines.push(`  rollout: analysis failed (${r.failures} so far)`);
  return lines;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Polls a release until it ends or `deadline` passes, telling each change; returns the last snapshot. */
async function follow(api: SlipwayClient['releases'], first: Release, opts: { deadline?: number; tell: (line: string) => void; approvalHint: (text: string) => void }): Promise<Release> {
  let seen: Release | undefined;
  let current = first;
  let hinted = false;
  for (;;) {
    for (const line of progressLines(seen, current)) opts.tell(line);
    if (current.state === 'awaiting_approval' && !hinted) {
      opts.approvalHint(approvalHint(current));
      hinted = true;
    }
    if (isTerminal(current.state)) return current;
    if (opts.deadline !== undefined && Date.now() >= opts.deadline) return current;
    seen = current;
    await sleep(opts.deadline !== undefined ? Math.max(0, Math.min(500, opts.deadline - Date.now())) : 500);
    current = await api.get(current.id);
  }
}

/** Writes `text` to `file` whole or not at all: a temporary file beside it, then a rename. */
async function writeWhole(file: string, text: string): Promise<void> {
  const { writeFile, rename, rm } = await import('node:fs/promises');
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Runs `slipway release`; returns the exit code. */
export async function releaseAction(uri: string, flags: ReleaseFlags, io: OutputStreams = processStreams, tty = Boolean(process.stderr.isTTY)): Promise<number> {
  const candidate = await candidateOf(uri);
  const { releasePolicyFrom, configuredPolicy, localHoldouts, withStoredHoldouts } = await import('../../release/release-config.js');
  const { parseDuration } = await import('../../core/duration.js');
  const timeoutMs = flags.timeout !== undefined ? parseDuration(flags.timeout, { name: '--timeout' }) : undefined;
  const config = await loadReleasesConfig(flags);
  const base = config ? configuredPolicy(config, candidate.model, flags.to) : undefined;
  const policy = releasePolicyFrom(base, flags);
  if (policy) {
    const { checkHoldouts } = await import('./release-holdouts.js');
    await checkHoldouts(policy);
  }
  const quiet = flags.json || !tty;
  const tell = (line: string): void => {
    if (!quiet) io.err(`${line}\n`);
  };
  const release = await withConnection(flags, async (client, connection) => {
    const api = client.releases;
    if (!flags.wait && connection.target.kind === 'embedded') {
      printWarning('On the embedded store the release runs only while a command or `slipway server` has the store open: with --no-wait it goes on when `slipway server` starts on this store.', io);
    }
    let sent: ReleasePolicy | undefined;
    if (policy) {
      const { uploadHoldouts } = await import('./release-holdouts.js');
      const stored = await uploadHoldouts(client, localHoldouts(policy), tell);
      sent = withStoredHoldouts(policy, stored);
    }
    const created = await api.create({ model: candidate.model, ...(candidate.version ? { version: candidate.version } : {}), ...(candidate.alias ? { alias: candidate.alias } : {}), environment: flags.to, ...(flags.requestedBy ? { requestedBy: flags.requestedBy } : {}), ...(sent ? { policy: sent } : {}) });
    if (!flags.wait) return created;
    const deadline = timeoutMs !== undefined ? Date.now() + timeoutMs : undefined;
    // The approval command is printed even when quiet: without it nobody knows what the release waits for.
    return follow(api, created, { deadline, tell, approvalHint: (text) => io.err(text) });
    // On the embedded store the release runs in this process, next to the serving it steers.
  }, { plugins: ['serving', 'releases'] });
  if (!flags.wait) {
    io.out(flags.json ? formatJson(release) : `${release.id}\n`);
    return EXIT.OK;
  }
  const { releaseToJUnit, releaseToMarkdown } = await import('../../release/report/index.js');
  if (flags.junit) await writeWhole(flags.junit, releaseToJUnit(release));
  if (flags.summary) {
    const { appendFile } = await import('node:fs/promises');
    // GitHub's step summary is one file every step appends to.
    await appendFile(flags.summary, releaseToMarkdown(release));
  }
  io.out(flags.json ? formatJson(release) : releaseReport(release, outTerminal(io)));
  if (!isTerminal(release.state)) {
    printWarning(`Release ${release.id} is still ${STATE_WORDS[release.state]} after --timeout ${flags.timeout}; it goes on on the server (slipway releases show ${release.id}).`, io);
    return EXIT.FAILED;
  }
  return release.state === 'promoted' ? EXIT.OK : EXIT.FAILED;
}

function nonNegativeInt(name: string): (raw: string) => number {
  return (raw) => {
    if (!/^\d+$/.test(raw.trim())) throw new InvalidArgumentError(`${name} must be a non-negative integer.`);
    return Number(raw);
  };
}

function positiveNumber(name: string, max = Number.POSITIVE_INFINITY): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > max) throw new InvalidArgumentError(`${name} must be a number above 0${Number.isFinite(max) ? ` and at most ${max}` : ''}.`);
    return n;
  };
}

function shareNumber(name: string): (raw: string) => number {
  return (raw) => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`${name} must be a fraction from 0 to 1.`);
    return n;
  };
}

type JsonFlags = ConnectionFlags & { json?: boolean };

function releasesTable(releases: readonly Release[], terminal: Terminal): string {
  return formatTable(
    releases,
    [
      { header: 'ID', value: (r) => r.id },
      { header: 'MODEL', value: (r) => r.model },
      { header: 'VERSION', value: (r) => r.version, alignRight: true },
      { header: 'ENVIRONMENT', value: (r) => r.environment },
      { header: 'STATE', value: (r) => r.state },
      { header: 'REASON', value: (r) => r.reason, maxWidth: 60 },
      { header: 'CREATED', value: (r) => formatTime(r.createdTime) },
    ],
    '(no releases)',
    terminal,
  );
}

function figuresText(figures: Record<string, unknown>): string {
  const lines = Object.entries(figures).map(([k, v]) => `      ${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

function showText(release: Release, terminal: Terminal): string {
  const gates = release.gates.map((g) => `  ${g.name} (${g.kind}): ${verdictWord(g.verdict, terminal)} — ${g.reason}\n${figuresText(g.figures)}`).join('');
  const approvals = release.approvals.map((a) => `  ${formatTime(a.time)}  ${a.by}${a.comment ? `: ${a.comment}` : ''}\n`).join('');
  const events = (release.events ?? []).map((e) => `  ${formatTime(e.time)}  ${e.type.padEnd(9)} ${e.actor ? `${e.actor}: ` : ''}${e.message}\n`).join('');
  const head = formatRecord(
    [
      ...headFields(release),
      ['strategy', release.policy.strategy.kind],
      ['rollout', rolloutText(release)],
      ['requested by', release.requestedBy],
      ['created', formatTime(release.createdTime)],
      ['ended', release.endedTime !== undefined ? formatTime(release.endedTime) : undefined],
    ],
    terminal,
  );
  return `${head}\nGates:\n${gates || '  (none)\n'}\nApprovals:\n${approvals || '  (none)\n'}\nEvents:\n${events || '  (none)\n'}`;
}

interface PlanFlags extends ConnectionFlags {
  json?: boolean;
  detailedExitcode?: boolean;
  yes?: boolean;
  prune?: boolean;
}

/** Exit code of `plan --detailed-exitcode` when there are changes (2 stays bad input). */
export const EXIT_CHANGES = 4;

async function requireConfig(flags: { config?: string }): Promise<ReleasesConfig> {
  const file = configFileOf(flags);
  if (!file) return usage('No config file: give --config FILE, set SLIPWAY_CONFIG, or run where slipway.yaml is.');
  const config = await loadReleasesConfig(flags);
  if (!config) return usage(`${file.path} has no releases: section; nothing to plan.`);
  return config;
}

async function planAction(flags: PlanFlags, io: OutputStreams = processStreams): Promise<number> {
  const config = await requireConfig(flags);
  const { computePlan, formatPlan } = await import('./release-plan.js');
  const plan = await withConnection(flags, (client) => computePlan(client, config, { prune: Boolean(flags.prune) }), { readOnly: true, plugins: ['releases', 'monitoring'] });
  const { desired: _desired, ...shown } = plan;
  io.out(flags.json ? formatJson(shown) : formatPlan(plan, outTerminal(io)));
  return flags.detailedExitcode && plan.changes.length > 0 ? EXIT_CHANGES : EXIT.OK;
}

async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

async function applyAction(flags: PlanFlags, io: OutputStreams = processStreams): Promise<number> {
  const config = await requireConfig(flags);
  const { applyPlan, computePlan, formatPlan } = await import('./release-plan.js');
  return withConnection(
    flags,
    async (client) => {
      const plan = await computePlan(client, config, { prune: Boolean(flags.prune) });
      if (plan.changes.length === 0) {
        io.out(flags.json ? formatJson({ file: plan.file, changes: plan.changes, summary: plan.summary, applied: [] as PlanChange[] }) : formatPlan(plan, outTerminal(io)));
        return EXIT.OK;
      }
      if (!flags.yes) {
        if (!process.stdin.isTTY) return usage('apply changes the server: give --yes to apply without a question (no terminal to ask on).');
        io.err(formatPlan(plan, errTerminal(io)));
        if (!(await confirm('Apply these changes? [y/N] '))) {
          io.err('Nothing applied.\n');
          return EXIT.FAILED;
        }
      }
      const applied = await applyPlan(client, config, plan, (line) => {
        if (!flags.json) io.out(`${line}\n`);
      });
      const s = plan.summary;
      io.out(flags.json ? formatJson({ file: plan.file, changes: plan.changes, summary: plan.summary, applied }) : `Applied: ${s.add} added, ${s.change} changed, ${s.destroy} destroyed.\n`);
      return EXIT.OK;
    },
    { plugins: ['releases', 'monitoring'] },
  );
}

/** Registers `release`, `releases`, `rollback`, `plan` and `apply`. */
export function register(program: Command): void {
  const release = addConnectionOptions(
    program
      .command('release')
      .description('Release a model version into an environment through its gates and rollout; exit 0 when promoted')
      .argument('<model-uri>', 'the candidate: models:/NAME/VERSION or models:/NAME@ALIAS')
      .requiredOption('--to <env>', 'the environment (alias) to release to, e.g. staging or champion')
      .option('--holdout <file>', 'holdout data for the evaluation, quality and drift gates (CSV, TSV, JSON lines, Parquet); uploaded to the server')
      .option('--label <column>', 'the label column of the holdout')
      .option('--metric <threshold>', "evaluation threshold, e.g. 'accuracy >= champion - 0.02' (repeatable)", collect)
      .option('--slo <threshold>', "load-test SLO, e.g. 'p99<20ms' or 'p99 <= champion * 1.25' (repeatable)", collect)
      .option('--rate <n>', 'load-test rate in requests/s (default 100)', positiveNumber('--rate', 1_000_000))
      .option('--duration <duration>', 'load-test duration (default 10s)')
      .option('--signature', "signature gate: the candidate's inputs must be compatible with the champion's")
      .option('--allow-breaking', 'with --signature: a breaking change passes with a warning')
      .option('--quality', 'quality gate: the monitoring quality suite on the holdout')
      .option('--drift', "drift gate: the holdout against the model's training reference")
      .option('--max-drift-share <share>', 'with --drift: the largest share of drifted columns that passes (default 0.5)', shareNumber('--max-drift-share'))
      .option('--approvals <n>', 'approval gate: N approvals by others than the requester', positiveInt('--approvals'))
      .option('--command <cmd>', 'command gate: a shell command whose exit status decides (repeatable)', collect)
      .option('--strategy <kind>', 'rollout: direct, canary, shadow or blue-green')
      .option('--steps <list>', 'canary weights in percent, e.g. 10,50,100')
      .option('--interval <duration>', 'canary/shadow analysis interval, e.g. 30s')
      .option('--failure-limit <n>', 'canary: failed analyses tolerated before rollback', nonNegativeInt('--failure-limit'))
      .option('--inconclusive-limit <n>', 'canary: analyses in a row with too little traffic tolerated before rollback (default 10)', nonNegativeInt('--inconclusive-limit'))
      .option('--sticky-header <name>', 'canary: pin callers to one side by this request header')
      .option('--bake <duration>', 'blue-green: how long the old version stays loaded')
      .option('--shadow-share <percent>', 'shadow: percentage of requests mirrored', positiveNumber('--shadow-share', 100))
      .option('--shadow-duration <duration>', 'shadow: how long to compare')
      .option('--on-restart <action>', 'a rollout interrupted by a server restart: rollback (default) or resume')
      .option('--junit <file>', 'write a JUnit XML report: a test case per gate and one for the rollout')
      .option('--summary <file>', 'append a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)')
      .option('--requested-by <name>', 'who asks for the release (approvers must be someone else); once access control is on, the caller')
      .option('--no-wait', 'print the release id and exit 0 without waiting')
      .option('--timeout <duration>', 'stop waiting after this long: exit 1 with the state (the release goes on)')
      .option('--json', 'print the release as JSON'),
  ).action(runAction((uri: string, flags: ReleaseFlags) => releaseAction(uri, flags)));
  addHelpEpilogue(release, {
    examples: [
      "slipway release models:/cancer/3 --to champion --holdout holdout.csv --label target --metric 'accuracy >= champion - 0.02'",
      "slipway release models:/cancer@candidate --to champion --slo 'p99<20ms' --rate 100 --strategy canary --steps 10,50,100 --interval 30s",
      'slipway release models:/cancer/3 --to staging --config slipway.yaml --junit release.xml --summary "$GITHUB_STEP_SUMMARY"',
    ],
    exitCodes: { [EXIT.FAILED]: 'rejected, rolled back or aborted, or still running at --timeout', [EXIT.USAGE]: 'bad input: unknown flag, bad threshold, missing holdout or label column, unknown environment in the config' },
    docs: ['cli.md', 'configuration.md'],
  });

  const releases = program.command('releases').description('List, show, approve and abort releases');
  addConnectionOptions(
    releases
      .command('list')
      .description('Releases, newest first')
      .option('--model <name>', 'only releases of this model')
      .option('--state <state>', "only releases in this state, or 'active' for any unfinished one")
      .option('--max-results <n>', 'most releases to list', positiveInt('--max-results'), 100)
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (flags: JsonFlags & { model?: string; state?: string; maxResults: number }) => {
      const page = await withConnection(flags, (client) => client.releases.list({ model: flags.model, state: flags.state, maxResults: flags.maxResults }), { readOnly: true, plugins: ['releases'] });
      processStreams.out(flags.json ? formatJson(page.releases) : releasesTable(page.releases, outTerminal()));
    }),
  );
  addConnectionOptions(releases.command('show').description('A release: gates with their figures, approvals and its history').argument('<id>', 'release id').option('--json', 'print JSON')).action(
    runAction(async (id: string, flags: JsonFlags) => {
      const r = await withConnection(flags, (client) => client.releases.get(id), { readOnly: true, plugins: ['releases'] });
      processStreams.out(flags.json ? formatJson(r) : showText(r, outTerminal()));
    }),
  );
  addConnectionOptions(
    releases
      .command('approve')
      .description('Approve a release that awaits approval')
      .argument('<id>', 'release id')
      .requiredOption('--by <name>', 'who approves (someone other than the requester)')
      .option('--comment <text>', 'why')
      .option('--json', 'print the release as JSON'),
  ).action(
    runAction(async (id: string, flags: JsonFlags & { by: string; comment?: string }) => {
      const r = await withConnection(flags, (client) => client.releases.approve(id, { by: flags.by, ...(flags.comment !== undefined ? { comment: flags.comment } : {}) }), { plugins: ['releases'] });
      processStreams.out(flags.json ? formatJson(r) : `Approved by ${flags.by}: release ${r.id} is ${STATE_WORDS[r.state]} (${r.approvals.length} approval(s)).\n`);
    }),
  );
  addConnectionOptions(
    releases
      .command('abort')
      .description('Stop a release; a rollout in progress returns all traffic to the champion')
      .argument('<id>', 'release id')
      .option('--reason <text>', 'why')
      .option('--by <name>', 'who aborts')
      .option('--json', 'print the release as JSON'),
  ).action(
    runAction(async (id: string, flags: JsonFlags & { reason?: string; by?: string }) => {
      const r = await withConnection(flags, (client) => client.releases.abort(id, { ...(flags.reason !== undefined ? { reason: flags.reason } : {}), ...(flags.by !== undefined ? { by: flags.by } : {}) }), { plugins: ['releases'] });
      processStreams.out(flags.json ? formatJson(r) : `Release ${r.id} is ${STATE_WORDS[r.state]}${r.reason ? `: ${r.reason}` : ''}.\n`);
    }),
  );
  addHelpEpilogue(releases, {
    examples: ['slipway releases list --state active', 'slipway releases show REL_ID', 'slipway releases approve REL_ID --by ana --comment "metrics reviewed"', 'slipway releases abort REL_ID --reason "wrong data"'],
    docs: ['cli.md'],
  });

  const rollback = addConnectionOptions(
    program
      .command('rollback')
      .description('Move an environment back to an earlier version at once')
      .argument('<model>', 'registered model name')
      .option('--to <version>', 'the version to go back to (default: the one before the last promotion)')
      .option('--env <env>', 'the environment (alias)', 'champion')
      .option('--reason <text>', 'why')
      .option('--json', 'print JSON'),
  ).action(
    runAction(async (model: string, flags: JsonFlags & { to?: string; env: string; reason?: string }) => {
      const r = await withConnection(flags, (client) => client.releases.rollback(model, { environment: flags.env, ...(flags.to !== undefined ? { version: flags.to } : {}), ...(flags.reason !== undefined ? { reason: flags.reason } : {}) }), { plugins: ['releases'] });
      processStreams.out(
        flags.json
          ? formatJson(r)
          : `${formatVerdict(true, `${r.model} ${r.environment} is version ${r.version} again${r.previousVersion !== undefined ? ` (was ${r.previousVersion})` : ''}${r.instant ? ', instantly: it was still loaded' : ''}.`, outTerminal())}\n`,
      );
    }),
  );
  addHelpEpilogue(rollback, { examples: ['slipway rollback cancer', 'slipway rollback cancer --to 2 --env staging --reason "accuracy alert"'], docs: ['cli.md'] });

  const plan = addConnectionOptions(
    program
      .command('plan')
      .description("Show what 'slipway apply' would change on the server for the releases: section of slipway.yaml")
      .option('--prune', "include alert rules of the file's models that the file does not name (apply --prune deletes them)")
      .option('--detailed-exitcode', `exit ${EXIT_CHANGES} when there are changes, 0 when none`)
      .option('--json', 'print the plan as JSON'),
  ).action(runAction((flags: PlanFlags) => planAction(flags)));
  addHelpEpilogue(plan, { examples: ['slipway plan', 'slipway plan --config deploy/slipway.yaml --detailed-exitcode'], exitCodes: { [EXIT.FAILED]: 'the server could not be read' }, docs: ['cli.md', 'configuration.md'] });
  plan.addHelpText('after', `\nWith --detailed-exitcode: ${EXIT_CHANGES} when apply would change something.`);

  const apply = addConnectionOptions(
    program
      .command('apply')
      .description('Make the server match the releases: section of slipway.yaml: release policies, alert rules, holdouts')
      .option('--yes', 'apply without asking')
      .option('--prune', "delete alert rules of the file's models that the file does not name")
      .option('--json', 'print the plan and what was applied as JSON'),
  ).action(runAction((flags: PlanFlags) => applyAction(flags)));
  addHelpEpilogue(apply, { examples: ['slipway apply --yes', 'slipway apply --config deploy/slipway.yaml --prune --yes'], exitCodes: { [EXIT.FAILED]: 'not confirmed, or a change failed' }, docs: ['cli.md', 'configuration.md'] });

}
