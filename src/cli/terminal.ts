/**
 * Whether a stream shows colour and symbols (✓, ✗), decided once per stream.
 *
 * In order, the first rule that applies wins:
 * 1. `NO_COLOR` set to any non-empty value: plain (https://no-color.org).
 * 2. `FORCE_COLOR` set: plain when it is `0` or `false`, styled otherwise (also
 *    when empty, as in Node.js itself), whether or not the stream is a terminal.
 * 3. `TERM=dumb`: plain.
 * 4. Styled when the stream is a terminal (TTY), plain when it is a pipe or a file.
 *
 * So `NO_COLOR` beats everything, and `FORCE_COLOR` beats terminal detection.
 * JSON output never goes through a style, whatever the stream.
 */
import picocolors from 'picocolors';

/** picocolors' formatters. */
export type Colors = ReturnType<typeof picocolors.createColors>;

/** What a stream can show: colours (no-ops when plain) and the pass/fail symbols. */
export interface Terminal {
  /** True when colours and symbols are on for this stream. */
  readonly styled: boolean;
  /** picocolors formatters; each returns its input unchanged when the stream is plain. */
  readonly color: Colors;
}

/** The environment variables the decision reads. */
export type ColorEnv = Readonly<Record<string, string | undefined>>;

/**
 * Decides whether a stream is styled. Hand-written rather than picocolors' own
 * detection, which looks only at stdout, counts an empty NO_COLOR as set and
 * turns colour on in every CI log.
 */
export function colorDecision(isTTY: boolean, env: ColorEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !(force === '0' || force.toLowerCase() === 'false');
  if (env.TERM === 'dumb') return false;
  return isTTY;
}

/** A terminal that is styled or not, regardless of the environment (for tests and embedders). */
export function terminalWith(styled: boolean): Terminal {
  return { styled, color: picocolors.createColors(styled) };
}

/** Never styled: what a pipe, a file and `--json` get. */
export const PLAIN: Terminal = terminalWith(false);

const decided = new Map<'stdout' | 'stderr', Terminal>();

/** What the process's stdout or stderr can show, decided on first use and kept. */
export function terminalFor(stream: 'stdout' | 'stderr'): Terminal {
  let terminal = decided.get(stream);
  if (!terminal) {
    terminal = terminalWith(colorDecision(Boolean(process[stream].isTTY)));
    decided.set(stream, terminal);
  }
  return terminal;
}

/** The pass and fail symbols. */
export const SYMBOLS = { pass: '✓', fail: '✗' } as const;

const GOOD = new Set(['FINISHED', 'READY', 'PASSED', 'pass', 'ok', 'held', 'resolved']);
const BAD = new Set(['FAILED', 'FAILED_REGISTRATION', 'KILLED', 'FAIL', 'fail', 'error', 'firing', 'drift', 'broke', 'DETECTED']);
const PENDING = new Set(['RUNNING', 'SCHEDULED', 'PENDING_REGISTRATION', 'warn']);
const QUIET = new Set(['skipped']);

/** A status word in its colour (FINISHED green, FAILED red, RUNNING yellow, …); other text unchanged. */
export function paintStatus(word: string, terminal: Terminal): string {
  if (!terminal.styled) return word;
  const c = terminal.color;
  if (GOOD.has(word)) return c.green(word);
  if (BAD.has(word)) return c.red(word);
  if (PENDING.has(word)) return c.yellow(word);
  if (QUIET.has(word)) return c.dim(word);
  return word;
}

/**
 * `text` led by a green ✓ or a red ✗ on a styled stream; `text` unchanged on a
 * plain one, so scripts that read the words keep working.
 */
export function paintVerdict(ok: boolean, text: string, terminal: Terminal): string {
  if (!terminal.styled) return text;
  return `${ok ? terminal.color.green(SYMBOLS.pass) : terminal.color.red(SYMBOLS.fail)} ${text}`;
}
