import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tryLock } from './pid-lock.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function lockPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pidlock-'));
  dirs.push(dir);
  return join(dir, 'locks', 'stage-train.lock');
}

describe('pid lock files', () => {
  it('refuses a lock a live process holds, naming it, and frees it on release', async () => {
    const path = lockPath();
    const first = await tryLock(path);
    expect('lock' in first).toBe(true);
    const second = await tryLock(path);
    expect(second).toEqual({ holder: { pid: process.pid, host: hostname(), since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown } });
    if ('lock' in first) await first.lock.release();
    expect(existsSync(path)).toBe(false);
    expect('lock' in (await tryLock(path))).toBe(true);
  });

  it('gives a stale lock (a dead process on this host) to exactly one of many takers', async () => {
    const path = lockPath();
    await tryLock(path).then((got) => ('lock' in got ? got.lock.release() : undefined));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(path, JSON.stringify({ pid: dead, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
    const results = await Promise.all(Array.from({ length: 8 }, () => tryLock(path)));
    expect(results.filter((r) => 'lock' in r)).toHaveLength(1);
    expect(results.filter((r) => 'holder' in r).every((r) => 'holder' in r && r.holder.pid === process.pid)).toBe(true);
  });

  it('never takes over a lock held on another host', async () => {
    const path = lockPath();
    await tryLock(path).then((got) => ('lock' in got ? got.lock.release() : undefined));
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'build-box-7', since: '2026-01-01T00:00:00.000Z' }));
    expect(await tryLock(path)).toEqual({ holder: { pid: 1, host: 'build-box-7', since: '2026-01-01T00:00:00.000Z' } });
  });
});
