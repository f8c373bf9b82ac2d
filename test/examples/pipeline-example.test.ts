/**
 * The pipeline example of docs/examples/pipeline, as its README runs it: a copy committed to a fresh
 * git repository, `slipway repro` (this checkout's build) on the embedded store, then again with
 * nothing changed, then after a param change.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Lineage, Run } from '../../src/client/index.js';
import { CLI_PATH } from '../support/cli.js';
import { REPO, cleanEnv, run } from './example-support.js';

const EXAMPLE = join(REPO, 'docs/examples/pipeline');

describe('the pipeline example (docs/examples/pipeline)', () => {
  let dir: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let commit: string;

  const git = async (...args: string[]) => {
    const r = await run('git', args, { cwd: dir, env: { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' }, timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const slipway = (...args: string[]) => run(process.execPath, [CLI_PATH, ...args], { cwd: dir, env, timeoutMs: 120_000 });
  const runs = async (): Promise<Run[]> => {
    const r = await slipway('runs', 'list', '--experiment', 'cancer-pipeline', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Run[];
  };
  const lineage = async (): Promise<Lineage> => {
    const r = await slipway('lineage', 'models:/cancer@candidate', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Lineage;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-pipeline-example-'));
    home = mkdtempSync(join(tmpdir(), 'slipway-pipeline-home-'));
    cpSync(EXAMPLE, dir, { recursive: true });
    env = cleanEnv({ SLIPWAY_HOME: home });
    delete env.MLFLOW_TRACKING_URI;
    await git('init', '-q');
    await git('add', '.');
    await git('commit', '-q', '-m', 'pipeline example');
    commit = (await git('rev-parse', 'HEAD')).trim();
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('runs every stage once, records each as a run, and registers the model with its data, commit and environment', async () => {
    const first = await slipway('repro');
    expect(first.code, first.stderr).toBe(0);
    for (const stage of ['prepare', 'train', 'evaluate', 'register']) expect(first.stdout).toContain(`ran '${stage}'`);
    expect(first.stdout).toContain('4 ran, 0 up to date.');
    expect(existsSync(join(dir, 'release/cancer.onnx'))).toBe(true);

    const recorded = await runs();
    expect(recorded.map((r) => r.info.runName).sort()).toEqual(['evaluate', 'prepare', 'register', 'train']);
    expect(recorded.every((r) => r.info.status === 'FINISHED')).toBe(true);
    const byName = Object.fromEntries(recorded.map((r) => [r.info.runName, r]));
    const train = byName.train!;
    expect(Object.fromEntries(train.data.params.map((p) => [p.key, p.value]))).toEqual({ 'train.lr': '0.5', 'train.epochs': '200', 'train.l2': '0.01' });
    const trainMetrics = Object.fromEntries(train.data.metrics.map((m) => [m.key, m.value]));
    expect(trainMetrics.rows).toBe(298);
    expect(trainMetrics['train.accuracy']).toBeGreaterThan(0.95);
    const evaluated = Object.fromEntries(byName.evaluate!.data.metrics.map((m) => [m.key, m.value as number]));
    expect(evaluated.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(evaluated.roc_auc).toBeGreaterThanOrEqual(0.95);
    const tags = Object.fromEntries(train.data.tags.map((t) => [t.key, t.value]));
    expect(tags).toMatchObject({ 'mlflow.source.git.commit': commit, 'slipway.git.dirty': 'false', 'slipway.stage': 'train', 'slipway.stage.cmd': 'node src/train.mjs', 'env.os': process.platform });
    // train read the registered split; prepare read the raw table.
    expect(train.inputs.datasetInputs.map((d) => d.dataset.name)).toEqual(['cancer-train']);
    expect(byName.prepare!.inputs.datasetInputs.map((d) => d.dataset.name)).toEqual(['data/cancer.csv']);

    // The lock names the run of each stage.
    const lock = parseYaml(readFileSync(join(dir, 'slipway.lock'), 'utf8')) as { stages: Record<string, { runId?: string }> };
    for (const stage of ['prepare', 'train', 'evaluate', 'register']) expect(lock.stages[stage]?.runId).toBe(byName[stage]!.info.runId);

    const l = await lineage();
    expect(l.version).toBe('1');
    expect(l.serving.aliases).toEqual(['candidate']);
    expect(l.run).toMatchObject({ runId: byName.register!.info.runId, runName: 'register', experimentName: 'cancer-pipeline', codeRevision: commit, status: 'FINISHED' });
    expect(l.run?.datasets.map((d) => [d.name, d.context])).toEqual([['cancer-train', 'training']]);
    expect(l.run?.environment).toMatchObject({ 'env.os': process.platform, 'env.arch': process.arch, 'env.node': process.versions.node });
    expect(l.artifact.signature?.inputs).toEqual([{ name: 'features', type: 'float32', shape: ['batch', 30] }]);

    // The model card names the registered dataset version the model was trained on, as lineage does.
    const card = await slipway('models', 'card', 'cancer', '--version', '1');
    expect(card.code, card.stderr).toBe(0);
    expect(card.stdout).toContain('cancer-train@1 (training)');

    const check = await slipway('env', 'check', 'models:/cancer@candidate');
    expect(check.code, check.stdout).toBe(0);
    expect(check.stdout).toContain('the environment matches.');
  });

  it('does nothing the second time: every stage is up to date and no run is added', async () => {
    const before = (await runs()).length;
    const again = await slipway('repro');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('Everything is up to date.');
    expect(again.stdout).not.toContain('running');
    expect((await runs()).length).toBe(before);
  });

  it('after a param change runs only the stages it affects, and registers the new model as version 2', async () => {
    const params = readFileSync(join(dir, 'params.yaml'), 'utf8');
    (await import('node:fs')).writeFileSync(join(dir, 'params.yaml'), params.replace('epochs: 200', 'epochs: 150'));
    const diff = await slipway('params', 'diff', '--json');
    expect(diff.code, diff.stderr).toBe(0);
    expect((JSON.parse(diff.stdout) as { params: unknown[] }).params).toEqual([{ path: 'params.yaml', key: 'train.epochs', old: 200, new: 150, change: -50, changed: true }]);

    const before = await runs();
    const third = await slipway('repro');
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toContain("'prepare' is up to date");
    for (const stage of ['train', 'evaluate', 'register']) expect(third.stdout).toContain(`ran '${stage}'`);
    expect(third.stdout).not.toContain("ran 'prepare'");
    const after = await runs();
    const added = after.filter((r) => !before.some((b) => b.info.runId === r.info.runId));
    expect(added.map((r) => r.info.runName).sort()).toEqual(['evaluate', 'register', 'train']);
    const newTrain = added.find((r) => r.info.runName === 'train')!;
    expect(newTrain.data.params.find((p) => p.key === 'train.epochs')?.value).toBe('150');
    // params.yaml is edited and not committed: the runs say their workspace was dirty.
    expect(newTrain.data.tags.find((t) => t.key === 'slipway.git.dirty')?.value).toBe('true');

    const l = await lineage();
    expect(l.version).toBe('2');
    expect(l.run?.runId).toBe(added.find((r) => r.info.runName === 'register')!.info.runId);

    const metrics = await slipway('metrics', 'diff', '--runs', before.find((r) => r.info.runName === 'train')!.info.runId, newTrain.info.runId, '--json');
    expect(metrics.code, metrics.stderr).toBe(0);
    expect((JSON.parse(metrics.stdout) as { metrics: Array<{ key: string }> }).metrics.map((m) => m.key)).toEqual(['rows', 'train.accuracy', 'train.log_loss']);
  });
});
