/**
 * JSON and binary tensor V2 infers are answered from node:http by a fast route ahead of Fastify.
 * These tests send the same requests over real HTTP (the fast route) and through
 * Fastify (`inject`) and expect the same answers, check that everything the fast
 * route declines still works, and that a client that never finishes its request is cut off.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRaw } from './support/raw-http.js';
import { fixture, holdout, identityFile, servingApp, type ServingHarness } from './support/serving.js';

const cancer = holdout('breast_cancer');
const row = cancer.rows[0] as number[];
const v2 = (extra: Record<string, unknown> = {}, data: unknown = [row]) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], data }], ...extra });

describe('the V2 infer fast route', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp({ bodyLimit: 64 * 1024 }, undefined, { listen: true, requestTimeoutMs: 1500 });
    await h.manager.load('cancer', fixture('breast_cancer_mlp.onnx'), cancer.columns);
    await h.manager.load('Breast cancer (v2)', fixture('breast_cancer_mlp.onnx'));
    await h.manager.load('types', identityFile());
  });
  afterAll(() => h?.close());

  const overHttp = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${h.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const viaFastify = async (path: string, body: string, headers: Record<string, string> = {}) => {
    const res = await h.app.inject({ method: 'POST', url: path, payload: body, headers: { 'content-type': 'application/json', ...headers } });
    return { status: res.statusCode, text: res.body, headers: res.headers };
  };

  it('answers every kind of request exactly as the Fastify route does', async () => {
    const name = `/v2/models/${encodeURIComponent('Breast cancer (v2)')}`;
    const cases: Array<[string, string, string, Record<string, string>?]> = [
      ['prediction with an id', '/v2/models/cancer/infer', JSON.stringify(v2({ id: 'req-1' }))],
      ['a version path', '/v2/models/cancer/versions/1/infer', JSON.stringify(v2())],
      ['a percent-encoded name', `${name}/infer`, JSON.stringify(v2())],
      ['outputs selected by name', '/v2/models/cancer/infer', JSON.stringify(v2({ outputs: [{ name: 'probabilities' }] }))],
      ['an unknown output', '/v2/models/cancer/infer', JSON.stringify(v2({ outputs: [{ name: 'nope' }] }))],
      ['a wrong shape', '/v2/models/cancer/infer', JSON.stringify(v2({}, [row.slice(1)]))],
      ['bad JSON', '/v2/models/cancer/infer', '{"inputs": ['],
      ['an unknown model', '/v2/models/nope/infer', JSON.stringify(v2())],
      ['an unknown version', '/v2/models/cancer/versions/9/infer', JSON.stringify(v2())],
      ['a bad deadline header', '/v2/models/cancer/infer', JSON.stringify(v2()), { 'x-slipway-deadline-ms': 'soon' }],
      ['a caller request id', '/v2/models/cancer/infer', JSON.stringify(v2()), { 'x-request-id': 'trace-7' }],
      ['charset in the content type', '/v2/models/cancer/infer', JSON.stringify(v2()), { 'content-type': 'application/json; charset=utf-8' }],
      ['INT32 identity', '/v2/models/types/infer', JSON.stringify({ inputs: [{ name: 'in_INT32', datatype: 'INT32', shape: [1, 2], data: [7, -3] }], outputs: [{ name: 'out_INT32' }] })],
    ];
    for (const [what, path, body, headers] of cases) {
      const fast = await overHttp(path, body, headers);
      const slow = await viaFastify(path, body, headers);
      expect(fast.status, what).toBe(slow.status);
      expect(JSON.parse(fast.text), what).toEqual(JSON.parse(slow.text));
      expect(fast.headers.get('content-type'), what).toBe(slow.headers['content-type']);
      if (headers?.['x-request-id'] || body.includes('"id"')) expect(fast.headers.get('x-request-id'), what).toBe(slow.headers['x-request-id']);
      else expect(fast.headers.get('x-request-id'), what).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('answers binary tensor requests byte for byte as the Fastify route does', async () => {
    const binary = (header: Record<string, unknown>, tensors: Buffer, headerLength?: number) => {
      const head = Buffer.from(JSON.stringify(header));
      return { body: Buffer.concat([head, tensors]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength ?? head.length) } };
    };
    const input = Buffer.from(Float32Array.from(row).buffer);
    const binaryInput = (extra: Record<string, unknown> = {}, size = input.length) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], parameters: { binary_data_size: size } }], ...extra });
    const cases: Array<[string, { body: Buffer; headers: Record<string, string> }]> = [
      ['binary input, JSON output', binary(binaryInput(), input)],
      ['binary input and output', binary(binaryInput({ outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] }), input)],
      ['a header length past the body', binary(binaryInput(), input, 10_000)],
      ['a header length that is not a number', { ...binary(binaryInput(), input), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': 'ten' } }],
      ['binary_data_size past the end', binary(binaryInput({}, 400), input)],
      ['bytes left over', binary(binaryInput({}, 60), input)],
      ['a JSON body sent as octet-stream', { body: Buffer.from(JSON.stringify(v2())), headers: { 'content-type': 'application/octet-stream' } }],
    ];
    for (const [what, { body, headers }] of cases) {
      const fast = await fetch(`${h.url}/v2/models/cancer/infer`, { method: 'POST', body, headers });
      const fastBytes = Buffer.from(await fast.arrayBuffer());
      const slow = await h.app.inject({ method: 'POST', url: '/v2/models/cancer/infer', payload: body, headers });
      expect(fast.status, what).toBe(slow.statusCode);
      expect(fast.headers.get('content-type'), what).toBe(slow.headers['content-type']);
      expect(fast.headers.get('inference-header-content-length') ?? undefined, what).toBe(slow.headers['inference-header-content-length']?.toString());
      expect(fastBytes.equals(slow.rawPayload), what).toBe(true);
    }
  });

  it('reads a body that is not ASCII as UTF-8', async () => {
    const id = 'café ☕ 💥';
    const res = await overHttp('/v2/models/cancer/infer', JSON.stringify(v2({ id })));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).id).toBe(id);
  });

  it('returns binary outputs when a JSON request asks for them', async () => {
    const res = await fetch(`${h.url}/v2/models/cancer/infer`, { method: 'POST', body: JSON.stringify(v2({ parameters: { binary_data_output: true } })), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const bytes = Buffer.from(await res.arrayBuffer());
    const headerLength = Number(res.headers.get('inference-header-content-length'));
    const header = JSON.parse(bytes.subarray(0, headerLength).toString());
    expect(header.outputs[0]).toMatchObject({ name: 'probabilities', parameters: { binary_data_size: 4 } });
    const p = bytes.readFloatLE(headerLength);
    expect(Math.abs(p - (cancer.expected[0] as number))).toBeLessThan(1e-5);
  });

  it('leaves what it declines to Fastify: chunked, oversized, other media types, query strings', async () => {
    const body = JSON.stringify(v2());
    // A streamed body has no content-length.
    const chunked = await fetch(`${h.url}/v2/models/cancer/infer`, {
      method: 'POST',
      body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(body)), c.close()) }),
      headers: { 'content-type': 'application/json' },
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(200);
    const huge = await overHttp('/v2/models/cancer/infer', JSON.stringify(v2({}, [new Array(40_000).fill(1)])));
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.text).error).toBe('The request body is larger than the limit of 65536 bytes.');
    const text = await overHttp('/v2/models/cancer/infer', body, { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect((await overHttp('/v2/models/cancer/infer?trace=1', body)).status).toBe(200);
  });

  it('asks a keep-alive client to go away when its request finishes during shutdown', async () => {
    const body = JSON.stringify(v2());
    const half = Math.floor(body.length / 2);
    try {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(h.url).port), '127.0.0.1');
        let text = '';
        socket.on('data', (d) => {
          text += d;
          if (text.includes('"outputs"')) socket.end();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        // Accepted before shutdown begins, finished after it.
        socket.write(`POST /v2/models/cancer/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, half)}`);
        setTimeout(() => {
          h.setClosing(true);
          socket.write(body.slice(half));
        }, 100);
        setTimeout(() => reject(new Error('no answer after 10 s')), 10_000).unref();
      });
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    } finally {
      h.setClosing(false);
    }
  });

  it('cuts off a client that announces a body and never sends it, with 408', async () => {
    const started = performance.now();
    const answer = await sendRaw(Number(new URL(h.url).port), 'POST /v2/models/cancer/infer HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"inputs":', 10_000);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    // 1.5 s timeout, checked every 375 ms.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
