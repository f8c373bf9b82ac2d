import { describe, expect, it } from 'vitest';
import { SlipwayError } from '../core/errors.js';
import { EXIT, exitCodeFor, formatDuration, formatRecord, formatTable, formatTime, runAction, type OutputStreams } from './output.js';

function capture(): OutputStreams & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

describe('cli output', () => {
  it('aligns columns, right-aligns numbers and cuts long cells', () => {
    const rows = [
      { id: '1', name: 'short', n: 5 },
      { id: '22', name: 'x'.repeat(80), n: 12345 },
    ];
    const text = formatTable(rows, [
      { header: 'ID', value: (r) => r.id },
      { header: 'NAME', value: (r) => r.name, maxWidth: 10 },
      { header: 'N', value: (r) => r.n, alignRight: true },
    ]);
    expect(text).toBe(['ID  NAME            N', '1   short           5', '22  xxxxxxxxx…  12345', ''].join('\n'));
  });

  it('prints a placeholder for an empty list and "-" for missing values', () => {
    expect(formatTable([], [{ header: 'A', value: () => 1 }], '(no runs)')).toBe('(no runs)\n');
    expect(formatRecord([['name', 'a'], ['description', null]])).toBe('name:         a\ndescription:  -\n');
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
