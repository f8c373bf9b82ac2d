/**
 * `slipway datasets` as a user runs it: the built CLI in child processes over one embedded store.
 * A CSV tracked with `slipway data add` and committed is registered (schema, profile, git source,
 * the version written back into its pointer), logged as a run's training input; the model version
 * registered from that run takes its monitoring reference from that training data, and both lineages
 * name the dataset version. Bad input exits 2, unknown versions 1, a used version is not deleted.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryService } from '../../src/registry/index.js';
import { openStore } from '../../src/store/store.js';
import { TrackingService } from '../../src/tracking/index.js';
import { runCli } from '../support/cli.js';
import { fixture } from '../support/serving.js';

const dir = mkdtempSync(join(tmpdir(), 'slipway-datasets-cli-'));
const ws = join(dir, 'project');
const home = join(dir, 'home');
const storeUri = `sqlite:///${join(home, 'slipway.db')}`;
const env = { SLIPWAY_BACKEND_STORE_URI: storeUri, SLIPWAY_HOME: home, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.com', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.com' };
const csv = fixture('breast_cancer_train.csv');
const rowsOfCsv = readFileSync(csv, 'utf8').trim().split('\n').length - 1;
const cli = (args: string[]) => runCli(args, env, ws);
const git = (...args: string[]) => execFileSync('git', args, { cwd: ws, env: { ...process.env, ...env } }).toString().trim();

let commit = '';
let runId = '';

async function withStore<T>(fn: (s: { tracking: TrackingService; registry: RegistryService }) => Promise<T>): Promise<T> {
  const store = await openStore(storeUri);
  try {
    return await fn({ tracking: new TrackingService(store), registry: new RegistryService({ store }) });
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  mkdirSync(join(ws, 'data'), { recursive: true });
  mkdirSync(home, { recursive: true });
  copyFileSync(csv, join(ws, 'data', 'train.csv'));
  git('init', '-q');
  const added = await cli(['data', 'add', 'data/train.csv']);
  expect(added.code, added.stderr).toBe(0);
  git('add', '-A');
  git('commit', '-qm', 'track the training data');
  commit = git('rev-parse', 'HEAD');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('slipway datasets', () => {
  it('registers a tracked CSV with its schema, profile and git source, and records the version in the pointer', async () => {
    const r = await cli(['datasets', 'register', 'data/train.csv', '--name', 'cancer-train', '--description', 'Training split', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ name: 'cancer-train', version: 1, created: true, kind: 'file', files: 1, rows: rowsOfCsv, hasProfile: true, source: `git:${commit}:data/train.csv`, description: 'Training split' });
    expect(v.schema.columns).toHaveLength(31);
    expect(readFileSync(join(ws, 'data', 'train.csv.slipway'), 'utf8')).toMatch(/^dataset: cancer-train@1$/m);

    const again = await cli(['datasets', 'register', 'data/train.csv.slipway', '--name', 'cancer-train']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toBe(`cancer-train@1 already holds this content (82.3 KiB, ${rowsOfCsv} rows × 31 columns); nothing registered\n`);

    const show = await cli(['datasets', 'show', 'cancer-train']);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/^uri:\s+slipway-dataset:\/cancer-train\/1$/m);
    expect(show.stdout).toMatch(/^mean_radius\s+double\s+yes$/m);
    const list = await cli(['datasets', 'list']);
    expect(list.stdout).toMatch(/^cancer-train\s+1\s+1\s+file\s+82\.3 KiB, \d+ rows × 31 columns/m);
  });

  it('answers bad input with exit 2 and unknown versions with exit 1, each with one line naming the problem', async () => {
    writeFileSync(join(ws, 'data', 'loose.csv'), 'a,b\n1,2\n');
    const untracked = await cli(['datasets', 'register', 'data/loose.csv', '--name', 'loose']);
    expect(untracked.code).toBe(2);
    expect(untracked.stderr).toMatch(/error: data\/loose\.csv is not tracked \(no data\/loose\.csv\.slipway\); run 'slipway data add data\/loose\.csv' first\.\n$/);
    const outside = await cli(['datasets', 'register', '../elsewhere.csv', '--name', 'x']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/outside the workspace/);
    const badName = await cli(['datasets', 'register', 'data/train.csv', '--name', 'a@b']);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toMatch(/must not contain '\/' or '@'/);
    expect((await cli(['datasets', 'show', 'cancer-train@x'])).code).toBe(2);
    const unknown = await cli(['datasets', 'show', 'cancer-train@7']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error: Dataset 'cancer-train' has no version 7\.\n$/);
    const noYes = await cli(['datasets', 'delete', 'cancer-train@1']);
    expect(noYes.code).toBe(2);
    expect(noYes.stderr).toMatch(/add --yes to confirm/);
    expect(noYes.stderr).not.toMatch(/\n {4}at /);
  });

  it('registers a tracked folder, profiling the table --table names after checking it against the folder as added', async () => {
    mkdirSync(join(ws, 'data', 'scans'), { recursive: true });
    writeFileSync(join(ws, 'data', 'scans', 'labels.csv'), 'file,label,ok\na.bin,3,true\nb.bin,,false\n');
    writeFileSync(join(ws, 'data', 'scans', 'a.bin'), 'not a table');
    expect((await cli(['data', 'add', 'data/scans'])).code).toBe(0);

    const r = await cli(['datasets', 'register', 'data/scans', '--name', 'scans', '--table', 'labels.csv', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout);
    expect(v).toMatchObject({ name: 'scans', version: 1, kind: 'folder', files: 2, rows: 2, source: 'data/scans' });
    expect(v.schema.columns).toEqual([
      { name: 'file', type: 'string', required: true },
      { name: 'label', type: 'long', required: false },
      { name: 'ok', type: 'boolean', required: true },
    ]);

    const escape = await cli(['datasets', 'register', 'data/scans', '--name', 'scans', '--table', '../train.csv']);
    expect(escape.code).toBe(2);
    expect(escape.stderr).toMatch(/--table '\.\.\/train\.csv' must name a file inside data\/scans/);
    const absent = await cli(['datasets', 'register', 'data/scans', '--name', 'scans', '--table', 'other.csv']);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/is not a file of data\/scans as it was added/);
    writeFileSync(join(ws, 'data', 'scans', 'labels.csv'), 'file,label\nc.bin,1\n');
    const changed = await cli(['datasets', 'register', 'data/scans', '--name', 'scans', '--table', 'labels.csv']);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(/data\/scans\/labels\.csv changed since data\/scans was added; run 'slipway data add data\/scans' first/);
  });

  it('reads without creating a store: listing where none exists exits 1 and says how to start one', async () => {
    const empty = join(dir, 'no-store');
    const r = await runCli(['datasets', 'list'], { SLIPWAY_HOME: empty }, ws);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/No Slipway store at .*no-store.*slipway server/);
  });

  it('links a training run and its model version: the reference comes from the training data and both lineages name the version', async () => {
    runId = await withStore(async ({ tracking }) => {
      const experimentId = await tracking.createExperiment({ name: 'cancer' });
      return (await tracking.createRun({ experimentId, runName: 'mlp' })).info.runId;
    });
    const logged = await cli(['datasets', 'log-input', 'cancer-train@1', '--run-id', runId, '--context', 'training']);
    expect(logged.code, logged.stderr).toBe(0);
    expect(logged.stdout).toBe(`logged cancer-train (slipway-dataset:/cancer-train/1) as an input of run ${runId} (training)\n`);
    await withStore(async ({ registry }) => {
      await registry.createRegisteredModel({ name: 'cancer' });
      await registry.createModelVersion({ name: 'cancer', source: fixture('breast_cancer_mlp.onnx'), runId });
      await registry.createModelVersion({ name: 'cancer', source: fixture('breast_cancer_mlp.onnx') });
    });

    const ref = await cli(['monitor', 'reference', 'set', 'models:/cancer/1', '--from-training-data']);
    expect(ref.code, ref.stderr).toBe(0);
    expect(ref.stdout).toBe(`attached the profile of cancer-train@1 (${rowsOfCsv} rows × 31 columns) as the reference of cancer version 1\n`);
    const shown = JSON.parse((await cli(['monitor', 'reference', 'show', 'models:/cancer/1', '--json'])).stdout);
    expect(shown).toMatchObject({ rows: rowsOfCsv, source: 'dataset:cancer-train@1' });
    const named = await cli(['monitor', 'reference', 'set', 'models:/cancer/2', '--dataset', 'cancer-train@latest', '--json']);
    expect(JSON.parse(named.stdout)).toMatchObject({ model: 'cancer', version: '2', source: 'dataset:cancer-train@1' });

    const noRun = await cli(['monitor', 'reference', 'set', 'models:/cancer/2', '--from-training-data']);
    expect(noRun.code).toBe(1);
    expect(noRun.stderr).toMatch(/error: The model version was not registered from a run/);

    const lineage = await cli(['lineage', 'models:/cancer/1']);
    expect(lineage.code, lineage.stderr).toBe(0);
    expect(lineage.stdout).toMatch(/datasets:\s+cancer-train@1 \(training\) digest [0-9a-f]{36}/);
    const used = await cli(['datasets', 'lineage', 'cancer-train@1']);
    expect(used.code).toBe(0);
    expect(used.stdout).toContain(runId);
    expect(used.stdout).toMatch(/^cancer\s+1\s+[0-9a-f]{32}/m);
  });

  it('refuses to delete a version a run used unless --force', async () => {
    const refused = await cli(['datasets', 'delete', 'cancer-train@1', '--yes']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is an input of 1 run \([0-9a-f]{32}\); delete it anyway with --force \(force=true over HTTP\)\./);
    const forced = await cli(['datasets', 'delete', 'cancer-train@1', '--yes', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toBe('deleted cancer-train@1\n');
    expect((await cli(['datasets', 'lineage', 'cancer-train@1'])).code).toBe(1);
  });
});
