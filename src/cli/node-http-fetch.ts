/**
 * A `fetch` for the command line, on node:http and node:https.
 *
 * Hand-written because the first call of Node 20's global fetch compiles
 * undici's HTTP parser, which costs a short command about 120 ms — more than
 * the command itself; node:http is already part of the process. It covers what
 * `SlipwayClient` asks of fetch: a method, headers, a string, bytes, Blob or
 * stream body, an AbortSignal, and an answer whose body streams. It does not
 * follow redirects (the API answers none) and sends no cookies.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { webStreamOf } from '../core/web-stream.js';

async function bodyStream(body: RequestInit['body']): Promise<Readable | Buffer | undefined> {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (body instanceof Blob) return Buffer.from(await body.arrayBuffer());
  if (body instanceof ReadableStream) return Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
  return Buffer.from(String(body));
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

/** `fetch` over node:http(s), for `new SlipwayClient({ fetch })`. */
export const nodeHttpFetch: typeof fetch = async (input, init) => {
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const signal = init?.signal ?? undefined;
  if (signal?.aborted) throw abortError(signal);
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    headers[key] = value;
  });
  const body = await bodyStream(init?.body);
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const req = send(url, { method: init?.method ?? 'GET', headers, ...(signal ? { signal } : {}) }, (res: IncomingMessage) => {
      const answerHeaders = new Headers();
      for (const [key, value] of Object.entries(res.headers)) {
        if (value === undefined) continue;
        for (const v of Array.isArray(value) ? value : [value]) answerHeaders.append(key, v);
      }
      const status = res.statusCode ?? 0;
      const empty = status === 204 || status === 304 || init?.method === 'HEAD';
      if (empty) res.resume();
      resolve(new Response(empty ? null : webStreamOf(res), { status, statusText: res.statusMessage ?? '', headers: answerHeaders }));
    });
    req.on('error', (err) => reject(signal?.aborted ? abortError(signal) : new TypeError(err.message, { cause: err })));
    if (body instanceof Readable) pipeline(body, req).catch((err: unknown) => req.destroy(err as Error));
    else req.end(body);
  });
};
