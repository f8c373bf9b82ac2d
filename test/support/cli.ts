/**
 * Runs the built `slipway` command (dist/cli/main.js) in a child process, the way
 * a user or a CI job does. `npm test` builds dist before the suite runs.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { fileURLToPath } from 'node:url';

/** The built CLI entry point. */
export const CLI_PATH = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `slipway ...args` with `env` added to a clean environment; never throws on a non-zero exit. */
export function runCli(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first.`);
  const base: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_PATH, ...args], { env: { ...base, ...env }, cwd, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A fresh SLIPWAY_HOME folder for the enclosing describe block, removed after its tests. */
export function tempHome(prefix: string): string {
  const home = mkdtempSync(join(tmpdir(), `${prefix}-`));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  return home;
}

/** The line a command on the embedded store prints on stderr first, naming the store it used. */
export function storeNote(env: { SLIPWAY_HOME: string }): string {
  return `using the embedded store ${join(env.SLIPWAY_HOME, 'slipway.db')}\n`;
}
