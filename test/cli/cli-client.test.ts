/**
 * The CLI is a client: the same commands work against a server named by --server,
 * SLIPWAY_SERVER or MLFLOW_TRACKING_URI, and against the embedded store, with the
 * same output and JSON keys as the native API.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type StartedServer } from '../../src/server/start-server.js';
import { runCli, tempHome } from '../support/cli.js';
import { fixture } from '../support/serving.js';

describe('the CLI against a server and against the embedded store (built CLI, real HTTP)', () => {
  const home = tempHome('slipway-cli-client');
  let server: StartedServer;
  const embedded = { SLIPWAY_HOME: home };

  beforeAll(async () => {
    server = await startServer(resolveConfig({ home, port: 0 }, {}, home), { logger: silentLogger });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('creates, renames, deletes and restores experiments through --server, and the embedded store sees the same', async () => {
    const created = await runCli(['experiments', 'create', 'fraud', '--tag', 'team=risk', '--server', server.url, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const experiment = JSON.parse(created.stdout) as { experimentId: string; name: string; tags: Array<{ key: string; value: string }> };
    expect(experiment).toMatchObject({ name: 'fraud', tags: [{ key: 'team', value: 'risk' }] });
    // A server prints no note about stores; the embedded store says which one it used.
    expect(created.stderr).toBe('');

    expect((await runCli(['experiments', 'rename', 'fraud', 'fraud-2026'], { SLIPWAY_SERVER: server.url })).code).toBe(0);
    const deleted = await runCli(['experiments', 'delete', 'fraud-2026'], { MLFLOW_TRACKING_URI: server.url });
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain(`deleted experiment ${experiment.experimentId} 'fraud-2026'`);

    const local = await runCli(['experiments', 'list', '--view', 'deleted', '--json'], embedded);
    expect(local.code, local.stderr).toBe(0);
    expect(local.stderr).toBe(`using the embedded store ${join(home, 'slipway.db')}\n`);
    expect((JSON.parse(local.stdout) as Array<{ name: string }>).map((e) => e.name)).toEqual(['fraud-2026']);

    expect((await runCli(['experiments', 'restore', experiment.experimentId, '--server', server.url])).code).toBe(0);
    const remote = await runCli(['experiments', 'list', '--json', '--server', server.url]);
    const again = await runCli(['experiments', 'list', '--json'], embedded);
    // One JSON shape: the CLI prints what the native API answers, whichever way it got there.
    expect(JSON.parse(again.stdout)).toEqual(JSON.parse(remote.stdout));
    const api = (await (await fetch(`${server.url}/api/v1/experiments`)).json()) as { experiments: unknown[] };
    expect(JSON.parse(remote.stdout)).toEqual(api.experiments);
  });

  it('deletes and restores runs, and lists them with the experiment name', async () => {
    const run = (await (await fetch(`${server.url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experimentId: '0', runName: 'tiny' }) })).json()) as {
      info: { runId: string };
    };
    const runId = run.info.runId;
    expect((await runCli(['runs', 'delete', runId, '--server', server.url])).code).toBe(0);
    const gone = await runCli(['runs', 'list', '--server', server.url]);
    expect(gone.stdout).not.toContain(runId);
    const deletedView = await runCli(['runs', 'list', '--view', 'deleted'], embedded);
    expect(deletedView.stdout).toContain(runId);
    expect(deletedView.stdout).toContain('Default');
    expect((await runCli(['runs', 'restore', runId], { SLIPWAY_SERVER: server.url })).code).toBe(0);
    const shown = await runCli(['runs', 'show', runId, '--json', '--server', server.url]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ info: { runId, lifecycleStage: 'active', runName: 'tiny' } });
  });

  it('registers, pages, sorts, stages and deletes models through the server', async () => {
    const reg = await runCli(['models', 'register', fixture('breast_cancer_mlp.onnx'), '--name', 'cancer', '--alias', 'champion', '--server', server.url, '--json']);
    expect(reg.code, reg.stderr).toBe(0);
    const version = JSON.parse(reg.stdout) as { version: string; status: string; aliases: string[]; signature?: { inputs: unknown[] } };
    expect(version).toMatchObject({ version: '1', status: 'READY', aliases: ['champion'] });
    expect(version.signature?.inputs).toHaveLength(1);
    for (const name of ['zeta', 'alpha']) {
      expect((await runCli(['models', 'register', fixture('breast_cancer_mlp.onnx'), '--name', name], { SLIPWAY_SERVER: server.url })).code).toBe(0);
    }

    const first = await runCli(['models', 'list', '--max-results', '2', '--order-by', 'name DESC', '--server', server.url]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout.split('\n').slice(1, 3).map((l) => l.split(/\s+/)[0])).toEqual(['zeta', 'cancer']);
    const token = /--page-token (\S+)/.exec(first.stderr)?.[1];
    expect(token, first.stderr).toBeDefined();
    const rest = await runCli(['models', 'list', '--max-results', '2', '--order-by', 'name DESC', '--page-token', token as string, '--json', '--server', server.url]);
    expect((JSON.parse(rest.stdout) as Array<{ name: string }>).map((m) => m.name)).toEqual(['alpha']);

    const staged = await runCli(['models', 'stage', 'cancer', '1', 'production', '--server', server.url, '--json']);
    expect(staged.code, staged.stderr).toBe(0);
    expect(JSON.parse(staged.stdout)).toMatchObject({ currentStage: 'Production' });
    const badStage = await runCli(['models', 'stage', 'cancer', '1', 'Live', '--server', server.url]);
    expect(badStage.code).toBe(2);
    expect(badStage.stderr).toMatch(/^error: .*stage.*None, Staging, Production, Archived/);

    expect((await runCli(['models', 'delete', 'zeta', '--version', '1', '--server', server.url])).code).toBe(0);
    expect((await runCli(['models', 'delete', 'zeta'], embedded)).code).toBe(0);
    const missing = await runCli(['models', 'show', 'zeta', '--server', server.url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: .*zeta.*not found/i);
  });

  it('uploads and downloads run artifacts byte for byte, folders included', async () => {
    const run = (await (await fetch(`${server.url}/api/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { info: { runId: string } };
    const runId = run.info.runId;
    const work = mkdtempSync(join(tmpdir(), 'slipway-cli-artifacts-'));
    try {
      mkdirSync(join(work, 'report', 'plots'), { recursive: true });
      const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      writeFileSync(join(work, 'report', 'plots', 'curve.bin'), big);
      writeFileSync(join(work, 'report', 'summary.txt'), 'auc 0.97\n');
      writeFileSync(join(work, 'notes.md'), '# notes\n');
      const up = await runCli(['artifacts', 'upload', join(work, 'report'), join(work, 'notes.md'), '--run', runId, '--path', 'eval', '--server', server.url, '--json']);
      expect(up.code, up.stderr).toBe(0);
      expect((JSON.parse(up.stdout) as Array<{ path: string }>).map((a) => a.path).sort()).toEqual(['eval/notes.md', 'eval/report/plots/curve.bin', 'eval/report/summary.txt']);

      const listed = await runCli(['artifacts', 'list', 'eval', '--run', runId, '--json'], embedded);
      expect(listed.code, listed.stderr).toBe(0);
      expect((JSON.parse(listed.stdout) as Array<{ path: string; isDir: boolean }>).map((e) => `${e.path}${e.isDir ? '/' : ''}`).sort()).toEqual(['eval/notes.md', 'eval/report/']);

      const out = join(work, 'back');
      const down = await runCli(['artifacts', 'download', 'eval/report', '--run', runId, '--out', out, '--server', server.url]);
      expect(down.code, down.stderr).toBe(0);
      expect(readFileSync(join(out, 'plots', 'curve.bin')).equals(big)).toBe(true);
      expect(readFileSync(join(out, 'summary.txt'), 'utf8')).toBe('auc 0.97\n');
      const one = await runCli(['artifacts', 'download', 'eval/notes.md', '--run', runId, '--out', join(work, 'one')], embedded);
      expect(one.code, one.stderr).toBe(0);
      expect(readFileSync(join(work, 'one', 'notes.md'), 'utf8')).toBe('# notes\n');

      const none = await runCli(['artifacts', 'download', 'nothing-here', '--run', runId, '--out', join(work, 'none'), '--server', server.url]);
      expect(none.code).toBe(1);
      expect(none.stderr).toBe(`error: Run ${runId} has no artifact 'nothing-here'; list them with: slipway artifacts list --run ${runId}\n`);
      expect(existsSync(join(work, 'none', 'nothing-here'))).toBe(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('reads the audit trail through the API, in the API’s camelCase keys', async () => {
    const log = await runCli(['audit', 'log', '--entity-type', 'experiment', '--json', '--server', server.url]);
    expect(log.code, log.stderr).toBe(0);
    const events = JSON.parse(log.stdout) as Array<Record<string, unknown>>;
    expect(events.length).toBeGreaterThan(0);
    expect(Object.keys(events[0] as object)).toEqual(expect.arrayContaining(['seq', 'entityType', 'entityId', 'requestId', 'changeDigest']));
    expect(Object.keys(events[0] as object)).not.toContain('entity_type');

    const head = await runCli(['audit', 'head', '--server', server.url]);
    expect(head.stdout).toMatch(/^\d+:[0-9a-f]{64}\n$/);
    const verified = await runCli(['audit', 'verify', '--expect-head', head.stdout.trim(), '--server', server.url]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const wrong = await runCli(['audit', 'verify', '--expect-head', `1:${'0'.repeat(64)}`, '--server', server.url]);
    expect(wrong.code).toBe(1);
  });

  it('sends ground-truth labels from a file and names the request ids it does not know', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-labels-'));
    try {
      writeFileSync(join(dir, 'labels.csv'), 'request_id,label\nnever-served-1,1\nnever-served-2,0\n');
      const r = await runCli(['monitor', 'labels', 'cancer', '--file', join(dir, 'labels.csv'), '--server', server.url]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('accepted 0 of 2 label(s) for cancer\n');
      expect(r.stderr).toContain('never-served-1, never-served-2');
      const noColumn = await runCli(['monitor', 'labels', 'cancer', '--file', join(dir, 'labels.csv'), '--label-column', 'y', '--server', server.url]);
      expect(noColumn.code).toBe(2);
      expect(noColumn.stderr).toContain("has no column 'y' (name it with --label-column)");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('choosing the server or store', () => {
  const home = tempHome('slipway-cli-target');

  it('refuses --server with --backend-store-uri, a URL that is not http(s), and an MLFLOW_TRACKING_URI it cannot use: exit 2', async () => {
    const both = await runCli(['runs', 'list', '--server', 'http://127.0.0.1:1', '--backend-store-uri', 'sqlite:///x.db']);
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toBe('error: Give either --server (a Slipway server) or --backend-store-uri (a store used directly), not both.\n');
    const ftp = await runCli(['runs', 'list', '--server', 'ftp://example']);
    expect(ftp.code).toBe(2);
    expect(ftp.stderr).toContain('--server must be an http:// or https:// URL');
    const file = await runCli(['runs', 'list'], { MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' });
    expect(file.code).toBe(2);
    expect(file.stderr).toContain("MLFLOW_TRACKING_URI 'file:///tmp/mlruns' is neither a server URL");
  });

  it('an unreachable server is one line and exit 1', async () => {
    const r = await runCli(['experiments', 'list', '--server', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Cannot reach Slipway at http:\/\/127\.0\.0\.1:9: .*\n$/);
  });

  it('a sqlite MLFLOW_TRACKING_URI names the embedded store, and a flag beats the environment', async () => {
    const db = join(home, 'named.db');
    const made = await runCli(['experiments', 'create', 'by-uri'], { SLIPWAY_HOME: home, MLFLOW_TRACKING_URI: `sqlite:///${db}` });
    expect(made.code, made.stderr).toBe(0);
    expect(made.stderr).toBe(`using the embedded store ${db}\n`);
    const flagWins = await runCli(['experiments', 'list', '--backend-store-uri', `sqlite:///${db}`], { SLIPWAY_HOME: home, SLIPWAY_SERVER: 'http://127.0.0.1:9' });
    expect(flagWins.code, flagWins.stderr).toBe(0);
    expect(flagWins.stdout).toContain('by-uri');
  });

  it('sends --token, SLIPWAY_TOKEN, MLFLOW_TRACKING_TOKEN as a bearer token and MLflow’s username and password as basic auth', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const capture: Server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ experiments: [] }));
    });
    await new Promise<void>((done) => capture.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(capture.address() as { port: number }).port}`;
    try {
      await runCli(['experiments', 'list', '--server', url, '--token', 'flag-token']);
      await runCli(['experiments', 'list'], { SLIPWAY_SERVER: url, SLIPWAY_TOKEN: 'env-token' });
      await runCli(['experiments', 'list'], { MLFLOW_TRACKING_URI: url, MLFLOW_TRACKING_TOKEN: 'mlflow-token' });
      await runCli(['experiments', 'list'], { MLFLOW_TRACKING_URI: url, MLFLOW_TRACKING_USERNAME: 'ada', MLFLOW_TRACKING_PASSWORD: 's3cret' });
      expect(seen.map((h) => h.authorization)).toEqual(['Bearer flag-token', 'Bearer env-token', 'Bearer mlflow-token', `Basic ${Buffer.from('ada:s3cret').toString('base64')}`]);
    } finally {
      await new Promise((done) => capture.close(done));
    }
  });
});
