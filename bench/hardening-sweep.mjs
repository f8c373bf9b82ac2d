/**
 * Malformed-request sweep: a real `slipway server` (SQLite, fresh home, the breast-cancer
 * model registered as `cancer@champion`) and a real `slipway serve` of the same model get
 * several hundred malformed requests over raw TCP sockets, each on its own connection, and
 * every outcome is classified:
 *
 * - answered: a complete HTTP response arrived (counted by status class; >= 500 is a failure),
 * - dropped: the connection closed or was reset before a complete response, or a client that
 *   writes its whole body before reading (as Python's urllib does) failed to write it
 *   (EPIPE/ECONNRESET),
 * - hung: no complete response within the per-request timeout.
 *
 * Case families: HTTP framing (request lines, methods, headers, Content-Length and chunked
 * encoding), bodies (content types, broken JSON, invalid UTF-8, wrong field types) against
 * MLflow, native, V2 and scoring routes, paths (artifact paths and path parameters), nesting
 * and filters (deep JSON, 999-clause filters, long filters), and 64 MiB bodies over the
 * 16 MiB limit. Exits 1 when any answer is >= 500 or any request was dropped or hung.
 * Loopback only; every process started here is stopped by its PID.
 *
 *   node bench/hardening-sweep.mjs [--no-build] [--concurrency 6] [--timeout-ms 30000] [--verbose]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'no-build': { type: 'boolean', default: false },
    concurrency: { type: 'string', default: '6' },
    'timeout-ms': { type: 'string', default: '30000' },
    verbose: { type: 'boolean', default: false },
  },
});
const CONCURRENCY = Number(values.concurrency);
const TIMEOUT_MS = Number(values['timeout-ms']);
const root = resolve(import.meta.dirname, '..');
const cli = join(root, 'dist', 'cli', 'main.js');
const model = join(root, 'test', 'fixtures', 'breast_cancer_mlp.onnx');
const MIB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Processes

function waitForLine(child, pattern, what) {
  return new Promise((res, rej) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => rej(new Error(`${what} did not start: ${err}`)), 90_000);
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => rej(new Error(`${what} exited with ${code}: ${err}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const m = pattern(out);
      if (m) {
        clearTimeout(timer);
        res(m);
      }
    });
  });
}

function stopChild(child) {
  return new Promise((res) => {
    if (child.exitCode !== null || child.signalCode !== null) return res();
    child.once('exit', () => res());
    child.kill('SIGTERM');
    setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 15_000).unref();
  });
}

async function startServer(home) {
  const env = { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'fatal' };
  const reg = spawnSync(process.execPath, [cli, 'models', 'register', model, '--name', 'cancer', '--alias', 'champion'], { env, encoding: 'utf8', timeout: 90_000 });
  if (reg.status !== 0) throw new Error(`register failed: ${reg.stderr}`);
  const child = spawn(process.execPath, [cli, 'server', '--port', '0', '--host', '127.0.0.1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForLine(child, (out) => /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1], 'slipway server');
  for (let i = 0; i < 600; i++) {
    const r = await fetch(`${url}/v2/models/cancer/ready`).catch(() => undefined);
    if (r?.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port: Number(new URL(url).port), child };
}

async function startServe(home) {
  const env = { ...process.env, SLIPWAY_HOME: home, SLIPWAY_LOG_LEVEL: 'fatal' };
  const child = spawn(process.execPath, [cli, 'serve', model, '--name', 'cancer', '--port', '0', '--host', '127.0.0.1', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await waitForLine(
    child,
    (out) => {
      try {
        return JSON.parse(out).url;
      } catch {
        return undefined;
      }
    },
    'slipway serve',
  );
  return { url, port: Number(new URL(url).port), child };
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP exchange

/** Incremental parser of one HTTP/1.x response; `complete` once its framing says the body is whole. */
class ResponseReader {
  buf = Buffer.alloc(0);
  status = undefined;
  complete = false;
  closeDelimited = false;
  #bodyStart = -1;
  #length = -1;
  #chunked = false;

  constructor(head) {
    this.head = head;
  }

  push(data) {
    if (this.complete) return;
    this.buf = Buffer.concat([this.buf, data]);
    this.#advance();
  }

  #advance() {
    while (this.#bodyStart < 0) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (!m) return;
      const status = Number(m[1]);
      if (status >= 100 && status < 200) {
        // 100 Continue and friends: the real response follows.
        this.buf = this.buf.subarray(end + 4);
        continue;
      }
      this.status = status;
      this.#bodyStart = end + 4;
      for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === 'content-length') this.#length = Number(value);
        if (name === 'transfer-encoding' && /chunked/i.test(value)) this.#chunked = true;
      }
      if (this.head || status === 204 || status === 304) this.#length = 0;
      if (!this.#chunked && this.#length < 0) this.closeDelimited = true;
    }
    const body = this.buf.subarray(this.#bodyStart);
    if (this.#chunked) this.complete = chunkedComplete(body);
    else if (this.#length >= 0) this.complete = body.length >= this.#length;
  }
}

function chunkedComplete(body) {
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return false;
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) return false;
    // The last chunk: trailers (if any) end with an empty line.
    if (size === 0) return body.indexOf('\r\n\r\n', eol) >= 0;
    at = eol + 2 + size + 2;
    if (at > body.length) return false;
  }
}

/**
 * Sends one request on a fresh connection and classifies the outcome.
 * `req.parts`: buffers written in order; `req.big`: { size, chunked } bytes of filler written
 * with backpressure after the parts; `req.writeAll`: the client does not look at the answer
 * until the whole request is written (a failed write is a drop); `req.halfClose`: FIN after writing.
 */
function exchange(port, req) {
  return new Promise((resolveOutcome) => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const reader = new ResponseReader(req.head === true);
    let settled = false;
    let written = false;
    let writeError;
    const started = performance.now();
    const finish = (outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolveOutcome({ ...outcome, ms: Math.round(performance.now() - started) });
    };
    const judge = (why) => {
      if (req.writeAll && writeError) return finish({ kind: 'dropped', why: `write failed: ${writeError}` });
      if (reader.complete || (reader.closeDelimited && reader.status !== undefined && why !== 'reset')) return finish({ kind: 'answered', status: reader.status });
      if (why !== 'check') finish({ kind: 'dropped', why: `${why} before a complete response${reader.status ? ` (status ${reader.status} seen)` : ''}` });
    };
    const timer = setTimeout(() => finish(reader.complete ? { kind: 'answered', status: reader.status } : { kind: 'hung', why: `no complete response in ${TIMEOUT_MS} ms` }), TIMEOUT_MS);
    socket.on('data', (d) => {
      reader.push(d);
      if (reader.complete && (!req.writeAll || written)) judge('check');
    });
    socket.on('end', () => {
      if (!req.writeAll || written) judge('closed');
    });
    socket.on('error', (e) => {
      if (!written) writeError ??= e.code ?? e.message;
      judge(e.code === 'ECONNRESET' ? 'reset' : (e.code ?? 'error'));
    });
    socket.on('close', () => judge('closed'));
    socket.once('connect', async () => {
      try {
        for (const part of req.parts) await write(socket, part);
        if (req.big) await writeFiller(socket, req.big);
        written = true;
        if (req.halfClose) socket.end();
        if (reader.complete) judge('check');
      } catch (e) {
        writeError ??= e.code ?? e.message;
        judge(e.code === 'ECONNRESET' ? 'reset' : 'write failed');
      }
    });
  });
}

function write(socket, data) {
  return new Promise((res, rej) => {
    if (socket.destroyed) return rej(Object.assign(new Error('socket closed'), { code: 'EPIPE' }));
    socket.write(data, (err) => (err ? rej(err) : res()));
  });
}

async function writeFiller(socket, { size, chunked }) {
  const block = Buffer.alloc(MIB, 0x31);
  for (let sent = 0; sent < size; sent += block.length) {
    const n = Math.min(block.length, size - sent);
    const data = n === block.length ? block : block.subarray(0, n);
    await write(socket, chunked ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), data, Buffer.from('\r\n')]) : data);
  }
  if (chunked) await write(socket, '0\r\n\r\n');
}

// ---------------------------------------------------------------------------------------------
// Cases

const FEATURES = 30;
const row = Array.from({ length: FEATURES }, (_, i) => (i + 1) / 10);
const columns = Array.from({ length: FEATURES }, (_, i) => `f${i}`);

/** A request with a JSON (or any) body, Content-Length framing. */
function request(method, path, { body, type = 'application/json', headers = {}, host } = {}) {
  const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`];
  if (data !== undefined && type !== null) lines.push(`Content-Type: ${type}`);
  if (data !== undefined) lines.push(`Content-Length: ${data.length}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  lines.push('Connection: close', '', '');
  return { parts: data ? [Buffer.from(lines.join('\r\n'), 'latin1'), data] : [Buffer.from(lines.join('\r\n'), 'latin1')], head: method === 'HEAD' };
}

/** Raw bytes exactly as given (`{H}` is replaced by the Host value). */
function raw(text, host, opts = {}) {
  const data = Buffer.isBuffer(text) ? text : Buffer.from(text.replaceAll('{H}', host), 'latin1');
  return { parts: [data], ...opts };
}

/** Deep JSON: `depth` nested arrays around a number, in about depth*2 bytes. */
const deepArray = (depth) => '['.repeat(depth) + '1' + ']'.repeat(depth);
const deepObject = (depth) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** The framing and request-line cases, for one path that takes a POST with a JSON body. */
function framingCases(path, host) {
  const json = '{"a":1}';
  const H = `Host: ${host}\r\n`;
  const post = (extra, body = json) => `POST ${path} HTTP/1.1\r\n${H}Content-Type: application/json\r\n${extra}Connection: close\r\n\r\n${body}`;
  const cases = [
    ['garbage line', raw('GARBAGE\r\n\r\n', host)],
    ['binary garbage', raw(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), host)],
    ['method only', raw('GET\r\n\r\n', host)],
    ['no version', raw(`GET ${path}\r\n\r\n`, host)],
    ['HTTP/0.9 style', raw(`GET ${path}\r\n`, host, { halfClose: true })],
    ['HTTP/9.9', raw(`GET ${path} HTTP/9.9\r\n${H}\r\n`, host)],
    ['HTTP/2 preface', raw('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', host)],
    ['extra request-line token', raw(`GET ${path} HTTP/1.1 extra\r\n${H}\r\n`, host)],
    ['lowercase method', raw(`post ${path} HTTP/1.1\r\n${H}Content-Length: 0\r\nConnection: close\r\n\r\n`, host)],
    ['unknown method', raw(`FROB ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['extension method', raw(`PROPFIND ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['TRACE', raw(`TRACE ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['OPTIONS', raw(`OPTIONS ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['OPTIONS *', raw(`OPTIONS * HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['CONNECT', raw(`CONNECT 127.0.0.1:22 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['HEAD', raw(`HEAD ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host, { head: true })],
    ['DELETE', raw(`DELETE ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['PATCH with body', raw(`PATCH ${path} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n${json}`, host)],
    ['absolute-form URL', raw(`POST http://${host}${path} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n${json}`, host)],
    ['foreign absolute-form URL', raw(`GET http://example.com${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['path without slash', raw(`GET ${path.slice(1)} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['space in path', raw(`GET ${path}/a b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['control byte in path', raw(`GET ${path}\x01 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['8-bit byte in path', raw(`GET ${path}\xff HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['bad percent-encoding', raw(`GET ${path}%zz%C0%AF%ff HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['bad query', raw(`GET ${path}?a=%zz&b=%ff&&=&c HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['100 KB URL', raw(`GET ${path}?q=${'a'.repeat(100_000)} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
    ['HTTP/1.1 without Host', raw(`POST ${path} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n${json}`, host)],
    ['HTTP/1.0 without Host', raw(`POST ${path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n${json}`, host)],
    ['empty Host', raw(post('').replace(H, 'Host: \r\n'), host)],
    ['two Host headers', raw(post(`Host: example.com\r\n`), host)],
    ['foreign Host', raw(post('').replace(H, 'Host: evil.example\r\n'), host)],
    ['Host with bad bytes', raw(post('').replace(H, 'Host: a b\x7f\r\n'), host)],
    ['cross-site Origin', raw(post('Origin: http://evil.example\r\n'), host)],
    ['Origin null', raw(post('Origin: null\r\n'), host)],
    ['cross-site form post', raw(post('Sec-Fetch-Site: cross-site\r\n').replace('application/json', 'text/plain'), host)],
    ['100 KB header line', raw(post(`X-Big: ${'a'.repeat(100_000)}\r\n`), host)],
    ['2,000 headers', raw(post(Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join('')), host)],
    ['200 headers', raw(post(Array.from({ length: 200 }, (_, i) => `X-H${i}: v\r\n`).join('')), host)],
    ['header name with space', raw(post('Bad Header: x\r\n'), host)],
    ['header without colon', raw(post('NoColonHere\r\n'), host)],
    ['NUL in header value', raw(post('X-Nul: a\x00b\r\n'), host)],
    ['DEL in header value', raw(post('X-Del: a\x7fb\r\n'), host)],
    ['8-bit header value', raw(post('X-Latin: caf\xe9\r\n'), host)],
    ['obs-fold header', raw(post('X-Fold: a\r\n  folded\r\n'), host)],
    ['bare LF line endings', raw(`POST ${path} HTTP/1.1\nHost: ${host}\nContent-Type: application/json\nContent-Length: 7\nConnection: close\n\n${json}`, host)],
    ['bare CR', raw(`POST ${path} HTTP/1.1\rHost: ${host}\r\n\r\n`, host)],
    ['Content-Length twice, same', raw(post('Content-Length: 7\r\nContent-Length: 7\r\n'), host)],
    ['Content-Length twice, conflicting', raw(post('Content-Length: 7\r\nContent-Length: 3\r\n'), host)],
    ['Content-Length list', raw(post('Content-Length: 7, 7\r\n'), host)],
    ['Content-Length not a number', raw(post('Content-Length: abc\r\n'), host)],
    ['Content-Length negative', raw(post('Content-Length: -1\r\n'), host)],
    ['Content-Length with plus', raw(post('Content-Length: +7\r\n'), host)],
    ['Content-Length hex', raw(post('Content-Length: 0x7\r\n'), host)],
    ['Content-Length huge', raw(post('Content-Length: 99999999999999999999999\r\n'), host)],
    ['Content-Length over the limit, no body', raw(post(`Content-Length: ${64 * MIB}\r\n`, ''), host, { halfClose: true })],
    ['Content-Length with Transfer-Encoding', raw(post('Content-Length: 7\r\nTransfer-Encoding: chunked\r\n', `7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['Transfer-Encoding gzip', raw(post('Transfer-Encoding: gzip\r\n', json), host, { halfClose: true })],
    ['Transfer-Encoding chunked twice', raw(post('Transfer-Encoding: chunked, chunked\r\n', `7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['Transfer-Encoding gzip, chunked', raw(post('Transfer-Encoding: gzip, chunked\r\n', `7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['Transfer-Encoding with odd spacing', raw(post('Transfer-Encoding:  chunked \r\n', `7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['Transfer-Encoding x-chunked', raw(post('Transfer-Encoding: xchunked\r\n', `7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['bad chunk size', raw(post('Transfer-Encoding: chunked\r\n', `zz\r\n${json}\r\n0\r\n\r\n`), host)],
    ['negative chunk size', raw(post('Transfer-Encoding: chunked\r\n', `-7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['huge chunk size', raw(post('Transfer-Encoding: chunked\r\n', `ffffffffffffffffff\r\n${json}\r\n0\r\n\r\n`), host)],
    ['chunk size larger than data', raw(post('Transfer-Encoding: chunked\r\n', `70\r\n${json}\r\n0\r\n\r\n`), host, { halfClose: true })],
    ['chunk without CRLF', raw(post('Transfer-Encoding: chunked\r\n', `7\r\n${json}0\r\n\r\n`), host)],
    ['long chunk extension', raw(post('Transfer-Encoding: chunked\r\n', `7;${'x'.repeat(20_000)}\r\n${json}\r\n0\r\n\r\n`), host)],
    ['bad trailer', raw(post('Transfer-Encoding: chunked\r\n', `7\r\n${json}\r\n0\r\nBad Trailer\r\n\r\n`), host)],
    ['truncated chunked body', raw(post('Transfer-Encoding: chunked\r\n', `7\r\n{"a"`), host, { halfClose: true })],
    ['chunked without last chunk', raw(post('Transfer-Encoding: chunked\r\n', `7\r\n${json}\r\n`), host, { halfClose: true })],
    ['body shorter than Content-Length', raw(post('Content-Length: 100\r\n', json), host, { halfClose: true })],
    ['empty body with Content-Length', raw(post('Content-Length: 50\r\n', ''), host, { halfClose: true })],
    ['body longer than Content-Length', raw(post('Content-Length: 3\r\n', json + 'GARBAGE\r\n\r\n'), host)],
    ['pipelined garbage', raw(`POST ${path} HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 7\r\n\r\n${json}GARBAGE /x HTTP/1.1\r\n\r\n`, host, { halfClose: true })],
    ['Expect: 100-continue', raw(post('Content-Length: 7\r\nExpect: 100-continue\r\n'), host)],
    ['Expect: unknown', raw(post('Content-Length: 7\r\nExpect: teapot\r\n'), host)],
    ['Upgrade: websocket', raw(post('Content-Length: 7\r\nUpgrade: websocket\r\n').replace('Connection: close', 'Connection: Upgrade'), host)],
    ['Upgrade: h2c', raw(`GET ${path} HTTP/1.1\r\n${H}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n`, host)],
    ['100,000 one-byte chunks', raw(post('Transfer-Encoding: chunked\r\n', `${'1\r\n \r\n'.repeat(100_000)}7\r\n${json}\r\n0\r\n\r\n`), host)],
    ['chunked on HTTP/1.0', raw(post('Transfer-Encoding: chunked\r\n', `7\r\n${json}\r\n0\r\n\r\n`).replace(' HTTP/1.1\r\n', ' HTTP/1.0\r\n'), host)],
    ['chunked GET', raw(`GET ${path} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\n${json}\r\n0\r\n\r\n`, host)],
    ['Content-Encoding gzip, plain body', raw(post('Content-Encoding: gzip\r\n'), host)],
    ['Content-Encoding unknown', raw(post('Content-Encoding: br, zstd, x-unknown\r\n'), host)],
    ['two Content-Type headers', raw(post('Content-Type: text/plain\r\n'), host)],
    ['8 KB Content-Type', raw(post('').replace('Content-Type: application/json', `Content-Type: application/json; ${'p=v; '.repeat(1600)}`), host)],
    ['Content-Type without subtype', raw(post('').replace('Content-Type: application/json', 'Content-Type: application'), host)],
    ['method override header', raw(post('X-HTTP-Method-Override: DELETE\r\n'), host)],
    ['binary header length on JSON', raw(post('Inference-Header-Content-Length: 3\r\n'), host)],
    ['query string on the path', raw(post('').replace(`POST ${path} `, `POST ${path}?a=1&a=2&__proto__=x `), host)],
    ['headers never finished', raw(`POST ${path} HTTP/1.1\r\n${H}Content-Type: app`, host, { halfClose: true })],
    ['empty lines before the request line', raw(`\r\n\r\n\r\nGET ${path} HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, host)],
  ];
  return cases.map(([name, req]) => ({ family: 'framing', name: `${name} ${path}`, req: { ...req, parts: req.parts.map((p) => p) } })).map((c) => {
    // Requests that announce a full body add Content-Length when the template did not.
    const text = c.req.parts[0].toString('latin1');
    if (/^(POST|PATCH) /.test(text) && !/content-length|transfer-encoding/i.test(text.split('\r\n\r\n')[0]) && text.includes('\r\n\r\n')) {
      const [headPart, ...rest] = text.split('\r\n\r\n');
      const body = rest.join('\r\n\r\n');
      c.req.parts[0] = Buffer.from(`${headPart}\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`, 'latin1');
    }
    return c;
  });
}

/** Values of the wrong type for a field. */
const WRONG = [{ x: 1 }, [1, 2], 12345, 'text', true, null, -1, 1e308, '\u0000', 'a'.repeat(10_000)];

/** Each top-level field of `valid` replaced by each wrong value, and removed. */
function wrongTypes(valid) {
  const out = [];
  for (const key of Object.keys(valid)) {
    for (const bad of WRONG) out.push([`${key}=${JSON.stringify(bad).slice(0, 20)}`, { ...valid, [key]: bad }]);
    const { [key]: _, ...without } = valid;
    out.push([`without ${key}`, without]);
  }
  return out;
}

/** Body mutations shared by every JSON route. */
function bodyMutations() {
  return [
    ['no content type', { body: '{"a":1}', type: null }],
    ['text/plain', { body: '{"a":1}', type: 'text/plain' }],
    ['form urlencoded', { body: 'a=1&b=2', type: 'application/x-www-form-urlencoded' }],
    ['multipart garbage', { body: '--x\r\ngarbage', type: 'multipart/form-data; boundary=x' }],
    ['json bad charset', { body: '{"a":1}', type: 'application/json; charset=ebcdic' }],
    ['json content type case', { body: '{"a":1}', type: 'APPLICATION/JSON' }],
    ['content type garbage', { body: '{"a":1}', type: ';;;=\u00ff' }],
    ['garbage', { body: 'this is not json' }],
    ['binary garbage', { body: Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x7b]) }],
    ['truncated JSON', { body: '{"name": "abc", "x": [1, 2' }],
    ['truncated string', { body: '{"name": "abc' }],
    ['trailing garbage', { body: '{"a":1} xyz' }],
    ['empty body', { body: '' }],
    ['whitespace body', { body: '   \n ' }],
    ['null', { body: 'null' }],
    ['array', { body: '[1,2,3]' }],
    ['string', { body: '"text"' }],
    ['number', { body: '42' }],
    ['invalid UTF-8', { body: Buffer.concat([Buffer.from('{"name": "'), Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]), Buffer.from('"}')]) }],
    ['lone surrogate', { body: '{"name": "\\ud800x", "key": "\\udfff"}' }],
    ['NUL escapes', { body: '{"name": "a\\u0000b"}' }],
    ['BOM', { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]) }],
    ['UTF-16', { body: Buffer.from('{"a":1}', 'utf16le') }],
    ['number out of range', { body: '{"max_results": 1e400, "value": -1e400, "step": 123456789012345678901234567890}' }],
    ['__proto__ key', { body: '{"__proto__": {"polluted": true}}' }],
    ['constructor.prototype', { body: '{"constructor": {"prototype": {"polluted": true}}}' }],
    ['duplicate keys', { body: '{"name": "a", "name": {"x": 1}}' }],
  ];
}

function mlflowRoutes(runId) {
  return [
    ['POST', '/api/2.0/mlflow/runs/create', { experiment_id: '0', run_name: 'r', start_time: 1, tags: [{ key: 'k', value: 'v' }] }],
    ['POST', '/api/2.0/mlflow/runs/search', { experiment_ids: ['0'], filter: 'metrics.a > 1', max_results: 10, order_by: ['metrics.a DESC'] }],
    ['POST', '/api/2.0/mlflow/runs/log-batch', { run_id: runId, metrics: [{ key: 'm', value: 1, timestamp: 1, step: 0 }], params: [{ key: 'p', value: 'v' }], tags: [{ key: 't', value: 'v' }] }],
    ['POST', '/api/2.0/mlflow/registered-models/create', { name: 'sweep-model', tags: [{ key: 'k', value: 'v' }], description: 'd' }],
    ['POST', '/api/2.0/mlflow/model-versions/search', { filter: "name = 'cancer'", max_results: 10 }],
    ['POST', '/api/2.0/mlflow/experiments/search', { filter: "name = 'x'", max_results: 10, view_type: 'ACTIVE_ONLY' }],
  ];
}

function nativeRoutes(runId) {
  return [
    ['POST', '/api/v1/experiments', { name: 'sweep-exp', tags: { a: 'b' } }],
    ['POST', '/api/v1/runs/search', { experimentIds: ['0'], filter: 'metrics.a > 1', maxResults: 10 }],
    ['POST', '/api/v1/runs', { experimentId: '0', runName: 'r', tags: { a: 'b' } }],
    ['POST', `/api/v1/runs/${runId}/log`, { metrics: [{ key: 'm', value: 1, step: 0 }], params: { p: 'v' }, tags: { t: 'v' } }],
    ['POST', '/api/v1/models', { name: 'sweep-native', description: 'd', tags: { a: 'b' } }],
    ['PATCH', '/api/v1/experiments/0', { tags: { a: 'b' } }],
  ];
}

const v2Valid = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], data: row }] };

function v2Mutations() {
  const input = v2Valid.inputs[0];
  const withInput = (patch) => ({ inputs: [{ ...input, ...patch }] });
  return [
    ['inputs wrong type', { inputs: 'x' }],
    ['inputs empty', { inputs: [] }],
    ['input null', { inputs: [null] }],
    ['unknown input name', withInput({ name: 'nope' })],
    ['datatype unknown', withInput({ datatype: 'FP128' })],
    ['datatype BYTES', withInput({ datatype: 'BYTES', data: ['a'] })],
    ['datatype FP64', withInput({ datatype: 'FP64' })],
    ['datatype INT8 out of range', withInput({ datatype: 'INT8', data: row.map(() => 1000) })],
    ['shape wrong type', withInput({ shape: 'x' })],
    ['shape negative', withInput({ shape: [-1, FEATURES] })],
    ['shape huge', withInput({ shape: [1e12, FEATURES] })],
    ['shape overflow', withInput({ shape: [2 ** 53, 2 ** 53] })],
    ['shape mismatch', withInput({ shape: [2, FEATURES] })],
    ['shape wrong rank', withInput({ shape: [FEATURES] })],
    ['shape fractional', withInput({ shape: [0.5, FEATURES] })],
    ['data wrong type', withInput({ data: 'x' })],
    ['data strings', withInput({ data: row.map(String) })],
    ['data nested', withInput({ data: [row] })],
    ['data objects', withInput({ data: row.map(() => ({})) })],
    ['data NaN strings', withInput({ data: row.map(() => 'NaN') })],
    ['data null', withInput({ data: row.map(() => null) })],
    ['outputs wrong type', { ...v2Valid, outputs: 'x' }],
    ['unknown output', { ...v2Valid, outputs: [{ name: 'nope' }] }],
    ['binary_data_output wrong type', { ...v2Valid, outputs: [{ name: 'x', parameters: { binary_data: 'yes' } }] }],
    ['parameters wrong type', { ...v2Valid, parameters: 'x' }],
    ['id wrong type', { ...v2Valid, id: { a: 1 } }],
  ];
}

/** Binary tensor extension cases: JSON header, then raw bytes. */
function v2BinaryCases() {
  const header = (size, patch = {}) => JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, FEATURES], parameters: { binary_data_size: size }, ...patch }] });
  const tensor = Buffer.from(new Float32Array(row).buffer);
  const body = (h, t = tensor) => Buffer.concat([Buffer.from(h), t]);
  const good = header(tensor.length);
  return [
    ['header length not a number', body(good), 'abc'],
    ['header length negative', body(good), '-5'],
    ['header length zero', body(good), '0'],
    ['header length larger than body', body(good), String(good.length + tensor.length + 100)],
    ['header length cuts JSON', body(good), String(good.length - 5)],
    ['header length huge', body(good), '99999999999999999999'],
    ['header length fractional', body(good), '12.5'],
    ['binary size larger than data', body(header(tensor.length * 2)), String(good.length)],
    ['binary size smaller than data', body(header(4)), String(header(4).length)],
    ['binary size negative', body(header(-4)), String(header(-4).length)],
    ['binary size wrong type', body(header('x')), String(header('x').length)],
    ['binary with data too', body(header(tensor.length, { data: row })), String(header(tensor.length, { data: row }).length)],
    ['binary BYTES bad lengths', body(header(8, { datatype: 'BYTES', shape: [1, 1] }), Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4])), String(header(8, { datatype: 'BYTES', shape: [1, 1] }).length)],
    ['binary header not JSON', Buffer.concat([Buffer.from('not json!!'), tensor]), '10'],
    ['binary header invalid UTF-8', Buffer.concat([Buffer.from([0xff, 0xfe, 0xfd]), tensor]), '3'],
    ['binary odd byte count', body(header(tensor.length - 1), tensor.subarray(1)), String(header(tensor.length - 1).length)],
  ];
}

function invocationCases() {
  const csvHeader = columns.join(',');
  const csvRow = row.join(',');
  return [
    ['csv garbage', 'text/csv', 'this,is\nnot"a,"csv\n\u0000'],
    ['csv header only', 'text/csv', csvHeader],
    ['csv empty', 'text/csv', ''],
    ['csv wrong column count', 'text/csv', `${csvHeader}\n1,2,3`],
    ['csv non-numeric', 'text/csv', `${csvHeader}\n${row.map(() => 'x').join(',')}`],
    ['csv unterminated quote', 'text/csv', `${csvHeader}\n"${csvRow}`],
    ['csv invalid UTF-8', 'text/csv', Buffer.concat([Buffer.from(`${csvHeader}\n`), Buffer.from([0xc3, 0x28, 0xff])])],
    ['csv huge numbers', 'text/csv', `${csvHeader}\n${row.map(() => '1e400').join(',')}`],
    ['csv 10,000 columns', 'text/csv', `${Array.from({ length: 10_000 }, (_, i) => `c${i}`).join(',')}\n${Array.from({ length: 10_000 }, () => 1).join(',')}`],
    ['csv bad charset', 'text/csv; charset=utf-7', `${csvHeader}\n${csvRow}`],
    ['split not an object', 'application/json', { dataframe_split: [1, 2] }],
    ['split data wrong type', 'application/json', { dataframe_split: { columns, data: 'x' } }],
    ['split columns wrong type', 'application/json', { dataframe_split: { columns: 5, data: [row] } }],
    ['split ragged rows', 'application/json', { dataframe_split: { columns, data: [row, [1]] } }],
    ['split rows of objects', 'application/json', { dataframe_split: { columns, data: [{ a: 1 }] } }],
    ['split index wrong', 'application/json', { dataframe_split: { columns, index: 'x', data: [row] } }],
    ['records not a list', 'application/json', { dataframe_records: { a: 1 } }],
    ['records of lists', 'application/json', { dataframe_records: [row] }],
    ['records missing columns', 'application/json', { dataframe_records: [{ f0: 1 }] }],
    ['records string values', 'application/json', { dataframe_records: [Object.fromEntries(columns.map((c) => [c, 'x']))] }],
    ['instances wrong type', 'application/json', { instances: 'x' }],
    ['instances ragged', 'application/json', { instances: [row, [1, 2]] }],
    ['instances of objects', 'application/json', { instances: [{ nope: row }] }],
    ['instances of nulls', 'application/json', { instances: [null] }],
    ['inputs wrong type', 'application/json', { inputs: 'x' }],
    ['inputs dict unknown name', 'application/json', { inputs: { nope: [row] } }],
    ['inputs 3-D', 'application/json', { inputs: [[row]] }],
    ['two formats', 'application/json', { instances: [row], inputs: [row] }],
    ['no format', 'application/json', { rows: [row] }],
    ['params wrong type', 'application/json', { instances: [row], params: 'x' }],
    ['pandas format content type', 'application/json; format=pandas-split', { columns, data: [row] }],
    ['numbers out of range', 'application/json', '{"instances": [[1e400, -1e400, 123456789012345678901234567890]]}'],
    ['truncated JSON', 'application/json', '{"instances": [[1, 2'],
    ['xml', 'application/xml', '<rows><row>1</row></rows>'],
    ['octet-stream', 'application/octet-stream', Buffer.from(new Float32Array(row).buffer)],
  ];
}

function artifactPathCases() {
  const base = '/api/2.0/mlflow-artifacts/artifacts';
  const paths = [
    '../../../etc/passwd',
    '..',
    'a/../../b',
    '%2e%2e/%2e%2e/etc/passwd',
    '%2e%2e%2f%2e%2e%2fetc',
    '..%2f..%2fsecret',
    '%252e%252e/x',
    '/etc/passwd',
    '%2fetc%2fpasswd',
    'C:%5cWindows%5cwin.ini',
    '..%5c..%5cx',
    'a%00b',
    'a%00.txt',
    '%c0%ae%c0%ae/x',
    '%ff%fe',
    '.',
    './a',
    'a//b',
    'a/./b',
    `${'d/'.repeat(2000)}f`,
    'a'.repeat(10_000),
    'a'.repeat(300),
    `${'%e2%98%83'.repeat(500)}`,
    'con',
    'a%0d%0aSet-Cookie:%20x',
    'dir/',
  ];
  const cases = [];
  for (const p of paths) {
    cases.push(['PUT', `${base}/${p}`, Buffer.from('artifact bytes')]);
    cases.push(['GET', `${base}/${p}`]);
  }
  for (const p of ['..', '../..', '/etc', '%2e%2e', 'a%00', '%ff']) {
    cases.push(['GET', `/api/2.0/mlflow-artifacts/artifacts?path=${p}`]);
    cases.push(['GET', `/api/2.0/mlflow/artifacts/list?run_id=x&path=${p}`]);
    cases.push(['GET', `/get-artifact?run_uuid=x&path=${p}`]);
    cases.push(['GET', `/model-versions/get-artifact?name=cancer&version=1&path=${p}`]);
  }
  return cases;
}

function paramPathCases() {
  const long = 'x'.repeat(9000);
  const names = ['%00', '%ff', '..', '%2e%2e', '%2f', long, 'a'.repeat(300), '%e2%98%83', '-1', '99999999999999999999999'];
  const cases = [];
  for (const n of names) {
    cases.push(['POST', `/v2/models/${n}/infer`, v2Valid]);
    cases.push(['GET', `/v2/models/${n}`]);
    cases.push(['POST', `/v2/models/cancer/versions/${n}/infer`, v2Valid]);
    cases.push(['POST', `/models/${n}/invocations`, { instances: [row] }]);
    cases.push(['GET', `/api/v1/experiments/${n}`]);
    cases.push(['GET', `/api/v1/runs/${n}/metrics/${n}/history`]);
    cases.push(['GET', `/api/v1/models/${n}/versions/${n}`]);
    cases.push(['GET', `/api/2.0/mlflow/runs/get?run_id=${n}`]);
  }
  return cases;
}

function nestingAndFilterCases(runId) {
  const deep3000 = deepArray(3000);
  const deepTag5000 = deepObject(5000);
  const and999 = Array.from({ length: 999 }, (_, i) => `metrics.m${i} > ${i}`).join(' and ');
  const andRegistry = Array.from({ length: 999 }, (_, i) => `tags.t${i} = 'v${i}'`).join(' and ');
  const longValue = `params.p = '${'x'.repeat(100_000)}'`;
  const longKey = `metrics.${'k'.repeat(100_000)} > 1`;
  const manyIn = `params.p IN (${Array.from({ length: 20_000 }, (_, i) => `'v${i}'`).join(',')})`;
  const parens = `${'('.repeat(3000)}metrics.a > 1${')'.repeat(3000)}`;
  const likes = Array.from({ length: 200 }, (_, i) => `tags.t${i} LIKE '%${'%_'.repeat(50)}%'`).join(' and ');
  const cases = [
    ['JSON nested 3,000 deep: runs/create', 'POST', '/api/2.0/mlflow/runs/create', `{"experiment_id":"0","tags":${deep3000}}`],
    ['JSON nested 3,000 deep: log-batch', 'POST', '/api/2.0/mlflow/runs/log-batch', `{"run_id":"${runId}","metrics":${deep3000}}`],
    ['JSON nested 3,000 deep: runs/search', 'POST', '/api/2.0/mlflow/runs/search', `{"experiment_ids":${deep3000}}`],
    ['JSON nested 3,000 deep: native runs', 'POST', '/api/v1/runs', `{"tags":${deep3000}}`],
    ['JSON nested 3,000 deep: V2 infer', 'POST', '/v2/models/cancer/infer', `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,30],"data":${deep3000}}]}`],
    ['JSON nested 3,000 deep: invocations', 'POST', '/invocations', `{"instances":${deep3000}}`],
    ['JSON nested 3,000 deep: bare', 'POST', '/api/2.0/mlflow/experiments/search', deep3000],
    ['JSON objects nested 3,000 deep', 'POST', '/api/2.0/mlflow/registered-models/create', deepObject(3000)],
    ['tag value: 5,000-deep JSON as a string (MLflow)', 'POST', '/api/2.0/mlflow/runs/log-batch', JSON.stringify({ run_id: runId, tags: [{ key: 'deep', value: deepTag5000 }] })],
    ['tag value: 5,000-deep JSON as a string (set-tag)', 'POST', '/api/2.0/mlflow/runs/set-tag', JSON.stringify({ run_id: runId, key: 'deep2', value: deepTag5000 })],
    ['tag value: 5,000-deep JSON as a string (native)', 'POST', `/api/v1/runs/${runId}/log`, JSON.stringify({ tags: { deep: deepTag5000 } })],
    ['tag value: 5,000-deep JSON as a string (model)', 'POST', '/api/2.0/mlflow/registered-models/create', JSON.stringify({ name: 'deep-tag', tags: [{ key: 'deep', value: deepTag5000 }] })],
    ['tag value: nested 5,000 deep (MLflow)', 'POST', '/api/2.0/mlflow/runs/log-batch', `{"run_id":"${runId}","tags":[{"key":"deep","value":${deepTag5000}}]}`],
    ['tag value: nested 5,000 deep (set-tag)', 'POST', '/api/2.0/mlflow/runs/set-tag', `{"run_id":"${runId}","key":"deep","value":${deepTag5000}}`],
    ['tag value: nested 5,000 deep (native)', 'POST', `/api/v1/runs/${runId}/log`, `{"tags":{"deep":${deepTag5000}}}`],
    ['tag value: nested 5,000 deep (model)', 'POST', '/api/2.0/mlflow/registered-models/create', `{"name":"deep-tag2","tags":[{"key":"deep","value":${deepTag5000}}]}`],
    ['999 and clauses: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], filter: and999 })],
    ['999 and clauses: native runs/search', 'POST', '/api/v1/runs/search', JSON.stringify({ experimentIds: ['0'], filter: and999 })],
    ['999 and clauses: model-versions/search (POST)', 'POST', '/api/2.0/mlflow/model-versions/search', JSON.stringify({ filter: andRegistry })],
    ['999 and clauses: model-versions/search (GET)', 'GET', `/api/2.0/mlflow/model-versions/search?filter=${encodeURIComponent(andRegistry)}`],
    ['999 and clauses: registered-models/search', 'GET', `/api/2.0/mlflow/registered-models/search?filter=${encodeURIComponent(Array.from({ length: 999 }, (_, i) => `name LIKE '%${i}%'`).join(' and '))}`],
    ['999 and clauses: experiments/search', 'POST', '/api/2.0/mlflow/experiments/search', JSON.stringify({ filter: Array.from({ length: 999 }, (_, i) => `tags.t${i} = 'v'`).join(' and ') })],
    ['999 and clauses: native experiments', 'GET', `/api/v1/experiments?filter=${encodeURIComponent(Array.from({ length: 999 }, (_, i) => `tags.t${i} = 'v'`).join(' and '))}`],
    ['999 and clauses: native models', 'GET', `/api/v1/models?filter=${encodeURIComponent(Array.from({ length: 999 }, (_, i) => `name LIKE '%${i}%'`).join(' and '))}`],
    ['100 KB filter value: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], filter: longValue })],
    ['100 KB filter key: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], filter: longKey })],
    ['20,000-value IN: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], filter: manyIn })],
    ['3,000 parentheses: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], filter: parens })],
    ['200 LIKE wildcards: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], filter: likes })],
    ['100 KB filter: model-versions/search', 'POST', '/api/2.0/mlflow/model-versions/search', JSON.stringify({ filter: `name = '${'x'.repeat(100_000)}'` })],
    ['20,000-value IN: model-versions/search', 'POST', '/api/2.0/mlflow/model-versions/search', JSON.stringify({ filter: `run_id IN (${Array.from({ length: 20_000 }, (_, i) => `'r${i}'`).join(',')})` })],
    ['1,000 order_by: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: ['0'], order_by: Array.from({ length: 1000 }, (_, i) => `metrics.m${i} DESC`) })],
    ['1,000 orderBy: native runs/search', 'POST', '/api/v1/runs/search', JSON.stringify({ experimentIds: ['0'], orderBy: Array.from({ length: 1000 }, (_, i) => `metrics.m${i} DESC`) })],
    ['1,000 order_by: experiments/search', 'POST', '/api/2.0/mlflow/experiments/search', JSON.stringify({ order_by: Array.from({ length: 1000 }, (_, i) => (i % 2 ? 'name DESC' : 'creation_time ASC')) })],
    ['1,000 order_by: model-versions/search', 'POST', '/api/2.0/mlflow/model-versions/search', JSON.stringify({ order_by: Array.from({ length: 1000 }, (_, i) => (i % 2 ? 'name DESC' : 'version_number ASC')) })],
    ['1,000 order_by: registered-models/search', 'POST', '/api/2.0/mlflow/registered-models/search', JSON.stringify({ order_by: Array.from({ length: 1000 }, (_, i) => (i % 2 ? 'name DESC' : 'last_updated_timestamp ASC')) })],
    ['10,000 experiment ids: runs/search', 'POST', '/api/2.0/mlflow/runs/search', JSON.stringify({ experiment_ids: Array.from({ length: 10_000 }, (_, i) => String(i)) })],
    ['max_results huge: runs/search', 'POST', '/api/2.0/mlflow/runs/search', '{"experiment_ids":["0"],"max_results":1e400}'],
  ];
  return cases;
}

function buildCases(kind, host, runId) {
  const cases = [];
  const add = (family, name, req) => cases.push({ family, name, req });
  // Framing: the same mutations on the routes each server is most used for.
  const framingPaths = kind === 'server' ? ['/api/2.0/mlflow/runs/search', '/api/v1/runs/search', '/v2/models/cancer/infer', '/api/2.0/mlflow-artifacts/artifacts/sweep/a.txt'] : ['/v2/models/cancer/infer', '/invocations'];
  for (const path of framingPaths) for (const c of framingCases(path, host)) cases.push(c);

  // Bodies.
  const jsonRoutes = kind === 'server' ? [...mlflowRoutes(runId), ...nativeRoutes(runId)] : [];
  for (const [method, path, valid] of jsonRoutes) {
    for (const [name, m] of bodyMutations()) add('bodies', `${name} ${method} ${path}`, request(method, path, { ...m, host }));
    for (const [name, body] of wrongTypes(valid)) add('bodies', `${name} ${method} ${path}`, request(method, path, { body, host }));
  }
  for (const [name, m] of bodyMutations()) add('bodies', `${name} V2 infer`, request('POST', '/v2/models/cancer/infer', { ...m, host }));
  for (const [name, body] of v2Mutations()) add('bodies', `${name} V2 infer`, request('POST', '/v2/models/cancer/infer', { body, host }));
  for (const [name, body, len] of v2BinaryCases()) {
    add('bodies', `${name} V2 binary`, request('POST', '/v2/models/cancer/infer', { body, type: 'application/octet-stream', headers: { 'Inference-Header-Content-Length': len }, host }));
  }
  for (const [name, type, body] of invocationCases()) add('bodies', `${name} /invocations`, request('POST', '/invocations', { body, type, host }));
  for (const [name, m] of bodyMutations()) add('bodies', `${name} /invocations`, request('POST', '/invocations', { ...m, host }));

  // Paths.
  if (kind === 'server') {
    for (const [method, path, body] of artifactPathCases()) add('paths', `${method} ${path.slice(0, 70)}`, request(method, path, { body, type: body ? 'application/octet-stream' : undefined, host }));
  }
  for (const [method, path, body] of paramPathCases()) add('paths', `${method} ${path.slice(0, 70)}`, request(method, path, { body, host }));

  // Nesting and filters (the tracking and registry ones only exist on `slipway server`; `serve` answers 404).
  for (const [name, method, path, body] of nestingAndFilterCases(runId)) add('nesting+filters', name, request(method, path, { body, host }));

  // 64 MiB bodies, the client writing all of it before reading the answer.
  const bigRoutes = kind === 'server' ? ['/api/2.0/mlflow/runs/log-batch', '/api/v1/runs/search', '/v2/models/cancer/infer', '/invocations'] : ['/v2/models/cancer/infer', '/invocations', '/v2/models/cancer/versions/1/infer'];
  for (const path of bigRoutes) {
    for (const chunked of [false, true]) {
      for (const type of ['application/json', 'text/csv', 'application/octet-stream']) {
        if (type === 'text/csv' && !path.includes('invocations')) continue;
        const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${64 * MIB}`;
        const extra = type === 'application/octet-stream' && path.includes('/v2/') ? 'Inference-Header-Content-Length: 64\r\n' : '';
        const head = `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${type}\r\n${extra}${framing}\r\n\r\n`;
        add('64 MiB bodies', `${chunked ? 'chunked' : 'Content-Length'} ${type} ${path}`, { parts: [Buffer.from(head)], big: { size: 64 * MIB, chunked }, writeAll: true });
      }
    }
  }
  // Early answers while the body is still arriving: a refused Host or Origin (403), a type not accepted (415), no route (404).
  const early = [
    ['foreign Host', '/v2/models/cancer/infer', 'Host: evil.example', 'application/json'],
    ['cross-site Origin', kind === 'server' ? '/api/2.0/mlflow/runs/log-batch' : '/invocations', `Host: ${host}\r\nOrigin: http://evil.example`, 'application/json'],
    ['type not accepted', kind === 'server' ? '/api/2.0/mlflow/runs/log-batch' : '/v2/models/cancer/infer', `Host: ${host}`, 'application/xml'],
    ['no such route', '/no/such/route', `Host: ${host}`, 'application/json'],
    ['no such model', '/v2/models/nope/infer', `Host: ${host}`, 'application/json'],
    ['Expect: 100-continue', '/v2/models/cancer/infer', `Host: ${host}\r\nExpect: 100-continue`, 'application/json'],
  ];
  for (const [name, path, headers, type] of early) {
    for (const chunked of [false, true]) {
      const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${64 * MIB}`;
      const head = `POST ${path} HTTP/1.1\r\n${headers}\r\nContent-Type: ${type}\r\n${framing}\r\n\r\n`;
      add('64 MiB bodies', `${chunked ? 'chunked' : 'Content-Length'} ${name} ${path}`, { parts: [Buffer.from(head)], big: { size: 64 * MIB, chunked }, writeAll: true });
    }
  }
  if (kind === 'server') {
    // Artifact uploads stream to disk with no body limit: 64 MiB is a valid upload; the client still must get its answer.
    for (const chunked of [false, true]) {
      const framing = chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${64 * MIB}`;
      const head = `PUT /api/2.0/mlflow-artifacts/artifacts/sweep/big-${chunked ? 'chunked' : 'length'}.bin HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/octet-stream\r\n${framing}\r\n\r\n`;
      add('64 MiB bodies', `${chunked ? 'chunked' : 'Content-Length'} artifact PUT`, { parts: [Buffer.from(head)], big: { size: 64 * MIB, chunked }, writeAll: true });
    }
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Run

async function runAll(port, cases) {
  const results = new Array(cases.length);
  // 64 MiB bodies two at a time, so memory stays modest; everything else `CONCURRENCY` at a time.
  const order = cases.map((c, i) => i);
  let next = 0;
  let bigInFlight = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= order.length) return;
      const c = cases[order[i]];
      const big = c.req.big !== undefined;
      while (big && bigInFlight >= 2) await new Promise((r) => setTimeout(r, 20));
      if (big) bigInFlight++;
      try {
        results[order[i]] = await exchange(port, c.req);
      } finally {
        if (big) bigInFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return results;
}

function tabulate(kind, cases, results) {
  const families = [...new Set(cases.map((c) => c.family))];
  const rows = [];
  const totals = { total: 0, ok2: 0, ok3: 0, ok4: 0, s5: 0, dropped: 0, hung: 0 };
  for (const family of [...families, 'all']) {
    const t = { total: 0, ok2: 0, ok3: 0, ok4: 0, s5: 0, dropped: 0, hung: 0 };
    cases.forEach((c, i) => {
      if (family !== 'all' && c.family !== family) return;
      const r = results[i];
      t.total++;
      if (r.kind === 'dropped') t.dropped++;
      else if (r.kind === 'hung') t.hung++;
      else if (r.status >= 500) t.s5++;
      else if (r.status >= 400) t.ok4++;
      else if (r.status >= 300) t.ok3++;
      else t.ok2++;
    });
    if (family === 'all') Object.assign(totals, t);
    rows.push([family, t.total, t.ok2, t.ok3, t.ok4, t.s5, t.dropped, t.hung]);
  }
  console.log(`\nslipway ${kind}`);
  const header = ['case family', 'total', '2xx', '3xx', '4xx', '>= 500', 'dropped', 'hung'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  const statuses = {};
  results.forEach((r) => r.kind === 'answered' && (statuses[r.status] = (statuses[r.status] ?? 0) + 1));
  console.log(`statuses: ${JSON.stringify(statuses)}`);
  const failures = cases.map((c, i) => ({ c, r: results[i] })).filter(({ r }) => r.kind !== 'answered' || r.status >= 500);
  for (const { c, r } of failures) console.log(`  FAIL [${c.family}] ${c.name.slice(0, 110)}: ${r.kind === 'answered' ? `status ${r.status}` : `${r.kind} (${r.why})`} after ${r.ms} ms`);
  if (values.verbose) cases.forEach((c, i) => console.log(`  [${c.family}] ${c.name.slice(0, 110)} -> ${results[i].kind} ${results[i].status ?? results[i].why}`));
  return totals;
}

if (!values['no-build']) {
  const built = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit', timeout: 300_000 });
  if (built.status !== 0) throw new Error('the build failed');
}
const scratch = mkdtempSync(join(tmpdir(), 'slipway-sweep-'));
const started = performance.now();
let failed = 0;
let overall = 0;
for (const kind of ['server', 'serve']) {
  const home = join(scratch, kind);
  const target = kind === 'server' ? await startServer(home) : await startServe(home);
  try {
    const host = `127.0.0.1:${target.port}`;
    let runId = '0123456789abcdef0123456789abcdef';
    if (kind === 'server') {
      const created = await (await fetch(`${target.url}/api/2.0/mlflow/runs/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ experiment_id: '0' }) })).json();
      runId = created.run.info.run_id;
    }
    const cases = buildCases(kind, host, runId);
    const t0 = performance.now();
    const results = await runAll(target.port, cases);
    const totals = tabulate(kind, cases, results);
    console.log(`${cases.length} requests in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // The server must still answer after the sweep.
    const alive = await fetch(`${target.url}/v2/health/live`).then((r) => r.status).catch((e) => e.message);
    console.log(`after the sweep: GET /v2/health/live -> ${alive}`);
    if (alive !== 200) failed++;
    failed += totals.s5 + totals.dropped + totals.hung;
    overall += totals.total;
  } finally {
    await stopChild(target.child);
  }
}
rmSync(scratch, { recursive: true, force: true });
console.log(`\n${overall} malformed requests in ${((performance.now() - started) / 1000).toFixed(0)} s; ${failed === 0 ? 'no answer >= 500, no dropped or hung connection' : `${failed} failure(s)`}`);
process.exit(failed === 0 ? 0 : 1);
