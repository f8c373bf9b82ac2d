import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { StageLock } from './pipeline-types.js';
import { LOCK_FILE, parseLockFile, readLockFile, updateLockFile } from './stage-lock-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-lockfile-'));
  dirs.push(dir);
  return dir;
}

function entry(cmd: string, lr = 0.1): StageLock {
  return {
    cmd,
    deps: [{ path: 'data/raw.csv', sha256: 'a'.repeat(64), size: 10, kind: 'file' }],
    params: { 'params.yaml': { lr } },
    outs: [{ path: 'models', sha256: 'b'.repeat(64), size: 20, files: 2, kind: 'folder' }],
  };
}

describe('slipway.lock', () => {
  it('keeps every entry when many stages write theirs at once', async () => {
    const root = workspace();
    await Promise.all(Array.from({ length: 20 }, (_, i) => updateLockFile(root, { [`train@${i}`]: entry(`node train.js ${i}`) })));
    const read = parseLockFile(readFileSync(join(root, LOCK_FILE), 'utf8'));
    expect(Object.keys(read).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `train@${i}`).sort());
    expect(read['train@7']).toEqual(entry('node train.js 7'));
  });

  it('reads a hand-edited file afresh, and survives a damaged parsed copy', async () => {
    const root = workspace();
    await updateLockFile(root, { train: entry('node train.js') });
    expect((await readLockFile(root)).train?.params).toEqual({ 'params.yaml': { lr: 0.1 } });
    const text = readFileSync(join(root, LOCK_FILE), 'utf8');
    writeFileSync(join(root, LOCK_FILE), text.replace('lr: 0.1', 'lr: 0.5'));
    expect((await readLockFile(root)).train?.params).toEqual({ 'params.yaml': { lr: 0.5 } });
    writeFileSync(join(root, '.slipway/runs/slipway.lock.parsed.json'), '{ not json');
    expect((await readLockFile(root)).train?.cmd).toBe('node train.js');
  });

  it('drops entries of stages no longer in the pipeline, and names the line of a broken entry', async () => {
    const root = workspace();
    await updateLockFile(root, { a: entry('a'), b: entry('b') });
    await updateLockFile(root, { a: entry('a2') }, new Set(['a']));
    expect(Object.keys(await readLockFile(root))).toEqual(['a']);
    expect(() => parseLockFile('schema: 1\nstages:\n  train:\n    deps: []\n')).toThrow('slipway.lock:3:3: stages.train: must be a stage entry with cmd, deps, params and outs.');
  });
});
