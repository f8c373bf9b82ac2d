/** A reader that stops early (`| head -1`) ends the command quietly: no stack trace, no error exit of its own. */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI_PATH, tempHome } from '../support/cli.js';

function pipeline(command: string, env: Record<string, string>): Promise<{ stdout: string; stderr: string; codes: string }> {
  return new Promise((done) => {
    // pipefail-like: PIPESTATUS holds the exit code of each side.
    execFile('bash', ['-c', `${command}; echo "codes:\${PIPESTATUS[*]}" >&2`], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 20_000 }, (_err, stdout, stderr) => {
      const codes = /codes:(.*)\n$/.exec(stderr)?.[1] ?? '';
      done({ stdout, stderr: stderr.replace(/codes:.*\n$/, ''), codes });
    });
  });
}

describe('writing into a closed pipe (built CLI)', () => {
  const home = tempHome('slipway-closed-pipe');

  it('stops quietly with exit 0 when the reader of a long output goes away', async () => {
    const r = await pipeline(`node ${CLI_PATH} completion fish | head -1`, { SLIPWAY_HOME: home });
    expect(r.stdout).toMatch(/^# fish completion for slipway/);
    expect(r.stderr).toBe('');
    expect(r.codes).toBe('0 0');
  });

  it('keeps the command’s own exit code: a failed drift report still exits 1, without a stack trace', async () => {
    const fixtures = new URL('../fixtures/', import.meta.url).pathname;
    const r = await pipeline(`node ${CLI_PATH} monitor report --reference ${fixtures}breast_cancer_holdout.csv --current ${fixtures}breast_cancer_drifted.csv --json | head -c 1`, { SLIPWAY_HOME: home });
    expect(r.stdout).toBe('{');
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js/);
    expect(r.codes).toBe('1 0');
  });
});
