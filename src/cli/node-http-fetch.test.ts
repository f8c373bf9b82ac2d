/** The command line's fetch: what the SDK relies on, against real loopback servers. */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient } from '../client/slipway-client.js';
import { nodeHttpFetch } from './node-http-fetch.js';

describe('nodeHttpFetch', () => {
  let server: Server;
  let url: string;
  const received: Array<{ method: string; body: string; type: string | undefined }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/api/v1/stall') return; // never answers
      if (req.url === '/api/v1/artifacts/big.bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(4 * 1024 * 1024) });
        return void res.end(Buffer.alloc(4 * 1024 * 1024, 1));
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ method: req.method ?? '', body, type: req.headers['content-type'] });
        if (req.url === '/api/v1/empty') return void res.writeHead(204).end();
        if (req.url === '/api/v1/missing') return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'No such thing.' } }));
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] }).end(JSON.stringify({ echoed: body }));
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });

  it('lets a download be cancelled before or after its first chunk, the rest of the body discarded without an error', async () => {
    const client = new SlipwayClient({ url, fetch: nodeHttpFetch });
    const unread = await client.artifacts.get('big.bin');
    await unread.body.cancel();
    const started = await client.artifacts.get('big.bin');
    const reader = started.body.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    // Chunks still arriving for a cancelled body must not reach its closed stream.
    await new Promise((done) => setTimeout(done, 100));
    expect(await client.request('POST', '/echo', { body: { after: true } })).toEqual({ echoed: '{"after":true}' });
  });

  it('sends JSON and stream bodies and reads JSON, 204 and error answers through the SDK', async () => {
    const client = new SlipwayClient({ url, fetch: nodeHttpFetch });
    expect(await client.request('POST', '/echo', { body: { a: 1 } })).toEqual({ echoed: '{"a":1}' });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('part one, '));
        controller.enqueue(new TextEncoder().encode('part two'));
        controller.close();
      },
    });
    const res = await nodeHttpFetch(`${url}/api/v1/echo`, { method: 'PUT', body: stream, headers: { 'content-type': 'application/octet-stream' } });
    expect(await res.json()).toEqual({ echoed: 'part one, part two' });
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(await client.request('DELETE', '/empty')).toBeUndefined();
    await expect(client.request('GET', '/missing')).rejects.toMatchObject({ code: 'NOT_FOUND', status: 404, message: 'No such thing.' });
  });

  it('gives up on a server that does not answer within the timeout, as DEADLINE_EXCEEDED', async () => {
    const client = new SlipwayClient({ url, fetch: nodeHttpFetch, timeoutMs: 300 });
    const started = performance.now();
    await expect(client.request('GET', '/stall')).rejects.toMatchObject({ code: 'DEADLINE_EXCEEDED', message: expect.stringContaining('no answer within 300 ms') });
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it('names the refused connection', async () => {
    const client = new SlipwayClient({ url: 'http://127.0.0.1:9', fetch: nodeHttpFetch });
    await expect(client.request('GET', '/experiments')).rejects.toMatchObject({ code: 'UNAVAILABLE', message: 'Cannot reach Slipway at http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9' });
  });
});
