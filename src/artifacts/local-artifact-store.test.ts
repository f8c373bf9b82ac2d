import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from './local-artifact-store.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function blobFiles(root: string): string[] {
  const objects = join(root, 'objects');
  return readdirSync(objects).flatMap((p) => readdirSync(join(objects, p)).map((n) => p + n));
}

const TRAVERSALS = [
  '../secret',
  'a/../../secret',
  'a/..',
  '..',
  './a',
  'a/./b',
  '/etc/passwd',
  'C:/windows',
  'a\\..\\b',
  '..\\secret',
  'a/b\u0000.txt',
  'a//b',
  'a/b/',
  '%2e%2e/secret',
  '%2E%2E/secret',
  'a/%2e%2e/%2e%2e/secret',
  '..%2fsecret',
  '..%2Fsecret',
  'a%5c..%5csecret',
  '%252e%252e/secret',
  '%25252e%25252e/secret',
  'a/%00',
  '',
];

describe('LocalArtifactStore', () => {
  let root: string;
  let store: LocalArtifactStore;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'slipway-artifacts-'));
    store = new LocalArtifactStore(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('stores and reads back bytes, reporting digest and size', async () => {
    const body = Buffer.from('hello artifacts\n');
    const put = await store.put('1/run/artifacts/notes.txt', body);
    expect(put).toEqual({ path: '1/run/artifacts/notes.txt', size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(await readAll(await store.get('1/run/artifacts/notes.txt'))).toEqual(body);
    expect(await store.stat('1/run/artifacts/notes.txt')).toEqual({ size: body.length, sha256: put.sha256 });
    expect(readFileSync(await store.localPath('1/run/artifacts/notes.txt'))).toEqual(body);
  });

  it('accepts a stream, a Uint8Array and an empty file', async () => {
    await store.put('s.bin', Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    await store.put('u.bin', new Uint8Array([1, 2, 3]));
    await store.put('empty.txt', Buffer.alloc(0));
    expect((await readAll(await store.get('s.bin'))).toString()).toBe('abcd');
    expect([...(await readAll(await store.get('u.bin')))]).toEqual([1, 2, 3]);
    expect((await readAll(await store.get('empty.txt'))).length).toBe(0);
    expect(await store.stat('empty.txt')).toMatchObject({ size: 0 });
  });

  it('stores identical content once for two paths', async () => {
    const body = Buffer.from('same bytes in two places');
    const a = await store.put('a/model.onnx', body);
    const b = await store.put('b/copy/model.onnx', Readable.from([body]));
    expect(a.sha256).toBe(b.sha256);
    expect(blobFiles(root)).toEqual([a.sha256]);
    expect(await store.localPath('a/model.onnx')).toBe(await store.localPath('b/copy/model.onnx'));
  });

  it('overwrites a path atomically with new content', async () => {
    await store.put('m.txt', Buffer.from('v1'));
    await store.put('m.txt', Buffer.from('v2'));
    expect((await readAll(await store.get('m.txt'))).toString()).toBe('v2');
  });

  it('streams a 200 MB upload and download without buffering it', async () => {
    const total = 200 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024);
    const expected = createHash('sha256');
    let sent = 0;
    let counter = 0;
    const source = new Readable({
      read() {
        if (sent >= total) return void this.push(null);
        chunk.writeUInt32LE(counter++, 0);
        const copy = Buffer.from(chunk);
        expected.update(copy);
        sent += copy.length;
        this.push(copy);
      },
    });
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const put = await store.put('big/data.bin', source);
    const readHash = createHash('sha256');
    let readBytes = 0;
    for await (const c of await store.get('big/data.bin')) {
      readHash.update(c as Buffer);
      readBytes += (c as Buffer).length;
    }
    clearInterval(timer);
    expect(put.size).toBe(total);
    expect(put.sha256).toBe(expected.digest('hex'));
    expect(readBytes).toBe(total);
    expect(readHash.digest('hex')).toBe(put.sha256);
    // A buffered implementation would need at least the file's 200 MB.
    expect(peak - before).toBeLessThan(80 * 1024 * 1024);
  }, 60_000);

  it('leaves no partial file visible when the upload stream fails', async () => {
    await store.put('model/weights.bin', Buffer.from('the good version'));
    let pushed = 0;
    const failing = new Readable({
      read() {
        if (pushed++ < 3) this.push(Buffer.alloc(64 * 1024, 7));
        else this.destroy(new Error('client went away'));
      },
    });
    await expect(store.put('model/weights.bin', failing)).rejects.toThrow('client went away');
    await expect(store.put('model/new.bin', Readable.from((async function* () { yield Buffer.from('half'); throw new Error('cut'); })()))).rejects.toThrow('cut');
    expect((await readAll(await store.get('model/weights.bin'))).toString()).toBe('the good version');
    expect(await store.stat('model/new.bin')).toBeUndefined();
    expect((await store.list('model')).map((e) => e.path)).toEqual(['model/weights.bin']);
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    expect(blobFiles(root)).toHaveLength(1);
  });

  it.each(TRAVERSALS)('rejects the path %j with PATH_NOT_ALLOWED', async (bad) => {
    const outside = join(root, '..', 'secret');
    await expect(store.put(bad, Buffer.from('x'))).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await expect(store.get(bad)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await expect(store.stat(bad)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await expect(store.delete(bad)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await expect(store.localPath(bad)).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    expect(existsSync(outside)).toBe(false);
  });

  it('rejects traversal in listings but accepts the root and a trailing slash', async () => {
    await store.put('d/f.txt', Buffer.from('x'));
    await expect(store.list('../')).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    await expect(store.list('%2e%2e')).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    expect(await store.list('')).toEqual([{ path: 'd', isDir: true }]);
    expect(await store.list('d/')).toEqual([{ path: 'd/f.txt', isDir: false, size: 1 }]);
  });

  it('accepts ordinary names with spaces, unicode and a literal percent', async () => {
    for (const name of ['my file.txt', 'données/é.csv', '100%.txt', 'a%20b', '.hidden', 'x..y']) {
      await store.put(name, Buffer.from(name));
      expect((await readAll(await store.get(name))).toString()).toBe(name);
    }
  });

  it('lists immediate children sorted, with sizes for files only', async () => {
    await store.put('1/r/artifacts/model/MLmodel', Buffer.from('flavors: {}\n'));
    await store.put('1/r/artifacts/model/model.onnx', Buffer.alloc(100));
    await store.put('1/r/artifacts/metrics.json', Buffer.from('{}'));
    expect(await store.list('1/r/artifacts')).toEqual([
      { path: '1/r/artifacts/metrics.json', isDir: false, size: 2 },
      { path: '1/r/artifacts/model', isDir: true },
    ]);
    expect(await store.list('1/r/artifacts/model')).toEqual([
      { path: '1/r/artifacts/model/MLmodel', isDir: false, size: 12 },
      { path: '1/r/artifacts/model/model.onnx', isDir: false, size: 100 },
    ]);
    expect(await store.list('nothing/here')).toEqual([]);
    expect(await store.list('1/r/artifacts/metrics.json')).toEqual([]);
  });

  it('answers NOT_FOUND for absent files and directories', async () => {
    await store.put('dir/file', Buffer.from('x'));
    await expect(store.get('missing.txt')).rejects.toMatchObject({ code: 'NOT_FOUND', message: "Artifact 'missing.txt' does not exist." });
    await expect(store.get('dir')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.localPath('missing.txt')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await store.stat('dir')).toBeUndefined();
  });

  it('refuses a file where a directory is and vice versa', async () => {
    await store.put('a/b/c.txt', Buffer.from('x'));
    await expect(store.put('a/b', Buffer.from('y'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(store.put('a/b/c.txt/d', Buffer.from('y'))).rejects.toMatchObject({ code: 'INVALID_STATE' });
  });

  it('deletes a path under a file as the no-op it is, keeping the file', async () => {
    await store.put('f/a.txt', Buffer.from('a'));
    await store.delete('f/a.txt/b.txt');
    expect(await store.stat('f/a.txt')).toMatchObject({ size: 1 });
  });

  it('refuses a path nested too deep for the file system with PATH_NOT_ALLOWED, and reads it as absent', async () => {
    const deep = Array(1500).fill('d').join('/') + '/f.txt';
    await expect(store.put(deep, Buffer.from('x'))).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED', message: `Artifact path '${deep}' is too long or too deeply nested for the file system.` });
    expect(await store.stat(deep)).toBeUndefined();
    await store.delete(deep);
  });

  it('deletes files and whole trees, pruning empty folders', async () => {
    await store.put('e/run/artifacts/a.txt', Buffer.from('a'));
    await store.put('e/run/artifacts/sub/b.txt', Buffer.from('b'));
    await store.put('e/other.txt', Buffer.from('o'));
    await store.delete('e/run/artifacts/a.txt');
    expect(await store.stat('e/run/artifacts/a.txt')).toBeUndefined();
    await store.delete('e/run');
    expect(await store.list('e')).toEqual([{ path: 'e/other.txt', isDir: false, size: 1 }]);
    await store.delete('e/other.txt');
    expect(await store.list('')).toEqual([]);
    await store.delete('never/existed');
  });

  it('reports entries not made by the store as INTEGRITY_ERROR, never following them out', async () => {
    await store.put('p.txt', Buffer.from('x'));
    rmSync(join(root, 'tree', 'p.txt'));
    writeFileSync(join(root, 'tree', 'p.txt'), 'written by hand');
    await expect(store.get('p.txt')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    rmSync(join(root, 'tree', 'p.txt'));
    symlinkSync('/etc/passwd', join(root, 'tree', 'p.txt'));
    await expect(store.get('p.txt')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringContaining('outside the store') });
  });

  describe('with links planted in the store', () => {
    let outside: string;
    beforeEach(() => {
      outside = mkdtempSync(join(tmpdir(), 'slipway-outside-'));
      writeFileSync(join(outside, 'victim.txt'), 'not yours');
    });
    afterEach(() => rmSync(outside, { recursive: true, force: true }));

    const sha = (text: string) => createHash('sha256').update(text).digest('hex');

    it.each([['a link in tree/', 'evil'], ['a link below a real folder', 'real/evil']])('never writes, deletes or lists through %s', async (_what, at) => {
      await store.put('real/keep.txt', Buffer.from('k'));
      symlinkSync(outside, join(root, 'tree', ...at.split('/')));
      await expect(store.put(`${at}/planted.txt`, Buffer.from('x'))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR', message: expect.stringContaining('symbolic link') });
      await expect(store.put(`${at}/deeper/planted.txt`, Buffer.from('x'))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      await expect(store.delete(`${at}/victim.txt`)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      await expect(store.get(`${at}/victim.txt`)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      await expect(store.stat(`${at}/victim.txt`)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      await expect(store.list(at)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      await expect(store.localFolder(at)).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      expect(readdirSync(outside)).toEqual(['victim.txt']);
      // Deleting the planted entry itself removes the link, not what it points at.
      await store.delete(at);
      expect(readdirSync(outside)).toEqual(['victim.txt']);
      expect((await readAll(await store.get('real/keep.txt'))).toString()).toBe('k');
    });

    it('never stores content through a linked blob folder', async () => {
      await store.put('first.txt', Buffer.from('first'));
      const prefix = sha('through the link').slice(0, 2);
      rmSync(join(root, 'objects', prefix), { recursive: true });
      symlinkSync(outside, join(root, 'objects', prefix));
      await expect(store.put('p.txt', Buffer.from('through the link'))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      expect(readdirSync(outside)).toEqual(['victim.txt']);
      expect(readdirSync(join(root, 'tmp'))).toEqual([]);
    });

    it('never serves a blob that was replaced by a link', async () => {
      const put = await store.put('p.txt', Buffer.from('mine'));
      const blob = join(root, 'objects', put.sha256.slice(0, 2), put.sha256.slice(2));
      rmSync(blob);
      symlinkSync(join(outside, 'victim.txt'), blob);
      await expect(store.get('p.txt')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      await expect(store.localPath('p.txt')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    });

    it('never writes temp files through a linked tmp/ folder', async () => {
      await store.put('first.txt', Buffer.from('first'));
      rmSync(join(root, 'tmp'), { recursive: true });
      symlinkSync(outside, join(root, 'tmp'));
      await expect(store.put('p.txt', Buffer.from('x'))).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      expect(readdirSync(outside)).toEqual(['victim.txt']);
    });

    it('garbage collection removes nothing through linked blob, temp or checkout folders', async () => {
      await store.put('first.txt', Buffer.from('first'));
      const fakeBlob = 'f'.repeat(62);
      writeFileSync(join(outside, fakeBlob), 'looks like a blob');
      const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
      for (const name of readdirSync(outside)) utimesSync(join(outside, name), old, old);
      rmSync(join(root, 'objects', 'ff'), { recursive: true });
      symlinkSync(outside, join(root, 'objects', 'ff'));
      await store.collectGarbage({ minAgeMs: 0 });
      expect(readdirSync(outside).sort()).toEqual([fakeBlob, 'victim.txt']);
      for (const folder of ['tmp', 'checkouts']) {
        rmSync(join(root, folder), { recursive: true });
        symlinkSync(outside, join(root, folder));
        await store.collectGarbage({ minAgeMs: 0 }).catch(() => undefined);
        expect(readdirSync(outside).sort()).toEqual([fakeBlob, 'victim.txt']);
        rmSync(join(root, folder));
        mkdirSync(join(root, folder));
      }
      // A linked folder inside tree/ is not walked either: what it holds refers to nothing here.
      symlinkSync(outside, join(root, 'tree', 'evil'));
      await expect(store.collectGarbage({ minAgeMs: 0 })).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
      expect(readdirSync(outside).sort()).toEqual([fakeBlob, 'victim.txt']);
    });
  });

  it('garbage-collects blobs no path refers to, sparing young ones and referenced ones', async () => {
    const kept = await store.put('keep.txt', Buffer.from('keep me'));
    const dropped = await store.put('drop.txt', Buffer.from('drop me'));
    const shared = await store.put('one.txt', Buffer.from('shared'));
    await store.put('two.txt', Buffer.from('shared'));
    await store.delete('drop.txt');
    await store.delete('one.txt');
    const stale = join(root, 'tmp', 'abandoned-upload');
    writeFileSync(stale, 'half an upload');

    // Everything is young: nothing may go yet.
    expect(await store.collectGarbage()).toMatchObject({ removedBlobs: 0, removedTempFiles: 0 });

    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const sha of blobFiles(root)) utimesSync(join(root, 'objects', sha.slice(0, 2), sha.slice(2)), old, old);
    utimesSync(stale, old, old);
    const result = await store.collectGarbage();
    expect(result).toEqual({ scannedBlobs: 3, removedBlobs: 1, freedBytes: 7, removedTempFiles: 1, removedCheckouts: 0 });
    expect(blobFiles(root).sort()).toEqual([kept.sha256, shared.sha256].sort());
    expect(blobFiles(root)).not.toContain(dropped.sha256);
    expect((await readAll(await store.get('two.txt'))).toString()).toBe('shared');
    expect(existsSync(stale)).toBe(false);
  });

  it('still works after the whole root is moved elsewhere', async () => {
    await store.put('m/model.onnx', Buffer.from('weights'));
    const moved = `${root}-moved`;
    cpSync(root, moved, { recursive: true, verbatimSymlinks: true });
    try {
      const other = new LocalArtifactStore(moved);
      expect((await readAll(await other.get('m/model.onnx'))).toString()).toBe('weights');
      expect((await other.localPath('m/model.onnx')).startsWith(moved)).toBe(true);
    } finally {
      rmSync(moved, { recursive: true, force: true });
    }
  });

  it('reports content missing from the store as INTEGRITY_ERROR', async () => {
    const put = await store.put('gone.txt', Buffer.from('gone'));
    rmSync(join(root, 'objects', put.sha256.slice(0, 2), put.sha256.slice(2)), { force: true });
    await expect(store.get('gone.txt')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
    await expect(store.localPath('gone.txt')).rejects.toMatchObject({ code: 'INTEGRITY_ERROR' });
  });

  it('keeps blobs read-only so a consumer of localPath cannot alter stored content', async () => {
    await store.put('m.onnx', Buffer.from('weights'));
    expect(statSync(await store.localPath('m.onnx')).mode & 0o222).toBe(0);
  });

  it('mirrors a folder as hard links, reusing it while the content is unchanged and making a new one when it changes', async () => {
    await store.put('m/model.onnx', Buffer.from('graph'));
    await store.put('m/model.onnx.data', Buffer.from('weights'));
    await store.put('m/sub/more.bin', Buffer.from('more'));
    const folder = await store.localFolder('m');
    expect(readFileSync(join(folder, 'model.onnx'), 'utf8')).toBe('graph');
    expect(readFileSync(join(folder, 'model.onnx.data'), 'utf8')).toBe('weights');
    expect(readFileSync(join(folder, 'sub', 'more.bin'), 'utf8')).toBe('more');
    // A hard link to the blob: the same file, no copy, and still read-only.
    expect(statSync(join(folder, 'model.onnx.data')).ino).toBe(statSync(await store.localPath('m/model.onnx.data')).ino);
    expect(statSync(join(folder, 'model.onnx.data')).mode & 0o222).toBe(0);
    expect(await store.localFolder('m')).toBe(folder);
    await store.put('m/model.onnx.data', Buffer.from('new weights'));
    const changed = await store.localFolder('m');
    expect(changed).not.toBe(folder);
    expect(readFileSync(join(changed, 'model.onnx.data'), 'utf8')).toBe('new weights');
    expect(readFileSync(join(folder, 'model.onnx.data'), 'utf8')).toBe('weights');
    await expect(store.localFolder('nothing-here')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(store.localFolder('../m')).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
    // Unused checkouts go with garbage collection.
    expect(existsSync(folder)).toBe(true);
    expect(await store.collectGarbage({ minAgeMs: -1000 })).toMatchObject({ removedCheckouts: 2 });
    expect(existsSync(folder)).toBe(false);
  });
});
