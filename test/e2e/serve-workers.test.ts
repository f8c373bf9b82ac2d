/**
 * `slipway serve --workers N`: N processes answer on one port and stay one server from the
 * outside — readiness over every worker, /metrics summed over them, a worker killed with SIGKILL
 * under load replaced with only its own requests failing, SIGTERM draining them all, and a model
 * that fails to load in the workers failing the start with one error line.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_PATH, runCli } from '../support/cli.js';
import { fixture, holdout } from '../support/serving.js';
import { servedAddress } from '../support/serve-process.js';
import { staleAnswers, waitFor, watchVersions, workersOf } from '../support/cluster.js';

const cancer = holdout('breast_cancer');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const homes: string[] = [];
const procs: ChildProcess[] = [];

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'slipway-workers-'));
  homes.push(home);
  return home;
}

function serve(args: string[], home = newHome()): ChildProcess {
  const p = spawn(process.execPath, [CLI_PATH, 'serve', ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(p);
  return p;
}

const body = (i: number) => JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[i % cancer.rows.length] }] });

afterAll(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe('slipway serve --workers', () => {
  it('answers on one port from every worker as one server, replaces a killed worker, and drains them all on SIGTERM', async () => {
    const p = serve([fixture('breast_cancer_mlp.onnx'), '--name', 'cancer', '--workers', '3', '--port', '0', '--json']);
    const info = await servedAddress<{ url: string; workers: number; version: string }>(p, 60_000);
    expect(info).toMatchObject({ workers: 3, version: '1' });
    const primary = p.pid as number;
    const first = workersOf(primary);
    expect(first).toHaveLength(3);
    expect((await fetch(`${info.url}/v2/health/ready`)).status).toBe(200);

    // A new connection each time, so the requests spread over the workers; /metrics counts them all.
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${info.url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: body(i) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const metrics = await (await fetch(`${info.url}/metrics`)).text();
    const served = metrics.split('\n').filter((l) => l.startsWith('slipway_serving_requests_total{') && l.includes('model="cancer"') && l.includes('status="200"'));
    expect(served.reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0)).toBe(30);

    // Load from 8 keep-alive clients while one worker is killed: only requests that worker held may fail.
    const agent = new Agent({ connections: 8, pipelining: 1 });
    let stopped = false;
    let ok = 0;
    const failures: string[] = [];
    const clients = Array.from({ length: 8 }, async (_, c) => {
      for (let i = c; !stopped; i += 8) {
        try {
          const res = await request(`${info.url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i), dispatcher: agent });
          await res.body.text();
          if (res.statusCode === 200) ok++;
          else failures.push(String(res.statusCode));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    await waitFor('load to run', () => (ok > 200 ? true : undefined), 20_000);
    const victim = first[0] as number;
    process.kill(victim, 'SIGKILL');
    const replaced = await waitFor(
      'a replacement worker',
      () => {
        const now = workersOf(primary);
        return now.length === 3 && !now.includes(victim) ? now : undefined;
      },
      20_000,
    );
    expect(replaced.filter((w) => first.includes(w))).toHaveLength(2);
    await waitFor('readiness of every worker again', async () => ((await fetch(`${info.url}/v2/health/ready`)).status === 200 ? true : undefined), 30_000);
    const before = ok;
    await waitFor('load to go on', () => (ok > before + 200 ? true : undefined), 20_000);
    stopped = true;
    await Promise.all(clients);
    await agent.close();
    // At most the requests in flight on the killed worker's connections (one per connection).
    expect(failures.length).toBeLessThanOrEqual(8);

    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    const stopAt = Date.now();
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Idle workers drain at once: nothing waits for the 10 s drain timeout.
    expect(Date.now() - stopAt).toBeLessThan(5000);
    expect(replaced.filter((w) => spawnSync('kill', ['-0', String(w)]).status === 0)).toEqual([]);
  }, 120_000);

  it('swaps a moved alias in every worker at once: no answer from the old version after one from the new', async () => {
    const home = newHome();
    for (const [file, extra] of [
      ['breast_cancer_mlp.onnx', ['--alias', 'champion']],
      ['release/cancer_good.onnx', []],
    ] as const) {
      const reg = await runCli(['models', 'register', fixture(file), '--name', 'cancer', ...extra], { SLIPWAY_HOME: home });
      expect(reg.code, reg.stderr).toBe(0);
    }
    // Each worker looks at the alias every second, at its own moment: without the primary's word they would switch apart.
    const p = serve(['models:/cancer@champion', '--workers', '2', '--registry-poll', '1s', '--port', '0', '--json'], home);
    const info = await servedAddress<{ url: string; version: string }>(p, 60_000);
    expect(info.version).toBe('1');
    // A new connection each time, so consecutive requests land on different workers.
    const watch = watchVersions(async (i) => {
      const res = await fetch(`${info.url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: body(i) });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${res.status} ${text}`);
      return (JSON.parse(text) as { model_version: string }).model_version;
    });
    const answers = watch.answers;
    try {
      await sleep(1000);
      const moved = await runCli(['models', 'alias', 'set', 'cancer', 'champion', '2'], { SLIPWAY_HOME: home });
      expect(moved.code, moved.stderr).toBe(0);
      await waitFor('version 2 to answer', () => (answers.some((a) => a.version === '2') ? true : undefined), 20_000);
      await sleep(2000);
    } finally {
      await watch.stop();
    }
    expect(watch.failures).toEqual([]);
    // Both workers swap at the same word: an old answer may only come from a request already under way (300 ms of slack for
    // the word to reach a busy worker on a loaded machine; without the word, workers switched up to a second apart).
    const stale = staleAnswers(answers, '1', '2', 300);
    expect(stale, `${stale.length} answers from version 1 after version 2 answered`).toEqual([]);
    expect(answers.filter((a) => a.version === '2').length).toBeGreaterThan(20);
    p.kill('SIGTERM');
  }, 90_000);

  it('fails the start with one error line, exit 2, when the model cannot be loaded in the workers', async () => {
    const p = serve(['models:/missing@champion', '--workers', '2', '--port', '0']);
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    const lines = stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/missing/);
  }, 60_000);

  it('refuses --model-control explicit with more than one worker, naming both', async () => {
    const p = serve([fixture('breast_cancer_mlp.onnx'), '--workers', '2', '--model-control', 'explicit', '--port', '0']);
    let stderr = '';
    p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--model-control explicit.*--workers 1/);
  }, 30_000);
});
