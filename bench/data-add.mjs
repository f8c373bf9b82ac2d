/**
 * `slipway data add` of a folder against `git annex add` of the same files.
 *
 *   npm run build && node bench/data-add.mjs     # DATA_ADD_FILES=10000 DATA_ADD_MB=1024 by default
 *
 * Writes DATA_ADD_FILES files of random bytes (DATA_ADD_MB MiB in all) into one folder, copies it
 * into two fresh git repositories, then times each whole command as a process, in the same run:
 * `slipway data add data` (hash, copy into .slipway/cache, pointer file) in one, `git annex add
 * data` (after `git annex init`, not timed) in the other. Both start with the files in the page
 * cache. Prints the machine's core count, both times and the ratio.
 */
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist/cli/main.js');
const FILES = Number(process.env.DATA_ADD_FILES ?? 10_000);
const MB = Number(process.env.DATA_ADD_MB ?? 1024);
const base = mkdtempSync(join(tmpdir(), 'slipway-bench-add-'));

const time = (cmd, args, cwd) => {
  const t = performance.now();
  execFileSync(cmd, args, { cwd, stdio: 'ignore' });
  return (performance.now() - t) / 1000;
};
const repo = (name) => {
  const dir = join(base, name);
  mkdirSync(dir);
  execFileSync('git', ['init', '-q'], { cwd: dir });
  execFileSync('git', ['config', 'user.email', 'bench@example.com'], { cwd: dir });
  execFileSync('git', ['config', 'user.name', 'Bench'], { cwd: dir });
  return dir;
};

try {
  const source = join(base, 'source');
  const size = Math.floor((MB * 1024 * 1024) / FILES);
  const buf = Buffer.alloc(size);
  for (let i = 0; i < FILES; i++) {
    const sub = join(source, String(i % 100).padStart(2, '0'));
    if (i < 100) mkdirSync(sub, { recursive: true });
    randomFillSync(buf);
    writeFileSync(join(sub, `f${i}.bin`), buf);
  }
  const slip = repo('slipway');
  const annex = repo('annex');
  cpSync(source, join(slip, 'data'), { recursive: true });
  cpSync(source, join(annex, 'data'), { recursive: true });
  execFileSync('git', ['annex', 'init', '-q', 'bench'], { cwd: annex, stdio: 'ignore' });
  execFileSync('sync');
  const slipway = time(process.execPath, [CLI, 'data', 'add', 'data'], slip);
  execFileSync('sync');
  const gitAnnex = time('git', ['annex', 'add', '--quiet', 'data'], annex);
  console.log(`cores: ${availableParallelism()}; ${FILES} files, ${MB} MiB in all (${size} B each)`);
  console.log('| measure | seconds |');
  console.log('|---|---|');
  console.log(`| slipway data add | ${slipway.toFixed(2)} |`);
  console.log(`| git annex add (same files, same run) | ${gitAnnex.toFixed(2)} |`);
  console.log(`| speed-up | ${(gitAnnex / slipway).toFixed(1)}x |`);
} finally {
  rmSync(base, { recursive: true, force: true, maxRetries: 5 });
}
