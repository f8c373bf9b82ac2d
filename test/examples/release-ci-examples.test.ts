/**
 * The CI examples of docs/examples/release (a GitHub Actions workflow and a GitLab CI file that
 * train → register → release): every shell step they run, run here as written, in a copy of the
 * example folder, against a real `slipway server` process. Only the step that installs Slipway
 * from the npm registry is left out: `slipway` on PATH is this checkout's build instead.
 * The server starts with the model's current champion (the breast-cancer fixture) serving, as a
 * team's server would have it.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SlipwayClient } from '../../src/client/index.js';
import { CLI, freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from '../e2e/server-process.js';
import { REPO, cleanEnv, run } from './example-support.js';

const EXAMPLE = join(REPO, 'docs/examples/release');
const CHAMPION = join(REPO, 'test/fixtures/breast_cancer_mlp.onnx');
const TRAIN = join(REPO, 'test/fixtures/breast_cancer_train.csv');

interface GithubStep {
  name?: string;
  run?: string;
  uses?: string;
}

/** The steps a CI file runs, as shell scripts, with the install from the registry left out. */
function githubSteps(): GithubStep[] {
  const doc = parseYaml(readFileSync(join(EXAMPLE, 'github-actions.yml'), 'utf8')) as { jobs: Record<string, { steps: GithubStep[] }> };
  return Object.values(doc.jobs).flatMap((j) => j.steps);
}

function gitlabScripts(): string[] {
  const doc = parseYaml(readFileSync(join(EXAMPLE, 'gitlab-ci.yml'), 'utf8'), { merge: true }) as Record<string, { stage?: string; script?: string[] }>;
  const stages = (doc.stages as unknown as string[]) ?? [];
  return stages.flatMap((stage) => Object.values(doc).filter((j) => typeof j === 'object' && j !== null && j.stage === stage).flatMap((j) => j.script ?? []));
}

/** A working copy of the example, a `slipway` on PATH that is this build, and a server with the champion already serving. */
async function setUp(): Promise<{ dir: string; env: NodeJS.ProcessEnv; server: ServerProcess; home: string; client: SlipwayClient }> {
  const home = freshHome();
  const server = await startServerProcess(home);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-ci-example-'));
  cpSync(EXAMPLE, dir, { recursive: true });
  const bin = join(dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'slipway'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(join(bin, 'slipway'), 0o755);
  const env = cleanEnv({
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    SLIPWAY_HOME: home,
    SLIPWAY_SERVER: server.url,
    MLFLOW_TRACKING_URI: server.url,
    GITHUB_STEP_SUMMARY: join(dir, 'step-summary.md'),
    GITHUB_PATH: join(dir, 'github-path'),
  });
  // The team's current production model. It has no monitoring reference: the pipelines attach one to each
  // version they register, so the drift gate never depends on what was set up by hand.
  const cli = (args: string[]) => runCli(args, { SLIPWAY_HOME: home, SLIPWAY_SERVER: server.url }, 60_000);
  const registered = await cli(['models', 'register', CHAMPION, '--name', 'cancer', '--alias', 'champion', '--columns-from', TRAIN]);
  expect(registered.code, registered.stderr).toBe(0);
  const client = new SlipwayClient({ url: server.url });
  // Serving it, as production does: the first request loads it.
  const row = readFileSync(TRAIN, 'utf8').split('\n')[1]!.split(',').slice(0, 30).map(Number);
  const res = await fetch(`${server.url}/v2/models/cancer/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] }) });
  expect(res.status).toBe(200);
  return { dir, env, server, home, client };
}

async function tearDown(s: { dir: string; server: ServerProcess; home: string } | undefined): Promise<void> {
  if (!s) return;
  s.server.child.kill('SIGTERM');
  await s.server.exited;
  removeHome(s.home);
  rmSync(s.dir, { recursive: true, force: true });
}

async function runScript(script: string, dir: string, env: NodeJS.ProcessEnv) {
  return run('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: dir, env, timeoutMs: 150_000 });
}

describe('docs/examples/release/github-actions.yml, its steps run locally', () => {
  let s: Awaited<ReturnType<typeof setUp>> | undefined;
  beforeAll(async () => {
    s = await setUp();
  }, 120_000);
  afterAll(() => tearDown(s), 30_000);

  it('trains, registers and releases to staging and then champion; the gate reports are written', async () => {
    const { dir, env, client } = s!;
    const steps = githubSteps().filter((st) => st.run !== undefined && st.name !== 'Install Slipway');
    expect(steps.map((st) => st.name)).toEqual(['Train', 'Register', 'Release to staging', 'Release to champion']);
    for (const step of steps) {
      const out = await runScript(step.run!, dir, env);
      expect(out.code, `${step.name}:\n${out.stdout}\n${out.stderr}`).toBe(0);
    }
    // The trained version (2) is now staging and champion; version 1 stays in the registry for a rollback.
    expect((await client.models.getByAlias('cancer', 'staging')).version).toBe('2');
    expect((await client.models.getByAlias('cancer', 'champion')).version).toBe('2');
    const staging = readFileSync(join(dir, 'staging.xml'), 'utf8');
    expect(staging).toMatch(/<testsuite[^>]*failures="0"/);
    expect(staging).toContain('name="evaluation"');
    const champion = readFileSync(join(dir, 'champion.xml'), 'utf8');
    for (const gate of ['signature', 'evaluation', 'drift', 'loadtest']) expect(champion).toContain(`name="${gate}"`);
    const summary = readFileSync(join(dir, 'step-summary.md'), 'utf8');
    // Both releases appended their Markdown to the step summary, with the champion comparison.
    expect(summary.match(/promoted/gi)?.length).toBeGreaterThanOrEqual(2);
    expect(summary).toContain('accuracy');
    const releases = await client.releases.list({ model: 'cancer' });
    expect(releases.releases.map((r) => [r.environment, r.state])).toEqual([
      ['champion', 'promoted'],
      ['staging', 'promoted'],
    ]);
  }, 300_000);
});

describe('docs/examples/release/gitlab-ci.yml, its scripts run locally', () => {
  let s: Awaited<ReturnType<typeof setUp>> | undefined;
  beforeAll(async () => {
    s = await setUp();
  }, 120_000);
  afterAll(() => tearDown(s), 30_000);

  it('runs the train and release stages in order and promotes the trained version', async () => {
    const { dir, env, client } = s!;
    const scripts = gitlabScripts();
    expect(scripts.length).toBe(5);
    for (const line of scripts) {
      const out = await runScript(line, dir, env);
      expect(out.code, `${line}:\n${out.stdout}\n${out.stderr}`).toBe(0);
    }
    expect((await client.models.getByAlias('cancer', 'champion')).version).toBe('2');
    expect(existsSync(join(dir, 'champion.xml'))).toBe(true);
    expect(readFileSync(join(dir, 'release.md'), 'utf8')).toContain('champion');
  }, 300_000);
});
