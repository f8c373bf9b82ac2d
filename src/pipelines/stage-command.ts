/** Runs a stage's command with the shell, passing its output on line by line and keeping the last lines. */
import { spawn } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import type { Stage } from './pipeline-types.js';

/** How a command ended. */
export interface CommandOutcome {
  /** The exit code; 128 + the signal number when a signal ended it; -1 when it could not start. */
  exitCode: number;
  /** The last lines it printed (stdout and stderr together). */
  tail: string;
  /** Why it could not start, when it could not. */
  error?: string;
}

const TAIL_LINES = 10;
/** Signals that stop slipway and that a running command is sent too. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

/** Process groups of the commands running now; one handler per signal serves them all (any --jobs). */
const groups = new Set<number>();

function forward(signal: NodeJS.Signals): void {
  for (const pid of groups) {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group has already gone.
    }
  }
}

function watch(pid: number): void {
  if (groups.size === 0) for (const signal of STOP_SIGNALS) process.on(signal, forward);
  groups.add(pid);
}

function unwatch(pid: number): void {
  groups.delete(pid);
  if (groups.size === 0) for (const signal of STOP_SIGNALS) process.off(signal, forward);
}

/** Keeps whole lines for the caller and the last few for the failure message. */
class LineSplitter {
  private partial = '';
  readonly last: string[] = [];

  constructor(private readonly emit: (line: string) => void) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.line(line);
  }

  end(): void {
    if (this.partial !== '') this.line(this.partial);
    this.partial = '';
  }

  private line(line: string): void {
    this.emit(line);
    this.last.push(line);
    if (this.last.length > TAIL_LINES) this.last.shift();
  }
}

/**
 * Runs `stage.cmd` with `/bin/sh -c` from `<root>/<wdir>`, with the stage's env added to this
 * process's. `onLine` gets each line the command prints.
 */
export function runStageCommand(root: string, stage: Stage, extraEnv: Record<string, string>, onLine: (line: string) => void): Promise<CommandOutcome> {
  const cwd = join(root, stage.wdir);
  if (!existsSync(cwd)) return Promise.resolve({ exitCode: -1, tail: '', error: `its wdir '${stage.wdir}' does not exist` });
  // A wdir that is a link out of the workspace would run the command elsewhere.
  const realRoot = realpathSync(root);
  const realCwd = realpathSync(cwd);
  if (realCwd !== realRoot && !realCwd.startsWith(`${realRoot}${sep}`)) return Promise.resolve({ exitCode: -1, tail: '', error: `its wdir '${stage.wdir}' leads outside the workspace (to ${realCwd})` });
  return new Promise((resolve) => {
    const lines = new LineSplitter(onLine);
    // The command gets its own process group, and a stop signal sent to slipway (Ctrl-C, kill, a CI timeout) is passed
    // to the whole group: without it the shell's children ran on, orphaned, writing outs after slipway had gone and
    // after its stage lock had gone stale. The command then ends like a failed stage, so locks are released as usual.
    const child = spawn('/bin/sh', ['-c', stage.cmd], { cwd, env: { ...process.env, ...stage.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) watch(child.pid);
    child.stdout.setEncoding('utf8').on('data', (c: string) => lines.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => lines.push(c));
    let error: string | undefined;
    child.on('error', (err) => {
      error = err.message;
    });
    child.on('close', (code, signal) => {
      if (child.pid !== undefined) unwatch(child.pid);
      lines.end();
      const exitCode = code ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : -1);
      resolve({ exitCode, tail: lines.last.join('\n'), ...(error !== undefined ? { error } : {}) });
    });
  });
}
