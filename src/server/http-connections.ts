/**
 * Connection handling of the node:http server: a drain that answers every request the
 * kernel has accepted, and a lingering close after early answers.
 *
 * Node's own `server.close()` destroys every connection that has no request in progress,
 * and counts as idle a keep-alive connection whose next request still sits unread in the
 * kernel buffer, which is the common case while inline inference blocks the event loop:
 * those fully sent requests were reset. Here a connection is closed only after it has been
 * idle (nothing in progress, no byte read) for a grace period counted only while the
 * event loop is responsive, so any request waiting in the kernel is read and answered
 * first; requests that arrive during the drain get 503 in their route family's error
 * shape with `Connection: close`, and the whole drain is bounded.
 *
 * When a response ends while its request body is still arriving (413, a 503 during the
 * drain, an early 4xx) and the connection must close, closing at once would reset the
 * connection while the client is still sending, and a client that reads only after
 * sending (Python's urllib) would never see the answer. Like nginx's lingering close,
 * the server keeps reading and discarding until the client is done, bounded in time and
 * bytes, before it closes.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { ERROR_CATALOGUE } from '../core/errors.js';
import { errorBody, isMlflowPath } from './http-errors.js';

/** How the drain and lingering close are bounded. */
export interface ConnectionLimits {
  /** Longest drain; connections still open after it are destroyed. @default 10000 */
  drainTimeoutMs?: number;
  /** How long a connection must be idle, with the event loop responsive, before the drain closes it. @default 1000 */
  idleGraceMs?: number;
}

/** nginx's lingering_time: the longest a lingering close reads. */
const LINGER_TOTAL_MS = 30_000;
/** nginx's lingering_timeout: a lingering client that sends nothing for this long is closed. */
const LINGER_IDLE_MS = 5_000;
/** The most a lingering close reads and discards. */
const LINGER_MAX_BYTES = 256 * 1024 * 1024;
/** The drain checks connections this often; a check much later than this means the loop was blocked. */
const SWEEP_MS = 50;

const lingering = new WeakSet<Socket>();

/**
 * Installs the drain and the lingering close on a node:http server: from then on
 * `server.close()` drains as described above and `closeIdleConnections()` (which Node's
 * `close()` and Fastify call) no longer destroys connections that may hold unread requests.
 */
export function manageConnections(server: Server, limits: ConnectionLimits = {}): void {
  const drainTimeoutMs = limits.drainTimeoutMs ?? 10_000;
  const idleGraceMs = limits.idleGraceMs ?? 1000;
  const connections = new Map<Socket, { bytesRead: number; idleMs: number }>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { bytesRead: 0, idleMs: 0 });
    socket.once('close', () => connections.delete(socket));
    socket.destroySoon = destroySoonAfterAnswer;
  });

  let draining = false;
  const beginDrain = () => {
    if (draining) return;
    draining = true;
    // Requests parsed from now on are refused in their route family's shape (the body is read and discarded by the lingering close).
    server.removeAllListeners('request');
    server.on('request', answerDraining);
    let last = performance.now();
    const started = last;
    const sweep = setInterval(() => {
      const now = performance.now();
      const elapsed = now - last;
      last = now;
      if (now - started >= drainTimeoutMs) {
        for (const socket of connections.keys()) socket.destroy();
        clearInterval(sweep);
        return;
      }
      // A late check means the loop was blocked: bytes may wait unread in the kernel, so idle time starts over.
      const responsive = elapsed < SWEEP_MS * 3;
      for (const [socket, state] of connections) {
        const bytesRead = socket.bytesRead;
        const busy = bytesRead !== state.bytesRead || (socket as SocketInternals)._httpMessage != null;
        state.bytesRead = bytesRead;
        state.idleMs = busy || !responsive ? 0 : state.idleMs + elapsed;
        if (state.idleMs >= idleGraceMs) socket.destroy();
      }
    }, SWEEP_MS);
    server.once('close', () => clearInterval(sweep));
  };

  // Node's close() and Fastify's forceCloseConnections call this; the drain decides instead.
  server.closeIdleConnections = () => {};
  const close = server.close.bind(server);
  server.close = (callback?: (err?: Error) => void) => {
    beginDrain();
    return close(callback);
  };
}

/** What the drain and the lingering close read of node's socket and parser state. */
interface SocketInternals {
  _httpMessage?: ServerResponse | null;
  parser?: { incoming?: IncomingMessage | null } | null;
}

/** node:http closes a `Connection: close` socket with this after the answer; linger when the request is still arriving. */
function destroySoonAfterAnswer(this: Socket): void {
  const incoming = (this as SocketInternals).parser?.incoming;
  if (incoming && !incoming.complete) {
    // The answer went out before the body: keep the body flowing into nowhere until the client stops.
    incoming.resume();
    lingerClose(this);
    return;
  }
  Socket.prototype.destroySoon.call(this);
}

/** Reads and discards until the client ends its side or a bound is reached, then closes the connection. */
export function lingerClose(socket: Socket): void {
  if (lingering.has(socket) || socket.destroyed) return;
  // The client already ended its side (a half-close mid-upload): nothing more will come, and 'end' will not fire again.
  if (socket.readableEnded) {
    // Still flush the answer before closing: a half-closed client may be reading it.
    Socket.prototype.destroySoon.call(socket);
    return;
  }
  lingering.add(socket);
  // No FIN yet: many clients stop sending once they see one, before they read the answer.
  socket.once('end', () => socket.destroy());
  socket.resume();
  const started = performance.now();
  const startBytes = socket.bytesRead;
  let lastBytes = startBytes;
  let idleSince = started;
  const timer = setInterval(() => {
    const now = performance.now();
    const bytes = socket.bytesRead;
    if (bytes !== lastBytes) {
      lastBytes = bytes;
      idleSince = now;
    }
    if (now - started >= LINGER_TOTAL_MS || now - idleSince >= LINGER_IDLE_MS || bytes - startBytes >= LINGER_MAX_BYTES) socket.destroy();
  }, 250);
  socket.once('close', () => clearInterval(timer));
}

/** The answer to a request parsed while the server drains: 503 in the route family's error shape, closing the connection. */
function answerDraining(req: IncomingMessage, res: ServerResponse): void {
  const body = JSON.stringify(unavailableBody(req.url ?? '/'));
  res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

const SHUTTING_DOWN = 'The server is shutting down; send the request again, to another instance or once it is back.';

/** Triton's `{"error"}` on inference routes, MLflow's shape on MLflow and scoring routes, ours elsewhere. */
function unavailableBody(url: string): Record<string, unknown> {
  const path = url.split('?')[0] ?? url;
  if (path === '/v2' || path.startsWith('/v2/')) return { error: SHUTTING_DOWN };
  const scoring = path === '/invocations' || (path.startsWith('/models/') && path.endsWith('/invocations'));
  if (scoring) return { error_code: ERROR_CATALOGUE.UNAVAILABLE.mlflowCode, message: SHUTTING_DOWN };
  return errorBody({ status: 503, code: 'UNAVAILABLE', message: SHUTTING_DOWN, internal: false }, isMlflowPath(path));
}

/** The error code `answerClientError` answers for a CONNECT request: this server is no proxy. */
export const CONNECT_REFUSED = 'SLIPWAY_CONNECT_REFUSED';

const CLIENT_ERRORS: Record<string, { status: number; text: string; message: string }> = {
  [CONNECT_REFUSED]: { status: 400, text: 'Bad Request', message: 'CONNECT is not supported: this server is not a proxy.' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout', message: 'The request was not received in time.' },
  HPE_HEADER_OVERFLOW: { status: 431, text: 'Request Header Fields Too Large', message: 'The request headers are larger than this server accepts.' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, text: 'Payload Too Large', message: 'The chunk extensions are larger than this server accepts.' },
};

/**
 * A Fastify `clientErrorHandler`: a request node:http cannot parse gets an answer with
 * `Connection: close` and a lingering close, so a client still sending its body reads it.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Node reports each later chunk of a broken request again; the first answer stands.
  if (err.code === 'ECONNRESET' || socket.destroyed || lingering.has(socket)) return;
  if (!socket.writable || ((socket as SocketInternals)._httpMessage?.headersSent ?? false)) {
    socket.destroy();
    return;
  }
  const known = err.code ? CLIENT_ERRORS[err.code] : undefined;
  const status = known?.status ?? 400;
  const text = known?.text ?? 'Bad Request';
  const message = known?.message ?? `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'}).`;
  const code = status === 408 ? 'DEADLINE_EXCEEDED' : status === 413 ? 'PAYLOAD_TOO_LARGE' : 'MALFORMED_REQUEST';
  const body = JSON.stringify(errorBody({ status, code, message, internal: false }, false));
  socket.write(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  // A timed-out client is not sending: close at once rather than wait out the lingering bounds.
  if (status === 408) Socket.prototype.destroySoon.call(socket);
  else lingerClose(socket);
}
