import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../core/errors.js';
import {
  EXIT,
  exitCodeFor,
  formatDuration,
  formatJson,
  formatRecord,
  formatTable,
  formatTime,
  formatVerdict,
  formatVerdictWord,
  printError,
  printList,
  printWarning,
  runAction,
  type OutputStreams,
} from './output.js';
import { PLAIN, terminalWith } from './terminal.js';

const STYLED = terminalWith(true);
// An ANSI escape sequence (what colour is made of).
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[/;
// eslint-disable-next-line no-control-regex
const strip = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');

function capture(styled = false): OutputStreams & { stdout: string; stderr: string } {
  const terminal = terminalWith(styled);
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t), terminals: { out: terminal, err: terminal } };
  return io;
}

describe('cli output', () => {
  it('aligns columns, right-aligns numbers and cuts long cells', () => {
    const rows = [
      { id: '1', name: 'short', n: 5 },
      { id: '22', name: 'x'.repeat(80), n: 12345 },
    ];
    const text = formatTable(
      rows,
      [
        { header: 'ID', value: (r) => r.id },
        { header: 'NAME', value: (r) => r.name, maxWidth: 10 },
        { header: 'N', value: (r) => r.n, alignRight: true },
      ],
      undefined,
      PLAIN,
    );
    expect(text).toBe(['ID  NAME            N', '1   short           5', '22  xxxxxxxxx…  12345', ''].join('\n'));
  });

  it('prints a placeholder for an empty list and "-" for missing values', () => {
    expect(formatTable([], [{ header: 'A', value: () => 1 }], '(no runs)', STYLED)).toBe('(no runs)\n');
    expect(formatTable([], [{ header: 'A', value: () => 1 }], undefined, PLAIN)).toBe('(none)\n');
    expect(formatRecord([['name', 'a'], ['description', null]], PLAIN)).toBe('name:         a\ndescription:  -\n');
    expect(formatTable([{ a: null, b: '' }], [{ header: 'A', value: (r) => r.a }, { header: 'B', value: (r) => r.b }], undefined, PLAIN)).toBe('A  B\n-  -\n');
  });

  it('draws no borders, separates columns by two spaces and ends no line with blanks', () => {
    const text = formatTable(
      [
        { name: 'a', note: 'a long note' },
        { name: 'longer name', note: 'x' },
      ],
      [
        { header: 'NAME', value: (r) => r.name },
        { header: 'NOTE', value: (r) => r.note },
      ],
      undefined,
      PLAIN,
    );
    expect(text).toBe('NAME         NOTE\na            a long note\nlonger name  x\n');
    expect(text).not.toMatch(/[─│┌┐└┘├┤┬┴┼]/);
    expect(text.split('\n').every((line) => line === line.trimEnd())).toBe(true);
  });

  it('keeps a cell on one line, cuts at 60 characters by default and shows control characters escaped', () => {
    const text = formatTable(
      [{ v: 'line one\n  line two' }, { v: 'y'.repeat(100) }, { v: 'red\x1b[31mtext\tend' }, { v: '😀'.repeat(5) }],
      [{ header: 'V', value: (r) => r.v }, { header: 'E', value: (r) => r.v, maxWidth: 3 }],
      undefined,
      PLAIN,
    );
    const lines = text.split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^line one line two +li…$/);
    expect(lines[2]).toBe(`${'y'.repeat(59)}…  yy…`);
    expect(lines[3]).toMatch(/^red\\x1b\[31mtext end +re…$/);
    expect(text).not.toMatch(ESCAPE);
    // An emoji is never cut in half.
    expect(lines[4]).toMatch(/ 😀😀…$/);
  });

  it('styles only a styled terminal: bold header, coloured status words, the same layout', () => {
    const rows = [
      { id: 'r1', status: 'FINISHED', n: 1 },
      { id: 'r2', status: 'FAILED', n: 22 },
      { id: 'r3', status: 'RUNNING', n: 333 },
    ];
    const columns = [
      { header: 'RUN ID', value: (r: (typeof rows)[number]) => r.id },
      { header: 'STATUS', value: (r: (typeof rows)[number]) => r.status },
      { header: 'N', value: (r: (typeof rows)[number]) => r.n, alignRight: true },
    ];
    const plain = formatTable(rows, columns, undefined, PLAIN);
    const styled = formatTable(rows, columns, undefined, STYLED);
    expect(plain).not.toMatch(ESCAPE);
    expect(plain).toBe('RUN ID  STATUS      N\nr1      FINISHED    1\nr2      FAILED     22\nr3      RUNNING   333\n');
    // Same text and alignment once the colour codes are taken out.
    expect(strip(styled)).toBe(plain);
    expect(styled).toContain('\x1b[1mRUN ID\x1b[22m');
    expect(styled).toContain('\x1b[32mFINISHED\x1b[39m');
    expect(styled).toContain('\x1b[31mFAILED\x1b[39m');
    expect(styled).toContain('\x1b[33mRUNNING\x1b[39m');
    // Only status columns are coloured: a name that happens to be a status word stays as it is.
    const names = formatTable([{ name: 'READY' }], [{ header: 'NAME', value: (r) => r.name }], undefined, STYLED);
    expect(names).toBe('\x1b[1mNAME\x1b[22m\nREADY\n');
    expect(formatRecord([['status', 'READY'], ['name', 'READY']], STYLED)).toBe('status:  \x1b[32mREADY\x1b[39m\nname:    READY\n');
  });

  it('marks pass and fail with ✓ and ✗ on a terminal only', () => {
    expect(formatVerdict(true, 'ok: 3 audit events verified', PLAIN)).toBe('ok: 3 audit events verified');
    expect(formatVerdict(true, 'ok: 3 audit events verified', STYLED)).toBe('\x1b[32m✓\x1b[39m ok: 3 audit events verified');
    expect(formatVerdict(false, 'FAILED', STYLED)).toBe('\x1b[31m✗\x1b[39m FAILED');
    expect(formatVerdictWord(false, 'FAIL', PLAIN)).toBe('FAIL');
    expect(strip(formatVerdictWord(true, 'pass', STYLED))).toBe('✓ pass');
    expect(strip(formatVerdictWord(false, 'FAIL', STYLED))).toBe('✗ FAIL');
  });

  it('colours the error and warning labels on a styled stderr only, and never JSON', () => {
    const plain = capture(false);
    printError(new Error('boom'), plain);
    printWarning('input changed', plain);
    expect(plain.stderr).toBe('error: boom\nwarning: input changed\n');
    const styled = capture(true);
    printError(new Error('boom'), styled);
    printWarning('input changed', styled);
    expect(styled.stderr).toBe('\x1b[31merror:\x1b[39m boom\n\x1b[33mwarning:\x1b[39m input changed\n');
    printList([{ status: 'FAILED' }], [{ header: 'STATUS', value: (r) => r.status }], { json: true }, styled);
    expect(styled.stdout).toBe(formatJson([{ status: 'FAILED' }]));
    expect(styled.stdout).not.toMatch(ESCAPE);
    printList([{ status: 'FAILED' }], [{ header: 'STATUS', value: (r) => r.status }], {}, plain);
    expect(plain.stdout).toBe('STATUS\nFAILED\n');
  });

  it('formats times in UTC and durations for people', () => {
    expect(formatTime(0)).toBe('1970-01-01 00:00:00Z');
    expect(formatTime(null)).toBe('-');
    expect(formatDuration(15)).toBe('15ms');
    expect(formatDuration(4200)).toBe('4.2s');
    expect(formatDuration(3_723_000)).toBe('1h 2m 3s');
  });

  it('maps bad input to exit 2 and everything else to exit 1', () => {
    expect(exitCodeFor(new SlipwayError('INVALID_ARGUMENT', 'x'))).toBe(EXIT.USAGE);
    expect(exitCodeFor(new SlipwayError('NOT_FOUND', 'x'))).toBe(EXIT.FAILED);
    expect(exitCodeFor(new Error('boom'))).toBe(EXIT.FAILED);
  });

  it('runAction prints "error: <message>" without a stack and sets the exit code', async () => {
    const io = capture();
    const before = process.exitCode;
    try {
      await runAction(async () => {
        throw new SlipwayError('NOT_FOUND', "Run 'abc' does not exist.");
      }, io)();
      expect(io.stderr).toBe("error: Run 'abc' does not exist.\n");
      expect(process.exitCode).toBe(1);
      await runAction(async () => 0, io)();
      expect(process.exitCode).toBe(0);
    } finally {
      process.exitCode = before;
    }
  });
});
