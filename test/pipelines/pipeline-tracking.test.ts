/**
 * Stage runs recorded as tracking runs: the observer the repro command uses, driven stage by stage
 * against the real API answered in-process on SQLite and PostgreSQL, in a real git workspace.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../../src/client/index.js';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { createTrackingObserver, isDataDep } from '../../src/pipelines/pipeline-tracking.js';
import type { LockedPath, Pipeline, Stage, StageDecision, StageResult } from '../../src/pipelines/pipeline-types.js';
import { openInProcessApi, type InProcessApi } from '../../src/server/in-process-api.js';
import { freshPostgresDatabase, freshSqliteFile } from '../support/dialects.js';

const MODEL = join(import.meta.dirname, '../fixtures/breast_cancer_mlp.onnx');
const NEW: StageDecision = { run: true, reason: 'new', detail: 'never ran' };

function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function locked(root: string, path: string): LockedPath {
  const bytes = readFileSync(join(root, path));
  return { path, sha256: sha256(bytes), size: bytes.length, kind: 'file' };
}

function stage(partial: Partial<Stage> & Pick<Stage, 'name' | 'cmd'>): Stage {
  return { wdir: '', deps: [], params: [], outs: [], metrics: [], plots: [], env: {}, declaredAt: 'slipway.yaml:1:1', ...partial };
}

function git(root: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } });
}

const prepare = stage({ name: 'prepare', cmd: 'node prepare.mjs', deps: ['data/raw.csv', 'prepare.mjs'], outs: [{ path: 'data/clean.csv', cache: true, persist: false, dataset: 'cancer-clean' }] });
const train = stage({
  name: 'train',
  cmd: 'node train.mjs',
  deps: ['data/clean.csv', 'train.mjs'],
  params: [{ file: 'params.yaml', keys: ['train'] }],
  outs: [{ path: 'model.onnx', cache: true, persist: false }],
  metrics: [{ path: 'metrics.json', cache: false, persist: false }],
  plots: [{ path: 'plots/roc.csv', cache: false, persist: false }],
  register: { name: 'cancer', path: 'model.onnx', aliases: ['candidate'] },
});

interface Target {
  name: string;
  open(): Promise<{ uri: string; dispose(): Promise<void> }>;
}

const TARGETS: Target[] = [
  {
    name: 'sqlite',
    async open() {
      const f = freshSqliteFile();
      return { uri: f.uri, dispose: async () => f.drop() };
    },
  },
  {
    name: 'postgres',
    async open() {
      const db = await freshPostgresDatabase();
      return { uri: db.uri, dispose: () => db.drop() };
    },
  },
];

for (const target of TARGETS) {
  describe(`every stage run is a tracking run (${target.name})`, () => {
    let root: string;
    let home: string;
    let store: { uri: string; dispose(): Promise<void> };
    let api: InProcessApi;
    let client: SlipwayClient;
    let pipeline: Pipeline;
    let commit: string;

    beforeAll(async () => {
      root = mkdtempSync(join(tmpdir(), 'slipway-tracking-ws-'));
      home = mkdtempSync(join(tmpdir(), 'slipway-tracking-home-'));
      mkdirSync(join(root, 'data'));
      mkdirSync(join(root, 'plots'));
      writeFileSync(join(root, 'data/raw.csv'), 'x,y\n1,0\n2,1\n3,1\n');
      writeFileSync(join(root, 'prepare.mjs'), '// prepare\n');
      writeFileSync(join(root, 'train.mjs'), '// train\n');
      writeFileSync(join(root, 'params.yaml'), 'train:\n  lr: 0.05\n  epochs: 300\n  layers: [8, 4]\n');
      writeFileSync(join(root, 'slipway.yaml'), 'pipeline:\n  experiment: cancer-pipeline\nstages: {}\n');
      writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion": 3}\n');
      writeFileSync(join(root, '.gitignore'), 'data/clean.csv\nmodel.onnx\nslipway.lock\n');
      git(root, 'init', '-q');
      git(root, 'add', '.');
      git(root, 'commit', '-q', '-m', 'start');
      commit = git(root, 'rev-parse', 'HEAD').trim();
      pipeline = { root, file: 'slipway.yaml', paramsFile: 'params.yaml', stages: [prepare, train] };
      store = await target.open();
      api = await openInProcessApi(resolveConfig({ backendStoreUri: store.uri, home }, {}, home), { logger: silentLogger });
      client = new SlipwayClient({ url: api.url, fetch: api.fetch });
    });

    afterAll(async () => {
      await api?.close();
      await store?.dispose();
      rmSync(root, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    });

    it('records each stage that ran as a run with its params, metrics, code revision, environment, data and outputs, and registers its model with the run as source', async () => {
      const observer = createTrackingObserver({ client, root, pipeline });

      // prepare: writes the cleaned table, registered as a dataset version because its out says dataset: cancer-clean.
      const prepStart = Date.now();
      const started = await observer.stageStarted(prepare, NEW);
      const prepRun = (started as { runId: string }).runId;
      expect(prepRun).toMatch(/^[0-9a-f]{32}$/);
      writeFileSync(join(root, 'data/clean.csv'), 'x,y\n1,0\n2,1\n');
      const prepResult: StageResult = {
        stage: prepare,
        decision: NEW,
        status: 'ran',
        startTime: prepStart,
        endTime: Date.now(),
        exitCode: 0,
        lock: { cmd: prepare.cmd, deps: [locked(root, 'data/raw.csv'), locked(root, 'prepare.mjs')], params: {}, outs: [locked(root, 'data/clean.csv')] },
      };
      expect(await observer.stageFinished(prepResult)).toEqual({ runId: prepRun });
      expect(observer.datasets.get('data/clean.csv')).toBe('cancer-clean@1');
      const cleanVersion = await client.datasets.get('cancer-clean', 1);
      expect(cleanVersion).toMatchObject({ digest: locked(root, 'data/clean.csv').sha256, runId: prepRun, rows: 2 });
      expect(cleanVersion.schema?.columns.map((c) => c.name)).toEqual(['x', 'y']);

      // train: reads the cleaned table and params, writes a model, metrics and a plot, and registers the model.
      const trainStart = Date.now();
      const trainRun = ((await observer.stageStarted(train, { run: true, reason: 'deps-changed', detail: 'data/clean.csv changed' })) as { runId: string }).runId;
      copyFileSync(MODEL, join(root, 'model.onnx'));
      writeFileSync(join(root, 'metrics.json'), JSON.stringify({ accuracy: 0.93, eval: { auc: 0.97, loss: 0.21 }, note: 'text is not a metric', ok: true }));
      writeFileSync(join(root, 'plots/roc.csv'), 'fpr,tpr\n0,0\n1,1\n');
      const trainLock = {
        cmd: train.cmd,
        deps: [locked(root, 'data/clean.csv'), locked(root, 'train.mjs')],
        params: { 'params.yaml': { train: { lr: 0.05, epochs: 300, layers: [8, 4] } } },
        outs: [locked(root, 'model.onnx'), locked(root, 'metrics.json'), locked(root, 'plots/roc.csv')],
      };
      await observer.stageFinished({ stage: train, decision: NEW, status: 'ran', startTime: trainStart, endTime: Date.now(), exitCode: 0, lock: trainLock });

      const run = await client.runs.get(trainRun);
      const exp = await client.experiments.get(run.info.experimentId);
      expect(exp.name).toBe('cancer-pipeline');
      expect(run.info).toMatchObject({ runName: 'train', status: 'FINISHED' });
      const params = Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
      expect(params).toEqual({ 'train.lr': '0.05', 'train.epochs': '300', 'train.layers': '[8,4]' });
      const metrics = Object.fromEntries(run.data.metrics.map((m) => [m.key, m.value]));
      expect(metrics).toEqual({ accuracy: 0.93, 'eval.auc': 0.97, 'eval.loss': 0.21 });
      const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
      expect(tags).toMatchObject({
        'mlflow.source.git.commit': commit,
        'slipway.git.dirty': 'false',
        'mlflow.source.name': 'slipway.yaml',
        'slipway.stage': 'train',
        'slipway.stage.cmd': 'node train.mjs',
        'slipway.stage.reason': 'deps-changed',
        'env.os': process.platform,
        'env.arch': process.arch,
        'env.node': process.versions.node,
        'env.lockfile.package-lock.json': sha256('{"lockfileVersion": 3}\n'),
        'slipway.out.model.onnx.sha256': locked(root, 'model.onnx').sha256,
        'slipway.registered_model': 'cancer/1',
      });
      expect(tags['env.onnxruntime']).toMatch(/^\d+\.\d+\.\d+/);
      // Node scripts: no Python was asked about.
      expect(tags['env.python']).toBeUndefined();

      // The cleaned table is linked to its registered version; the script is code, not data.
      expect(run.inputs.datasetInputs).toHaveLength(1);
      const input = run.inputs.datasetInputs[0]!;
      expect(input.dataset).toMatchObject({ name: 'cancer-clean', sourceType: 'slipway', source: JSON.stringify({ uri: 'slipway-dataset:/cancer-clean/1' }) });
      expect(input.tags).toEqual([{ key: 'mlflow.data.context', value: 'training' }]);

      // The prepare run read the raw table as a plain input: its path, digest and source.
      const prep = await client.runs.get(prepRun);
      const raw = locked(root, 'data/raw.csv');
      expect(prep.inputs.datasetInputs.map((d) => d.dataset)).toEqual([{ name: 'data/raw.csv', digest: raw.sha256.slice(0, 36), sourceType: 'local', source: JSON.stringify({ path: 'data/raw.csv', digest: raw.sha256 }) }]);
      expect(prep.inputs.datasetInputs[0]!.tags).toEqual([{ key: 'mlflow.data.context', value: 'input' }]);

      const listed = async (path = '') => (await client.artifacts.list(trainRun, path)).files.map((f) => f.path).sort();
      expect(await listed()).toEqual(['metrics.json', 'model', 'outs.json', 'plots']);
      expect(await listed('plots')).toEqual(['plots/roc.csv']);
      expect(await listed('model')).toEqual(['model/model.onnx']);
      const outs = JSON.parse(await new Response((await client.artifacts.download(trainRun, 'outs.json')).body).text()) as { stage: string; outs: Array<{ path: string; sha256: string; cached: boolean }> };
      expect(outs.stage).toBe('train');
      expect(outs.outs.map((o) => [o.path, o.cached])).toEqual([
        ['model.onnx', true],
        ['metrics.json', false],
        ['plots/roc.csv', false],
      ]);

      // The model version: from the run, READY with its signature, the alias moved to it, and its lineage complete.
      expect(observer.registered).toEqual([{ stage: 'train', runId: trainRun, name: 'cancer', version: '1', aliases: ['candidate'] }]);
      const version = await client.models.getByAlias('cancer', 'candidate');
      expect(version).toMatchObject({ version: '1', runId: trainRun, status: 'READY', source: `runs:/${trainRun}/model` });
      expect(version.signature?.inputs[0]?.name).toBe('features');
      const lineage = await client.governance.lineage('cancer', 1);
      expect(lineage.run).toMatchObject({ runId: trainRun, runName: 'train', codeRevision: commit, experimentName: 'cancer-pipeline', sourceName: 'slipway.yaml' });
      expect(lineage.run?.datasets.map((d) => [d.name, d.context])).toEqual([['cancer-clean', 'training']]);
      expect(lineage.run?.environment['env.os']).toBe(process.platform);
      expect(Object.keys(lineage.run?.environment ?? {}).every((k) => k.startsWith('env.'))).toBe(true);
      expect(lineage.artifact.sha256).toBe(locked(root, 'model.onnx').sha256);

      // A second registration of the same content keeps the dataset version; the model gets version 2 and the alias moves.
      const again = createTrackingObserver({ client, root, pipeline });
      const prep2 = ((await again.stageStarted(prepare, { run: true, reason: 'forced', detail: '' })) as { runId: string }).runId;
      await again.stageFinished({ ...prepResult, endTime: Date.now() });
      expect(again.datasets.get('data/clean.csv')).toBe('cancer-clean@1');
      expect((await client.datasets.lineage('cancer-clean', 1)).producedBy).toBe(prepRun);
      const train2 = ((await again.stageStarted(train, { run: true, reason: 'forced', detail: '' })) as { runId: string }).runId;
      await again.stageFinished({ stage: train, decision: NEW, status: 'ran', startTime: Date.now(), endTime: Date.now(), exitCode: 0, lock: trainLock });
      expect(prep2).not.toBe(prepRun);
      expect((await client.models.getByAlias('cancer', 'candidate')).runId).toBe(train2);
      expect((await client.models.getByAlias('cancer', 'candidate')).version).toBe('2');
    });

    it('counts as data the tables and dataset outs a stage reads, not its code, model, metrics or params', () => {
      writeFileSync(join(root, 'data/labels.bin'), 'x');
      writeFileSync(join(root, 'data/labels.bin.slipway'), 'format: 1\n');
      const evaluate = stage({ name: 'evaluate', cmd: 'node evaluate.mjs', deps: ['model.onnx', 'metrics.json'], params: [{ file: 'eval.yaml', keys: ['*'] }], metrics: [{ path: 'eval/scores.json', cache: false, persist: false }] });
      const p: Pipeline = { ...pipeline, stages: [prepare, train, evaluate] };
      const verdicts = Object.fromEntries(['data/raw.csv', 'data/clean.csv', 'data/labels.bin', 'train.mjs', 'model.onnx', 'metrics.json', 'eval/scores.json', 'params.yaml', 'eval.yaml'].map((d) => [d, isDataDep(root, p, d)]));
      expect(verdicts).toEqual({
        'data/raw.csv': true,
        'data/clean.csv': true,
        'data/labels.bin': true,
        'train.mjs': false,
        'model.onnx': false,
        'metrics.json': false,
        'eval/scores.json': false,
        'params.yaml': false,
        'eval.yaml': false,
      });
      rmSync(join(root, 'data/labels.bin'));
      rmSync(join(root, 'data/labels.bin.slipway'));
    });

    it('ends a failed stage FAILED with the tail of its output, and records nothing for a stage restored or skipped', async () => {
      const observer = createTrackingObserver({ client, root, pipeline, experiment: 'failures' });
      const runId = ((await observer.stageStarted(train, NEW)) as { runId: string }).runId;
      await observer.stageFinished({ stage: train, decision: NEW, status: 'failed', startTime: Date.now(), endTime: Date.now(), exitCode: 3, error: "stage 'train' failed (exit 3)", outputTail: 'loading data\nError: out of memory' });
      const run = await client.runs.get(runId);
      expect(run.info.status).toBe('FAILED');
      const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
      expect(tags['slipway.stage.output_tail']).toBe('loading data\nError: out of memory');
      expect(tags['slipway.stage.exit_code']).toBe('3');
      expect(run.data.metrics).toEqual([]);

      const exp = await client.experiments.getByName('failures');
      const before = (await client.runs.search({ experimentIds: [exp.experimentId] })).runs.length;
      const restored: StageDecision = { run: false, reason: 'restored', runCacheKey: 'k' };
      expect(await observer.stageStarted(prepare, restored)).toBeUndefined();
      expect(await observer.stageFinished({ stage: prepare, decision: restored, status: 'restored', startTime: 0, endTime: 1, lock: { cmd: prepare.cmd, deps: [], params: {}, outs: [], runId: 'a'.repeat(32) } })).toEqual({ runId: 'a'.repeat(32) });
      expect(await observer.stageStarted(prepare, { run: false, reason: 'unchanged' })).toBeUndefined();
      expect((await client.runs.search({ experimentIds: [exp.experimentId] })).runs).toHaveLength(before);
    });

    it('says the workspace was dirty when code changed after the commit, and refuses to record into a deleted experiment', async () => {
      writeFileSync(join(root, 'train.mjs'), '// train, edited\n');
      const observer = createTrackingObserver({ client, root, pipeline, experiment: 'dirty' });
      const runId = ((await observer.stageStarted(prepare, NEW)) as { runId: string }).runId;
      const tags = Object.fromEntries((await client.runs.get(runId)).data.tags.map((t) => [t.key, t.value]));
      expect(tags['slipway.git.dirty']).toBe('true');
      git(root, 'checkout', '--', 'train.mjs');
      // A file git does not track (such as a first run's outputs) leaves the code revision clean.
      writeFileSync(join(root, 'untracked-output.csv'), 'x\n1\n');
      const cleanRun = ((await createTrackingObserver({ client, root, pipeline, experiment: 'dirty' }).stageStarted(prepare, NEW)) as { runId: string }).runId;
      expect(Object.fromEntries((await client.runs.get(cleanRun)).data.tags.map((t) => [t.key, t.value]))['slipway.git.dirty']).toBe('false');
      rmSync(join(root, 'untracked-output.csv'));

      const gone = await client.experiments.create({ name: 'gone' });
      await client.experiments.delete(gone.experimentId);
      const refused = createTrackingObserver({ client, root, pipeline, experiment: 'gone' });
      await expect(refused.stageStarted(prepare, NEW)).rejects.toThrow(`Experiment 'gone', where the pipeline records its stage runs, is deleted: restore it (slipway experiments restore ${gone.experimentId}) or name another in slipway.yaml (pipeline.experiment).`);
    });
  });
}
