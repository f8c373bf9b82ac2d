/** `slipway serve` refuses what a web page could send it: a foreign Host (DNS rebinding) or a foreign Origin. */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_PATH } from './support/cli.js';
import { holdout } from './support/serving.js';
import { servedAddress } from './support/serve-process.js';

function send(url: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('slipway serve request guard', () => {
  let child: ChildProcess | undefined;
  let url = '';
  const home = mkdtempSync(join(tmpdir(), 'slipway-serve-guard-'));
  const body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: holdout('breast_cancer').rows.slice(0, 1) }] });

  beforeAll(async () => {
    const proc = spawn(process.execPath, [CLI_PATH, 'serve', join(import.meta.dirname, 'fixtures/breast_cancer_mlp.onnx'), '--name', 'cancer', '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SLIPWAY_HOME: home },
    });
    child = proc;
    url = await servedAddress(proc).then((info) => info.url);
  });
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  it('answers inference sent with its own address', async () => {
    const res = await send(url, '/v2/models/cancer/infer', { 'content-type': 'application/json' }, body);
    expect(res.status).toBe(200);
  });

  it('refuses a foreign Host on the inference fast route and on metadata, naming the host', async () => {
    const infer = await send(url, '/v2/models/cancer/infer', { host: 'evil.example', 'content-type': 'application/json' }, body);
    expect(infer.status).toBe(403);
    expect(infer.text).toContain('evil.example');
    const meta = await send(url, '/v2/models/cancer', { host: 'evil.example' });
    expect(meta.status).toBe(403);
  });

  it('refuses inference from a foreign Origin', async () => {
    const res = await send(url, '/v2/models/cancer/infer', { origin: 'http://evil.example', 'content-type': 'application/json' }, body);
    expect(res.status).toBe(403);
    expect(res.text).toContain('evil.example');
  });
});
