/**
 * Ties work to the client's connection: when the client closes it before the answer is
 * sent, the work's signal aborts so its database query can be cancelled. Fastify's
 * `request.signal` follows the request stream, which closes as soon as the body is read.
 */
import type { FastifyRequest } from 'fastify';

/** Runs `work` with a signal that aborts if the client's connection closes before `work` settles. */
export async function whileClientConnected<T>(request: FastifyRequest, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const socket = request.raw.socket as NodeJS.EventEmitter | undefined;
  const onClose = (): void => controller.abort();
  socket?.once('close', onClose);
  try {
    return await work(controller.signal);
  } finally {
    socket?.off('close', onClose);
  }
}
