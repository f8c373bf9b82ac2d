import { utimesSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalArtifactStore } from '../../src/artifacts/local-artifact-store.js';
import { freshHome, removeHome, runCli } from './server-process.js';

describe('slipway artifacts', () => {
  const homes: string[] = [];
  afterEach(() => {
    for (const h of homes.splice(0)) removeHome(h);
  });

  async function seeded(): Promise<{ home: string; dest: string; store: LocalArtifactStore }> {
    const home = freshHome();
    homes.push(home);
    const dest = join(home, 'artifacts');
    const store = new LocalArtifactStore(dest);
    await store.put('1/run/artifacts/model/model.onnx', Buffer.alloc(2048, 1));
    await store.put('1/run/artifacts/notes.txt', Buffer.from('hello'));
    await store.put('1/old/artifacts/big.bin', Buffer.alloc(4096, 2));
    return { home, dest, store };
  }

  it('lists a folder as a table or JSON', async () => {
    const { dest } = await seeded();
    const table = await runCli(['artifacts', 'list', '1/run/artifacts', '--artifacts-destination', dest]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^PATH\s+SIZE\n1\/run\/artifacts\/model\/\s+-\n1\/run\/artifacts\/notes.txt\s+5 B\n$/);
    const json = await runCli(['artifacts', 'list', '1/run/artifacts/model', '--artifacts-destination', dest, '--json']);
    expect(JSON.parse(json.stdout)).toEqual([{ path: '1/run/artifacts/model/model.onnx', isDir: false, size: 2048 }]);
  });

  it('garbage-collects unreferenced content older than --min-age', async () => {
    const { dest, store } = await seeded();
    await store.delete('1/old');
    const young = await runCli(['artifacts', 'gc', '--artifacts-destination', dest, '--json']);
    expect(young.code).toBe(0);
    expect(JSON.parse(young.stdout)).toMatchObject({ scannedBlobs: 3, removedBlobs: 0 });
    const old = new Date(Date.now() - 10_000);
    for (const prefix of readdirSync(join(dest, 'objects'))) for (const f of readdirSync(join(dest, 'objects', prefix))) utimesSync(join(dest, 'objects', prefix, f), old, old);
    const res = await runCli(['artifacts', 'gc', '--artifacts-destination', dest, '--min-age', '5s']);
    expect(res.code).toBe(0);
    expect(res.stdout).toBe('Scanned 3 stored files; removed 1 unreferenced (4.0 KiB freed), 0 abandoned upload(s) and 0 unused model checkout(s).\n');
    expect((await store.stat('1/run/artifacts/notes.txt'))?.size).toBe(5);
  });

  it('answers bad input with exit 2 and a missing store with exit 1', async () => {
    const { dest } = await seeded();
    const traversal = await runCli(['artifacts', 'list', '../..', '--artifacts-destination', dest]);
    expect(traversal.code).toBe(2);
    expect(traversal.stderr).toContain("Artifact path '../..' is not allowed");
    const badAge = await runCli(['artifacts', 'gc', '--min-age', 'soon', '--artifacts-destination', dest]);
    expect(badAge.code).toBe(2);
    expect(badAge.stderr).toContain("--min-age must be a duration such as");
    const bareNumber = await runCli(['artifacts', 'gc', '--min-age', '3600', '--artifacts-destination', dest]);
    expect(bareNumber.code).toBe(2);
    expect(bareNumber.stderr).toContain('3600');
    const missing = await runCli(['artifacts', 'gc', '--artifacts-destination', join(dest, 'nope')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Artifact folder ${join(dest, 'nope')} does not exist.`);
  });
});
