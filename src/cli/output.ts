/**
 * What every command shares: human tables or `--json`, `error: …` on stderr,
 * exit codes that mean something, and opening the local store from the same
 * flags, environment and config file the server uses. Colour and symbols appear
 * only on a terminal (see terminal.ts); JSON and piped output stay plain.
 */
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import { InvalidArgumentError, type Command, type CommanderError } from 'commander';
import type CliTable from 'cli-table3';
import { isSlipwayError, SlipwayError, type ErrorCode } from '../core/errors.js';
import { clientErrorOf } from '../store/store-errors.js';
import type { ResolvedConfig } from '../config.js';
import { PLAIN, paintStatus, paintVerdict, terminalFor, type Terminal } from './terminal.js';

/** The exit codes every command uses. */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** Not found, a failed check or threshold, or a runtime failure. */
  FAILED: 1,
  /** Bad usage or bad input (unknown flag, invalid value, unreadable file). */
  USAGE: 2,
} as const;

// Errors the user can fix by changing what they typed.
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'MISSING_ARGUMENT',
  'MALFORMED_REQUEST',
  'LIMIT_EXCEEDED',
  'PAYLOAD_TOO_LARGE',
  'PATH_NOT_ALLOWED',
  'DATA_ERROR',
]);

/** The exit code for an error thrown by a command (2 for bad input, 1 otherwise). */
export function exitCodeFor(err: unknown): number {
  if (isSlipwayError(err)) return USAGE_CODES.has(err.code) ? EXIT.USAGE : EXIT.FAILED;
  return EXIT.FAILED;
}

const FILE_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a parent of it is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
};

// A file the user named (--out, a data file) that cannot be opened is bad input (exit 2), said plainly.
function fileErrorOf(err: unknown): SlipwayError | undefined {
  const e = err as NodeJS.ErrnoException | null;
  const problem = e && typeof e.code === 'string' ? FILE_PROBLEMS[e.code] : undefined;
  if (!problem || typeof e?.path !== 'string') return undefined;
  return new SlipwayError('DATA_ERROR', `Cannot ${e.syscall === 'open' ? 'open' : 'use'} '${e.path}': ${problem}.`, { path: e.path });
}

/** Where commands write; tests and embedders may swap it. */
export interface OutputStreams {
  out: (text: string) => void;
  err: (text: string) => void;
  /** What each stream can show (colour, symbols); plain when absent, as for text captured by a test. */
  readonly terminals?: { readonly out: Terminal; readonly err: Terminal };
}

/** Process stdout/stderr, styled where each is a terminal. */
export const processStreams: OutputStreams = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  get terminals() {
    return { out: terminalFor('stdout'), err: terminalFor('stderr') };
  },
};

/** What the `out` stream of `io` can show. */
export function outTerminal(io: OutputStreams = processStreams): Terminal {
  return io.terminals?.out ?? PLAIN;
}

/** What the `err` stream of `io` can show. */
export function errTerminal(io: OutputStreams = processStreams): Terminal {
  return io.terminals?.err ?? PLAIN;
}

/** `error: <message>` (the label red on a terminal), with a newline. */
export function errorLine(message: string, terminal: Terminal = terminalFor('stderr')): string {
  return `${terminal.color.red('error:')} ${message}\n`;
}

/** `warning: <message>` (the label yellow on a terminal), with a newline. */
export function warningLine(message: string, terminal: Terminal = terminalFor('stderr')): string {
  return `${terminal.color.yellow('warning:')} ${message}\n`;
}

/** Prints `error: <message>` on stderr (stack traces only with SLIPWAY_DEBUG=1, and never for catalogued errors). */
export function printError(err: unknown, io: OutputStreams = processStreams): void {
  const message = err instanceof Error ? err.message : String(err);
  io.err(errorLine(message, errTerminal(io)));
  if (!isSlipwayError(err) && err instanceof Error && err.stack && process.env.SLIPWAY_DEBUG === '1') io.err(`${err.stack}\n`);
}

/** Prints `warning: <message>` on stderr: something the user should know that does not stop the command. */
export function printWarning(message: string, io: OutputStreams = processStreams): void {
  // The workers of `slipway serve --workers N` read the same flags and settings: their primary has said it once.
  if (cluster.isWorker && process.env.SLIPWAY_CLUSTER_WORKER !== undefined && io === processStreams) return;
  io.err(warningLine(message, errTerminal(io)));
}

/**
 * A pass/fail line for people: led by a green ✓ or a red ✗ on a terminal,
 * unchanged when piped (e.g. `ok: 12 audit events verified, …`).
 */
export function formatVerdict(ok: boolean, text: string, terminal: Terminal = terminalFor('stdout')): string {
  return paintVerdict(ok, text, terminal);
}

/**
 * A pass/fail word inside a line, such as a threshold's `pass` / `FAIL`: on a
 * terminal with its symbol and colour (`✓ pass`, `✗ FAIL`), unchanged when piped.
 */
export function formatVerdictWord(ok: boolean, word: string, terminal: Terminal = terminalFor('stdout')): string {
  if (!terminal.styled) return word;
  return paintVerdict(ok, ok ? terminal.color.green(word) : terminal.color.red(word), terminal);
}

/** A status word (FINISHED, FAILED, READY, pass, fail, firing, …) in its colour on a terminal; unchanged otherwise. */
export function formatStatus(word: string, terminal: Terminal = terminalFor('stdout')): string {
  return paintStatus(word, terminal);
}

/**
 * Wraps a command action: runs it, maps thrown errors to `error: …` and an exit
 * code, and sets `process.exitCode` to what the action returned (default 0).
 * Sets the exit code rather than calling process.exit so buffered output is flushed.
 */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<number | void>, io: OutputStreams = processStreams): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await action(...args);
      process.exitCode = code ?? EXIT.OK;
    } catch (thrown) {
      const err = clientErrorOf(thrown) ?? fileErrorOf(thrown) ?? thrown;
      printError(err, io);
      process.exitCode = exitCodeFor(err);
    }
  };
}

/** Writes a commander error as one line: its "(Did you mean --port?)" suggestion joins the message instead of following it. */
export function writeOneLineError(text: string, write: (text: string) => void, terminal: Terminal = terminalFor('stderr')): void {
  const line = text.trim().replace(/\s*\n\s*/g, ' ');
  write(line.startsWith('error: ') ? errorLine(line.slice('error: '.length), terminal) : `${line}\n`);
}

/**
 * Makes commander usage errors (unknown flag, missing argument, bad choice) one
 * line on stderr, with a suggestion when a known option or command is close, and
 * exit 2 instead of commander's default 1, for `cmd` and every subcommand.
 * Help and version still exit 0. Call it after the subcommands are defined.
 */
export function usageErrorsExit2(cmd: Command): Command {
  // The whole help after a typo buries the one line that matters.
  cmd.showHelpAfterError(false).showSuggestionAfterError(true).configureOutput({ outputError: (text, write) => writeOneLineError(text, write) });
  cmd.exitOverride((err: CommanderError) => {
    // commander has already printed its message on stderr.
    process.exit(err.exitCode === 0 ? EXIT.OK : EXIT.USAGE);
  });
  for (const sub of cmd.commands) usageErrorsExit2(sub);
  return cmd;
}

/** What a command's `--help` ends with. */
export interface HelpEpilogue {
  /** Command lines a user can copy, each optionally followed by `  # what it does`. */
  examples: readonly string[];
  /** What exit codes 1 and 2 mean for this command, where more specific than the general meaning. */
  exitCodes?: Partial<Record<typeof EXIT.FAILED | typeof EXIT.USAGE, string>>;
  /** The pages under docs/ that document the command, e.g. `serving.md`. */
  docs: readonly string[];
}

/** Where `Docs:` lines point; the pages are the Markdown files of the project's docs/ folder. */
export const DOCS_FOLDER = 'docs/';

const EXIT_MEANING: Record<number, string> = {
  [EXIT.OK]: 'success',
  [EXIT.FAILED]: 'not found, a failed check, or a runtime failure',
  [EXIT.USAGE]: 'bad usage or input: unknown option, invalid value, unreadable file',
};

// `slipway models list --help` shows the examples that run it; a subcommand without its own shows them all.
function examplesFor(cmd: Command, examples: readonly string[]): readonly string[] {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  const prefix = names.join(' ');
  const own = examples.filter((e) => e === prefix || e.startsWith(`${prefix} `));
  return own.length > 0 ? own : examples;
}

/** The "Examples:", "Exit codes:" and "Docs:" text that ends a command's `--help`. */
export function helpEpilogueText(help: HelpEpilogue): string {
  const codes = [EXIT.OK, EXIT.FAILED, EXIT.USAGE].map((code) => `  ${code}  ${(code === EXIT.OK ? undefined : help.exitCodes?.[code]) ?? EXIT_MEANING[code]}`);
  return [
    '',
    'Examples:',
    ...help.examples.map((e) => `  $ ${e}`),
    '',
    'Exit codes:',
    ...codes,
    '',
    `Docs: ${help.docs.map((page) => `${DOCS_FOLDER}${page}`).join(', ')}`,
  ].join('\n');
}

/**
 * Ends the `--help` of `cmd` and of each of its subcommands with "Examples:",
 * "Exit codes:" and "Docs:". Call it after the subcommands are defined.
 */
export function addHelpEpilogue(cmd: Command, help: HelpEpilogue): Command {
  cmd.addHelpText('after', helpEpilogueText(help));
  for (const sub of cmd.commands) addHelpEpilogue(sub, { ...help, examples: examplesFor(sub, help.examples) });
  return cmd;
}

/** Parses a commander option value as a positive integer, or fails with a usage error. */
export function positiveInt(name: string): (raw: string) => number {
  return (raw: string) => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n <= 0) {
      // commander reports InvalidArgumentError as a usage error (exit 2 with usageErrorsExit2).
      throw new InvalidArgumentError(`${name} must be a positive integer.`);
    }
    return n;
  };
}

/** One column of a human table. */
export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Right-align (numbers). @default false */
  alignRight?: boolean;
  /** Longest cell before it is cut with "…". @default 60 */
  maxWidth?: number;
  /** Colour the cells as status words on a terminal (FINISHED green, FAILED red, …). @default true for a STATUS or STATE column */
  status?: boolean;
}

/** Renders a value for a table cell: numbers plainly, null/undefined as "-", objects as JSON. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

// Control characters in stored text (an escape sequence in a run name, a tab) would move the cursor or
// recolour the terminal and break the alignment: a cell shows them escaped, as `\x1b`.
function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// One line, at most `max` characters (code points, so an emoji is never split), the last one "…" when cut.
function cut(text: string, max: number): string {
  const chars = Array.from(visible(text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/\t/g, ' ')));
  return chars.length > max ? `${chars.slice(0, Math.max(1, max - 1)).join('')}…` : chars.join('');
}

const isStatusHeader = (header: string): boolean => header === 'STATUS' || header === 'STATE';

// No borders and no padding: columns are separated by two spaces only, as in kubectl's and gh's tables.
const BORDERLESS: Partial<Record<CliTable.CharName, string>> = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
  middle: '  ',
};

// cli-table3 is loaded on the first table, not with the CLI, so `--help` stays fast.
let TableClass: typeof CliTable | undefined;
function tableClass(): typeof CliTable {
  TableClass ??= createRequire(import.meta.url)('cli-table3') as typeof CliTable;
  return TableClass;
}

/**
 * Formats rows as an aligned text table with a header line; an empty list prints
 * `emptyText`. On a styled terminal the header is bold and status columns are coloured.
 */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[], emptyText = '(none)', terminal: Terminal = terminalFor('stdout')): string {
  if (rows.length === 0) return `${emptyText}\n`;
  const Table = tableClass();
  const table = new Table({
    head: columns.map((c) => terminal.color.bold(c.header)),
    colAligns: columns.map((c) => (c.alignRight ? 'right' : 'left')),
    chars: BORDERLESS,
    // No colours of cli-table3's own: the header and the cells are styled here, only for a terminal.
    style: { 'padding-left': 0, 'padding-right': 0, head: [], border: [] },
  });
  for (const row of rows) {
    table.push(
      columns.map((c) => {
        const text = cut(cellText(c.value(row)), c.maxWidth ?? 60);
        return (c.status ?? isStatusHeader(c.header)) ? paintStatus(text, terminal) : text;
      }),
    );
  }
  // The last column is padded to its width; a line ends at its last character.
  return `${table.toString().split('\n').map((line) => line.trimEnd()).join('\n')}\n`;
}

/**
 * Formats one record as aligned `key: value` lines (for `show` commands); on a
 * styled terminal a `status` or `state` value is coloured.
 */
export function formatRecord(fields: ReadonlyArray<readonly [string, unknown]>, terminal: Terminal = terminalFor('stdout')): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length));
  return (
    fields
      .map(([k, v]) => {
        const text = cellText(v);
        return `${`${k}:`.padEnd(width + 1)}  ${k === 'status' || k === 'state' ? paintStatus(text, terminal) : text}`.trimEnd();
      })
      .join('\n') + '\n'
  );
}

/** Pretty JSON with a trailing newline; bigint as a number string, NaN and ±Infinity as "NaN"/"Infinity"/"-Infinity" (as the HTTP API sends them). */
export function formatJson(value: unknown): string {
  const replacer = (_k: string, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number' && !Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    return v;
  };
  return `${JSON.stringify(value, replacer, 2)}\n`;
}

/** Prints a list as JSON (`json: true`) or as a table. */
export function printList<T>(rows: readonly T[], columns: readonly Column<T>[], opts: { json?: boolean; emptyText?: string }, io: OutputStreams = processStreams): void {
  io.out(opts.json ? formatJson(rows) : formatTable(rows, columns, opts.emptyText, outTerminal(io)));
}

/** Prints a value as JSON, or runs `human` to print it for people. */
export function printValue(value: unknown, opts: { json?: boolean }, human: () => string, io: OutputStreams = processStreams): void {
  io.out(opts.json ? formatJson(value) : human());
}

/** A byte count as `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(n: number): string {
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

/** Epoch milliseconds as `YYYY-MM-DD HH:MM:SS` UTC, or "-" when absent. */
export function formatTime(ms: number | string | null | undefined): string {
  if (ms === null || ms === undefined || ms === '') return '-';
  const n = typeof ms === 'string' ? Number(ms) : ms;
  if (!Number.isFinite(n)) return '-';
  return new Date(n).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** A duration in milliseconds as `1h 2m 3s`, `4.2s` or `15ms`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h ${m}m ${s % 60}s` : `${m}m ${s % 60}s`;
}

/** The flags that name a config file and store, for admin commands that work on this machine's files. */
export interface StoreFlags {
  backendStoreUri?: string;
  config?: string;
}

/** Resolves the config from the store flags, environment and config file, printing its deprecation warnings. */
export async function resolveStoreConfig(flags: StoreFlags, io: OutputStreams = processStreams): Promise<ResolvedConfig> {
  const { resolveConfig } = await import('../config.js');
  const config = resolveConfig({ backendStoreUri: flags.backendStoreUri, config: flags.config });
  for (const warning of config.warnings) printWarning(warning, io);
  return config;
}
