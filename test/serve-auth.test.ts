/**
 * `slipway serve --auth`: inference needs READ on the served model, checked in the embedded store
 * or by the followed server; health answers anyone; a non-loopback bind without --auth refuses.
 * Real processes (the built CLI), a real server with access control, real HTTP on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AccessService } from '../src/access/access-service.js';
import { resolveConfig } from '../src/config.js';
import { silentLogger } from '../src/core/logger.js';
import { RemoteAccessVerifier } from '../src/server/serve-access.js';
import { startServer, type StartedServer } from '../src/server/start-server.js';
import { CLI_PATH, runCli, tempHome } from './support/cli.js';
import { servedAddress } from './support/serve-process.js';
import { holdout } from './support/serving.js';

const MODEL = join(import.meta.dirname, 'fixtures', 'breast_cancer_mlp.onnx');
const ADMIN_PASSWORD = 'admin-password-1';
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const row = holdout('breast_cancer').rows[0] as number[];
const v2Body = JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data: row }] });
const children: ChildProcess[] = [];

async function startServe(args: string[], env: Record<string, string>): Promise<string> {
  const proc = spawn(process.execPath, [CLI_PATH, 'serve', ...args, '--port', '0', '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SLIPWAY_SERVER: '', MLFLOW_TRACKING_URI: '', SLIPWAY_TOKEN: '', SLIPWAY_AUTH: '', ...env },
  });
  children.push(proc);
  return (await servedAddress(proc)).url;
}

async function call(url: string, path: string, authorization?: string, body?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(`${url}${path}`, body === undefined ? { headers } : { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}
const infer = (url: string, authorization?: string) => call(url, '/v2/models/cancer/infer', authorization, v2Body);
const invocations = (url: string, authorization?: string) => call(url, '/invocations', authorization, JSON.stringify({ inputs: [row] }));

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('slipway serve --auth', () => {
  const home = tempHome('slipway-serve-auth');
  let server: StartedServer;
  let access: AccessService;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await startServer(resolveConfig({ home, port: 0, auth: true }, {}, home), { logger: silentLogger, adminPassword: ADMIN_PASSWORD });
    access = server.ctx.access as AccessService;
    tokens.admin = (await access.createToken('admin', { name: 'cli' })).secret;
    const reg = await runCli(['models', 'register', MODEL, '--name', 'cancer', '--alias', 'champion', '--server', server.url], { SLIPWAY_TOKEN: tokens.admin as string });
    expect(reg.code, reg.stderr).toBe(0);
    await access.createUser({ username: 'reader', password: 'reader-password' });
    await access.createUser({ username: 'blocked', password: 'blocked-password' });
    await access.setPermission({ kind: 'registered_model', objectId: 'cancer', username: 'blocked', permission: 'NO_PERMISSIONS' });
    tokens.reader = (await access.createToken('reader', { name: 'inference' })).secret;
    tokens.blocked = (await access.createToken('blocked', { name: 'inference' })).secret;
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('with the embedded store: READ on the model answers, no or wrong credentials get 401, NO_PERMISSIONS 403, health stays open', async () => {
    const url = await startServe(['models:/cancer@champion', '--auth', '--backend-store-uri', `sqlite://${join(home, 'slipway.db')}`], { SLIPWAY_HOME: home });
    expect((await call(url, '/v2/health/ready')).status).toBe(200);
    const anonymous = await infer(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.text).toContain('Authentication required');
    expect((await invocations(url)).status).toBe(401);
    expect((await infer(url, basic('reader', 'wrong-password'))).status).toBe(401);
    // Twice each: the first is verified, the second answered from the cache on the fast route.
    for (let i = 0; i < 2; i++) {
      const ok = await infer(url, `Bearer ${tokens.reader}`);
      expect(ok.status, ok.text).toBe(200);
      expect(JSON.parse(ok.text).outputs[0].data).toHaveLength(1);
      expect((await infer(url, basic('reader', 'reader-password'))).status).toBe(200);
    }
    expect((await invocations(url, `Bearer ${tokens.reader}`)).status).toBe(200);
    const denied = await infer(url, `Bearer ${tokens.blocked}`);
    expect(denied.status).toBe(403);
    expect(denied.text).toContain("'cancer'");
    expect((await call(url, '/v2/models/cancer', `Bearer ${tokens.blocked}`)).status).toBe(403);
  }, 60_000);

  it('following a server: the server verifies each caller once, READ answers, others get 401 or 403', async () => {
    const url = await startServe(['models:/cancer@champion', '--auth', '--server', server.url, '--name', 'fraud'], { SLIPWAY_HOME: tempHome('slipway-serve-auth-remote'), SLIPWAY_TOKEN: tokens.admin as string });
    expect((await call(url, '/v2/health/live')).status).toBe(200);
    expect((await call(url, '/v2/models/fraud/infer', undefined, v2Body)).status).toBe(401);
    for (let i = 0; i < 2; i++) {
      const ok = await call(url, '/v2/models/fraud/infer', `Bearer ${tokens.reader}`, v2Body);
      expect(ok.status, ok.text).toBe(200);
    }
    expect((await call(url, '/v2/models/fraud/infer', basic('reader', 'not-the-password'), v2Body)).status).toBe(401);
    expect((await call(url, '/v2/models/fraud/infer', `Bearer ${tokens.blocked}`, v2Body)).status).toBe(403);
    // The repository API needs an admin, which this process cannot verify: refused even for the admin.
    expect((await call(url, '/v2/repository/models/fraud/unload', `Bearer ${tokens.admin}`, '{}')).status).toBe(403);
  }, 60_000);

  it('a token revoked on the server stops working once its cached verdict expires', async () => {
    let now = Date.now();
    const verifier = new RemoteAccessVerifier({ url: server.url, model: 'cancer', ttlMs: 60_000, now: () => now });
    const requirement = { kind: 'registered_model', name: 'cancer', level: 'READ' } as const;
    const token = await access.createToken('reader', { name: 'short-lived' });
    const first = await verifier.authenticate(`Bearer ${token.secret}`, '127.0.0.1');
    expect('username' in first && verifier.authorize(first, requirement)).toBe(true);
    await access.revokeToken(token.id);
    // Within the TTL the cached verdict stands (documented); after it the server is asked again and refuses.
    const cached = verifier.authenticate(`Bearer ${token.secret}`, '127.0.0.1');
    expect('username' in cached).toBe(true);
    now += 60_001;
    const after = await verifier.authenticate(`Bearer ${token.secret}`, '127.0.0.1');
    expect(after).toMatchObject({ status: 401 });
  });

  it('refuses to listen beyond loopback without --auth unless --allow-anonymous, and --auth on a file', async () => {
    const open = await runCli(['serve', MODEL, '--host', '0.0.0.0', '--port', '0'], { SLIPWAY_HOME: home });
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('Refusing to listen on 0.0.0.0');
    expect(open.stderr).toContain('--allow-anonymous');
    const file = await runCli(['serve', MODEL, '--auth', '--port', '0'], { SLIPWAY_HOME: home });
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('--auth');
    const anonymous = await startServe([MODEL, '--name', 'cancer', '--host', '0.0.0.0', '--allow-anonymous'], { SLIPWAY_HOME: home });
    const port = new URL(anonymous).port;
    expect((await infer(`http://127.0.0.1:${port}`)).status).toBe(200);
  }, 60_000);
});
