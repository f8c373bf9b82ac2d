/**
 * The node:http server under Fastify, shared by `slipway server` and `slipway serve`.
 *
 * It exists for two reasons. First, timeouts: Fastify applies `requestTimeout` only to
 * servers it creates itself, and Node checks it on a 30 s interval by default, so a
 * client that announces a body and never sends it would hold its connection open far
 * longer than configured. Second, the inference hot path: a route may register a
 * *fast route* that answers plain requests straight from node:http, ahead of Fastify's
 * routing, hooks and reply pipeline (about a third of a 1-row inference's CPU time).
 * A fast route declines (returns false) anything unusual, which Fastify then handles
 * with its full machinery, so errors and edge cases keep one implementation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { RequestGuard } from './request-guard.js';
import { setSecurityHeaders, type GateVerdict } from './access-gate.js';
import type { Socket } from 'node:net';
import { answerClientError, CONNECT_REFUSED, manageConnections } from './http-connections.js';

/** Answers a request itself and returns true, or returns false without touching it. */
export type FastRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/** Timeouts of the HTTP server, in ms. */
export interface HttpServerTimeouts {
  /** Longest time to receive a whole request (headers and body); 0 turns it off. */
  requestTimeoutMs: number;
  /** Longest time to receive the request headers. */
  headersTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open. @default 72000 (longer than common load balancers' 60 s) */
  keepAliveTimeoutMs?: number;
  /** Longest graceful drain on close before remaining connections are destroyed. @default 10000 */
  drainTimeoutMs?: number;
}

/** The fast routes of one server; routes register themselves after the server exists. */
export class FastRoutes {
  readonly #routes: FastRoute[] = [];

  add(route: FastRoute): void {
    this.#routes.push(route);
  }

  /** Tries each fast route in order. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    for (const route of this.#routes) if (route(req, res)) return true;
    return false;
  }
}

/**
 * A Fastify `serverFactory`: a node:http server with the given timeouts that sets the
 * security headers, offers each request to `guard` (Host and Origin checks), then to
 * `access` (credentials for the fast routes; `slow` leaves the decision to Fastify's
 * hooks), then to `fast`, before Fastify's handler.
 */
export function httpServerFactory(
  timeouts: HttpServerTimeouts,
  fast: FastRoutes,
  guard?: RequestGuard,
  access?: (req: IncomingMessage, res: ServerResponse) => GateVerdict,
): (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server {
  return (handler) => {
    const requestTimeout = timeouts.requestTimeoutMs;
    const server = createServer(
      {
        requestTimeout,
        headersTimeout: Math.min(timeouts.headersTimeoutMs ?? 60_000, requestTimeout > 0 ? requestTimeout : Infinity),
        keepAliveTimeout: timeouts.keepAliveTimeoutMs ?? 72_000,
        // Node enforces the two timeouts on this interval (30 s by default): check often enough
        // that a short timeout holds to within a second.
        connectionsCheckingInterval: requestTimeout > 0 ? Math.max(100, Math.min(1000, Math.floor(requestTimeout / 4))) : 30_000,
      },
      (req, res) => {
        setSecurityHeaders(res);
        if (guard !== undefined && guard(req, res)) return;
        if (access !== undefined) {
          const verdict = access(req, res);
          if (verdict === 'answered') return;
          if (verdict === 'slow') return handler(req, res);
        }
        if (!fast.handle(req, res)) handler(req, res);
      },
    );
    // Without a listener node:http destroys a CONNECT request's connection unanswered: refuse it instead.
    server.on('connect', (_req: IncomingMessage, socket: Socket) => answerClientError(Object.assign(new Error('CONNECT'), { code: CONNECT_REFUSED }), socket));
    manageConnections(server, timeouts.drainTimeoutMs !== undefined ? { drainTimeoutMs: timeouts.drainTimeoutMs } : {});
    return server;
  };
}
