/**
 * The connection layer over real HTTP on loopback: a drain that answers requests still
 * unread in the kernel while the event loop is blocked, 503s in each route family's
 * shape, lingering close after a 413 (Fastify's and the fast route's paths), and the
 * answer to POST /invocations on a server with no model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fixture, servingApp, type ServingHarness } from '../../test/support/serving.js';
import { resolveConfig } from '../config.js';
import { silentLogger } from '../core/logger.js';
import { startServer, type StartedServer } from './start-server.js';

/** A raw loopback connection that collects everything the server sends and how it ended. */
interface RawConnection {
  socket: Socket;
  /** Resolves with the bytes received once the server has closed (or reset) the connection. */
  closed: Promise<{ answer: string; error?: string }>;
  received(): string;
  /** Writes all of `data` chunk by chunk, waiting for each write; resolves with the write error code, if any. */
  writeAll(data: Buffer, chunk?: number): Promise<string | undefined>;
}

function openRaw(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let error: string | undefined;
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    const closed = new Promise<{ answer: string; error?: string }>((done) => socket.on('close', () => done({ answer, ...(error ? { error } : {}) })));
    const guard = setTimeout(() => socket.destroy(new Error('still open after 20 s')), 20_000);
    socket.on('close', () => clearTimeout(guard));
    socket.once('connect', () =>
      resolve({
        socket,
        closed,
        received: () => answer,
        async writeAll(data, chunk = 64 * 1024) {
          for (let at = 0; at < data.length; at += chunk) {
            const failed = await new Promise<string | undefined>((done) => socket.write(data.subarray(at, at + chunk), (err) => done(err ? ((err as NodeJS.ErrnoException).code ?? err.message) : undefined)));
            if (failed) return failed;
          }
          return undefined;
        },
      }),
    );
    socket.once('error', reject);
  });
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Blocks the event loop, as a long inline inference does. */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Busy on purpose.
  }
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
}

function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
}

const bigV2Body = (rows: number) => Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 30], data: new Array(rows * 30).fill(12.345678) }] }));

describe('slipway server connections', () => {
  let server: StartedServer;
  let home: string;
  let port: number;

  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-connections-'));
    server = await startServer(resolveConfig({ home, port: 0, bodyLimit: 1024 * 1024 }, {}, home), { logger: silentLogger });
    port = Number(new URL(server.url).port);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('answers POST /invocations with no model configured with 404 naming how to serve one', async () => {
    const res = await request(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [[1, 2]]}' });
    expect(res.statusCode).toBe(404);
    const body = (await res.body.json()) as { error_code: string; message: string };
    expect(body.error_code).toBe('RESOURCE_DOES_NOT_EXIST');
    expect(body.message).toContain('/models/<name>/invocations');
    expect(body.message).toContain('slipway models register');
  });

  it('lets a client that sends its whole over-limit body before reading read the 413', async () => {
    // As Python's urllib does: Connection: close, the whole body, then read.
    const body = Buffer.alloc(12 * 1024 * 1024, 0x20);
    const conn = await openRaw(port);
    conn.socket.write(`POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`);
    const writeError = await conn.writeAll(body);
    conn.socket.end();
    const { answer, error } = await conn.closed;
    expect(writeError).toBeUndefined();
    expect(error).toBeUndefined();
    expect(statusOf(answer)).toBe(413);
    expect(bodyOf(answer)).toMatchObject({ error_code: 'INVALID_PARAMETER_VALUE' });
  });

  it('answers a chunked body that breaks its encoding mid-way with 400, readable after sending', async () => {
    const conn = await openRaw(port);
    const garbage = Buffer.alloc(4 * 1024 * 1024, 0x7a);
    conn.socket.write('POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\nnot-a-size\r\n');
    const writeError = await conn.writeAll(garbage);
    conn.socket.end();
    const { answer, error } = await conn.closed;
    expect(writeError).toBeUndefined();
    expect(error).toBeUndefined();
    expect(statusOf(answer)).toBe(400);
  });
  it('closes at once a connection whose client ended its side mid-upload, and shows nothing of the upload', async () => {
    const conn = await openRaw(port);
    conn.socket.write('PUT /api/v1/artifacts/half/file.bin HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/octet-stream\r\ncontent-length: 1048576\r\n\r\n');
    await conn.writeAll(Buffer.alloc(64 * 1024, 1));
    const ended = performance.now();
    conn.socket.end();
    await conn.closed;
    // Before the fix the server waited for an 'end' it had already seen, and closed only after 5 s of silence.
    expect(performance.now() - ended).toBeLessThan(2_000);
    const res = await request(`${server.url}/api/v1/artifacts/half/file.bin`);
    expect(res.statusCode).toBe(404);
    await res.body.dump();
  });
});

describe('slipway server drain', () => {
  let home: string;
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('answers requests still unread in the kernel when the drain starts with the loop blocked, 503 in each family\'s shape', async () => {
    home = mkdtempSync(join(tmpdir(), 'slipway-drain-'));
    const server = await startServer(resolveConfig({ home, port: 0 }, {}, home), { logger: silentLogger });
    const port = Number(new URL(server.url).port);
    // Keep-alive connections that have served one request each, so they are idle.
    const conns = await Promise.all([openRaw(port), openRaw(port), openRaw(port)]);
    for (const c of conns) c.socket.write('GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
    await until(() => conns.every((c) => c.received().includes('\r\n\r\nOK')));
    const v2 = bigV2Body(10_000);
    const heads = [
      `POST /v2/models/cancer/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${v2.length}\r\n\r\n`,
      'POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n',
      'GET /api/v1/health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n',
    ];
    conns.forEach((c, i) => c.socket.write(i === 0 ? Buffer.concat([Buffer.from(heads[0] as string), v2]) : `${heads[i]}${i === 1 ? '{}' : ''}`));
    // The requests reach the server's kernel buffers while its loop is busy; the drain starts before it reads them.
    blockLoop(150);
    const closing = server.close();
    blockLoop(300);
    const results = await Promise.all(conns.map((c) => c.closed));
    await closing;
    for (const r of results) {
      expect(r.error).toBeUndefined();
      const second = r.answer.slice(r.answer.indexOf('HTTP/1.1', 10));
      expect(statusOf(second), r.answer).toBe(503);
      expect(second.toLowerCase()).toContain('connection: close');
    }
    const second = (r: { answer: string }) => r.answer.slice(r.answer.indexOf('HTTP/1.1', 10));
    expect(bodyOf(second(results[0] as { answer: string }))).toEqual({ error: expect.stringContaining('shutting down') });
    expect(bodyOf(second(results[1] as { answer: string }))).toEqual({ error_code: 'TEMPORARILY_UNAVAILABLE', message: expect.stringContaining('shutting down') });
    expect(bodyOf(second(results[2] as { answer: string }))).toMatchObject({ error: { code: 'UNAVAILABLE' } });
  }, 30_000);
});

describe('slipway serve routes: 413 with a lingering close', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp({ bodyLimit: 1024 * 1024 }, undefined, { listen: true });
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'));
  }, 60_000);
  afterAll(async () => h?.close());

  for (const framing of ['content-length', 'chunked'] as const) {
    it(`lets a client that keeps sending an over-limit V2 body (${framing}) read the 413`, async () => {
      const body = bigV2Body(40_000);
      expect(body.length).toBeGreaterThan(8 * 1024 * 1024);
      const conn = await openRaw(Number(new URL(h.url).port));
      const framingHeader = framing === 'chunked' ? 'transfer-encoding: chunked' : `content-length: ${body.length}`;
      conn.socket.write(`POST /v2/models/cancer/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${framingHeader}\r\nconnection: close\r\n\r\n`);
      const payload = framing === 'chunked' ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
      const writeError = await conn.writeAll(payload);
      conn.socket.end();
      const { answer, error } = await conn.closed;
      expect(writeError).toBeUndefined();
      expect(error).toBeUndefined();
      expect(statusOf(answer)).toBe(413);
      expect(bodyOf(answer)).toEqual({ error: 'The request body is larger than the limit of 1048576 bytes.' });
    }, 30_000);
  }
});
