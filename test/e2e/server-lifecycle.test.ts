import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendRaw } from '../support/raw-http.js';
import { freshHome, removeHome, runCli, startServerProcess, type ServerProcess } from './server-process.js';

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) / 1024;
}

describe('slipway server process', () => {
  const homes: string[] = [];
  const running: ServerProcess[] = [];
  afterEach(() => {
    for (const s of running.splice(0)) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    for (const h of homes.splice(0)) removeHome(h);
  });

  it('starts with zero configuration, serves health, and exits 0 on SIGTERM', async () => {
    const home = freshHome();
    homes.push(home);
    const server = await startServerProcess(home);
    running.push(server);
    const health = await fetch(`${server.url}/health`);
    expect(await health.text()).toBe('OK');
    const status = (await (await fetch(`${server.url}/api/v1/health`)).json()) as { status: string; store: { backend: string } };
    expect(status).toMatchObject({ status: 'ok', store: { backend: 'sqlite' } });
    expect(rssMb(server.child.pid as number)).toBeLessThan(150);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // A restart on the same store finds its data and starts again.
    const again = await startServerProcess(home);
    running.push(again);
    expect((await fetch(`${again.url}/health`)).status).toBe(200);
    again.child.kill('SIGINT');
    expect(await again.exited).toBe(0);
  });

  it('ends a drain held open by a stalled upload within --shutdown-timeout and still exits 0', async () => {
    const home = freshHome();
    homes.push(home);
    const server = await startServerProcess(home, ['--shutdown-timeout', '3s']);
    running.push(server);
    // A client that announces a body and stops sending keeps its request in progress for good.
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.on('error', () => {});
    socket.write('PUT /api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/stalled.bin HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 1000000\r\n\r\nabc');
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    socket.destroy();
  });

  it('finishes an in-flight request before exiting on SIGTERM', async () => {
    const home = freshHome();
    homes.push(home);
    const server = await startServerProcess(home);
    running.push(server);
    // An upload that is still streaming when the signal arrives must complete.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 5) server.child.kill('SIGTERM');
        if (sent++ >= 20) return controller.close();
        await new Promise((r) => setTimeout(r, 20));
        controller.enqueue(new Uint8Array(64 * 1024).fill(sent));
      },
    });
    const res = await fetch(`${server.url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/slow.bin`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(200);
    expect(await server.exited).toBe(0);
    const restarted = await startServerProcess(home);
    running.push(restarted);
    const list = (await (await fetch(`${restarted.url}/api/2.0/mlflow-artifacts/artifacts?path=0/run/artifacts`)).json()) as { files: unknown[] };
    expect(list.files).toEqual([{ path: 'slow.bin', is_dir: false, file_size: 20 * 64 * 1024 }]);
    restarted.child.kill('SIGTERM');
    expect(await restarted.exited).toBe(0);
  });

  it('cuts off a client that starts a request and never finishes it, after --request-timeout', async () => {
    const home = freshHome();
    homes.push(home);
    const server = await startServerProcess(home, ['--request-timeout', '1s']);
    running.push(server);
    const url = new URL(server.url);
    const started = performance.now();
    // Announces 1000 bytes of a log-batch body and sends 20.
    const answer = await sendRaw(Number(url.port), 'POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"run_id": "abc", "m', 15_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(performance.now() - started).toBeLessThan(8_000);
    // The server itself is fine.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('exits 2 naming the problem for bad flags', async () => {
    const [badPort, unknown, scheme, missingConfig, badTimeout] = await Promise.all([
      runCli(['server', '--port', 'eighty']),
      runCli(['server', '--no-such-flag']),
      runCli(['server', '--port', '0', '--backend-store-uri', 'mysql://db/x']),
      runCli(['server', '--port', '0', '--config', '/nonexistent/slipway.yaml']),
      runCli(['server', '--port', '0', '--request-timeout', 'soon']),
    ]);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be an integer between 0 and 65535');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--no-such-flag'");
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toContain("Unsupported backend store URI 'mysql://db/x'");
    expect(missingConfig.code).toBe(2);
    expect(missingConfig.stderr).toContain('/nonexistent/slipway.yaml does not exist');
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain("--request-timeout must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'soon'.");
  });

  it('exits 1 naming the store when it cannot be reached, without leaking its password', async () => {
    const res = await runCli(['server', '--port', '0', '--backend-store-uri', 'postgresql://postgres:hunter2@127.0.0.1:1/slipway']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Cannot open the metadata store postgresql://postgres:***@127.0.0.1:1/slipway');
    expect(res.stderr).not.toContain('hunter2');
  });

  it('exits 1 when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const home = freshHome();
    homes.push(home);
    try {
      const res = await runCli(['server', '--port', String(port)], { SLIPWAY_HOME: home });
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    } finally {
      blocker.close();
    }
  });
});
