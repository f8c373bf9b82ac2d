/**
 * Graceful shutdown of the built CLI: `slipway serve` receives SIGTERM while
 * requests are in flight, answers every one of them, then exits 0 and stops listening.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { Agent, request as httpRequest } from 'node:http';
import { brokenFile, fixture, identityFile, mlpFile } from './support/serving.js';
import { servedAddress } from './support/serve-process.js';

const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

describe('slipway serve drains on SIGTERM', () => {
  let child: ChildProcess | undefined;

  beforeAll(() => {
    // Build only when the CLI is missing or older than the serving sources.
    const stale = !existsSync(cli) || Math.max(newestMtime(join(root, 'src', 'serving')), newestMtime(join(root, 'src', 'cli'))) > statSync(cli).mtimeMs;
    if (stale) spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'ignore', timeout: 120_000 });
    expect(existsSync(join(root, 'dist', 'cli', 'commands', 'serve.js'))).toBe(true);
  }, 150_000);
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('answers in-flight requests, exits 0, then refuses connections', async () => {
    const model = mlpFile([64, 1536, 1536, 10], { seed: 5 });
    child = spawn(process.execPath, [cli, 'serve', model, '--name', 'slow', '--port', '0', '--json', '--max-batch-size', '1', '--concurrency', '1'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SLIPWAY_HOME: join(tmpdir(), 'slipway-serve-sigterm') },
    });
    const proc = child;
    const info = await servedAddress(proc);
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [256, 64], data: new Array(256 * 64).fill(0.25) }] });
    const send = () => request(`${info.url}/v2/models/slow/infer`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));
    const inflight = Array.from({ length: 6 }, send);
    // Let the requests reach the server, then ask it to stop while they are queued and running.
    await new Promise((r) => setTimeout(r, 150));
    proc.kill('SIGTERM');
    const results = await Promise.all(inflight);
    for (const r of results) {
      expect(r.status, r.body).toBe(200);
      expect(JSON.parse(r.body).outputs[0].shape).toEqual([256, 10]);
    }
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
    expect(code).toBe(0);
    await expect(send()).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});

describe('slipway serve drains large requests that arrive while inference blocks the loop', () => {
  let child: ChildProcess | undefined;
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('resets none of them: each gets its prediction or a V2-shaped 503 that closes the connection', async () => {
    child = spawn(process.execPath, [cli, 'serve', fixture('breast_cancer_mlp.onnx'), '--name', 'bc', '--port', '0', '--json', '--executor', 'inline'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SLIPWAY_HOME: join(tmpdir(), 'slipway-serve-sigterm') },
    });
    const proc = child;
    const url = await servedAddress(proc).then((info) => info.url);
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    const input = ((await (await fetch(`${url}/v2/models/bc`)).json()) as { inputs: Array<{ name: string }> }).inputs[0]?.name;
    const rows = 7500;
    const body = JSON.stringify({ inputs: [{ name: input, datatype: 'FP32', shape: [rows, 30], data: new Array(rows * 30).fill(12.3456) }] });
    const agent = new Agent({ keepAlive: true, maxSockets: 24 });
    const send = (method: string, path: string, data?: string) =>
      new Promise<{ status?: number; body?: string; connection?: string; error?: string }>((done) => {
        const u = new URL(url);
        const req = httpRequest({ agent, host: u.hostname, port: u.port, method, path, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => done({ status: res.statusCode, body: text, connection: res.headers.connection }));
          res.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
        });
        req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
        req.end(data);
      });
    // Idle keep-alive connections first; the big requests then arrive over 600 ms, the signal 150 ms in.
    await Promise.all(Array.from({ length: 24 }, () => send('GET', '/v2/health/live')));
    const pending = Array.from({ length: 24 }, (_, i) => new Promise((r) => setTimeout(r, i * 25)).then(() => send('POST', '/v2/models/bc/infer', body)));
    await new Promise((r) => setTimeout(r, 150));
    proc.kill('SIGTERM');
    const results = await Promise.all(pending);
    agent.destroy();
    expect(results.filter((r) => r.error)).toEqual([]);
    for (const r of results) {
      if (r.status === 200) continue;
      expect(r.status, r.body).toBe(503);
      expect(JSON.parse(r.body as string)).toEqual({ error: expect.stringContaining('shutting down') });
      expect(r.connection).toBe('close');
    }
    expect(results.some((r) => r.status === 200)).toBe(true);
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))])).toBe(0);
  }, 60_000);
});

describe('slipway serve bad usage', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'serve', ...args], { cwd: root, encoding: 'utf8', timeout: 30_000, env: { ...process.env, SLIPWAY_HOME: join(tmpdir(), 'slipway-serve-usage') } });

  it('exits 2 with one line naming the file and the problem for a missing file, a directory and a file that is not ONNX', () => {
    const missingPath = join(tmpdir(), 'no-such-model.onnx');
    const missing = run([missingPath, '--port', '0']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(`error: Cannot serve ${missingPath}: file not found.\n`);
    const broken = brokenFile();
    const notOnnx = run([broken, '--port', '0']);
    expect(notOnnx.status).toBe(2);
    expect(notOnnx.stderr).toBe(`error: Cannot serve ${broken}: not a valid ONNX model (it is not ONNX protobuf data).\n`);
    const truncatedPath = join(mkdtempSync(join(tmpdir(), 'slipway-serve-usage-')), 'truncated.onnx');
    writeFileSync(truncatedPath, readFileSync(mlpFile([4, 3])).subarray(0, 40));
    const truncated = run([truncatedPath, '--port', '0']);
    expect(truncated.status).toBe(2);
    expect(truncated.stderr).toBe(`error: Cannot serve ${truncatedPath}: not a valid ONNX model (it is truncated or not ONNX protobuf data).\n`);
    // A well-formed model onnxruntime refuses (an operator it does not know): still one line, no log line.
    const unknownOpPath = join(dirname(truncatedPath), 'unknown-op.onnx');
    writeFileSync(unknownOpPath, Buffer.from(readFileSync(identityFile(['FP32'])).toString('latin1').replace(/Identity/g, 'Identitx'), 'latin1'));
    const unknownOp = run([unknownOpPath, '--port', '0']);
    expect(unknownOp.status).toBe(2);
    expect(unknownOp.stderr).toMatch(new RegExp(`^error: Cannot serve ${unknownOpPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: load failed: onnxruntime could not load .*No Op registered for Identitx[^\n]*\n$`));
    const folder = run([tmpdir(), '--port', '0']);
    expect(folder.status).toBe(2);
    expect(folder.stderr).toBe(`error: Cannot serve ${tmpdir()}: it is a directory, not an .onnx file.\n`);
  });

  it('exits 2 naming the problem for a bad flag value or a malformed model URI', () => {
    const badFlag = run([join(tmpdir(), 'x.onnx'), '--max-batch-size', 'many']);
    expect(badFlag.status).toBe(2);
    expect(badFlag.stderr).toContain('--max-batch-size must be a positive integer.');
    const badUri = run(['models:/only-a-name']);
    expect(badUri.status).toBe(2);
    expect(badUri.stderr).toContain("'models:/only-a-name' is not a model URI");
  });
});
