import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.js';
import { TrackingService } from '../../src/tracking/index.js';
import { freshSqliteFile } from '../support/dialects.js';
import { runCli, storeNote } from '../support/cli.js';

describe('slipway experiments / runs (built CLI)', () => {
  const f = freshSqliteFile();
  const env = { SLIPWAY_HOME: f.dir };
  const runIds: string[] = [];
  let experimentId = '';

  beforeAll(async () => {
    const store = await openStore(`sqlite:///${join(f.dir, 'slipway.db')}`);
    const t = new TrackingService(store);
    experimentId = await t.createExperiment({ name: 'fraud', tags: [{ key: 'team', value: 'risk' }] });
    await t.createExperiment({ name: 'churn' });
    for (let i = 0; i < 3; i++) {
      const run = await t.createRun({ experimentId, runName: `mlp-${i}`, startTime: 1_700_000_000_000 + i * 1000 });
      runIds.push(run.info.runId);
      await t.logBatch(run.info.runId, {
        metrics: [
          { key: 'auc', value: 0.8 + i / 100, step: 0, timestamp: 1 },
          { key: 'loss', value: Number.NaN, step: 0, timestamp: 1 },
        ],
        params: [{ key: 'lr', value: i === 1 ? '0.1' : '0.01' }],
        tags: [],
      });
    }
    await t.updateRun({ runId: runIds[0] as string, status: 'FINISHED', endTime: 1_700_000_004_200 });
    await store.close();
  });
  afterAll(() => f.drop());

  it('lists experiments as a table and as JSON', async () => {
    const table = await runCli(['experiments', 'list', '--order-by', 'name ASC'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STAGE\s+CREATED\s+UPDATED\s+TAGS$/);
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/)[1])).toEqual(['Default', 'churn', 'fraud']);
    expect(table.stdout).toContain('team=risk');
    const json = await runCli(['experiments', 'list', '--filter', "name = 'fraud'", '--json'], env);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ experimentId, name: 'fraud', tags: [{ key: 'team', value: 'risk' }] })]);
  });

  it('shows an experiment by name or id with its latest runs', async () => {
    const byName = await runCli(['experiments', 'show', 'fraud'], env);
    expect(byName.code).toBe(0);
    expect(byName.stdout).toMatch(/^id:\s+\d+$/m);
    expect(byName.stdout).toContain('mlp-2');
    const byId = await runCli(['experiments', 'show', experimentId, '--json'], env);
    expect(JSON.parse(byId.stdout)).toMatchObject({ experimentId, name: 'fraud' });
  });

  it('searches runs with a filter and an order, across experiments by default', async () => {
    const res = await runCli(['runs', 'list', '--filter', "params.lr = '0.01'", '--order-by', 'metrics.auc DESC', '--json'], env);
    expect(res.code).toBe(0);
    const runs = JSON.parse(res.stdout) as Array<{ info: { runName: string }; data: { metrics: Array<{ key: string; value: unknown }> } }>;
    expect(runs.map((r) => r.info.runName)).toEqual(['mlp-2', 'mlp-0']);
    expect(runs[0]?.data.metrics).toContainEqual(expect.objectContaining({ key: 'loss', value: 'NaN' }));

    const table = await runCli(['runs', 'list', '--experiment', 'fraud', '--filter', 'metrics.auc > 0.805', '--max-results', '1'], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^RUN ID\s+NAME\s+EXPERIMENT\s+STATUS\s+STARTED\s+DURATION\s+METRICS$/);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('mlp-2');
    expect(lines[1]).toContain('auc=0.82');
    expect(table.stderr).toMatch(/more runs follow; continue with --page-token \S+/);
  });

  it('shows one run with params, metrics and duration', async () => {
    const res = await runCli(['runs', 'show', runIds[0] as string], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^status:\s+FINISHED$/m);
    expect(res.stdout).toMatch(/^duration:\s+4\.2s$/m);
    expect(res.stdout).toMatch(/^lr\s+0\.01$/m);
    expect(res.stdout).toMatch(/^auc\s+0\.8\s+0\s/m);
    const json = await runCli(['runs', 'show', runIds[1] as string, '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ info: { runId: runIds[1], runName: 'mlp-1' }, data: { params: [{ key: 'lr', value: '0.1' }] } });
  });

  it('fails with exit 1 on unknown ids and exit 2 on bad input, with a message on stderr', async () => {
    const unknownRun = await runCli(['runs', 'show', 'f'.repeat(32)], env);
    expect(unknownRun.code).toBe(1);
    expect(unknownRun.stderr).toMatch(new RegExp(`^${storeNote(env)}error: .*${'f'.repeat(32)}`));
    expect(unknownRun.stdout).toBe('');
    const unknownExp = await runCli(['experiments', 'show', 'nope'], env);
    expect(unknownExp).toMatchObject({ code: 1, stderr: `${storeNote(env)}error: No experiment with id or name 'nope'.\n` });
    const unknownInList = await runCli(['runs', 'list', '--experiment', '999'], env);
    expect(unknownInList.code).toBe(1);

    const badId = await runCli(['runs', 'show', 'xyz'], env);
    expect(badId).toMatchObject({ code: 2, stderr: "error: 'xyz' is not a run id: expected 32 hexadecimal characters.\n" });
    const badFilter = await runCli(['runs', 'list', '--filter', 'metrics.auc >>> 1'], env);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toMatch(new RegExp(`^${storeNote(env)}error: `));
    expect(badFilter.stderr).not.toMatch(/\n\s+at /);
    const badFlag = await runCli(['runs', 'list', '--colour'], env);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("unknown option '--colour'");
    const badMax = await runCli(['experiments', 'list', '--max-results', '0'], env);
    expect(badMax.code).toBe(2);
    const badView = await runCli(['experiments', 'list', '--view', 'gone'], env);
    expect(badView).toMatchObject({ code: 2, stderr: "error: --view must be one of active, deleted, all; got 'gone'.\n" });
    const missingArg = await runCli(['runs', 'show'], env);
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("missing required argument 'run-id'");
  });
});
