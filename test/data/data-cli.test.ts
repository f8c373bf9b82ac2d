/**
 * `slipway data …` end to end: the built CLI in a child process, in a real git repository in a
 * temp folder — add, status, checkout after `git checkout`, diff between revisions, gc with --rev,
 * and the refusals of paths that leave the workspace.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function gitRepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'slipway-data-cli-'));
  roots.push(root);
  const git = (...args: string[]) => execFileSync('git', args, { cwd: root, stdio: 'pipe' });
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 'test@example.com');
  git('config', 'user.name', 'Test');
  writeFileSync(join(root, 'slipway.yaml'), 'data:\n  jobs: 2\n');
  return root;
}

function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: root, stdio: 'pipe' }).toString('utf8');
}

/** Files written a minute ago, as data usually is: the state cache trusts them right away. */
function writeOld(path: string, text: string): void {
  writeFileSync(path, text);
  const past = new Date(Date.now() - 60_000);
  utimesSync(path, past, past);
}

const data = (root: string, ...args: string[]) => runCli(['data', ...args], {}, root);

describe('slipway data in a git repository', () => {
  let root: string;

  beforeAll(() => {
    root = gitRepo();
    mkdirSync(join(root, 'data/images/sub'), { recursive: true });
    writeOld(join(root, 'data/train.csv'), 'a,b\n1,2\n');
    for (let i = 0; i < 5; i++) writeOld(join(root, `data/images/${i}.txt`), `image ${i}\n`);
    writeOld(join(root, 'data/images/sub/run.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(root, 'data/images/sub/run.sh'), 0o755);
  });

  it('adds a file and a folder: pointer files, .gitignore entries, and what to git add', async () => {
    const r = await data(root, 'add', 'data/train.csv', 'data/images');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Added data/train.csv');
    expect(r.stdout).toContain('Added data/images (6 files');
    expect(r.stdout).toContain('git add data/.gitignore data/images.slipway data/train.csv.slipway');
    const pointer = readFileSync(join(root, 'data/train.csv.slipway'), 'utf8');
    expect(pointer).toMatch(/^# Slipway data pointer/);
    expect(pointer).toContain('path: train.csv');
    expect(pointer).toContain('kind: file');
    expect(readFileSync(join(root, 'data/images.slipway'), 'utf8')).toContain('files: 6');
    expect(readFileSync(join(root, 'data/.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['/train.csv', '/images']));
    expect(readFileSync(join(root, '.slipway/.gitignore'), 'utf8')).toContain('/cache/');
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'v1');
    // The data itself stays out of git; the pointers are in.
    expect(git(root, 'ls-files')).not.toContain('data/train.csv\n');
    expect(git(root, 'ls-files')).toContain('data/train.csv.slipway');
  });

  it('status is clean without reading unchanged files again (the state cache answers)', async () => {
    const r = await data(root, 'status', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { clean: boolean; hashed: number; fromState: number };
    expect(out).toMatchObject({ clean: true, hashed: 0, fromState: 7 });
    const human = await data(root, 'status');
    expect(human.stdout).toContain('up to date');
  });

  it('status lists files added, modified and deleted in a folder, and exits 1', async () => {
    writeOld(join(root, 'data/images/0.txt'), 'changed\n');
    writeOld(join(root, 'data/images/new.txt'), 'new\n');
    rmSync(join(root, 'data/images/1.txt'));
    const r = await data(root, 'status', '--json');
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout) as { pointers: Array<{ path: string; state: string; added: string[]; modified: string[]; deleted: string[] }> };
    const images = out.pointers.find((p) => p.path === 'data/images');
    expect(images).toMatchObject({ state: 'modified', added: ['new.txt'], modified: ['0.txt'], deleted: ['1.txt'] });
    expect(out.pointers.find((p) => p.path === 'data/train.csv')?.state).toBe('unchanged');
    const human = await data(root, 'status');
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('modified:');
    expect(human.stdout).toContain('deleted:  1.txt');
  });

  it('diff shows what changed between two commits, file by file', async () => {
    const add = await data(root, 'add', 'data/images');
    expect(add.code).toBe(0);
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'v2');
    const r = await data(root, 'diff', 'HEAD~1', 'HEAD', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { entries: Array<{ path: string; change: string; files?: { added: string[]; deleted: string[]; modified: string[] } }> };
    expect(out.entries).toEqual([expect.objectContaining({ path: 'data/images', change: 'modified', files: { added: ['new.txt'], deleted: ['1.txt'], modified: ['0.txt'] } })]);
    const none = await data(root, 'diff', 'HEAD');
    expect(none.stdout).toContain('No data changes');
    const bad = await data(root, 'diff', 'no-such-rev');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'no-such-rev' is not a revision");
  });

  it('checkout after git checkout of the older pointer restores the older version, exec bits included', async () => {
    git(root, 'checkout', '-q', 'HEAD~1', '--', 'data/images.slipway');
    const r = await data(root, 'checkout');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('restored data/images');
    expect(readFileSync(join(root, 'data/images/0.txt'), 'utf8')).toBe('image 0\n');
    expect(readFileSync(join(root, 'data/images/1.txt'), 'utf8')).toBe('image 1\n');
    expect(existsSync(join(root, 'data/images/new.txt'))).toBe(false);
    expect(statSync(join(root, 'data/images/sub/run.sh')).mode & 0o111).not.toBe(0);
    const status = await data(root, 'status');
    expect(status.code).toBe(0);
    git(root, 'checkout', '-q', 'HEAD', '--', 'data/images.slipway');
    expect((await data(root, 'checkout', 'data/images')).code).toBe(0);
    expect(readFileSync(join(root, 'data/images/new.txt'), 'utf8')).toBe('new\n');
  });

  it('checkout refuses to overwrite a change that is not in the cache unless --force', async () => {
    writeOld(join(root, 'data/train.csv'), 'edited but never added\n');
    const refused = await data(root, 'checkout', 'data/train.csv');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not in the cache');
    expect(readFileSync(join(root, 'data/train.csv'), 'utf8')).toBe('edited but never added\n');
    const forced = await data(root, 'checkout', 'data/train.csv', '--force');
    expect(forced.code).toBe(0);
    expect(readFileSync(join(root, 'data/train.csv'), 'utf8')).toBe('a,b\n1,2\n');
  });

  it('gc keeps what the named revisions need and removes the rest', async () => {
    const usage = await data(root, 'gc');
    expect(usage.code).toBe(2);
    const keepBoth = await data(root, 'gc', '--workspace', '--rev', 'HEAD~1', '--json');
    expect(keepBoth.code).toBe(0);
    expect(JSON.parse(keepBoth.stdout)).toMatchObject({ removed: 0 });
    const dry = await data(root, 'gc', '--workspace', '--dry-run', '--json');
    const planned = JSON.parse(dry.stdout) as { removed: number };
    // v1's manifest and its two files that v2 changed or dropped.
    expect(planned.removed).toBe(3);
    const done = await data(root, 'gc', '--workspace', '--json');
    expect(JSON.parse(done.stdout)).toMatchObject({ removed: 3 });
    // The old version is gone from the cache: checking it out says so instead of half-restoring it.
    git(root, 'checkout', '-q', 'HEAD~1', '--', 'data/images.slipway');
    const r = await data(root, 'checkout', 'data/images');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('not in the cache');
    expect(readFileSync(join(root, 'data/images/new.txt'), 'utf8')).toBe('new\n');
    git(root, 'checkout', '-q', 'HEAD', '--', 'data/images.slipway');
    // diff still answers for the old version, saying its manifest is gone instead of failing.
    const diff = await data(root, 'diff', 'HEAD~1', 'HEAD', '--json');
    expect(diff.code).toBe(0);
    const entry = (JSON.parse(diff.stdout) as { entries: Array<{ path: string; manifestMissing?: string[]; files?: unknown }> }).entries[0];
    expect(entry).toMatchObject({ path: 'data/images', manifestMissing: [expect.stringMatching(/^[0-9a-f]{64}$/)] });
    expect(entry?.files).toBeUndefined();
    const human = await data(root, 'diff', 'HEAD~1', 'HEAD');
    expect(human.stdout).toContain('folder manifest not in the cache');
  });

  it('refuses a missing path, paths that leave the workspace and symbolic link loops with exit 2', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'slipway-data-outside-'));
    roots.push(outside);
    writeFileSync(join(outside, 'secret.txt'), 'x');
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    for (const [path, message] of [
      ['../x', 'outside the workspace'],
      [join(outside, 'secret.txt'), 'outside the workspace'],
      ['escape/secret.txt', 'symbolic link'],
      ['loop-a', 'symbolic link loop'],
      ['data/no-such-file.csv', "'data/no-such-file.csv' does not exist"],
    ] as const) {
      const r = await data(root, 'add', path);
      expect(r.code, path).toBe(2);
      expect(r.stderr, path).toContain(message);
      expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    }
    mkdirSync(join(root, 'linked'));
    writeOld(join(root, 'linked/a.txt'), 'a');
    symlinkSync('../data/train.csv', join(root, 'linked/b.txt'));
    const inFolder = await data(root, 'add', 'linked');
    expect(inFolder.code).toBe(2);
    expect(inFolder.stderr).toContain('linked/b.txt is a symbolic link inside the tracked folder');
  });

  it('reads the data section of slipway.yaml and names the line of a mistake', async () => {
    const other = gitRepo();
    writeFileSync(join(other, 'slipway.yaml'), 'data:\n  jobs: 2\n  linkTypes: [copy, symlink]\n');
    writeOld(join(other, 'a.txt'), 'a');
    const r = await data(other, 'add', 'a.txt');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("slipway.yaml:3:21: data.linkTypes[1]: 'symlink' is not a link type");
  });
});
