import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../config.js';
import { silentLogger } from '../../core/logger.js';
import { startServer, type StartedServer } from '../start-server.js';

/**
 * A real small file system for the artifact folder: tmpfs needs root (as the test job runs);
 * the error says so instead of the test being skipped.
 */
function mountTmpfs(dir: string, options: string): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`These tests mount a small tmpfs and need root (or CAP_SYS_ADMIN): ${(err as Error).message}`, { cause: err });
  }
}

function unmount(dir: string): void {
  execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
}

/** Streams `bytes` as one PUT body and resolves with the answer, or with the client error if none came. */
function putLarge(url: string, bytes: number): Promise<{ status: number; body: string; connection: string | undefined; closed: boolean }> {
  return new Promise((done, fail) => {
    const req = httpRequest(url, { method: 'PUT', headers: { 'content-length': bytes, 'content-type': 'application/octet-stream' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        // Wait for the server's side of the connection to go, when it closes it (bounded: 5 s on a loaded machine).
        const finish = () => done({ status: res.statusCode ?? 0, body, connection: res.headers.connection, closed: req.socket?.destroyed ?? true });
        const socket = req.socket;
        if (!socket || socket.destroyed) return finish();
        const timer = setTimeout(finish, 5000);
        socket.once('close', () => {
          clearTimeout(timer);
          finish();
        });
      });
    });
    req.on('error', (err) => fail(err));
    const chunk = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    const pump = (): void => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

async function closeWithin(server: StartedServer, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    server.close(),
    new Promise((_, fail) => (timer = setTimeout(() => fail(new Error(`shutdown did not finish within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

describe('an artifact folder on a small file system', () => {
  let home: string;
  let mnt: string;
  let server: StartedServer | undefined;
  let now: number;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'slipway-disk-full-'));
    mnt = join(home, 'artifacts');
    mkdirSync(mnt);
    now = 1_700_000_000_000;
  });

  afterEach(async () => {
    if (server) await closeWithin(server, 5000).catch(() => undefined);
    server = undefined;
    unmount(mnt);
    rmSync(home, { recursive: true, force: true });
  });

  const start = async () => {
    server = await startServer(resolveConfig({ home, host: '127.0.0.1', port: 0, artifactsDestination: mnt }, {}, home), { logger: silentLogger, clock: { now: () => now } });
    return server;
  };

  it('answers 507 to an upload that fills the disk, removes its temp file, closes the connection and still shuts down', async () => {
    mountTmpfs(mnt, 'size=2m');
    const s = await start();
    const res = await putLarge(`${s.url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/big.bin`, 6 * 1024 * 1024);
    expect(res.status).toBe(507);
    expect(JSON.parse(res.body)).toMatchObject({ error_code: 'INTERNAL_ERROR', message: expect.stringContaining('no space left') });
    expect(res.connection).toBe('close');
    expect(res.closed).toBe(true);
    expect(readdirSync(join(mnt, 'tmp'))).toEqual([]);
    // Smaller uploads still fit afterwards: nothing of the failed one is left taking the space.
    const small = await fetch(`${s.url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/small.txt`, { method: 'PUT', body: 'fits' });
    expect(small.status).toBe(200);
    await closeWithin(s, 5000);
  });

  it('reports a store that cannot write in /api/v1/health, and recovers when space is freed', async () => {
    mountTmpfs(mnt, 'size=1m');
    const s = await start();
    const healthy = await fetch(`${s.url}/api/v1/health`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toMatchObject({ status: 'ok', artifacts: 'configured', artifact_store: { status: 'ok' } });

    const filler = join(mnt, 'filler');
    expect(() => writeFileSync(filler, Buffer.alloc(2 * 1024 * 1024))).toThrow(/ENOSPC/);
    // The last answer is kept for a few seconds so probes stay cheap.
    expect((await fetch(`${s.url}/api/v1/health`)).status).toBe(200);
    now += 10_000;
    const full = await fetch(`${s.url}/api/v1/health`);
    expect(full.status).toBe(503);
    expect(await full.json()).toMatchObject({
      status: 'unavailable',
      store: { status: 'ok' },
      artifacts: 'configured',
      artifact_store: { status: 'unwritable', reason: expect.stringContaining('no space left') },
    });

    rmSync(filler);
    now += 10_000;
    expect((await fetch(`${s.url}/api/v1/health`)).status).toBe(200);
  });

  it('refuses to start on an existing artifact folder that is read-only', async () => {
    mountTmpfs(mnt, 'size=1m');
    await start();
    await server?.close();
    server = undefined;
    execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'pipe' });
    await expect(start()).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: `Cannot use '${mnt}' as the artifact folder: the file system is read-only.` });
  });
});
