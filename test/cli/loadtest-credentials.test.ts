/**
 * `slipway loadtest` sends the server's credentials as every client command does
 * (`--token`, `SLIPWAY_TOKEN`, `MLFLOW_TRACKING_TOKEN`, MLflow's username and
 * password) on resolution, baseline and recording calls and on load sent to the
 * server itself, never to a target on another origin, and writes them nowhere.
 * A real Slipway server does the work; a loopback relay in front of it notes the
 * Authorization header of each request it passes on.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type StartedServer } from '../../src/server/start-server.js';
import { startTestTarget, type TestTarget } from '../../src/loadtest/test-target.test-support.js';
import { runCli, tempHome } from '../support/cli.js';
import { fixture } from '../support/serving.js';

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
}

/** Headers a relay must not pass on: they describe one hop, not the request. */
const HOP_BY_HOP = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

/**
 * Passes every request on to `upstream` and notes its Authorization header. Written out
 * here (with undici doing the forwarding) because the test needs to see each request,
 * which a proxy library would hide behind its own hooks for no gain.
 */
async function startRelay(upstream: string, seen: Seen[]): Promise<{ url: string; close(): Promise<void> }> {
  const relay: Server = createServer((req, res) => {
    void (async () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => !HOP_BY_HOP.has(k) && typeof v === 'string')) as Record<string, string>;
      const answer = await request(`${upstream}${req.url ?? '/'}`, { method: req.method as 'GET', headers, body: body.length > 0 ? body : null });
      const payload = Buffer.from(await answer.body.arrayBuffer());
      res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') }).end(payload);
    })().catch((err: Error) => res.writeHead(502).end(err.message));
  });
  await new Promise<void>((done) => relay.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(relay.address() as { port: number }).port}`,
    close: () =>
      new Promise<void>((done) => {
        relay.closeAllConnections();
        relay.close(() => done());
      }),
  };
}

const CSV = fixture('breast_cancer_holdout.csv');
/** A short, gentle load: one second at 20/s on one worker, lenient on a busy machine's timing. */
const LOAD = ['--data', CSV, '--rate', '20', '--duration', '1s', '--workers', '1', '--late-tolerance', '1s'];
const ALIAS = '/api/2.0/mlflow/registered-models/alias';
const METADATA = '/v2/models/cancer/versions/1';
const INFER = '/v2/models/cancer/versions/1/infer';

/** The kinds of call a list of requests holds, for readable expectations. */
function kinds(seen: Seen[]): Set<string> {
  return new Set(
    seen.map((s) => {
      const path = s.path.split('?')[0] as string;
      if (path.startsWith('/api/2.0/mlflow-artifacts/')) return `${s.method} artifact`;
      return `${s.method} ${path}`;
    }),
  );
}

describe('slipway loadtest credentials (built CLI, a real server behind a loopback relay)', () => {
  const home = tempHome('slipway-loadtest-credentials');
  const dir = mkdtempSync(join(tmpdir(), 'slipway-loadtest-credentials-'));
  const seen: Seen[] = [];
  let server: StartedServer;
  let relay: { url: string; close(): Promise<void> };

  beforeAll(async () => {
    server = await startServer(resolveConfig({ home, port: 0 }, {}, home), { logger: silentLogger });
    const registered = await runCli(['models', 'register', fixture('breast_cancer_mlp.onnx'), '--name', 'cancer', '--alias', 'champion', '--server', server.url]);
    expect(registered.code, registered.stderr).toBe(0);
    relay = await startRelay(server.url, seen);
  }, 60_000);
  afterAll(async () => {
    await relay?.close();
    await server?.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('sends --token on resolution, load and recording to the server, and writes it into no output, report or recorded run', async () => {
    const report = join(dir, 'report.html');
    const out = join(dir, 'result.json');
    const r = await runCli(['loadtest', 'models:/cancer@champion', '--server', relay.url, '--token', 'flag-s3cret-token', ...LOAD, '--record', '--report', report, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { passed: boolean; target: { url: string }; recordedRun: { runId: string } };
    expect(doc).toMatchObject({ passed: true, target: { url: `${relay.url}${INFER}` } });

    expect([...kinds(seen)]).toEqual(
      expect.arrayContaining([`GET ${ALIAS}`, `GET ${METADATA}`, `POST ${INFER}`, 'GET /api/2.0/mlflow/experiments/get-by-name', 'POST /api/2.0/mlflow/runs/create', 'POST /api/2.0/mlflow/runs/log-batch', 'PUT artifact', 'POST /api/2.0/mlflow/runs/update']),
    );
    expect(seen.filter((s) => s.authorization !== 'Bearer flag-s3cret-token')).toEqual([]);

    // The secret is in nothing the run wrote: the printed and saved result, the report, the recorded run and its artifacts.
    for (const text of [r.stdout, r.stderr, readFileSync(out, 'utf8'), readFileSync(report, 'utf8')]) expect(text).not.toContain('s3cret');
    const run = await (await request(`${server.url}/api/2.0/mlflow/runs/get?run_id=${doc.recordedRun.runId}`)).body.text();
    expect(run).toContain('"rows_per_request"');
    expect(run).not.toContain('s3cret');
    const artifactRoot = (JSON.parse(run) as { run: { info: { artifact_uri: string } } }).run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
    for (const name of ['loadtest.json', 'loadtest-report.html']) {
      const artifact = await request(`${server.url}/api/2.0/mlflow-artifacts/artifacts/${artifactRoot}/${name}`);
      expect(artifact.statusCode).toBe(200);
      const text = await artifact.body.text();
      expect(text).toContain('cancer');
      expect(text).not.toContain('s3cret');
    }
  });

  it("takes SLIPWAY_TOKEN for recording and MLflow's username and password for the baseline, as every client command", async () => {
    const recorded = await runCli(['loadtest', 'models:/cancer@champion', ...LOAD, '--record'], { SLIPWAY_SERVER: relay.url, SLIPWAY_TOKEN: 'env-token' });
    expect(recorded.code, recorded.stderr).toBe(0);
    expect(kinds(seen)).toContain('POST /api/2.0/mlflow/runs/create');
    expect(seen.filter((s) => s.authorization !== 'Bearer env-token')).toEqual([]);

    seen.length = 0;
    const basic = `Basic ${Buffer.from('ada:pa55word').toString('base64')}`;
    const compared = await runCli(['loadtest', 'models:/cancer@champion', ...LOAD, '--baseline', 'models:/cancer@champion', '--tolerance-p99', '100000%', '--tolerance-throughput', '100%'], {
      MLFLOW_TRACKING_URI: relay.url,
      MLFLOW_TRACKING_USERNAME: 'ada',
      MLFLOW_TRACKING_PASSWORD: 'pa55word',
    });
    expect(compared.code, compared.stderr).toBe(0);
    expect(compared.stdout).toMatch(/baseline\s+pass/);
    expect([...kinds(seen)]).toEqual(expect.arrayContaining([`GET ${ALIAS}`, `POST ${INFER}`, 'GET /api/2.0/mlflow/experiments/get-by-name', 'POST /api/2.0/mlflow/runs/search']));
    expect(seen.filter((s) => s.authorization !== basic)).toEqual([]);
    expect(compared.stdout).not.toContain(Buffer.from('ada:pa55word').toString('base64'));
  });

  it("lets --header 'Authorization: …' win for the load while resolution keeps the server's token", async () => {
    const r = await runCli(['loadtest', '--model', 'models:/cancer@champion', '--server', relay.url, '--token', 'server-token', '--header', 'authorization: Bearer model-token', ...LOAD]);
    expect(r.code, r.stderr).toBe(0);
    const by = (path: string): Set<string | undefined> => new Set(seen.filter((s) => s.path.split('?')[0] === path).map((s) => s.authorization));
    expect(by(ALIAS)).toEqual(new Set(['Bearer server-token']));
    expect(by(METADATA)).toEqual(new Set(['Bearer model-token']));
    expect(by(INFER)).toEqual(new Set(['Bearer model-token']));
  });

  describe('a --url target', () => {
    let other: TestTarget;
    const atOther: Array<string | undefined> = [];
    beforeAll(async () => {
      other = await startTestTarget({
        handler: (req, res) => {
          atOther.push(req.headers.authorization);
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        },
      });
    });
    afterAll(async () => other?.close());
    beforeEach(() => {
      atOther.length = 0;
    });

    it('on another origin never receives the server credentials, while recording on the server does', async () => {
      const r = await runCli(['loadtest', other.url, '--server', relay.url, '--token', 'server-token', '--rate', '20', '--duration', '1s', '--workers', '1', '--late-tolerance', '1s', '--record']);
      expect(r.code, r.stderr).toBe(0);
      expect(atOther.length).toBeGreaterThanOrEqual(15);
      expect(atOther.filter((a) => a !== undefined)).toEqual([]);
      expect(kinds(seen)).toContain('POST /api/2.0/mlflow/runs/create');
      expect(seen.filter((s) => s.authorization !== 'Bearer server-token')).toEqual([]);

      // MLflow's username and password stay with the server too; only an Authorization the user names goes to the target.
      seen.length = 0;
      atOther.length = 0;
      const own = await runCli(['loadtest', other.url, '--header', 'Authorization: Bearer for-the-target', '--rate', '20', '--duration', '1s', '--workers', '1', '--late-tolerance', '1s'], {
        SLIPWAY_SERVER: relay.url,
        MLFLOW_TRACKING_USERNAME: 'ada',
        MLFLOW_TRACKING_PASSWORD: 'pa55word',
      });
      expect(own.code, own.stderr).toBe(0);
      expect(new Set(atOther)).toEqual(new Set(['Bearer for-the-target']));
      expect(seen).toEqual([]);
    });

    it("on the server's own origin carries the server credentials, metadata read included", async () => {
      const r = await runCli(['loadtest', '--url', `${relay.url}${INFER}`, ...LOAD], { SLIPWAY_SERVER: relay.url, MLFLOW_TRACKING_TOKEN: 'mlflow-token' });
      expect(r.code, r.stderr).toBe(0);
      expect([...kinds(seen)]).toEqual([`GET ${METADATA}`, `POST ${INFER}`]);
      expect(seen.filter((s) => s.authorization !== 'Bearer mlflow-token')).toEqual([]);
    });
  });

  it('refuses --token without a server, credentials in a spec file and a token that is not one header line, without echoing them', async () => {
    const noServer = await runCli(['loadtest', 'http://127.0.0.1:1/', '--token', 'lost-token', '--rate', '10', '--duration', '1s']);
    expect(noServer.code).toBe(2);
    expect(noServer.stderr).toContain("--token is sent to the Slipway server only, and none is named: give --server (or SLIPWAY_SERVER); for the target's own credentials use --header 'Authorization: …'.");

    const spec = join(dir, 'secret.yaml');
    writeFileSync(spec, `target: http://127.0.0.1:1/\nserverAuthorization: Bearer spec-s3cret\nrate: 10\nduration: 1s\n`);
    const inSpec = await runCli(['loadtest', '--spec', spec, '--server', relay.url]);
    expect(inSpec.code).toBe(2);
    expect(inSpec.stderr).toContain(`${spec} holds serverAuthorization; credentials do not belong in a spec file: remove it and give --token or SLIPWAY_TOKEN instead.`);
    expect(inSpec.stderr).not.toContain('spec-s3cret');

    const twoLines = await runCli(['loadtest', 'http://127.0.0.1:1/', '--server', relay.url, '--rate', '10', '--duration', '1s'], { SLIPWAY_TOKEN: 'line-one\r\nx-injected: s3cret' });
    expect(twoLines.code).toBe(2);
    expect(twoLines.stderr).toContain("The server's credentials (--token, SLIPWAY_TOKEN, MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD) must be one line of printable ASCII");
    expect(twoLines.stderr).not.toContain('s3cret');
    expect(seen).toEqual([]);
  });

  it('says which call a server that checks tokens refused and how to give its credentials, without printing them', async () => {
    const refusing = await startTestTarget({ handler: (_req, res) => res.writeHead(401, { 'content-type': 'application/json' }).end('{"error_code":"UNAUTHENTICATED","message":"bad token"}') });
    try {
      const r = await runCli(['loadtest', 'models:/cancer@champion', '--server', refusing.origin, '--token', 'wrong-s3cret', ...LOAD]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`The Slipway server at ${refusing.origin} answered 401 to resolving models:/cancer@champion: it did not accept the credentials sent; give its credentials with --token (or sign in once with \`slipway login --server ${refusing.origin}\`).`);
      expect(r.stderr).not.toContain('s3cret');
    } finally {
      await refusing.close();
    }
  });
});
