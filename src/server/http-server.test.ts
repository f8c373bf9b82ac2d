/**
 * The node:http server every Slipway server listens with, over real loopback connections:
 * a request node:http hands to no handler (CONNECT) gets an answer instead of a closed connection.
 */
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FastRoutes, httpServerFactory } from './http-server.js';
import { answerClientError } from './http-connections.js';

let server: Server | undefined;

afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((done) => s.close(() => done()));
});

/** A server whose only handler answers 200. */
async function listen(): Promise<number> {
  const s = httpServerFactory({ requestTimeoutMs: 10_000, drainTimeoutMs: 1000 }, new FastRoutes())((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
    res.end('{}');
  });
  // As Fastify installs it from `clientErrorHandler`.
  s.on('clientError', answerClientError);
  server = s;
  await new Promise<void>((done) => s.listen(0, '127.0.0.1', () => done()));
  const address = s.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Writes `text`, ends the client's side (the server lingers until then), and resolves with all the server sent before it closed. */
function exchange(port: number, text: string): Promise<{ answer: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    let error: string | undefined;
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
    socket.on('close', () => resolve({ answer, ...(error ? { error } : {}) }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error('the connection was still open after 5 s'));
    }, 5000).unref();
    socket.write(text, () => socket.end());
  });
}

describe('httpServerFactory', () => {
  it('answers CONNECT with 400 rather than closing the connection', async () => {
    const port = await listen();
    const { answer, error } = await exchange(port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`);
    expect(error).toBeUndefined();
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('MALFORMED_REQUEST');
    expect(body.error.message).toMatch(/CONNECT/);
  });

  it('keeps answering ordinary requests after refusing a CONNECT', async () => {
    const port = await listen();
    await exchange(port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`);
    const { answer } = await exchange(port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('answers CONNECT while its client is still sending', async () => {
    const port = await listen();
    const { answer, error } = await exchange(port, `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n${'x'.repeat(256 * 1024)}`);
    expect(error).toBeUndefined();
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
  });
});
