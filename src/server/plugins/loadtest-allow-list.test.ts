/**
 * The load-test HTTP operation sends load only where it may: this server's own port
 * and models by default, plus the hosts an operator allows with loadtestAllowedHosts
 * or outboundAllowedHosts; caller headers never replace Host. Real servers, real HTTP,
 * a real receiver on loopback.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { runLoadTest } from '../../loadtest/index.js';
import { startServer, type StartedServer } from '../start-server.js';

const homes: string[] = [];
async function start(env: NodeJS.ProcessEnv = {}, file?: string): Promise<StartedServer> {
  const home = mkdtempSync(join(tmpdir(), 'slipway-lt-allow-'));
  homes.push(home);
  if (file !== undefined) writeFileSync(join(home, 'slipway.yaml'), file);
  return startServer(resolveConfig({ home, port: 0 }, env, home), { logger: silentLogger });
}
async function post(server: StartedServer, path: string, body: object): Promise<{ status: number; text: string }> {
  const res = await request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, text: await res.body.text() };
}
const port = (s: StartedServer): string => new URL(s.url).port;
const quick = { rate: 20, duration: '300ms', workers: 1, lateTolerance: '250ms' };

describe('POST /api/v1/loadtests target allow-list', () => {
  let plain: StartedServer;
  let allowing: StartedServer;

  beforeAll(async () => {
    plain = await start();
    allowing = await start({ SLIPWAY_LOADTEST_ALLOWED_HOSTS: ' 192.0.2.0/24, 0.0.0.0 ' });
  }, 60_000);
  afterAll(async () => {
    await plain?.close();
    await allowing?.close();
    for (const h of homes) rmSync(h, { recursive: true, force: true });
  });

  it('load-tests a loopback target', async () => {
    const res = await post(plain, '/api/v1/loadtests', { target: `http://127.0.0.1:${port(plain)}/health`, ...quick });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toMatchObject({ kind: 'slipway.loadtest', errorRate: 0 });
    const viaName = await post(plain, '/api/v1/loadtests', { target: `http://localhost:${port(plain)}/health`, ...quick });
    expect(viaName.status).toBe(200);
  });

  it.each([
    ['/api/v1/loadtests', { target: 'http://192.0.2.10:8080/v2/models/m/infer', ...quick }, "target host '192.0.2.10' port 8080"],
    // 0.0.0.0 reaches this machine's services on Linux; it is not a loopback address and stays refused.
    ['/api/v1/loadtests', { target: 'http://0.0.0.0:9/', ...quick }, "target host '0.0.0.0' port 9"],
    ['/api/v1/loadtests', { target: 'models:/cancer@champion', server: 'http://models.example.org:5000', ...quick }, "server host 'models.example.org' port 5000"],
    ['/api/v1/loadtests/capacity', { target: 'http://[2001:db8::1]/', startRate: 10, stepRate: 10, maxRate: 20, stepDuration: '300ms', thresholds: ['p99<1s'] }, "target host '2001:db8::1' port 80"],
  ])('refuses %s to another host with 403 naming the host and the option', async (path, body, text) => {
    const res = await post(plain, path, body);
    expect(res.status).toBe(403);
    expect(res.text).toContain(text);
    expect(res.text).toContain('loadtestAllowedHosts');
    expect(res.text).toContain('SLIPWAY_LOADTEST_ALLOWED_HOSTS');
  });

  it("refuses another service on loopback, such as PostgreSQL's port, but tests this server's own port", async () => {
    for (const target of ['http://127.0.0.1:5432/', 'http://localhost:5432/', 'http://[::1]:6379/']) {
      const res = await post(plain, '/api/v1/loadtests', { target, ...quick });
      expect(res.status, target).toBe(403);
      expect(res.text).toContain('loopback ports other than this server');
    }
    const own = await post(plain, '/api/v1/loadtests', { target: `http://127.0.0.1:${port(plain)}/v2/health/ready`, ...quick });
    expect(own.status, own.text).toBe(200);
  });

  it('sends to a host the operator allowed', async () => {
    const refused = await post(plain, '/api/v1/loadtests', { target: `http://0.0.0.0:${port(plain)}/health`, ...quick });
    expect(refused.status).toBe(403);
    const res = await post(allowing, '/api/v1/loadtests', { target: `http://0.0.0.0:${port(allowing)}/health`, ...quick });
    expect(res.status).toBe(200);
    const result = JSON.parse(res.text) as { errorRate: number; requests: { ok: number } };
    expect(result.errorRate).toBe(0);
    expect(result.requests.ok).toBeGreaterThan(0);
    // Other hosts stay refused.
    expect((await post(allowing, '/api/v1/loadtests', { target: 'http://198.51.100.1/', ...quick })).status).toBe(403);
  });

  it('sends caller headers to an allowed loopback receiver, but never a caller Host or connection header', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const receiver: Server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const rport = (receiver.address() as AddressInfo).port;
    try {
      const viaOutbound = await start({ SLIPWAY_OUTBOUND_ALLOWED_HOSTS: `127.0.0.1:${rport}` });
      try {
        const res = await post(viaOutbound, '/api/v1/loadtests', { target: `http://127.0.0.1:${rport}/hook`, method: 'GET', headers: { Host: 'evil.example', 'X-Trace': 'lt-1', Connection: 'close' }, ...quick });
        expect(res.status, res.text).toBe(200);
        expect(seen.length).toBeGreaterThan(0);
        expect(new Set(seen.map((h) => h.host))).toEqual(new Set([`127.0.0.1:${rport}`]));
        expect(seen.every((h) => h['x-trace'] === 'lt-1')).toBe(true);
        // The listed port only: the receiver's neighbours stay refused.
        expect((await post(viaOutbound, '/api/v1/loadtests', { target: `http://127.0.0.1:${rport === 65535 ? rport - 1 : rport + 1}/`, ...quick })).status).toBe(403);
      } finally {
        await viaOutbound.close();
      }
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });

  it('reads the allowed hosts from slipway.yaml as a list, the environment winning over the file', () => {
    const home = mkdtempSync(join(tmpdir(), 'slipway-lt-allow-'));
    homes.push(home);
    writeFileSync(join(home, 'slipway.yaml'), 'server:\n  loadtestAllowedHosts:\n    - models.internal\n    - 10.0.0.0/8\n');
    expect(resolveConfig({}, {}, home).loadtestAllowedHosts).toEqual(['models.internal', '10.0.0.0/8']);
    expect(resolveConfig({}, { SLIPWAY_LOADTEST_ALLOWED_HOSTS: 'a.example,b.example' }, home).loadtestAllowedHosts).toEqual(['a.example', 'b.example']);
  });

  it('refuses to start with an entry that is not a host, naming it', async () => {
    await expect(start({ SLIPWAY_LOADTEST_ALLOWED_HOSTS: 'http://models.internal/' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining("'http://models.internal/'") });
  });

  it('leaves the library (and so the CLI) unrestricted: its user picks the target', async () => {
    const r = await runLoadTest({ target: `http://0.0.0.0:${port(plain)}/health`, ...quick });
    expect(r.requests.ok).toBeGreaterThan(0);
  });
});
