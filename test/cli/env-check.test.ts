/**
 * `slipway env check MODEL_URI` and `slipway env show` (built CLI): the environment the run that
 * built a model version recorded, compared with this machine, in rows a user reads and an exit code
 * CI can gate on.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../../src/client/index.js';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { captureEnvironment } from '../../src/pipelines/environment.js';
import { openInProcessApi } from '../../src/server/in-process-api.js';
import { runCli, tempHome } from '../support/cli.js';

const MODEL = readFileSync(join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx'));

interface CheckJson {
  model: string;
  version: string;
  runId: string | null;
  differences: Array<{ key: string; recorded: string | null; current: string | null; level: string; note: string }>;
  errors: number;
  warnings: number;
  note?: string;
}

describe('slipway env check / env show (built CLI)', () => {
  const home = tempHome('slipway-env-check');
  const env = { SLIPWAY_HOME: home };
  let cwd: string;
  let here: Record<string, string>;

  /** Registers a version of `name` built by a run tagged with `tags` (no run at all when `tags` is undefined). */
  async function version(client: SlipwayClient, name: string, tags: Record<string, string> | undefined): Promise<void> {
    try {
      await client.models.create({ name });
    } catch {
      // Already there from an earlier version.
    }
    if (tags === undefined) {
      const stored = await client.artifacts.put(`models/${name}-norun/model.onnx`, new Uint8Array(MODEL));
      await client.models.createVersion(name, { source: stored.uri });
      return;
    }
    const run = await client.runs.create({ runName: 'train', tags });
    await client.artifacts.upload(run.info.runId, 'model/model.onnx', new Uint8Array(MODEL));
    await client.models.createVersion(name, { source: `runs:/${run.info.runId}/model`, runId: run.info.runId });
  }

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'slipway-env-ws-'));
    writeFileSync(join(cwd, 'package-lock.json'), '{"lockfileVersion": 3, "packages": {}}\n');
    here = await captureEnvironment({ root: cwd, python: false });
    const api = await openInProcessApi(resolveConfig({ home }, {}, home), { logger: silentLogger });
    try {
      const client = new SlipwayClient({ url: api.url, fetch: api.fetch });
      const [major, minor] = (here['env.onnxruntime'] ?? '1.30.0').split('.').map(Number) as [number, number];
      // Version 1: built elsewhere — another OS and CPU, a newer onnxruntime minor, another lock file.
      await version(client, 'cancer', {
        ...here,
        'env.os': here['env.os'] === 'linux' ? 'darwin' : 'linux',
        'env.arch': here['env.arch'] === 'arm64' ? 'x64' : 'arm64',
        'env.onnxruntime': `${major}.${minor + 1}.0`,
        'env.lockfile.package-lock.json': 'f'.repeat(64),
        'mlflow.source.git.commit': 'a'.repeat(40),
      });
      // Version 2: built here; only the patch release of onnxruntime and Node differ.
      await version(client, 'cancer', { ...here, 'env.onnxruntime': `${major}.${minor}.${99}`, 'env.node': `${process.versions.node.split('.')[0]}.0.0` });
      // Version 3: registered from a file, no run.
      await version(client, 'cancer', undefined);
      // Version 4: a run that recorded no environment.
      await version(client, 'cancer', { 'mlflow.source.git.commit': 'b'.repeat(40) });
      await client.models.setAlias('cancer', 'candidate', 2);
    } finally {
      await api.close();
    }
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it('names the differences that break a model as errors and exits 1', async () => {
    const res = await runCli(['env', 'check', 'models:/cancer/1'], env, cwd);
    expect(res.code, res.stderr).toBe(1);
    const lines = res.stdout.split('\n');
    expect(lines[0]).toMatch(/^cancer version 1, built by run [0-9a-f]{32}$/);
    expect(lines[1]).toMatch(/^KEY\s+RECORDED\s+HERE\s+LEVEL\s+NOTE$/);
    const row = (key: string) => lines.find((l) => l.startsWith(`${key} `)) ?? '';
    expect(row('env.os')).toMatch(/\berror\b.*another operating system than the model was built on/);
    expect(row('env.arch')).toMatch(/\berror\b.*another CPU architecture/);
    expect(row('env.onnxruntime')).toMatch(/\berror\b.*older than the model was built with/);
    expect(row('env.node')).toMatch(/\bsame\b/);
    expect(row('env.lockfile.package-lock.json')).toMatch(/^env\.lockfile\.package-lock\.json\s+ffffffffffff\s+[0-9a-f]{12}\s+warning\s+package-lock\.json changed since the model was built/);
    expect(res.stdout).toContain('3 error(s), 1 warning(s): this machine differs in ways that can break the model.');

    const json = await runCli(['env', 'check', 'models:/cancer/1', '--json'], env, cwd);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as CheckJson;
    expect(report).toMatchObject({ model: 'cancer', version: '1', errors: 3, warnings: 1 });
    expect(report.differences.find((d) => d.key === 'env.arch')).toMatchObject({ recorded: here['env.arch'] === 'arm64' ? 'x64' : 'arm64', current: process.arch, level: 'error' });
  });

  it('passes a version built on a machine like this one (by alias), patch releases being the same', async () => {
    const res = await runCli(['env', 'check', 'models:/cancer@candidate', '--json'], env, cwd);
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout) as CheckJson;
    expect(report).toMatchObject({ version: '2', errors: 0, warnings: 0 });
    expect(Object.fromEntries(report.differences.map((d) => [d.key, d.level]))).toEqual({
      'env.os': 'same',
      'env.arch': 'same',
      'env.onnxruntime': 'same',
      'env.node': 'same',
      'env.lockfile.package-lock.json': 'same',
    });
    const text = await runCli(['env', 'check', 'models:/cancer@candidate'], env, cwd);
    expect(text.stdout).toContain('the environment matches.');
  });

  it('says so when a version has no run or no recorded environment: exit 0, or 1 with --strict', async () => {
    const norun = await runCli(['env', 'check', 'models:/cancer/3'], env, cwd);
    expect(norun.code).toBe(0);
    expect(norun.stdout).toBe('cancer version 3\nVersion 3 was registered without a run: its environment was never recorded.\n');
    expect((await runCli(['env', 'check', 'models:/cancer/3', '--strict'], env, cwd)).code).toBe(1);
    const bare = await runCli(['env', 'check', 'models:/cancer/4', '--json'], env, cwd);
    expect(bare.code).toBe(0);
    expect((JSON.parse(bare.stdout) as CheckJson).note).toMatch(/^Run [0-9a-f]{32} recorded no environment \(env\.\* tags\): nothing to compare\. Runs of slipway repro record it\.$/);
    expect((await runCli(['env', 'check', 'models:/cancer/4', '--strict'], env, cwd)).code).toBe(1);
  });

  it('answers a malformed URI with exit 2 and an unknown version with exit 1, one line each', async () => {
    const bad = await runCli(['env', 'check', 'cancer/1'], env, cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error: MODEL_URI must be models:/NAME@ALIAS or models:/NAME/VERSION, got 'cancer/1'.\n");
    const missing = await runCli(['env', 'check', 'models:/cancer/9'], env, cwd);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n').at(-1)).toMatch(/^error: .*version.*9/i);
    const noStore = await runCli(['env', 'check', 'models:/cancer/1'], { SLIPWAY_HOME: join(cwd, 'nowhere') }, cwd);
    expect(noStore.code).toBe(1);
    expect(noStore.stderr).toMatch(/^error: No Slipway store at /m);
  });

  it('shows this machine as a stage run records it', async () => {
    const res = await runCli(['env', 'show', '--json'], {}, cwd);
    expect(res.code).toBe(0);
    const shown = JSON.parse(res.stdout) as Record<string, string>;
    expect(shown).toMatchObject({ 'env.os': process.platform, 'env.arch': process.arch, 'env.node': process.versions.node, 'env.lockfile.package-lock.json': here['env.lockfile.package-lock.json'] });
    const text = await runCli(['env', 'show'], {}, cwd);
    expect(text.stdout).toMatch(/^env\.arch:\s+\S+$/m);
  });
});
