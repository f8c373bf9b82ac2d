import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, openAuthApp, type AuthApp } from '../../src/server/native/access-api.test-support.js';
import { DIALECTS } from '../support/dialects.js';
import { CLI_PATH, tempHome, type CliResult } from '../support/cli.js';

/** Runs the built CLI with `input` on standard input. */
function cli(args: string[], env: Record<string, string>, input = ''): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI_PATH, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

describe('slipway login, users, tokens and permissions against a server with access control', () => {
  const home = tempHome('slipway-access-cli');
  const env = { SLIPWAY_HOME: home };
  let t: AuthApp;
  let url: string;

  beforeAll(async () => {
    t = await openAuthApp(DIALECTS[0]!);
    url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => t.close());

  it('refuses a wrong password and stores nothing', async () => {
    const res = await cli(['login', '--server', url, '--username', 'admin'], env, 'not-the-password\n');
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Invalid credentials/);
    expect(() => statSync(join(home, 'credentials.json'))).toThrow();
  });

  it('logs in with the password on standard input and stores a token in a 0600 file that later commands use', async () => {
    const res = await cli(['login', '--server', url, '--username', 'admin'], env, `${ADMIN_PASSWORD}\n`);
    expect(res.stderr).toBe('');
    expect(res.stdout).toMatch(/^logged in to http:\/\/127\.0\.0\.1:\d+ as admin; token [0-9a-f]{16} stored in /);
    const file = join(home, 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as { servers: Record<string, { username: string; token: string }> };
    expect(stored.servers[url]).toMatchObject({ username: 'admin', token: expect.stringMatching(/^slw_/) });
    expect(readFileSync(file, 'utf8')).not.toContain(ADMIN_PASSWORD);

    const tokens = await cli(['tokens', 'list', '--server', url, '--json'], env);
    expect(tokens.code).toBe(0);
    expect((JSON.parse(tokens.stdout) as Array<{ name: string }>).map((x) => x.name)).toEqual([expect.stringMatching(/^cli@/)]);
  });

  it('lets loadtest reach the server with the stored login token (it asked for --token before)', async () => {
    // The model does not exist: getting that far means the server took the stored token.
    const res = await cli(['loadtest', 'models:/absent@champion', '--server', url, '--duration', '1s', '--rate', '1'], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/models:\/absent@champion does not exist/);
    expect(res.stderr).not.toMatch(/401/);
    const signedOut = await cli(['loadtest', 'models:/absent@champion', '--server', url, '--duration', '1s', '--rate', '1'], { SLIPWAY_HOME: tempHome('slipway-access-cli-none') });
    expect(signedOut.stderr).toMatch(/answered 401 .*`slipway login --server /);
  });

  it('creates a user, a token printed once, and a permission', async () => {
    const created = await cli(['users', 'create', 'erin', '--server', url], env, 'erin-password\n');
    expect(created.stdout).toBe('created user erin\n');
    const short = await cli(['users', 'create', 'frank', '--server', url], env, 'short\n');
    expect(short.code).toBe(2);

    const token = await cli(['tokens', 'create', '--name', 'ci', '--user', 'erin', '--expires-in', '30d', '--server', url], env);
    expect(token.stdout).toMatch(/^slw_[A-Za-z0-9_-]{43}\n$/);
    expect(token.stderr).toMatch(/not shown again/);
    // The printed secret works on its own.
    const asErin = await cli(['tokens', 'list', '--server', url, '--json', '--token', token.stdout.trim()], {});
    expect((JSON.parse(asErin.stdout) as Array<{ username: string; expiresTime: number }>)[0]).toMatchObject({ username: 'erin' });

    await t.app.inject({ method: 'POST', url: '/api/2.0/mlflow/registered-models/create', headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` }, payload: { name: 'cli-model' } });
    const set = await cli(['permissions', 'set', '--model', 'cli-model', '--user', 'erin', '--level', 'edit', '--server', url], env);
    expect(set.stdout).toBe('erin has EDIT on model cli-model\n');
    const get = await cli(['permissions', 'get', '--user', 'erin', '--server', url], env);
    expect(get.stdout).toMatch(/registered_model\s+│?\s*cli-model\s+│?\s*erin\s+│?\s*EDIT/);
    expect(get.stdout).toMatch(/objects without a stored permission: READ/);
    const bad = await cli(['permissions', 'set', '--model', 'cli-model', '--user', 'erin', '--level', 'owner', '--server', url], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--level must be READ, EDIT, MANAGE or NO_PERMISSIONS; got 'owner'/);
  });
});
