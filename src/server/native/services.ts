/** The domain services the native routes call, taken from the context or built over its store. */
import type { FastifyRequest } from 'fastify';
import { RegistryService } from '../../registry/registry-service.js';
import { TrackingService } from '../../tracking/index.js';
import type { ServerContext } from '../context.js';

// The context gains these fields as the domains land; reading them structurally keeps this file independent of that order.
type WithServices = ServerContext & { registry?: RegistryService; tracking?: TrackingService };

/** The registry the server already opened, or a new one over the context's store. */
export function registryOf(ctx: ServerContext): RegistryService {
  return (ctx as WithServices).registry ?? new RegistryService({ store: ctx.store, artifacts: ctx.artifacts, clock: ctx.clock, logger: ctx.logger });
}

/** The tracking service the server already opened, or a new one over the context's store. */
export function trackingOf(ctx: ServerContext): TrackingService {
  return (ctx as WithServices).tracking ?? new TrackingService(ctx.store, { clock: ctx.clock });
}

/** Who makes a change, for the audit trail: the authenticated actor once there is one, and the request id. */
export function mutationOf(request: FastifyRequest): { actor?: string; requestId: string } {
  const actor = (request as FastifyRequest & { actor?: string }).actor;
  return actor ? { actor, requestId: request.id } : { requestId: request.id };
}
