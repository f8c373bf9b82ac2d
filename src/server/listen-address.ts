/**
 * The address a server listens on: checked before anything slow starts (opening
 * the store, loading models), and why listening failed said in one line a user
 * can act on. Shared by `slipway server` and `slipway serve`.
 */
import { createServer } from 'node:net';
import { SlipwayError, isSlipwayError } from '../core/errors.js';

/** Why listening on `host:port` failed, as a catalogued error naming the fix; errors it does not know are returned unchanged. */
export function listenProblem(err: unknown, host: string, port: number): unknown {
  if (isSlipwayError(err)) return err;
  const e = err as NodeJS.ErrnoException | null;
  switch (e?.code) {
    case 'EADDRINUSE':
      return new SlipwayError('UNAVAILABLE', `Port ${port} on ${host} is already in use; choose another with --port (0 picks a free one).`, { host, port });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new SlipwayError('INVALID_ARGUMENT', `Cannot listen on host '${host}': ${e.message}`, { host });
    case 'EACCES':
      return new SlipwayError('UNAVAILABLE', `Not allowed to listen on ${host}:${port}: ${e.message}`, { host, port });
    default:
      return err;
  }
}

/**
 * Fails with `listenProblem`'s error when `host:port` cannot be bound right now,
 * by binding it and letting go at once; port 0 always can. The real listen still
 * maps its own failure the same way, should another process take the port between.
 */
export async function checkListenAddress(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(listenProblem(err, host, port)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
