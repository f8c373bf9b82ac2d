/**
 * Durations are written one way in flags, environment variables and slipway.yaml:
 * a number with a unit (`250ms`, `10s`, `5m`, `500us`). These tests run the built
 * CLI and watch the settings take effect on real requests; they also check that a
 * bare number is refused naming the setting, and that the old spellings with a unit
 * in their name still work, in their old unit, with a warning.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CLI_PATH, runCli, tempHome } from '../support/cli.js';
import { servedAddress } from '../support/serve-process.js';
import { holdout } from '../support/serving.js';

const MODEL = join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx');

interface Served {
  url: string;
  proc: ChildProcess;
  stderr: () => string;
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const proc of running.splice(0)) if (proc.exitCode === null) proc.kill('SIGKILL');
});

/** Starts `slipway serve MODEL --name bc --port 0 --json ...args` with only `env` set, in `cwd`. */
async function serve(args: string[], env: Record<string, string>, cwd?: string): Promise<Served> {
  const proc = spawn(process.execPath, [CLI_PATH, 'serve', MODEL, '--name', 'bc', '--port', '0', '--json', ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_LOG_LEVEL: 'warn', ...env },
  });
  running.push(proc);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const info = await servedAddress(proc);
  return { url: info.url, proc, stderr: () => stderr };
}

/** One breast-cancer row to the served model: the status and the answer's text. */
async function inferOneRow(url: string): Promise<{ status: number; text: string }> {
  const row = holdout('breast_cancer').rows[0] as number[];
  const res = await request(`${url}/v2/models/bc/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The `warning:` lines of a stream's text. */
const warnings = (text: string) => text.split('\n').filter((line) => line.startsWith('warning:'));

describe('slipway serve duration flags', () => {
  const home = tempHome('slipway-durations');

  // A lone one-row request waits --max-queue-delay for more rows; a deadline shorter than that delay answers 504 naming it.
  it('--max-queue-delay 200ms and --deadline 20ms take effect', async () => {
    const s = await serve(['--max-queue-delay', '200ms', '--deadline', '20ms'], { SLIPWAY_HOME: home });
    const answer = await inferOneRow(s.url);
    expect(answer.status, answer.text).toBe(504);
    expect(answer.text).toContain('The request exceeded its deadline of 20 ms (while queued).');
    expect(warnings(s.stderr())).toEqual([]);
  });

  it('--max-queue-delay 500us is microseconds: the request runs well inside a 20ms deadline', async () => {
    const s = await serve(['--max-queue-delay', '500us', '--deadline', '20ms'], { SLIPWAY_HOME: home });
    const answer = await inferOneRow(s.url);
    expect(answer.status, answer.text).toBe(200);
  });

  it('still takes --max-queue-delay-us, --deadline-ms and --drain-timeout-ms in their old units, with one warning each', async () => {
    const s = await serve(['--max-queue-delay-us', '200000', '--deadline-ms', '20', '--drain-timeout-ms', '5000'], { SLIPWAY_HOME: home });
    const answer = await inferOneRow(s.url);
    expect(answer.status, answer.text).toBe(504);
    expect(answer.text).toContain('deadline of 20 ms');
    expect(warnings(s.stderr())).toEqual([
      'warning: --max-queue-delay-us is deprecated; use --max-queue-delay 200ms',
      'warning: --deadline-ms is deprecated; use --deadline 20ms',
      'warning: --drain-timeout-ms is deprecated; use --drain-timeout 5s',
    ]);
  });

  it('--drain-timeout 1s ends a drain held open by a stalled upload, instead of the default 10s', async () => {
    const s = await serve(['--drain-timeout', '1s'], { SLIPWAY_HOME: home });
    const exited = new Promise<number | null>((resolve) => s.proc.on('exit', (code) => resolve(code)));
    // A client that announces a body and stops sending keeps its request in progress for good.
    const socket = connect(Number(new URL(s.url).port), '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /v2/models/bc/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n{"inputs"');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    s.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(6000);
    socket.destroy();
  });

  it('refuses a bare number with exit 2, naming the flag and the unit to add', async () => {
    const cases: Array<[string[], string]> = [
      [['serve', MODEL, '--deadline', '30'], "--deadline must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s."],
      [['serve', MODEL, '--max-queue-delay', '500'], "--max-queue-delay must be a duration such as 250ms, 10s or 5m; got '500': add a unit, e.g. 500us or 500ms."],
      [['serve', MODEL, '--drain-timeout', '10'], "--drain-timeout must be a duration such as 250ms, 10s or 5m; got '10': add a unit, e.g. 10ms or 10s."],
      [['server', '--request-timeout', '300'], "--request-timeout must be a duration such as 250ms, 10s or 5m; got '300': add a unit, e.g. 300s or 300ms."],
      [['server', '--shutdown-timeout', '15'], "--shutdown-timeout must be a duration such as 250ms, 10s or 5m; got '15': add a unit, e.g. 15s or 15ms."],
      [['serve', MODEL, '--deadline', 'soon'], "--deadline must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'soon'."],
      [['serve', MODEL, '--deadline', '0'], "--deadline must be longer than 0, a duration such as 250ms, 10s or 5m; got '0'."],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, { SLIPWAY_HOME: home })));
    for (const [i, res] of results.entries()) {
      const [args, message] = cases[i] as [string[], string];
      expect({ args, code: res.code, stdout: res.stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(res.stderr.trim().split('\n')).toHaveLength(1);
      expect(res.stderr).toContain(message);
    }
  });

  it('refuses a new flag and its deprecated spelling together', async () => {
    const res = await runCli(['serve', MODEL, '--deadline', '1s', '--deadline-ms', '5', '--port', '0'], { SLIPWAY_HOME: home });
    expect(res.code).toBe(2);
    expect(res.stderr).toBe('error: Give --deadline or --deadline-ms, not both; --deadline-ms is deprecated.\n');
  });

  it('shows the new flags in --help and its examples, not the deprecated ones', async () => {
    const [served, server] = await Promise.all([runCli(['serve', '--help']), runCli(['server', '--help'])]);
    for (const flag of ['--deadline <duration>', '--max-queue-delay <duration>', '--drain-timeout <duration>']) expect(served.stdout).toContain(flag);
    expect(served.stdout).not.toMatch(/--deadline-ms|--max-queue-delay-us|--drain-timeout-ms/);
    expect(served.stdout).toContain('$ slipway serve models:/cancer/3 --max-batch-size 32 --max-queue-delay 500us --json');
    expect(server.stdout).toContain('--request-timeout <duration>');
    expect(server.stdout).toContain('--shutdown-timeout <duration>');
    expect(server.stdout.replace(/\s+/g, ' ')).toContain('(default: 10s)');
    expect(server.stdout).toContain('$ slipway server --request-timeout 5m --shutdown-timeout 15s');
  });
});

describe('duration settings from the environment and slipway.yaml', () => {
  const home = tempHome('slipway-durations-env');

  it('take effect: SLIPWAY_SERVING_MAX_QUEUE_DELAY=200ms with servingDeadline: 40ms in slipway.yaml', async () => {
    const dir = tempHome('slipway-durations-yaml');
    writeFileSync(join(dir, 'slipway.yaml'), 'server:\n  servingDeadline: 40ms\n');
    const s = await serve([], { SLIPWAY_HOME: home, SLIPWAY_SERVING_MAX_QUEUE_DELAY: '200ms' }, dir);
    const answer = await inferOneRow(s.url);
    expect(answer.status, answer.text).toBe(504);
    expect(answer.text).toContain('deadline of 40 ms');
    expect(warnings(s.stderr())).toEqual([]);
  });

  it('still take the _MS/_US spellings in their old units, with a warning naming the new spelling', async () => {
    const dir = tempHome('slipway-durations-yaml');
    const file = join(dir, 'slipway.yaml');
    writeFileSync(file, 'server:\n  servingMaxQueueDelayUs: 200000\n');
    const s = await serve([], { SLIPWAY_HOME: home, SLIPWAY_SERVING_DEADLINE_MS: '25' }, dir);
    const answer = await inferOneRow(s.url);
    expect(answer.status, answer.text).toBe(504);
    expect(answer.text).toContain('deadline of 25 ms');
    expect(warnings(s.stderr())).toEqual([
      `warning: server.servingMaxQueueDelayUs in ${file} is deprecated; use server.servingMaxQueueDelay: 200ms`,
      'warning: SLIPWAY_SERVING_DEADLINE_MS is deprecated; use SLIPWAY_SERVING_DEADLINE=25ms',
    ]);
  });

  it('stop start-up with exit 2 naming the variable or key when a value has no unit', async () => {
    const dir = tempHome('slipway-durations-yaml');
    const file = join(dir, 'slipway.yaml');
    writeFileSync(file, 'server:\n  statementTimeout: 30\n');
    const [serveEnv, serverEnv, serverFile] = await Promise.all([
      runCli(['serve', MODEL, '--port', '0'], { SLIPWAY_HOME: home, SLIPWAY_SERVING_DEADLINE: '30' }),
      runCli(['server', '--port', '0'], { SLIPWAY_HOME: home, SLIPWAY_REQUEST_TIMEOUT: 'five minutes' }),
      runCli(['server', '--port', '0'], { SLIPWAY_HOME: home }, dir),
    ]);
    expect({ code: serveEnv.code, stderr: serveEnv.stderr, stdout: serveEnv.stdout }).toEqual({
      code: 2,
      stderr: "error: SLIPWAY_SERVING_DEADLINE must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s.\n",
      stdout: '',
    });
    expect({ code: serverEnv.code, stderr: serverEnv.stderr }).toEqual({
      code: 2,
      stderr: "error: SLIPWAY_REQUEST_TIMEOUT must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'five minutes'.\n",
    });
    expect({ code: serverFile.code, stderr: serverFile.stderr }).toEqual({
      code: 2,
      stderr: `error: server.statementTimeout in ${file} must be a duration such as 250ms, 10s or 5m; got '30': add a unit, e.g. 30ms or 30s.\n`,
    });
  });

  it('warn about SLIPWAY_REQUEST_TIMEOUT_MS on slipway server, which still cuts off a stalled request after it', async () => {
    const proc = spawn(process.execPath, [CLI_PATH, 'server', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'warn', SLIPWAY_REQUEST_TIMEOUT_MS: '1000' },
    });
    running.push(proc);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
    });
    expect(warnings(stderr)).toEqual(['warning: SLIPWAY_REQUEST_TIMEOUT_MS is deprecated; use SLIPWAY_REQUEST_TIMEOUT=1s']);
    // Announces 1000 bytes of a body and sends 20.
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.on('error', () => {});
    const started = Date.now();
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      setTimeout(() => resolve(text), 10_000).unref();
      socket.write('POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"run_id": "abc", "m');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(8000);
    socket.destroy();
  });
});
