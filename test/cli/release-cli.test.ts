/**
 * `slipway release`, `releases …`, `rollback`, `plan` and `apply` as a CI job runs them:
 * the built CLI in a child process against a real server on 127.0.0.1.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type StartedServer } from '../../src/server/start-server.js';
import { runCli, tempHome, type CliResult } from '../support/cli.js';
import { fixture } from '../support/serving.js';

const home = tempHome('slipway-release-cli');
const work = join(home, 'work');
let server: StartedServer;
let env: Record<string, string>;

function cli(args: string[], cwd = work): Promise<CliResult> {
  return runCli(args, env, cwd);
}

async function stateOf(id: string): Promise<string> {
  const shown = await cli(['releases', 'show', id, '--json']);
  return (JSON.parse(shown.stdout) as { state: string }).state;
}

// A release runs on the server after the command returns: read its state until it settles (bounded).
async function settle(id: string, until: readonly string[]): Promise<string> {
  let state = await stateOf(id);
  for (let i = 0; i < 100 && !until.includes(state); i++) {
    await new Promise((r) => setTimeout(r, 100));
    state = await stateOf(id);
  }
  return state;
}

beforeAll(async () => {
  mkdirSync(join(work, 'data'), { recursive: true });
  copyFileSync(fixture('breast_cancer_holdout.csv'), join(work, 'data', 'holdout.csv'));
  server = await startServer(resolveConfig({ home: join(home, 'server'), port: 0 }, {}, home), { logger: silentLogger });
  env = { SLIPWAY_SERVER: server.url, SLIPWAY_HOME: join(home, 'client') };
  for (const alias of ['champion', undefined]) {
    const r = await cli(['models', 'register', fixture('breast_cancer_mlp.onnx'), '--name', 'cancer', ...(alias ? ['--alias', alias] : [])]);
    expect(r.code).toBe(0);
  }
}, 30_000);
afterAll(async () => {
  await server?.close();
});

describe('slipway release', () => {
  it('promotes a version whose gates pass: exit 0, the report, a JUnit file and a step summary appended to', async () => {
    const junit = join(work, 'staging.xml');
    const summary = join(work, 'summary.md');
    writeFileSync(summary, '# Earlier step\n');
    const r = await cli(['release', 'models:/cancer/2', '--to', 'staging', '--command', 'true', '--junit', junit, '--summary', summary]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^state: +promoted$/m);
    expect(r.stdout).toMatch(/^command +command +pass +Command exited with status 0/m);
    expect(r.stdout).toMatch(/cancer version 2 is now staging\n$/);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuites name="slipway release" tests="2" failures="0" errors="0" skipped="0"/);
    expect(xml).toContain('<testcase classname="cancer/staging" name="command"');
    expect(xml).toContain('<testcase classname="cancer/staging" name="rollout" time="0.000"/>');
    // Written whole: no temporary file is left beside it.
    expect(readdirSync(work).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const md = readFileSync(summary, 'utf8');
    expect(md.startsWith('# Earlier step\n## ✅ Release of cancer version 2 to staging: promoted\n')).toBe(true);
    expect(md).toContain('| command | command | ✅ pass |');
  });

  it('exits 1 when a gate fails, with the release as JSON', async () => {
    const r = await cli(['release', 'models:/cancer/2', '--to', 'champion', '--command', 'exit 3', '--json']);
    expect(r.code).toBe(1);
    const release = JSON.parse(r.stdout);
    expect(release).toMatchObject({ model: 'cancer', version: '2', environment: 'champion', championVersion: '1', state: 'rejected' });
    expect(release.gates[0]).toMatchObject({ kind: 'command', verdict: 'fail' });
  });

  it('waits for approval naming the exact command, exits 1 at --timeout, and the release can be aborted', async () => {
    const r = await cli(['release', 'models:/cancer@champion', '--to', 'canary-env', '--approvals', '1', '--timeout', '1s']);
    expect(r.code).toBe(1);
    const id = /release: +(\S+)/.exec(r.stdout)?.[1] as string;
    expect(r.stderr).toContain(`Release ${id} awaits 1 more approval(s) (0 of 1) by someone other than`);
    expect(r.stderr).toContain(`  slipway releases approve ${id} --by NAME\n`);
    expect(r.stderr).toMatch(/still awaiting approval after --timeout 1s/);
    const aborted = await cli(['releases', 'abort', id, '--reason', 'not today']);
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(/^Release \S+ is aborted/);
  });

  it('--no-wait prints the id; approve promotes it; rollback moves the alias back', async () => {
    const started = await cli(['release', 'models:/cancer/2', '--to', 'champion', '--approvals', '1', '--no-wait']);
    expect(started.code).toBe(0);
    const id = started.stdout.trim();
    expect(id).toMatch(/^\S+$/);
    expect(await settle(id, ['awaiting_approval'])).toBe('awaiting_approval');
    const listed = await cli(['releases', 'list', '--state', 'active']);
    expect(listed.stdout).toMatch(new RegExp(`^${id} +cancer +2 +champion +awaiting_approval`, 'm'));
    const approved = await cli(['releases', 'approve', id, '--by', 'ana', '--comment', 'reviewed']);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(/^Approved by ana: release/);
    expect(await settle(id, ['promoted', 'rejected', 'aborted', 'rolled_back'])).toBe('promoted');
    const shown = await cli(['releases', 'show', id]);
    expect(shown.stdout).toMatch(/^Approvals:\n {2}\S+ \S+ +ana: reviewed$/m);
    expect(shown.stdout).toMatch(/^Events:\n/m);

    const back = await cli(['rollback', 'cancer', '--reason', 'alert', '--json']);
    expect(back.code).toBe(0);
    expect(JSON.parse(back.stdout)).toMatchObject({ model: 'cancer', environment: 'champion', version: '1', previousVersion: '2' });
  });

  it('refuses bad input with exit 2 and one line naming the problem, before anything starts', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['release', 'cancer/2', '--to', 'staging'], /'cancer\/2' is not a model URI: give models:\/NAME\/VERSION or models:\/NAME@ALIAS/],
      [['release', 'models:/cancer/2', '--to', 'x', '--metric', 'accuracy >= 0.9'], /--metric runs an evaluation gate on a holdout: give --holdout FILE and --label COLUMN/],
      [['release', 'models:/cancer/2', '--to', 'x', '--holdout', 'data/holdout.csv', '--label', 'target', '--metric', 'acuracy >= 0.9'], /Unknown metric 'acuracy'/],
      [['release', 'models:/cancer/2', '--to', 'x', '--holdout', 'data/missing.csv', '--label', 'target', '--metric', 'accuracy >= 0.9'], /Holdout file '.*data\/missing\.csv' does not exist/],
      [['release', 'models:/cancer/2', '--to', 'x', '--holdout', 'data/holdout.csv', '--label', 'diagnosis', '--metric', 'accuracy >= 0.9'], /Label column 'diagnosis' is not in holdout '.*holdout\.csv'; its columns: mean_radius, /],
      [['release', 'models:/cancer/2', '--to', 'x', '--slo', 'p99 < soon'], /Invalid threshold 'p99 < soon'/],
      [['release', 'models:/cancer/2', '--to', 'x', '--strategy', 'direct', '--steps', '10,100'], /--steps applies to the canary strategy, not direct\./],
      [['release', 'models:/cancer/2', '--to', 'x', '--canary'], /unknown option '--canary'/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // A model the server does not know is "not found", exit 1 as for every command.
    const missing = await cli(['release', 'models:/nobody/1', '--to', 'x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*nobody/);
  });
});

describe('releases as code', () => {
  const dir = join(work, 'code');

  it('names file, line, column and key of a mistake, and the configured environments', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bad.yaml'), 'releases:\n  cancer:\n    environments:\n      champion:\n        strategy: { kind: canary, steps: [10, 150] }\n');
    const bad = await cli(['plan', '--config', 'bad.yaml'], dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('error: bad.yaml:5:47: releases.cancer.environments.champion.strategy.steps[1]: Too big: expected number to be <=100\n');
    writeFileSync(join(dir, 'one.yaml'), 'releases:\n  cancer:\n    environments:\n      staging: {}\n      qa: {}\n');
    const unknown = await cli(['release', 'models:/cancer/1', '--to', 'prod', '--config', 'one.yaml'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("error: one.yaml configures no environment 'prod' for model 'cancer'; configured: staging, qa.\n");
  });

  it('plan shows what apply would change; apply makes it so once; a changed key is one update', async () => {
    copyFileSync(join(work, 'data', 'holdout.csv'), join(dir, 'holdout-v2.csv'));
    // A byte more than the other copy: a holdout the server has not seen yet.
    writeFileSync(join(dir, 'holdout-v2.csv'), `${readFileSync(join(dir, 'holdout-v2.csv'), 'utf8')}\n`);
    const yaml = (threshold: number, steps: string) =>
      [
        'server:',
        '  logLevel: warn',
        'releases:',
        '  cancer:',
        '    holdout: holdout-v2.csv',
        '    label: target',
        '    environments:',
        '      staging: { gates: [ { kind: signature }, { kind: evaluation, metrics: ["accuracy >= 0.9"] } ] }',
        `      champion: { gates: [ { kind: approval, count: 1 } ], strategy: { kind: canary, steps: [${steps}], interval: 30s } }`,
        '    alerts:',
        `      - { name: cancer-accuracy, figure: accuracy, comparison: "<", threshold: ${threshold}, action: { kind: rollback } }`,
        '',
      ].join('\n');
    writeFileSync(join(dir, 'slipway.yaml'), yaml(0.85, '10, 50, 100'));
    const plan = await cli(['plan', '--detailed-exitcode'], dir);
    expect(plan.code).toBe(4);
    expect(plan.stdout).toMatch(/^ {2}\+ upload holdout .*holdout-v2\.csv → releases\/holdouts\/[0-9a-f]{64}\.csv$/m);
    expect(plan.stdout).toContain('  + release policy cancer/staging\n  + release policy cancer/champion\n  + alert rule cancer-accuracy (model cancer)\n');
    expect(plan.stdout).toMatch(/Plan: 4 to add, 0 to change, 0 to destroy\.\n$/);

    const apply = await cli(['apply', '--yes'], dir);
    expect(apply.code).toBe(0);
    expect(apply.stdout).toMatch(/Applied: 4 added, 0 changed, 0 destroyed\.\n$/);
    const again = await cli(['apply', '--yes'], dir);
    expect(again.stdout).toBe('No changes: the server matches the releases: section of slipway.yaml.\n');
    expect((await cli(['plan', '--detailed-exitcode'], dir)).code).toBe(0);

    writeFileSync(join(dir, 'slipway.yaml'), yaml(0.8, '20, 100'));
    const changed = await cli(['plan', '--json'], dir);
    expect(changed.code).toBe(0);
    expect(JSON.parse(changed.stdout)).toMatchObject({
      changes: [
        { action: 'update', kind: 'policy', model: 'cancer', environment: 'champion', keys: ['strategy.steps'] },
        { action: 'update', kind: 'alert', model: 'cancer', name: 'cancer-accuracy', keys: ['threshold'] },
      ],
      summary: { add: 0, change: 2, destroy: 0 },
    });
    expect((await cli(['apply'], dir)).stderr).toMatch(/give --yes/);
  });
});
