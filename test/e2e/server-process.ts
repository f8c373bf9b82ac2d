/**
 * Runs the built `slipway server` as a real child process on 127.0.0.1 with a
 * temporary SLIPWAY_HOME, for end-to-end tests. Requires `npm run build` first
 * (the test command builds before it runs the suite).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built CLI entry point. */
export const CLI = resolve(import.meta.dirname, '../../dist/cli/main.js');

/** A running server process. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  home: string;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
}

/** A fresh temporary SLIPWAY_HOME; remove it with `rmSync(home, { recursive: true, force: true })`. */
export function freshHome(): string {
  return mkdtempSync(join(tmpdir(), 'slipway-e2e-'));
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireBuild();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`slipway ${args.join(' ')} did not finish within ${timeoutMs} ms.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function requireBuild(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the end-to-end tests.`);
}

// The child must not inherit configuration from the shell running the tests.
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLIPWAY_')));
}

/** Starts `slipway server --port 0` in `home` (one process unless `--workers` or SLIPWAY_SERVER_WORKERS in `env` say more) and waits for its ready line. */
export function startServerProcess(home: string, extraArgs: string[] = [], timeoutMs = 15_000, env: Record<string, string> = {}): Promise<ServerProcess> {
  requireBuild();
  const child = spawn(process.execPath, [CLI, 'server', '--port', '0', '--host', '127.0.0.1', ...extraArgs], {
    cwd: home,
    env: { ...cleanEnv(), SLIPWAY_HOME: join(home, 'home'), SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_SERVER_WORKERS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | string>((done) => child.on('exit', (code, signal) => done(code ?? signal ?? 'unknown')));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`server not ready within ${timeoutMs} ms.\nstdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        done({ child, url: m[1], home, stdout: () => out, stderr: () => err, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`server exited (${code}) before it was ready.\nstdout: ${out}\nstderr: ${err}`));
    });
  });
}

/** Removes a temporary home. */
export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}
