/**
 * The MLflow example (examples/mlflow/train.py). Where `python3` imports its modules (mlflow,
 * scikit-learn, torch, skl2onnx, onnx), it trains, logs and registers against a real
 * `slipway server` process, and both registered ONNX versions are served. Elsewhere the script is
 * still checked for what needs no module: it compiles, its requirements cover its imports, and
 * run without them it stops with exit code 1 saying what to install.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../../src/client/index.js';
import { CLI, freshHome, removeHome, startServerProcess, type ServerProcess } from '../e2e/server-process.js';
import { servedAddress } from '../support/serve-process.js';
import { REPO, TRAIN_SCRIPT, cleanEnv, distributionOf, hasExampleModules, pythonImports, requirementNames, run } from './example-support.js';

const PYTHON = 'python3';
const REQUIREMENTS = 'examples/mlflow/requirements.txt';
const withModules = await hasExampleModules(PYTHON);

describe('examples/mlflow/train.py: what needs no Python module', () => {
  it('compiles, and requirements.txt lists exactly the third-party modules it imports', async () => {
    const { imports, stdlib } = await pythonImports(PYTHON, TRAIN_SCRIPT);
    const thirdParty = imports.filter((m) => !stdlib.includes(m)).map(distributionOf);
    // The five modules of the brief, plus numpy, which the script uses directly.
    expect(thirdParty.sort()).toEqual(['mlflow', 'numpy', 'onnx', 'scikit-learn', 'skl2onnx', 'torch']);
    expect(requirementNames(REQUIREMENTS).sort()).toEqual(thirdParty.sort());
  });

  it('pins MLflow to the 2.x client that Slipway was verified with', () => {
    expect(readFileSync(join(REPO, REQUIREMENTS), 'utf8')).toMatch(/^mlflow>=2\.12,<3$/m);
  });
});

// Only the block that fits this machine is declared, so no test is ever reported skipped.
if (!withModules) describe(`examples/mlflow/train.py where ${PYTHON} lacks its modules`, () => {
  it('exits 1 and names the requirements file to install', async () => {
    const res = await run(PYTHON, [TRAIN_SCRIPT], { cwd: REPO, env: cleanEnv({ MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' }), timeoutMs: 60_000 });
    expect(res.code, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/^error: the Python module '\w+' is not installed; install this example's requirements first: pip install -r examples\/mlflow\/requirements\.txt$/m);
    expect(res.stdout).toBe('');
  });
});

if (withModules) describe('examples/mlflow/train.py against a real server', () => {
  let home: string;
  let server: ServerProcess;
  let trained: Awaited<ReturnType<typeof run>>;

  beforeAll(async () => {
    home = freshHome();
    server = await startServerProcess(home);
    trained = await run(PYTHON, [TRAIN_SCRIPT], { cwd: REPO, env: cleanEnv({ MLFLOW_TRACKING_URI: server.url }), timeoutMs: 240_000 });
  }, 300_000);

  afterAll(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (home) removeHome(home);
  });

  it('trains both models, registers their ONNX files and prints what it registered', () => {
    expect(trained.code, `${trained.stdout}\n${trained.stderr}`).toBe(0);
    for (const flavour of ['sklearn', 'torch']) {
      expect(trained.stdout).toMatch(new RegExp(`^  breast-cancer-${flavour} version 1 \\(alias champion\\) from runs:/\\w+/onnx$`, 'm'));
      expect(trained.stdout).toMatch(new RegExp(`served +5 held-out rows through ${server.url}/v2/models/breast-cancer-${flavour}/infer`));
    }
    expect(trained.stdout).toContain('npx slipway serve models:/breast-cancer-sklearn/1');
  });

  it('logs two finished runs with params, metrics (per epoch for the MLP) and the native and ONNX models', async () => {
    const slipway = new SlipwayClient({ url: server.url });
    const runs = (await slipway.runs.search({ experimentIds: ['0'], filter: 'metrics.accuracy > 0.9' })).runs;
    expect(runs.map((r) => r.info.runName).sort()).toEqual(['sklearn-logreg', 'torch-mlp']);
    for (const r of runs) expect(r.info.status).toBe('FINISHED');
    const mlp = runs.find((r) => r.info.runName === 'torch-mlp');
    expect(mlp?.data.params).toContainEqual({ key: 'epochs', value: '60' });
    expect((await slipway.runs.metricHistory(mlp?.info.runId ?? '', 'val_loss')).metrics).toHaveLength(60);
    for (const r of runs) {
      const res = await fetch(`${server.url}/api/2.0/mlflow/artifacts/list?run_id=${r.info.runId}`);
      const files = ((await res.json()) as { files: Array<{ path: string }> }).files.map((f) => f.path).sort();
      expect(files).toEqual(['model', 'onnx']);
    }
  });

  it('registers ONNX versions with their signature and columns, which the server and `slipway serve models:/NAME/1` serve', async () => {
    const slipway = new SlipwayClient({ url: server.url });
    const sk = await slipway.models.getVersion('breast-cancer-sklearn', 1);
    expect(sk.status).toBe('READY');
    expect(sk.signature?.inputs[0]).toMatchObject({ name: 'features', type: 'float32' });
    // Exported without a ZipMap: the probabilities are a plain [rows, 2] tensor.
    expect(sk.signature?.outputs.map((o) => o.name)).toEqual(['label', 'probabilities']);
    expect(JSON.parse(sk.tags['slipway.columns'] ?? '[]')).toContain('mean_radius');
    const torch = await slipway.models.getVersion('breast-cancer-torch', 1);
    expect(torch.signature).toMatchObject({ inputs: [{ name: 'features', shape: ['batch', 30] }], outputs: [{ name: 'probabilities', shape: ['batch', 1] }] });

    const serve = spawn(process.execPath, [CLI, 'serve', 'models:/breast-cancer-torch/1', '--port', '0', '--json'], {
      cwd: home,
      env: cleanEnv({ SLIPWAY_HOME: join(home, 'home'), SLIPWAY_LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const { url } = await servedAddress(serve);
      const rows = [Array.from({ length: 30 }, () => 1), Array.from({ length: 30 }, () => 10)];
      const res = await fetch(`${url}/v2/models/breast-cancer-torch/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 30], data: rows.flat() }] }),
      });
      expect(res.status).toBe(200);
      const answer = (await res.json()) as { model_version: string; outputs: Array<{ name: string; shape: number[]; data: number[] }> };
      expect(answer.model_version).toBe('1');
      expect(answer.outputs[0]).toMatchObject({ name: 'probabilities', shape: [2, 1] });
      for (const p of answer.outputs[0]?.data ?? []) expect(p).toBeGreaterThanOrEqual(0);
    } finally {
      const exited = serve.exitCode === null ? once(serve, 'exit') : Promise.resolve();
      serve.kill('SIGTERM');
      await exited;
    }
  });
});
