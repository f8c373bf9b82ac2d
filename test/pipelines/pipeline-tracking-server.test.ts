/**
 * `slipway repro` against a real `slipway server` process: the stage's command gets the run id and
 * the server's URL, logs into its own run with the MLflow REST API as any MLflow client would, and
 * the run ends with both what the script logged and what the pipeline recorded; a failing stage's
 * run ends FAILED with the tail of its output.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../../src/client/index.js';
import { CLI, freshHome, removeHome, startServerProcess, type ServerProcess } from '../e2e/server-process.js';
import { cleanEnv, run } from '../examples/example-support.js';

// A training script that logs into the run its stage opened, through MLFLOW_TRACKING_URI and MLFLOW_RUN_ID.
const LOG_SCRIPT = `
const uri = process.env.MLFLOW_TRACKING_URI, runId = process.env.MLFLOW_RUN_ID;
if (!uri || !runId || process.env.SLIPWAY_RUN_ID !== runId) { console.error('no run: ' + uri + ' ' + runId); process.exit(4); }
const res = await fetch(uri + '/api/2.0/mlflow/runs/log-metric', { method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ run_id: runId, key: 'epoch_loss', value: 0.25, timestamp: Date.now(), step: 3 }) });
if (!res.ok) { console.error(await res.text()); process.exit(5); }
(await import('node:fs')).writeFileSync('metrics.json', JSON.stringify({ accuracy: 0.91 }));
`;

describe('slipway repro on a server (built CLI, server process)', () => {
  let server: ServerProcess;
  let home: string;
  let dir: string;
  let client: SlipwayClient;

  beforeAll(async () => {
    home = freshHome();
    server = await startServerProcess(home);
    client = new SlipwayClient({ url: server.url });
    dir = mkdtempSync(join(tmpdir(), 'slipway-repro-server-'));
    writeFileSync(join(dir, 'train.mjs'), LOG_SCRIPT);
    writeFileSync(join(dir, 'params.yaml'), 'train:\n  lr: 0.1\n');
    writeFileSync(
      join(dir, 'slipway.yaml'),
      'stages:\n  train:\n    cmd: node train.mjs\n    deps: [train.mjs]\n    params: [train.lr]\n    metrics: [metrics.json]\n  broken:\n    cmd: \'echo "reading the table" && echo "Error: column target is missing" >&2 && exit 3\'\n',
    );
    const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
    execFileSync('git', ['init', '-q'], { cwd: dir, env });
    execFileSync('git', ['add', '.'], { cwd: dir, env });
    execFileSync('git', ['commit', '-q', '-m', 'start'], { cwd: dir, env });
  });

  afterAll(async () => {
    if (server) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    if (home) removeHome(home);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives the command its run and the server, and keeps what both logged; a failing stage ends FAILED with its output', async () => {
    const res = await run(process.execPath, [CLI, 'repro', '--jobs', '1', 'train', 'broken'], { cwd: dir, env: cleanEnv({ SLIPWAY_HOME: home, SLIPWAY_SERVER: server.url }), timeoutMs: 120_000 });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(1);
    const exp = await client.experiments.getByName('pipeline');
    const runs = (await client.runs.search({ experimentIds: [exp.experimentId] })).runs;
    const train = runs.find((r) => r.info.runName === 'train');
    expect(train?.info.status).toBe('FINISHED');
    const metrics = Object.fromEntries(train!.data.metrics.map((m) => [m.key, m.value]));
    expect(metrics).toEqual({ epoch_loss: 0.25, accuracy: 0.91 });
    expect(train!.data.params).toEqual([{ key: 'train.lr', value: '0.1' }]);

    const broken = runs.find((r) => r.info.runName === 'broken');
    expect(broken?.info.status).toBe('FAILED');
    const tags = Object.fromEntries(broken!.data.tags.map((t) => [t.key, t.value]));
    expect(tags['slipway.stage.output_tail']).toContain('Error: column target is missing');
    expect(tags['slipway.stage.exit_code']).toBe('3');
  });
});
