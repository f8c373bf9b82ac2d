/**
 * `slipway data status` on a large unchanged folder: the whole CLI process, timed.
 *
 *   npm run build && node bench/data-status.mjs     # DATA_STATUS_FILES=100000 by default
 *
 * Writes DATA_STATUS_FILES small files in 1,000 sub-folders, backdates them a minute (as data that
 * was not just written), runs `slipway data add` once (not timed), then times `slipway data
 * status` with hyperfine when it is installed (else the best of DATA_STATUS_ROUNDS runs). As the
 * same-run baselines it times `slipway --help` (the CLI's own start) and `git status` on the same
 * files committed to git. Target: under 1 s.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const FILES = Number(process.env.DATA_STATUS_FILES ?? 100_000);
const ROUNDS = Number(process.env.DATA_STATUS_ROUNDS ?? 5);
const base = mkdtempSync(join(tmpdir(), 'slipway-bench-status-'));

function hasHyperfine() {
  try {
    execFileSync('hyperfine', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Mean seconds of a command line run in `cwd`. */
function measure(command, cwd) {
  if (hasHyperfine()) {
    const out = join(base, 'hyperfine.json');
    execFileSync('hyperfine', ['--warmup', '1', '--runs', String(ROUNDS), '--export-json', out, '-N', command], { cwd, stdio: 'ignore' });
    const result = JSON.parse(execFileSync('cat', [out]).toString()).results[0];
    return { mean: result.mean, min: result.min };
  }
  const [cmd, ...args] = command.split(' ');
  let min = Infinity;
  let sum = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    execFileSync(cmd, args, { cwd, stdio: 'ignore' });
    const s = (performance.now() - t) / 1000;
    min = Math.min(min, s);
    sum += s;
  }
  return { mean: sum / ROUNDS, min };
}

try {
  const ws = join(base, 'ws');
  const past = new Date(Date.now() - 60_000);
  for (let i = 0; i < FILES; i++) {
    const sub = join(ws, 'data', String(i % 1000).padStart(3, '0'));
    if (i < 1000) mkdirSync(sub, { recursive: true });
    const f = join(sub, `f${i}.txt`);
    writeFileSync(f, `row ${i}\n`);
    utimesSync(f, past, past);
  }
  execFileSync('git', ['init', '-q'], { cwd: ws });
  execFileSync(process.execPath, [CLI, 'data', 'add', 'data'], { cwd: ws, stdio: 'ignore' });
  // The same files committed to git, for git status as a baseline.
  const gitRepo = join(base, 'git');
  mkdirSync(gitRepo);
  execFileSync('cp', ['-r', join(ws, 'data'), gitRepo]);
  execFileSync('git', ['init', '-q'], { cwd: gitRepo });
  execFileSync('git', ['add', 'data'], { cwd: gitRepo });
  execFileSync('git', ['-c', 'user.email=b@example.com', '-c', 'user.name=B', 'commit', '-q', '-m', 'data'], { cwd: gitRepo });
  const status = measure(`${process.execPath} ${CLI} data status`, ws);
  const help = measure(`${process.execPath} ${CLI} --help`, ws);
  const gitStatus = measure('git status --porcelain', gitRepo);
  console.log(`cores: ${availableParallelism()}; ${FILES} unchanged files in one tracked folder; ${hasHyperfine() ? 'hyperfine' : 'timed'} mean (min) of ${ROUNDS} runs`);
  console.log('| measure | seconds |');
  console.log('|---|---|');
  console.log(`| slipway data status (whole process) | ${status.mean.toFixed(3)} (${status.min.toFixed(3)}) |`);
  console.log(`| slipway --help (CLI start, same run) | ${help.mean.toFixed(3)} (${help.min.toFixed(3)}) |`);
  console.log(`| git status --porcelain, same files (same run) | ${gitStatus.mean.toFixed(3)} (${gitStatus.min.toFixed(3)}) |`);
} finally {
  rmSync(base, { recursive: true, force: true, maxRetries: 5 });
}
