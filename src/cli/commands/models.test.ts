/** Spawns the built CLI (`npm run build` first) against a temporary SLIPWAY_HOME. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeNote } from '../../../test/support/cli.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');
const CLI = join(ROOT, 'dist/cli/main.js');
const FIXTURES = join(ROOT, 'test/fixtures');

describe('slipway models', () => {
  let home: string;
  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'slipway-models-cli-'));
  });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  async function slipway(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, SLIPWAY_HOME: home }, cwd: home });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  it('registers an ONNX file with its signature, columns and alias, and shows it', async () => {
    const reg = await slipway(
      'models', 'register', join(FIXTURES, 'breast_cancer_mlp.onnx'),
      '--name', 'cancer', '--alias', 'champion', '--description', 'mlp v1',
      '--columns-from', join(FIXTURES, 'breast_cancer_train.csv'), '--json',
    );
    expect(reg.stderr).toBe(storeNote({ SLIPWAY_HOME: home }));
    expect(reg.code).toBe(0);
    const v = JSON.parse(reg.stdout);
    expect(v).toMatchObject({ name: 'cancer', version: '1', status: 'READY', aliases: ['champion'], description: 'mlp v1' });
    expect(v.signature.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 30] }]);
    expect(v.signature.outputs).toEqual([{ name: 'probabilities', type: 'float32', shape: ['batch', 1] }]);
    const columns = JSON.parse(v.tags['slipway.columns']);
    expect(columns).toHaveLength(30);
    expect(columns).not.toContain('target');
    expect(v.source).toMatch(/^mlflow-artifacts:\/models\/[0-9a-f-]+\/breast_cancer_mlp\.onnx$/);

    const second = await slipway('models', 'register', join(FIXTURES, 'diabetes_forest.onnx'), '--name', 'cancer');
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/version:\s+2/);
    expect(second.stdout).toMatch(/signature:\s+features float32 \[batch,10\] -> prediction float32 \[batch,1\]/);

    const list = await slipway('models', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+LATEST\s+ALIASES/);
    expect(list.stdout).toMatch(/cancer\s+2\s+champion=v1/);

    const show = await slipway('models', 'show', 'cancer', '--json');
    const model = JSON.parse(show.stdout);
    expect(model.versions.map((x: { version: string }) => x.version)).toEqual(['2', '1']);
    const human = await slipway('models', 'show', 'cancer');
    expect(human.stdout).toMatch(/aliases:\s+champion=v1/);
    expect(human.stdout).toMatch(/VERSION\s+STATUS\s+STAGE/);

    const one = await slipway('models', 'show', 'cancer', '--version', '1');
    expect(one.stdout).toMatch(/signature:\s+features float32 \[batch,30\] -> probabilities float32 \[batch,1\]/);
  });

  it('moves and deletes aliases', async () => {
    const set = await slipway('models', 'alias', 'set', 'cancer', 'champion', '2');
    expect(set.code).toBe(0);
    expect(set.stdout).toBe('cancer@champion -> version 2\n');
    expect(JSON.parse((await slipway('models', 'show', 'cancer', '--json')).stdout).aliases).toEqual([{ alias: 'champion', version: '2' }]);
    const del = await slipway('models', 'alias', 'delete', 'cancer', 'champion');
    expect(del).toMatchObject({ code: 0, stdout: 'cancer@champion deleted\n' });
    const again = await slipway('models', 'alias', 'delete', 'cancer', 'champion');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/has no alias 'champion'/);
  });

  it('exits 1 for what does not exist and 2 for bad input, naming the problem', async () => {
    const missing = await slipway('models', 'show', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`${storeNote({ SLIPWAY_HOME: home })}error: Registered Model with name=ghost not found\n`);
    expect((await slipway('models', 'show', 'cancer', '--version', '9')).code).toBe(1);
    expect((await slipway('models', 'alias', 'set', 'cancer', 'champion', '9')).code).toBe(1);

    const notOnnx = join(home, 'model.onnx');
    writeFileSync(notOnnx, 'not a model');
    const bad = await slipway('models', 'register', notOnnx, '--name', 'x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/is not a readable ONNX model/);
    const absent = await slipway('models', 'register', join(home, 'absent.onnx'), '--name', 'x');
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/does not exist/);
    expect((await slipway('models', 'register', join(FIXTURES, 'breast_cancer_mlp.onnx'))).code).toBe(2);
    const reserved = await slipway('models', 'alias', 'set', 'cancer', 'latest', '1');
    expect(reserved.code).toBe(2);
    expect(reserved.stderr).toMatch(/'latest' is reserved/);
    expect((await slipway('models', 'alias', 'set', 'cancer', 'champion', 'two')).code).toBe(2);
    expect((await slipway('models', 'list', '--filter', "owner = 'x'")).code).toBe(2);
    expect(JSON.parse((await slipway('models', 'list', '--json')).stdout).map((m: { name: string }) => m.name)).toEqual(['cancer']);
  });
});
