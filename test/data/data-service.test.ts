/**
 * The data versioning core through its API, on real folders: the object cache's integrity checks,
 * hashing a file that changes meanwhile, a checkout that fails half-way (disk full), and the shapes
 * other parts rely on (canonical manifests, objectsNeeded, pointer validation).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { DataService, objectsNeeded } from '../../src/data/data-service.js';
import { hashPaths, hashTree, manifestBytes } from '../../src/data/hasher.js';
import { ObjectCache } from '../../src/data/object-cache.js';
import { parsePointer } from '../../src/data/pointer-file.js';
import { StateCache } from '../../src/data/state-cache.js';
import { openWorkspace, parseDataConfig, resolveWorkspacePath } from '../../src/data/workspace.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'slipway-data-'));
  roots.push(root);
  writeFileSync(join(root, 'slipway.yaml'), '');
  return root;
}

function writeOld(path: string, text: string | Buffer): void {
  writeFileSync(path, text);
  const past = new Date(Date.now() - 60_000);
  utimesSync(path, past, past);
}

const sha = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('object cache', () => {
  it('detects a corrupted object, reports it by name and moves it aside so it can be fetched again', async () => {
    const root = workspace();
    const ws = openWorkspace(root);
    const cache = new ObjectCache(ws.cacheDir, ws.tmpDir);
    const digest = sha('hello\n');
    await cache.putBytes(digest, Buffer.from('hello\n'));
    expect(await cache.verify(digest)).toBe(true);
    const path = cache.pathOf(digest);
    chmodSync(path, 0o644);
    writeFileSync(path, 'tampered\n');
    await expect(cache.verify(digest)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringContaining(digest) });
    expect(await cache.has(digest)).toBe(false);
    expect(readdirSync(join(ws.cacheDir, 'corrupt'))).toHaveLength(1);
  });

  it('refuses content whose digest is not the one claimed and stores nothing', async () => {
    const root = workspace();
    const ws = openWorkspace(root);
    const cache = new ObjectCache(ws.cacheDir, ws.tmpDir);
    await expect(cache.putBytes(sha('a'), Buffer.from('b'))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    expect(await cache.has(sha('a'))).toBe(false);
  });

  it('a corrupted folder manifest makes status and checkout fail on that path with the object named, not crash', async () => {
    const root = workspace();
    mkdirSync(join(root, 'd'));
    writeOld(join(root, 'd/a.txt'), 'a');
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    const added = await service.add(['d'], root);
    const manifest = added.added[0]?.sha256 as string;
    chmodSync(service.cache.pathOf(manifest), 0o644);
    writeFileSync(service.cache.pathOf(manifest), '{"format":1,"files":[]}');
    writeOld(join(root, 'd/a.txt'), 'changed');
    const result = await service.checkout(['d'], { force: true }, root);
    expect(result[0]).toMatchObject({ result: 'failed', reason: expect.stringContaining(manifest) });
    // The corrupt manifest was moved aside: now it is simply not in the cache.
    expect(await service.cache.has(manifest)).toBe(false);
    service.close();
  });
});

describe('checkout against planted content', () => {
  it('refuses a manifest (as a remote could serve it) whose entries leave the folder, and writes nothing outside', async () => {
    const root = workspace();
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    const payload = Buffer.from('planted\n');
    await service.cache.putBytes(sha(payload), payload);
    for (const path of ['../escaped.txt', '/abs.txt', 'a/../../escaped.txt']) {
      const manifest = Buffer.from(canonicalJson({ format: 1, files: [{ path, sha256: sha(payload), size: payload.length }] }));
      await service.cache.putBytes(sha(manifest), manifest);
      writeFileSync(join(root, 'd.slipway'), `format: 1\npath: d\nkind: folder\nsha256: ${sha(manifest)}\nsize: ${payload.length}\nfiles: 1\n`);
      const result = await service.checkout(['d'], { force: true }, root);
      expect(result[0], path).toMatchObject({ result: 'failed', reason: expect.stringContaining('leaves its folder') });
    }
    expect(readdirSync(join(root, '..')).filter((n) => n === 'escaped.txt')).toEqual([]);
    service.close();
  });

  it('does not write through a symbolic link planted inside a tracked folder, even with --force', async () => {
    const root = workspace();
    const outside = mkdtempSync(join(tmpdir(), 'slipway-data-outside-'));
    roots.push(outside);
    mkdirSync(join(root, 'd/sub'), { recursive: true });
    writeOld(join(root, 'd/sub/a.txt'), 'a');
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    await service.add(['d'], root);
    rmSync(join(root, 'd/sub'), { recursive: true, force: true });
    symlinkSync(outside, join(root, 'd/sub'));
    const result = await service.checkout(['d'], { force: true }, root);
    expect(result[0]).toMatchObject({ result: 'failed', reason: expect.stringContaining('symbolic link d/sub') });
    expect(readdirSync(outside)).toEqual([]);
    service.close();
  });
});

describe('gc and add in the same workspace', () => {
  it('refuses a gc while another process adds (and an add while a gc runs), and ignores the markers of processes that are gone', async () => {
    const root = workspace();
    writeOld(join(root, 'a.txt'), 'a');
    const ws = openWorkspace(root);
    const service = new DataService(ws, { jobs: 1 });
    await service.add(['a.txt'], root);
    mkdirSync(join(ws.dir, 'locks'), { recursive: true });
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const marker = (pid: number) => JSON.stringify({ pid, host: hostname(), since: Date.now() });
      writeFileSync(join(ws.dir, 'locks', 'cache-add-other'), marker(other.pid as number));
      await expect(service.gc({ workspace: true })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(`slipway data add (pid ${other.pid})`) });
      // A dry run removes nothing, so it is not in the way.
      expect((await service.gc({ workspace: true, dryRun: true })).removed).toBe(0);
      rmSync(join(ws.dir, 'locks', 'cache-add-other'));

      writeFileSync(join(ws.dir, 'locks', 'cache-gc'), marker(other.pid as number));
      await expect(service.add(['a.txt'], root)).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining(`slipway data gc (pid ${other.pid})`) });
      rmSync(join(ws.dir, 'locks', 'cache-gc'));
    } finally {
      other.kill();
    }
    // Left behind by processes that died: ignored, removed, and the commands go on.
    await new Promise((r) => other.once('exit', r));
    writeFileSync(join(ws.dir, 'locks', 'cache-add-dead'), JSON.stringify({ pid: other.pid, host: hostname(), since: 0 }));
    writeFileSync(join(ws.dir, 'locks', 'cache-gc'), JSON.stringify({ pid: other.pid, host: hostname(), since: 0 }));
    expect((await service.gc({ workspace: true })).removed).toBe(0);
    expect((await service.add(['a.txt'], root)).added).toHaveLength(1);
    expect(readdirSync(join(ws.dir, 'locks'))).toEqual([]);
    service.close();
  });
});

describe('hashing', () => {
  it('gives a folder the digest of its canonical manifest, with exec bits, sorted by path', async () => {
    const root = workspace();
    mkdirSync(join(root, 'f/b'), { recursive: true });
    writeFileSync(join(root, 'f/b/x.sh'), 'x');
    chmodSync(join(root, 'f/b/x.sh'), 0o755);
    writeFileSync(join(root, 'f/a.txt'), 'a');
    const tree = await hashTree(root, 'f');
    if (tree?.kind !== 'folder') throw new Error('expected a folder');
    expect(tree.manifest.files).toEqual([
      { path: 'a.txt', sha256: sha('a'), size: 1 },
      { path: 'b/x.sh', sha256: sha('x'), size: 1, executable: true },
    ]);
    expect(manifestBytes(tree.manifest).toString('utf8')).toBe(canonicalJson(tree.manifest));
    expect(tree.sha256).toBe(sha(canonicalJson(tree.manifest)));
  });

  it('hashes many files in worker threads with the same digests as inline', async () => {
    const root = workspace();
    mkdirSync(join(root, 'many'));
    const files: string[] = [];
    for (let i = 0; i < 300; i++) {
      writeFileSync(join(root, `many/${i}.bin`), Buffer.alloc(64 * 1024, i));
      files.push(`many/${i}.bin`);
    }
    const pooled = await hashPaths(root, ['many'], { jobs: 2 });
    expect(pooled).toHaveLength(300);
    for (const h of pooled) expect(h.sha256).toBe(sha(readFileSync(join(root, h.path))));
  });

  it('a file that changes while it is hashed is hashed again, and refused when it keeps changing', async () => {
    const root = workspace();
    writeFileSync(join(root, 'grow.log'), 'line\n');
    let changes = 0;
    const once = await hashPaths(root, ['grow.log'], {
      afterRead: (abs) => {
        if (changes++ === 0) appendFileSync(abs, 'more\n');
      },
    });
    // The digest is of the content read on the second, undisturbed pass.
    expect(once[0]?.sha256).toBe(sha('line\nmore\n'));
    await expect(hashPaths(root, ['grow.log'], { afterRead: (abs) => appendFileSync(abs, 'more\n') })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('grow.log changed while it was being hashed'),
    });
  });

  it('the state cache answers for unchanged files and is shared by two connections', async () => {
    const root = workspace();
    writeOld(join(root, 'a.txt'), 'a');
    const ws = openWorkspace(root);
    mkdirSync(ws.dir, { recursive: true });
    const first = new StateCache(ws.stateFile);
    const second = new StateCache(ws.stateFile);
    expect((await hashPaths(root, ['a.txt'], { state: first }))[0]?.fromState).toBe(false);
    expect((await hashPaths(root, ['a.txt'], { state: second }))[0]?.fromState).toBe(true);
    writeOld(join(root, 'a.txt'), 'b');
    const again = await hashPaths(root, ['a.txt'], { state: second });
    expect(again[0]).toMatchObject({ fromState: false, sha256: sha('b') });
    first.close();
    second.close();
  });
});

describe('checkout', () => {
  it('a copy that fails for lack of space leaves the old file whole and no temp file behind', async () => {
    const root = workspace();
    writeOld(join(root, 'model.bin'), 'version 1');
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    await service.add(['model.bin'], root);
    const v1 = readFileSync(join(root, 'model.bin.slipway'), 'utf8');
    writeOld(join(root, 'model.bin'), 'version 2');
    await service.add(['model.bin'], root);
    writeFileSync(join(root, 'model.bin.slipway'), v1);
    service.close();
    const full = new DataService(openWorkspace(root), {
      jobs: 1,
      linkTypes: ['copy'],
      cacheHooks: {
        copy: async (_src, dest) => {
          writeFileSync(dest, 'vers');
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        },
      },
    });
    const result = await full.checkout(undefined, {}, root);
    expect(result[0]).toMatchObject({ result: 'failed', reason: expect.stringContaining('No space left') });
    expect(readFileSync(join(root, 'model.bin'), 'utf8')).toBe('version 2');
    expect(readdirSync(root).filter((n) => n.includes('slipway-tmp'))).toEqual([]);
    full.close();
    const ok = new DataService(openWorkspace(root), { jobs: 1, linkTypes: ['copy'] });
    expect((await ok.checkout(undefined, {}, root))[0]?.result).toBe('restored');
    expect(readFileSync(join(root, 'model.bin'), 'utf8')).toBe('version 1');
    ok.close();
  });

  it('status says not-in-cache when the data matches but its object was removed from the cache', async () => {
    const root = workspace();
    writeOld(join(root, 'a.txt'), 'a');
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    await service.add(['a.txt'], root);
    rmSync(service.cache.pathOf(sha('a')));
    const status = await service.status(undefined, root);
    expect(status.pointers[0]?.state).toBe('not-in-cache');
    expect(status.clean).toBe(false);
    rmSync(join(root, 'a.txt'));
    expect((await service.status(undefined, root)).pointers[0]?.state).toBe('missing');
    service.close();
  });

  it('hard links, when chosen, make one read-only inode that unprotect turns back into a private copy', async () => {
    const root = workspace();
    writeOld(join(root, 'big.bin'), 'payload');
    const service = new DataService(openWorkspace(root), { jobs: 1, linkTypes: ['hardlink', 'copy'] });
    await service.add(['big.bin'], root);
    const { statSync } = await import('node:fs');
    expect(statSync(join(root, 'big.bin')).ino).toBe(statSync(service.cache.pathOf(sha('payload'))).ino);
    expect(statSync(join(root, 'big.bin')).mode & 0o222).toBe(0);
    expect(await service.unprotect(['big.bin'], root)).toEqual(['big.bin']);
    expect(statSync(join(root, 'big.bin')).ino).not.toBe(statSync(service.cache.pathOf(sha('payload'))).ino);
    appendFileSync(join(root, 'big.bin'), ' edited');
    expect(await service.cache.verify(sha('payload'))).toBe(true);
    service.close();
  });
});

describe('status of a large unchanged folder', () => {
  it('answers from the folder snapshot, and still sees an edit, a new exec bit and a replaced file', async () => {
    const root = workspace();
    mkdirSync(join(root, 'd'));
    for (let i = 0; i < 20; i++) writeOld(join(root, `d/${i}.txt`), `row ${i}\n`);
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    await service.add(['d'], root);
    const first = await service.status(undefined, root);
    expect(first).toMatchObject({ clean: true, hashed: 0, fromState: 20 });
    chmodSync(join(root, 'd/3.txt'), 0o755);
    expect((await service.status(undefined, root)).pointers[0]).toMatchObject({ state: 'modified', modified: ['3.txt'] });
    chmodSync(join(root, 'd/3.txt'), 0o644);
    expect((await service.status(undefined, root)).clean).toBe(true);
    writeOld(join(root, 'd/5.txt'), 'row 6\n');
    expect((await service.status(undefined, root)).pointers[0]).toMatchObject({ state: 'modified', modified: ['5.txt'] });
    writeOld(join(root, 'd/5.txt'), 'row 5\n');
    expect((await service.status(undefined, root)).clean).toBe(true);
    service.close();
  });
});

describe('shapes other parts use', () => {
  it('objectsNeeded names each pointed-at object, the folder manifest and every file in it', async () => {
    const root = workspace();
    mkdirSync(join(root, 'd'));
    writeOld(join(root, 'd/a.txt'), 'a');
    writeOld(join(root, 'd/b.txt'), 'b');
    writeOld(join(root, 'c.txt'), 'c');
    const service = new DataService(openWorkspace(root), { jobs: 1 });
    const added = await service.add(['d', 'c.txt'], root);
    service.close();
    const needed = await objectsNeeded(openWorkspace(root));
    expect(needed).toEqual(new Set([added.added[0]?.sha256, sha('a'), sha('b'), sha('c')]));
    expect(await objectsNeeded(openWorkspace(root), { targets: ['c.txt'] })).toEqual(new Set([sha('c')]));
  });

  it('a pointer whose path leaves its folder is refused', () => {
    const text = (path: string) => `format: 1\npath: ${path}\nkind: file\nsha256: ${sha('x')}\nsize: 1\nfiles: 1\n`;
    expect(parsePointer(text('train.csv'), 'p').path).toBe('train.csv');
    expect(() => parsePointer(text('../etc/passwd'), 'p.slipway')).toThrow(/leaves the pointer's folder/);
    expect(() => parsePointer(text('/etc/passwd'), 'p.slipway')).toThrow(/leaves the pointer's folder/);
  });

  it('resolves paths inside the workspace and refuses .slipway and .git', () => {
    const root = workspace();
    const ws = openWorkspace(root);
    expect(resolveWorkspacePath(ws, 'a/../b.txt', root).rel).toBe('b.txt');
    expect(() => resolveWorkspacePath(ws, '.slipway/cache', root)).toThrow(/does not track/);
    expect(() => resolveWorkspacePath(ws, '../x', root)).toThrow(/outside the workspace/);
  });

  it('parses data settings and names the line of each mistake', () => {
    expect(parseDataConfig('data:\n  remote: store\n  remotes:\n    store: { url: ../store }\n  jobs: 4\n  linkTypes: reflink,copy\n', 'slipway.yaml')).toEqual({
      remote: 'store',
      remotes: { store: { url: '../store' } },
      jobs: 4,
      linkTypes: ['reflink', 'copy'],
    });
    expect(() => parseDataConfig('data:\n  remote: nowhere\n', 'slipway.yaml')).toThrow(/^slipway.yaml:2:3: data.remote: must name one of the remotes/);
    expect(() => parseDataConfig('data:\n  jobs: 0\n', 'slipway.yaml')).toThrow(/^slipway.yaml:2:3: data.jobs:/);
    expect(() => parseDataConfig('data:\n  colour: red\n', 'slipway.yaml')).toThrow(/data.colour: unknown key/);
  });
});
