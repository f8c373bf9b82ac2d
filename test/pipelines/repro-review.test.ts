import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli } from '../support/cli.js';
import { pipelineWorkspace } from './pipeline-workspace.js';

const ONE_STAGE = `stages:
  train:
    cmd: node tool.mjs train --in raw.txt --out model.bin
    deps: [raw.txt]
    outs: [model.bin]
`;

const outside: string[] = [];
afterAll(() => {
  for (const d of outside) rmSync(d, { recursive: true, force: true });
});

function runCacheFile(dir: string): string {
  const name = readdirSync(join(dir, '.slipway/runs')).find((f) => /^[0-9a-f]{64}\.json$/.test(f));
  if (!name) throw new Error('no run cache entry');
  return join(dir, '.slipway/runs', name);
}

describe('slipway repro against crafted run cache entries', () => {
  it('never removes or writes a path outside the stage outs that a run cache entry names', async () => {
    const ws = pipelineWorkspace(ONE_STAGE, { 'raw.txt': 'rows\n' });
    const victim = mkdtempSync(join(tmpdir(), 'slipway-victim-'));
    outside.push(victim);
    writeFileSync(join(victim, 'keep.txt'), 'precious');
    expect((await runCli(['repro'], {}, ws.dir)).code).toBe(0);
    const file = runCacheFile(ws.dir);
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { outs: Array<Record<string, unknown>> };
    // A second out pointing out of the workspace, with the digest of an object the cache holds.
    const rel = join('..', '..', '..', '..', '..', '..', '..', '..', victim).split('\\').join('/');
    entry.outs.push({ ...entry.outs[0], path: rel });
    writeFileSync(file, JSON.stringify(entry));
    rmSync(join(ws.dir, 'model.bin'));
    ws.clearRuns();
    const again = await runCli(['repro'], {}, ws.dir);
    expect(again.code).toBe(0);
    // The crafted entry is a miss: the stage runs, and the folder outside is untouched.
    expect(ws.runs()).toEqual(['train']);
    expect(statSync(victim).isDirectory()).toBe(true);
    expect(readFileSync(join(victim, 'keep.txt'), 'utf8')).toBe('precious');
  });

  it('treats an entry with a malformed digest as a miss instead of failing the repro', async () => {
    const ws = pipelineWorkspace(ONE_STAGE, { 'raw.txt': 'rows\n' });
    expect((await runCli(['repro'], {}, ws.dir)).code).toBe(0);
    const file = runCacheFile(ws.dir);
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { outs: Array<Record<string, unknown>> };
    entry.outs[0] = { ...entry.outs[0], sha256: '../../../../etc/passwd' };
    writeFileSync(file, JSON.stringify(entry));
    rmSync(join(ws.dir, 'model.bin'));
    ws.clearRuns();
    const again = await runCli(['repro'], {}, ws.dir);
    expect(again.stderr).not.toContain('    at ');
    expect(again.code).toBe(0);
    expect(ws.runs()).toEqual(['train']);
    expect(existsSync(join(ws.dir, 'model.bin'))).toBe(true);
  });
});

describe('slipway repro stopped by a signal', () => {
  it('stops the running command too, releases the stage lock and reports the stage as failed', async () => {
    // The command waits for a file that never comes; the marker names it in the process list.
    const marker = `never-${process.pid}-${Date.now()}`;
    const ws = pipelineWorkspace(`stages:
  slow:
    cmd: node tool.mjs slow --touch started --wait-for ${marker} --out out.txt; echo after
    outs: [out.txt]
`);
    const child = spawn(process.execPath, [CLI_PATH, 'repro'], { cwd: ws.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    while (!ws.exists('started')) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGTERM');
    const code = await exited;
    expect(code).toBe(1);
    expect(stderr).toContain("stage 'slow' failed (exit 143)");
    // Nothing of the stage runs on: its process is gone, its shell never reached the next command.
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(marker);
    expect(readdirSync(join(ws.dir, '.slipway/locks'))).toEqual([]);
    expect(ws.exists('out.txt')).toBe(false);
  });
});

describe('slipway data gc while a repro runs', () => {
  it('refuses to remove objects while a stage is being run in the workspace, and runs once it has finished', async () => {
    const ws = pipelineWorkspace(`stages:
  slow:
    cmd: node tool.mjs slow --touch started --wait-for go --out out.txt
    outs: [out.txt]
`);
    const child = spawn(process.execPath, [CLI_PATH, 'repro', '--no-track'], { cwd: ws.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      while (!ws.exists('started')) await new Promise((r) => setTimeout(r, 20));
      const gc = await runCli(['data', 'gc', '--workspace'], {}, ws.dir);
      expect(gc.code).toBe(1);
      expect(gc.stderr).toContain(`slipway repro (pid ${child.pid}`);
      expect(gc.stderr).toContain("is running stage 'slow' in this workspace; gc could remove the outs it is saving");
      // A dry run only counts, so it is not refused.
      expect((await runCli(['data', 'gc', '--workspace', '--dry-run'], {}, ws.dir)).code).toBe(0);
    } finally {
      ws.write('go', '');
    }
    expect(await exited).toBe(0);
    const after = await runCli(['data', 'gc', '--workspace'], {}, ws.dir);
    expect(after.code).toBe(0);
    // The run cache keeps the stage's out: nothing it needs was removed.
    expect(after.stdout).toMatch(/^Removed 0 of 1 cached object/);
  });
});
