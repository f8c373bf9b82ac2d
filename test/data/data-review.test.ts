import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function gitRepo(): string {
  const root = mkdtempSync(join(tmpdir(), 'slipway-data-review-'));
  roots.push(root);
  execFileSync('git', ['init', '-q'], { cwd: root });
  return root;
}

const data = (root: string, ...args: string[]) => runCli(['data', ...args], {}, root);

describe('crafted pointer files', () => {
  it("refuses a pointer whose path leads into .git/, so a checkout can never rewrite git's config or hooks", async () => {
    const root = gitRepo();
    const config = readFileSync(join(root, '.git/config'), 'utf8');
    // An object the cache holds, named by a pointer someone committed with a path into .git/.
    writeFileSync(join(root, 'cfg'), '[core]\n\tfsmonitor = "touch pwned"\n');
    expect((await data(root, 'add', 'cfg')).code).toBe(0);
    const pointer = readFileSync(join(root, 'cfg.slipway'), 'utf8');
    writeFileSync(join(root, 'evil.slipway'), pointer.replace('path: cfg', 'path: .git/config'));
    writeFileSync(join(root, 'evil2.slipway'), pointer.replace('path: cfg', 'path: .GIT/config'));
    rmSync(join(root, 'cfg.slipway'));
    const out = await data(root, 'checkout', '--force');
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/evil2?\.slipway: not a valid pointer file: path '\.(git|GIT)\/config' is inside \.(git|GIT)\//);
    expect(readFileSync(join(root, '.git/config'), 'utf8')).toBe(config);
  });

  it("refuses a pointer whose path leads into the workspace's own .slipway/ folder", async () => {
    const root = gitRepo();
    writeFileSync(join(root, 'f.txt'), 'hello\n');
    expect((await data(root, 'add', 'f.txt')).code).toBe(0);
    const pointer = readFileSync(join(root, 'f.txt.slipway'), 'utf8');
    writeFileSync(join(root, 'f.txt.slipway'), pointer.replace('path: f.txt', 'path: .slipway/state.db'));
    const out = await data(root, 'checkout', '--force');
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("f.txt.slipway: not a valid pointer file: path '.slipway/state.db' is inside .slipway/");
    expect(readFileSync(join(root, '.slipway/state.db')).subarray(0, 15).toString()).toBe('SQLite format 3');
  });
});

describe('crafted folder manifests', () => {
  it('refuses a manifest that would plant a .git folder inside a tracked folder', async () => {
    const root = gitRepo();
    writeFileSync(join(root, 'cfg'), '[core]\n\tfsmonitor = "touch pwned"\n');
    expect((await data(root, 'add', 'cfg')).code).toBe(0);
    const object = /sha256: ([0-9a-f]{64})/.exec(readFileSync(join(root, 'cfg.slipway'), 'utf8'))?.[1] as string;
    rmSync(join(root, 'cfg.slipway'));
    // A manifest (as another clone's pointer and a shared remote could carry) whose entries form a repository in data/.
    const manifest = JSON.stringify({ format: 1, files: [{ path: '.git/config', sha256: object, size: 32 }, { path: 'a.txt', sha256: object, size: 32 }] });
    const digest = createHash('sha256').update(manifest).digest('hex');
    mkdirSync(join(root, '.slipway/cache/objects', digest.slice(0, 2)), { recursive: true });
    writeFileSync(join(root, '.slipway/cache/objects', digest.slice(0, 2), digest.slice(2)), manifest);
    writeFileSync(join(root, 'data.slipway'), `format: 1\npath: data\nkind: folder\nsha256: ${digest}\nsize: 64\nfiles: 2\n`);
    const out = await data(root, 'checkout', '--force');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("the entry '.git/config' lies in a .git folder, which a checkout never writes");
    expect(existsSync(join(root, 'data/.git'))).toBe(false);
  });

  it('refuses to add a folder holding a .git folder, whose version could never be checked out', async () => {
    const root = gitRepo();
    mkdirSync(join(root, 'data/.git'), { recursive: true });
    writeFileSync(join(root, 'data/.git/HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(root, 'data/a.txt'), 'a\n');
    const out = await data(root, 'add', 'data');
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("'data' holds the git repository file data/.git/HEAD");
    expect(existsSync(join(root, 'data.slipway'))).toBe(false);
  });

  it('refuses a manifest listing a path as both a file and a folder, naming it instead of a temp file', async () => {
    const root = gitRepo();
    writeFileSync(join(root, 'f'), 'hi\n');
    expect((await data(root, 'add', 'f')).code).toBe(0);
    const object = /sha256: ([0-9a-f]{64})/.exec(readFileSync(join(root, 'f.slipway'), 'utf8'))?.[1] as string;
    const manifest = JSON.stringify({ format: 1, files: [{ path: 'a', sha256: object, size: 3 }, { path: 'a/b', sha256: object, size: 3 }] });
    const digest = createHash('sha256').update(manifest).digest('hex');
    writeFileSync(join(root, '.slipway/cache/objects', digest.slice(0, 2), digest.slice(2)), manifest);
    writeFileSync(join(root, 'd.slipway'), `format: 1\npath: d\nkind: folder\nsha256: ${digest}\nsize: 6\nfiles: 2\n`);
    const out = await data(root, 'checkout');
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("'a' is both a file and the folder of 'a/b'");
    expect(out.stderr).not.toContain('slipway-tmp');
    expect(existsSync(join(root, 'd'))).toBe(false);
  });
});
