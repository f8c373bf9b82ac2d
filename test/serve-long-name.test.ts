/** `slipway serve --name` with a long name: the V2 routes must still find the model. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { CLI_PATH } from './support/cli.js';
import { holdout } from './support/serving.js';
import { servedAddress } from './support/serve-process.js';

describe('slipway serve with a long model name', () => {
  let child: ChildProcess | undefined;
  const home = mkdtempSync(join(tmpdir(), 'slipway-serve-name-'));
  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    rmSync(home, { recursive: true, force: true });
  });

  it('answers V2 metadata and inference under a 150-character name', async () => {
    const name = 'breast-cancer-'.repeat(10) + 'mlp-v1-x';
    const proc = spawn(process.execPath, [CLI_PATH, 'serve', join(import.meta.dirname, 'fixtures/breast_cancer_mlp.onnx'), '--name', name, '--port', '0', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SLIPWAY_HOME: home },
    });
    child = proc;
    const info = await servedAddress(proc);
    const rows = holdout('breast_cancer').rows.slice(0, 2);
    const meta = await request(`${info.url}/v2/models/${name}`);
    expect(meta.statusCode).toBe(200);
    expect(((await meta.body.json()) as { name: string }).name).toBe(name);
    const res = await request(`${info.url}/v2/models/${name}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: rows }] }) });
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { outputs: Array<{ shape: number[] }> }).outputs[0]?.shape).toEqual([2, 1]);
  });
});
