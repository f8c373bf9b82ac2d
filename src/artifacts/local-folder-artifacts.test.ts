/**
 * A plain artifact folder that clients write to directly: reads, listings and writes stay inside it
 * whatever links someone plants there, and a write is whole or absent. Real files, real links.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFolderArtifacts } from './local-folder-artifacts.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-folder-artifacts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let folders = 0;
function fresh(): { root: string; outside: string; files: LocalFolderArtifacts } {
  const root = join(dir, `root-${folders}`);
  const outside = join(dir, `outside-${folders++}`);
  mkdirSync(outside);
  writeFileSync(join(outside, 'victim.txt'), 'not yours');
  return { root, outside, files: new LocalFolderArtifacts(root) };
}

describe('LocalFolderArtifacts', () => {
  it('answers an empty listing and NOT_FOUND before anything is written, then writes, lists and reads files at their own paths', async () => {
    const { root, files } = fresh();
    expect(await files.list('')).toEqual([]);
    await expect(files.read('1/run/artifacts/a.txt')).rejects.toMatchObject({ code: 'NOT_FOUND', message: "Artifact '1/run/artifacts/a.txt' does not exist." });
    const put = await files.put('1/run/artifacts/dir/a.txt', Buffer.from('hello'));
    expect(put).toEqual({ path: '1/run/artifacts/dir/a.txt', sha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', size: 5 });
    expect(readFileSync(join(root, '1', 'run', 'artifacts', 'dir', 'a.txt'), 'utf8')).toBe('hello');
    await files.put('1/run/artifacts/dir/a.txt', Readable.from([Buffer.from('hello, '), Buffer.from('again')]));
    const opened = await files.read('1/run/artifacts/dir/a.txt');
    expect(opened.size).toBe(12);
    expect(opened.sha256).toBeUndefined();
    expect(await text(opened.body)).toBe('hello, again');
    expect(await files.list('1/run/artifacts')).toEqual([{ path: '1/run/artifacts/dir', isDir: true }]);
    expect(await files.list('1/run/artifacts/dir')).toEqual([{ path: '1/run/artifacts/dir/a.txt', isDir: false, size: 12 }]);
    // No temp file is left beside the written one.
    expect(readdirSync(join(root, '1', 'run', 'artifacts', 'dir'))).toEqual(['a.txt']);
    await expect(files.read('1/run/artifacts/dir')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(files.put('1/run/artifacts/dir/a.txt/b.txt', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_STATE', message: "Cannot write artifact '1/run/artifacts/dir/a.txt/b.txt': a parent of it is a file." });
    await expect(files.put('1/run/artifacts/dir', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_STATE', message: "Cannot write artifact '1/run/artifacts/dir': it is a directory." });
    await expect(files.read('../outside/victim.txt')).rejects.toMatchObject({ code: 'PATH_NOT_ALLOWED' });
  });

  it('never reads, lists or writes through a link planted in the folder, and leaves links and special files out of listings', async () => {
    const { root, outside, files } = fresh();
    await files.put('run/kept.txt', Buffer.from('kept'));
    symlinkSync(join(outside, 'victim.txt'), join(root, 'run', 'leak.txt'));
    symlinkSync(outside, join(root, 'run', 'evil'));
    execFileSync('mkfifo', [join(root, 'run', 'pipe')]);
    expect(await files.list('run')).toEqual([{ path: 'run/kept.txt', isDir: false, size: 4 }]);
    const refused = { code: 'PATH_NOT_ALLOWED', message: expect.stringMatching(/goes through a symbolic link in the artifact folder .*; links there are never followed\.$/) };
    await expect(files.read('run/leak.txt')).rejects.toMatchObject(refused);
    await expect(files.read('run/evil/victim.txt')).rejects.toMatchObject(refused);
    await expect(files.list('run/evil')).rejects.toMatchObject(refused);
    await expect(files.put('run/evil/new.txt', Buffer.from('written outside'))).rejects.toMatchObject(refused);
    // A FIFO is not a file: refused at once instead of blocking the read.
    await expect(files.read('run/pipe')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Writing where a link sits replaces the link itself, never the file it points at.
    await files.put('run/leak.txt', Buffer.from('replaced'));
    expect(lstatSync(join(root, 'run', 'leak.txt')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('not yours');
    expect(readdirSync(outside).sort()).toEqual(['victim.txt']);
  });

  it('reaches a root that is itself a link, as the operator named it', async () => {
    const { root, outside } = fresh();
    mkdirSync(join(outside, 'real-root'));
    symlinkSync(join(outside, 'real-root'), root);
    const files = new LocalFolderArtifacts(root);
    await files.put('a/b.txt', Buffer.from('b'));
    expect(readlinkSync(root)).toBe(join(outside, 'real-root'));
    expect(existsSync(join(outside, 'real-root', 'a', 'b.txt'))).toBe(true);
    expect(await text((await files.read('a/b.txt')).body)).toBe('b');
  });
});
