import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('slipway root usage mistakes', () => {
  it('exits 2 with the problem named for an unknown command or root option, 0 for --help', async () => {
    const [unknown, option, help] = await Promise.all([runCli(['bogus']), runCli(['--bogus']), runCli(['--help'])]);
    expect([unknown.code, option.code, help.code]).toEqual([2, 2, 0]);
    expect(unknown.stderr).toContain("unknown command 'bogus'");
    expect(option.stderr).toContain("unknown option '--bogus'");
    expect(unknown.stderr).not.toMatch(/\n\s+at /);
  });
});
