/** Real HTTP targets with known behaviour for load-test tests (loopback, port 0). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running test target. */
export interface TestTarget {
  url: string;
  origin: string;
  server: Server;
  /** Request bodies received (only when `keepBodies`). */
  bodies: string[];
  requests: number;
  close(): Promise<void>;
}

/** How the target behaves. */
export interface TestTargetBehaviour {
  /** Fixed service time per request, in ms (timer based). */
  serviceMs?: number;
  /** Answer requests one at a time (a server of fixed capacity 1000/serviceMs per second). */
  serial?: boolean;
  /** Stall: requests arriving in [stallAt, stallAt+stallMs) after the first request wait until the stall ends. */
  stallAtMs?: number;
  stallMs?: number;
  /** Status to answer with. @default 200 */
  status?: number | ((n: number) => number);
  keepBodies?: boolean;
  /** Custom handler (overrides the rest). */
  handler?: (req: IncomingMessage, res: ServerResponse, body: string) => void;
}

/** Starts a target on 127.0.0.1 with an ephemeral port. */
export async function startTestTarget(b: TestTargetBehaviour = {}): Promise<TestTarget> {
  let first: number | undefined;
  let queueFree = 0;
  const t: TestTarget = { url: '', origin: '', server: undefined as unknown as Server, bodies: [], requests: 0, close: async () => undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      t.requests += 1;
      if (b.keepBodies) t.bodies.push(body);
      if (b.handler) return b.handler(req, res, body);
      const now = performance.now();
      first ??= now;
      let delay = b.serviceMs ?? 0;
      if (b.stallAtMs !== undefined && b.stallMs !== undefined) {
        const rel = now - first;
        if (rel >= b.stallAtMs && rel < b.stallAtMs + b.stallMs) delay += b.stallAtMs + b.stallMs - rel;
      }
      if (b.serial) {
        const startAt = Math.max(now, queueFree);
        queueFree = startAt + (b.serviceMs ?? 0);
        delay = queueFree - now;
      }
      const status = typeof b.status === 'function' ? b.status(t.requests) : (b.status ?? 200);
      const answer = (): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  t.origin = `http://127.0.0.1:${port}`;
  t.url = `${t.origin}/`;
  t.server = server;
  t.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return t;
}
