/** The `command` gate: a shell command whose exit status decides (behaviour tests, smoke checks…). */
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { GateSpec } from '../../client/schemas/releases.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import type { GateContext, GateOutcome } from './gate.js';
import { gateError } from './gate-support.js';

type CommandSpec = Extract<GateSpec, { kind: 'command' }>;

/** How much of each output stream the figures keep: its last bytes. */
const TAIL_BYTES = 4096;
/** After SIGTERM, how long the command's process group has to exit before SIGKILL. */
const KILL_GRACE_MS = 2000;

/** Keeps the last `TAIL_BYTES` of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= TAIL_BYTES) this.size -= (this.chunks.shift() as Buffer).length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('utf8');
  }
}

/** Runs `spec.run` with /bin/sh -c in its own process group; exit 0 passes. */
export async function runCommandGate(spec: CommandSpec, ctx: GateContext): Promise<GateOutcome> {
  const timeoutMs = parseDuration(spec.timeout ?? '10m', { name: 'the command gate timeout' });
  const cwd = spec.cwd ?? process.cwd();
  const dir = await stat(cwd).catch(() => undefined);
  if (!dir?.isDirectory()) return gateError(`The command gate's cwd '${cwd}' is not an existing folder.`, { cwd });
  const { release } = ctx;
  const env = {
    ...process.env,
    SLIPWAY_RELEASE_ID: release.id,
    SLIPWAY_MODEL: release.model,
    SLIPWAY_VERSION: release.version,
    SLIPWAY_ENVIRONMENT: release.environment,
    SLIPWAY_CHAMPION_VERSION: release.championVersion ?? '',
  };
  ctx.progress(`command: running ${spec.run.length > 80 ? `${spec.run.slice(0, 77)}…` : spec.run}`);
  const started = ctx.clock.now();
  const out = new Tail();
  const err = new Tail();
  // A group of its own, so a timeout or an abort also ends what the shell started.
  const child = spawn('/bin/sh', ['-c', spec.run], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  let stopped: 'timeout' | 'abort' | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // The group has already gone.
    }
  };
  const stop = (why: 'timeout' | 'abort') => {
    if (stopped) return;
    stopped = why;
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
    killTimer.unref();
  };
  const timer = setTimeout(() => stop('timeout'), timeoutMs);
  const onAbort = () => stop('abort');
  if (ctx.signal.aborted) onAbort();
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  if (killTimer) clearTimeout(killTimer);
  ctx.signal.removeEventListener('abort', onAbort);
  if (stopped) killGroup('SIGKILL');
  const durationMs = ctx.clock.now() - started;
  const figures = { command: spec.run, cwd, exitCode: exit.code, signal: exit.signal, durationMs, timeoutMs, stdoutTail: out.text(), stderrTail: err.text() };
  if (exit.spawnError) return gateError(`The command could not start: ${exit.spawnError.message}.`, figures);
  if (stopped === 'timeout') return { verdict: 'fail', reason: `Command timed out after ${formatDuration(timeoutMs)} (bound: timeout ${formatDuration(timeoutMs)}).`, figures };
  if (stopped === 'abort') return gateError('Command stopped: the release was aborted.', figures);
  if (exit.code === 0) return { verdict: 'pass', reason: `Command exited with status 0 (bound: 0) in ${formatDuration(Math.max(1, Math.round(durationMs)))}.`, figures };
  const how = exit.code === null ? `was killed by ${exit.signal ?? 'a signal'}` : `exited with status ${exit.code}`;
  return { verdict: 'fail', reason: `Command ${how} (bound: exit status 0).`, figures };
}
