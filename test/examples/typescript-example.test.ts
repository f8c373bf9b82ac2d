/**
 * The TypeScript example, compiled with its own tsconfig and run the way docs/examples.md says,
 * against a real `slipway server` process on a free port with a temporary SLIPWAY_HOME.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../../src/client/index.js';
import { freshHome, removeHome, startServerProcess, type ServerProcess } from '../e2e/server-process.js';
import { REPO, cleanEnv, run, type Finished } from './example-support.js';

const TSC = join(REPO, 'node_modules/typescript/bin/tsc');
const OUT_DIR = join(REPO, 'examples/typescript/dist');

describe('examples/typescript/quickstart.ts against a real server', () => {
  let home: string;
  let server: ServerProcess;
  let compiled: Finished;
  let first: Finished;
  let second: Finished;
  const hadOutput = existsSync(OUT_DIR);

  beforeAll(async () => {
    home = freshHome();
    server = await startServerProcess(home);
    // `npx tsc -p examples/typescript`: the compiler is the project's own.
    compiled = await run(process.execPath, [TSC, '-p', 'examples/typescript'], { cwd: REPO, env: cleanEnv(), timeoutMs: 60_000 });
    if (compiled.code !== 0) return;
    const example = () => run(process.execPath, ['examples/typescript/dist/quickstart.js'], { cwd: REPO, env: cleanEnv({ SLIPWAY_SERVER: server.url }), timeoutMs: 60_000 });
    first = await example();
    second = await example();
  }, 150_000);

  afterAll(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (home) removeHome(home);
    // The build output is ignored by git; leave none behind that was not there before.
    if (!hadOutput) rmSync(OUT_DIR, { recursive: true, force: true });
  });

  it('type-checks and compiles with the project TypeScript against the built slipway/client', () => {
    expect(compiled.code, `tsc -p examples/typescript:\n${compiled.stdout}${compiled.stderr}`).toBe(0);
    expect(existsSync(join(OUT_DIR, 'quickstart.js'))).toBe(true);
  });

  it("prints the served prediction of the fixture model for the holdout's first row", () => {
    expect(first.code, `${first.stdout}\n${first.stderr}`).toBe(0);
    const expected = Number(readFileSync(join(REPO, 'test/fixtures/breast_cancer_mlp_expected.csv'), 'utf8').split('\n')[1]);
    const m = /^prediction\s+probabilities=(\S+) \(model breast-cancer-ts version 1,/m.exec(first.stdout);
    expect(m, first.stdout).not.toBeNull();
    expect(Number(m?.[1])).toBeCloseTo(expected, 4);
    expect(first.stdout).toMatch(/^registered\s+breast-cancer-ts version 1 \(READY\): features float32 \[batch,30\] -> probabilities float32 \[batch,1\]$/m);
  });

  it('leaves the finished run, its metric history and model file, and the champion version on the server', async () => {
    const slipway = new SlipwayClient({ url: server.url });
    const exp = await slipway.experiments.getByName('breast-cancer-ts');
    const found = await slipway.runs.search({ experimentIds: [exp.experimentId], filter: "params.model = 'mlp' and metrics.accuracy > 0.9" });
    expect(found.runs).toHaveLength(2);
    const run1 = found.runs.find((r) => r.info.runId === /^run\s+(\w+)/m.exec(first.stdout)?.[1]);
    expect(run1?.info).toMatchObject({ status: 'FINISHED', runName: 'mlp-fixture' });
    const history = await slipway.runs.metricHistory(run1?.info.runId ?? '', 'accuracy');
    expect(history.metrics.map((m) => m.step)).toEqual([0, 1, 2, 3, 4]);
    const listing = await fetch(`${server.url}/api/2.0/mlflow/artifacts/list?run_id=${run1?.info.runId}&path=model`);
    const files = ((await listing.json()) as { files?: Array<{ path: string; file_size?: number }> }).files ?? [];
    expect(files).toEqual([{ path: 'model/model.onnx', is_dir: false, file_size: readFileSync(join(REPO, 'test/fixtures/breast_cancer_mlp.onnx')).length }]);

    const v1 = await slipway.models.getVersion('breast-cancer-ts', 1);
    expect(v1).toMatchObject({ status: 'READY', runId: run1?.info.runId, source: `runs:/${run1?.info.runId}/model` });
    expect(v1.signature?.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 30] }]);
    expect(JSON.parse(v1.tags['slipway.columns'] ?? '[]')).toHaveLength(30);
  });

  it('runs again on the same server: a second run and version 2 become champion and serve the row', async () => {
    expect(second.code, `${second.stdout}\n${second.stderr}`).toBe(0);
    expect(second.stdout).toMatch(/^prediction\s+probabilities=\S+ \(model breast-cancer-ts version 2,/m);
    const slipway = new SlipwayClient({ url: server.url });
    expect((await slipway.models.getByAlias('breast-cancer-ts', 'champion')).version).toBe('2');
    expect((await slipway.models.listVersions('breast-cancer-ts')).versions.map((v) => v.version)).toEqual(['2', '1']);
  });
});
