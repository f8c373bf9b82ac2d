/**
 * `slipway serve models:/NAME@ALIAS --server URL`: the built CLI serves a model registered
 * on a real `slipway server` (HTTP on 127.0.0.1), from files it downloads into
 * $SLIPWAY_HOME/model-cache, and swaps in the version the alias moves to.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../src/client/slipway-client.js';
import { resolveConfig } from '../src/config.js';
import { silentLogger } from '../src/core/logger.js';
import { startServer, type StartedServer } from '../src/server/start-server.js';
import { CLI_PATH, runCli, tempHome } from './support/cli.js';
import { perceptron } from './support/onnx-models.js';
import { servedAddress } from './support/serve-process.js';
import { fixture, holdout, maxRelativeError } from './support/serving.js';

const MODEL = fixture('breast_cancer_mlp.onnx');
const cancer = holdout('breast_cancer');

interface Served {
  proc: ChildProcess;
  url: string;
  version: string;
  stderr: () => string;
}

const children: ChildProcess[] = [];

/** Starts `slipway serve …args --port 0 --json` and waits until it listens. */
async function startServe(args: string[], env: Record<string, string>): Promise<Served> {
  const proc = spawn(process.execPath, [CLI_PATH, 'serve', ...args, '--port', '0', '--json'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const info = await servedAddress<{ url: string; version: string }>(proc, 30_000);
  return { proc, url: info.url, version: info.version, stderr: () => stderr };
}

/** Stops a `slipway serve` with SIGTERM and resolves with its exit code. */
function stop(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.kill('SIGTERM');
  });
}

/** One breast-cancer row through V2: the served version and the probability. */
async function infer(url: string, row = 3): Promise<{ version: string; value: number }> {
  const res = await fetch(`${url}/v2/models/cancer/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: cancer.rows[row] }] }),
  });
  const body = (await res.json()) as { model_version: string; outputs: Array<{ data: number[] }> };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return { version: body.model_version, value: body.outputs[0]?.data[0] as number };
}

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stop(c)));
});

describe('slipway serve with a remote registry (real server, built CLI)', () => {
  const serverHome = tempHome('slipway-remote-registry');
  // The serving machine's own home: nothing of the server's is there.
  const home = tempHome('slipway-remote-serve');
  let server: StartedServer;
  let client: SlipwayClient;

  beforeAll(async () => {
    server = await startServer(resolveConfig({ home: serverHome, port: 0 }, {}, serverHome), { logger: silentLogger });
    client = new SlipwayClient({ url: server.url });
    const first = await runCli(['models', 'register', MODEL, '--name', 'cancer', '--alias', 'champion', '--server', server.url]);
    expect(first.code, first.stderr).toBe(0);
    const second = await runCli(['models', 'register', MODEL, '--name', 'cancer', '--server', server.url]);
    expect(second.code, second.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('serves the version the alias names and swaps in the one it moves to, from files cached under SLIPWAY_HOME', async () => {
    const served = await startServe(['models:/cancer@champion', '--server', server.url, '--registry-poll', '500ms'], { SLIPWAY_HOME: home });
    expect(served.version).toBe('1');
    const before = await infer(served.url);
    expect(before.version).toBe('1');
    maxRelativeError([before.value], [cancer.expected[3] as number]);

    await client.models.setAlias('cancer', 'champion', '2');
    let now = before;
    // Bounded: the alias is polled every 500 ms; ten seconds is ample.
    for (const until = Date.now() + 10_000; now.version !== '2' && Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 100));
      now = await infer(served.url);
    }
    expect(now.version, served.stderr()).toBe('2');
    maxRelativeError([now.value], [cancer.expected[3] as number]);
    expect(await stop(served.proc)).toBe(0);

    // Both versions are on local disk, whole: the same bytes as the registered file.
    const size = statSync(MODEL).size;
    for (const version of ['1', '2']) {
      const file = join(home, 'model-cache', 'cancer', version, 'breast_cancer_mlp.onnx');
      expect(existsSync(file), file).toBe(true);
      expect(readFileSync(file).equals(readFileSync(MODEL))).toBe(true);
      expect(JSON.parse(readFileSync(join(home, 'model-cache', 'cancer', `${version}.json`), 'utf8'))).toMatchObject({ name: 'cancer', version, files: [{ path: 'breast_cancer_mlp.onnx', size }] });
      expect(readdirSync(join(home, 'model-cache', 'cancer', version))).toEqual(['breast_cancer_mlp.onnx']);
    }
    // Serving never needed a store of its own.
    expect(existsSync(join(home, 'slipway.db'))).toBe(false);
    await client.models.setAlias('cancer', 'champion', '1');
  }, 90_000);

  it('finds the server in SLIPWAY_SERVER, lets --server beat it, and reuses the cached copy', async () => {
    const fromEnv = await startServe(['models:/cancer/1'], { SLIPWAY_HOME: home, SLIPWAY_SERVER: server.url });
    expect(fromEnv.version).toBe('1');
    expect((await infer(fromEnv.url)).version).toBe('1');
    expect(await stop(fromEnv.proc)).toBe(0);
    const file = join(home, 'model-cache', 'cancer', '1', 'breast_cancer_mlp.onnx');
    const cached = statSync(file);

    const dead = `http://127.0.0.1:${await closedPort()}`;
    const flagWins = await startServe(['models:/cancer@champion', '--server', server.url], { SLIPWAY_HOME: home, SLIPWAY_SERVER: dead, MLFLOW_TRACKING_URI: dead });
    expect(flagWins.version).toBe('1');
    expect((await infer(flagWins.url)).version).toBe('1');
    // The complete copy was served as it was, not downloaded again (a download writes a new file).
    expect(statSync(file)).toMatchObject({ ino: cached.ino, mtimeMs: cached.mtimeMs });
  }, 90_000);

  it('downloads a version whose weights are in a separate file with its whole folder', async () => {
    const external = perceptron({ externalData: 'model.onnx.data' });
    await client.artifacts.put('models/wide/model.onnx', new Uint8Array(external.onnx));
    await client.artifacts.put('models/wide/model.onnx.data', new Uint8Array(external.data as Buffer));
    await client.artifacts.put('models/wide/MLmodel', 'flavors:\n  onnx:\n    data: model.onnx\n');
    await client.models.create({ name: 'wide' });
    let version = await client.models.createVersion('wide', { source: 'mlflow-artifacts:/models/wide' });
    for (let i = 0; i < 100 && version.status === 'PENDING_REGISTRATION'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      version = await client.models.getVersion('wide', version.version);
    }
    expect(version.status, version.statusMessage).toBe('READY');

    const served = await startServe([`models:/wide/${version.version}`, '--server', server.url], { SLIPWAY_HOME: home });
    const rows = [
      [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8],
      [1, 2, 3, 4, 5, 6, 7, 8],
    ];
    const res = await fetch(`${served.url}/v2/models/wide/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 8], data: rows }] }),
    });
    const body = (await res.json()) as { outputs: Array<{ shape: number[]; data: number[] }> };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body.outputs[0]?.shape).toEqual([2, 3]);
    // The same answers as the same weights inline, served from a file.
    const inline = perceptron();
    const inlineFile = join(mkdtempSync(join(home, 'inline-')), 'wide.onnx');
    writeFileSync(inlineFile, inline.onnx);
    const reference = await startServe([inlineFile], { SLIPWAY_HOME: home });
    const expected = (await (
      await fetch(`${reference.url}/v2/models/wide/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 8], data: rows }] }),
      })
    ).json()) as { outputs: Array<{ data: number[] }> };
    maxRelativeError(body.outputs[0]?.data ?? [], expected.outputs[0]?.data ?? []);
    expect(readdirSync(join(home, 'model-cache', 'wide', version.version)).sort()).toEqual(['MLmodel', 'model.onnx', 'model.onnx.data']);
  }, 90_000);

  it('stops with one line and exit 1 when the server cannot be reached, before taking the port', async () => {
    // A port that is taken: reaching the server is checked first, so its error is the one reported.
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const taken = (holder.address() as { port: number }).port;
    try {
      const dead = `http://127.0.0.1:${await closedPort()}`;
      const res = await runCli(['serve', 'models:/cancer@champion', '--server', dead, '--port', String(taken)], { SLIPWAY_HOME: home });
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr.split('\n').filter((l) => l !== '')).toEqual([expect.stringMatching(new RegExp(`^error: Cannot reach Slipway at ${dead.replace(/[.:/]/g, '\\$&')}: `))]);
      // What the server says of a model it does not have is one line too, also before the port: exit 1 for an
      // unknown model, 2 for an unknown alias (the server answers it as a bad parameter, as MLflow does).
      const [model, alias] = await Promise.all([
        runCli(['serve', 'models:/no-such-model@champion', '--server', server.url, '--port', String(taken)], { SLIPWAY_HOME: home }),
        runCli(['serve', 'models:/cancer@nobody', '--server', server.url, '--port', String(taken)], { SLIPWAY_HOME: home }),
      ]);
      expect({ code: model.code, stderr: model.stderr }).toEqual({ code: 1, stderr: expect.stringMatching(/^error: [^\n]*no-such-model[^\n]*\n$/) });
      expect({ code: alias.code, stderr: alias.stderr }).toEqual({ code: 2, stderr: 'error: Registered model alias nobody not found.\n' });
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  }, 60_000);

  it('refuses --server with --backend-store-uri (exit 2), and --server for a file', async () => {
    const both = await runCli(['serve', 'models:/cancer@champion', '--server', server.url, '--backend-store-uri', `sqlite:///${join(home, 'other.db')}`, '--port', '0'], { SLIPWAY_HOME: home });
    expect({ code: both.code, stderr: both.stderr }).toEqual({
      code: 2,
      stderr: 'error: Give either --server (a Slipway server) or --backend-store-uri (a store used directly), not both.\n',
    });
    const file = await runCli(['serve', MODEL, '--server', server.url, '--port', '0'], { SLIPWAY_HOME: home });
    expect(file.code).toBe(2);
    expect(file.stderr).toBe(`error: --server names where models:/ references are resolved; ${MODEL} is a file, served as it is: drop --server, or serve models:/NAME@ALIAS.\n`);
  }, 60_000);

  it('serves a plain .onnx file with no server or store, whatever SLIPWAY_SERVER says', async () => {
    const fileHome = join(home, 'file-only');
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const served = await startServe([MODEL, '--name', 'cancer'], { SLIPWAY_HOME: fileHome, SLIPWAY_SERVER: dead });
    expect((await infer(served.url)).version).toBe('1');
    expect(existsSync(join(fileHome, 'slipway.db'))).toBe(false);
  }, 60_000);
});

describe('slipway serve when the remote registry goes away', () => {
  const serverHome = tempHome('slipway-remote-outage');
  const home = tempHome('slipway-remote-outage-serve');

  it('logs a warning and keeps serving the current version', async () => {
    const server = await startServer(resolveConfig({ home: serverHome, port: 0 }, {}, serverHome), { logger: silentLogger });
    let closed = false;
    try {
      const reg = await runCli(['models', 'register', MODEL, '--name', 'cancer', '--alias', 'champion', '--server', server.url]);
      expect(reg.code, reg.stderr).toBe(0);
      // One process: each worker of several follows the alias itself, and says so once per outage.
      const served = await startServe(['models:/cancer@champion', '--server', server.url, '--registry-poll', '200ms', '--workers', '1'], { SLIPWAY_HOME: home });
      await server.close();
      closed = true;
      // Bounded: a few polls fail within two seconds.
      for (const until = Date.now() + 5_000; !served.stderr().includes('keeps serving') && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
      const warnings = served
        .stderr()
        .split('\n')
        .filter((l) => l.includes('keeps serving'));
      // Once per outage, not at every poll.
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0] as string)).toMatchObject({ level: 40, model: 'cancer', alias: 'champion', serving: '1', msg: 'serve: cannot look up models:/cancer@champion; version 1 keeps serving' });
      const answer = await infer(served.url);
      expect(answer.version).toBe('1');
      maxRelativeError([answer.value], [cancer.expected[3] as number]);
    } finally {
      if (!closed) await server.close();
    }
  }, 60_000);
});
