/**
 * Colour and symbols only where a person reads the output: on a terminal, or
 * when FORCE_COLOR asks for them; never when piped, never in JSON, never with
 * NO_COLOR. The CLI runs as a child process, as a user or a CI job runs it.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { colorDecision } from '../../src/cli/terminal.js';
import { CLI_PATH, runCli } from '../support/cli.js';

const FIXTURES = join(import.meta.dirname, '../fixtures');
const REPORT = ['monitor', 'report', '--reference', join(FIXTURES, 'breast_cancer_holdout.csv'), '--current', join(FIXTURES, 'breast_cancer_drifted.csv')];
const MISSING = ['monitor', 'report', '--reference', join(FIXTURES, 'no-such-file.csv'), '--current', join(FIXTURES, 'no-such-file.csv')];

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[/;
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-9;]*m/g;
const unstyled = (text: string) => text.replace(ESCAPES, '');
// Escape codes, and the ✓/✗ that start verdict lines on a terminal only.
const strip = (text: string) => unstyled(text).replace(/^[✓✗] /gm, '');

describe('the colour decision', () => {
  it('follows the terminal, and FORCE_COLOR beats it, and NO_COLOR beats everything', () => {
    expect(colorDecision(true, {})).toBe(true);
    expect(colorDecision(false, {})).toBe(false);
    expect(colorDecision(true, { TERM: 'dumb' })).toBe(false);
    expect(colorDecision(false, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorDecision(false, { FORCE_COLOR: '' })).toBe(true);
    expect(colorDecision(false, { FORCE_COLOR: '3', TERM: 'dumb' })).toBe(true);
    expect(colorDecision(true, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorDecision(true, { FORCE_COLOR: 'false' })).toBe(false);
    expect(colorDecision(true, { NO_COLOR: '1' })).toBe(false);
    expect(colorDecision(false, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false);
    // no-color.org: only a non-empty NO_COLOR counts.
    expect(colorDecision(true, { NO_COLOR: '' })).toBe(true);
  });
});

describe('the CLI writing to a pipe', () => {
  it('prints tables and errors without escape codes', async () => {
    const [report, usage, failure] = await Promise.all([runCli(REPORT), runCli(['completion', 'sh']), runCli(MISSING)]);
    expect(report.stdout).toMatch(/^COLUMN +KIND +TEST +SCORE +THRESHOLD +STATUS +NOTE\n/);
    expect(report.stdout).toMatch(/\nmean_radius +numerical +ks +\S+ +0\.05 +drift +-\n/);
    expect(report.stdout + report.stderr).not.toMatch(ESCAPE);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toBe("error: command-argument value 'sh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.\n");
    expect(failure.code).toBe(2);
    expect(failure.stderr).toMatch(/^error: \S.*no-such-file\.csv/);
    expect(failure.stderr).not.toMatch(ESCAPE);
  });

  it('stays plain with NO_COLOR even when FORCE_COLOR is set, with FORCE_COLOR=0 and with TERM=dumb', async () => {
    const plain = await runCli(REPORT);
    const runs = await Promise.all([
      runCli(REPORT, { NO_COLOR: '1', FORCE_COLOR: '1' }),
      runCli(REPORT, { FORCE_COLOR: '0' }),
      runCli(REPORT, { TERM: 'dumb' }),
      runCli(['completion', 'sh'], { NO_COLOR: '1', FORCE_COLOR: '1' }),
    ]);
    for (const run of runs) expect(run.stdout + run.stderr).not.toMatch(ESCAPE);
    expect(runs[0]?.stdout).toBe(plain.stdout);
  });
});

describe('the CLI with FORCE_COLOR=1', () => {
  it('colours the table header, status words and the error label, in the same layout', async () => {
    const [plain, styled, usage, failure] = await Promise.all([
      runCli(REPORT),
      runCli(REPORT, { FORCE_COLOR: '1' }),
      runCli(['completion', 'sh'], { FORCE_COLOR: '1' }),
      runCli(MISSING, { FORCE_COLOR: '1' }),
    ]);
    expect(styled.code).toBe(plain.code);
    expect(styled.stdout.startsWith('\x1b[1mCOLUMN\x1b[22m')).toBe(true);
    expect(styled.stdout).toContain('\x1b[31mdrift\x1b[39m');
    expect(styled.stdout).toContain('\x1b[32mok\x1b[39m');
    expect(unstyled(styled.stdout)).toContain('✗ quality: fail');
    expect(strip(styled.stdout)).toBe(plain.stdout);
    expect(usage.stderr).toBe("\x1b[31merror:\x1b[39m command-argument value 'sh' is invalid for argument 'shell'. Allowed choices are bash, zsh, fish.\n");
    expect(failure.stderr.startsWith('\x1b[31merror:\x1b[39m ')).toBe(true);
    expect(strip(failure.stderr)).toMatch(/^error: \S.*no-such-file\.csv/);
  });

  it('never colours JSON or a completion script', async () => {
    const [json, script] = await Promise.all([runCli([...REPORT, '--json'], { FORCE_COLOR: '1' }), runCli(['completion', 'bash'], { FORCE_COLOR: '1' })]);
    expect(json.stdout).not.toMatch(ESCAPE);
    expect(JSON.parse(json.stdout)).toMatchObject({ drift: { drifted: expect.any(Boolean) } });
    expect(script.code).toBe(0);
    expect(script.stdout).toContain('complete -o default -F _slipway slipway');
    expect(script.stdout).not.toMatch(ESCAPE);
  });
});

/** Runs the CLI on a pseudo-terminal (util-linux or BSD `script`), with `env` as its whole environment; resolves with what the terminal showed. */
function runOnTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI_PATH, ...args].map(quote).join(' ');
  const scriptArgs = process.platform === 'darwin' ? ['-q', '/dev/null', 'sh', '-c', command] : ['-q', '-e', '-c', command, '/dev/null'];
  return new Promise((resolve, reject) => {
    const child = execFile('script', scriptArgs, { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 20_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve(stdout.replace(/\r\n/g, '\n'));
    });
    child.stdin?.end();
  });
}

describe('the CLI on a real terminal', () => {
  it('is coloured without being asked, and plain with NO_COLOR or TERM=dumb', async () => {
    const [tty, noColor, dumb] = await Promise.all([
      runOnTerminal(REPORT, { TERM: 'xterm-256color' }),
      runOnTerminal(REPORT, { TERM: 'xterm-256color', NO_COLOR: '1' }),
      runOnTerminal(REPORT, { TERM: 'dumb' }),
    ]);
    expect(tty.startsWith('\x1b[1mCOLUMN\x1b[22m')).toBe(true);
    expect(tty).toContain('\x1b[31mdrift\x1b[39m');
    expect(noColor).toMatch(/^COLUMN +KIND/);
    expect(noColor).not.toMatch(ESCAPE);
    expect(dumb).not.toMatch(ESCAPE);
    expect(strip(tty)).toBe(noColor);
  });
});
