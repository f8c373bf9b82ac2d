/** The domain services the native routes call: the server's shared instances, built on first use when absent. */
import type { FastifyRequest } from 'fastify';
import { DatasetService } from '../../data/dataset-service.js';
import { RegistryService } from '../../registry/registry-service.js';
import { TrackingService } from '../../tracking/index.js';
import type { ServerContext } from '../context.js';

/**
 * The registry shared by every plugin. Sharing matters: serving listens to this
 * instance's alias and stage moves, so a second instance would move aliases silently.
 */
export function registryOf(ctx: ServerContext): RegistryService {
  ctx.registry ??= new RegistryService({ store: ctx.store, artifacts: ctx.artifacts, modelSourceAllowedDirs: ctx.config.modelSourceAllowedDirs, clock: ctx.clock, logger: ctx.logger });
  return ctx.registry;
}

/** The tracking service shared by the MLflow and native routes. */
export function trackingOf(ctx: ServerContext): TrackingService {
  ctx.tracking ??= new TrackingService(ctx.store, { clock: ctx.clock, defaultArtifactRoot: ctx.config.defaultArtifactRoot });
  return ctx.tracking;
}

const datasetServices = new WeakMap<ServerContext, DatasetService>();

/** The registered dataset versions of this server's store (stateless over the store: one per server for tidiness). */
export function datasetsOf(ctx: ServerContext): DatasetService {
  let service = datasetServices.get(ctx);
  if (!service) {
    service = new DatasetService({ store: ctx.store, clock: ctx.clock });
    datasetServices.set(ctx, service);
  }
  return service;
}

/**
 * Who makes a change, for the audit trail: the authenticated principal's username, and the request id. While access
 * control is off there is no principal and the trail records its default actor.
 */
export function mutationOf(request: FastifyRequest): { actor?: string; requestId: string } {
  const principal = request.principal;
  return principal && principal.via !== 'anonymous' ? { actor: principal.username, requestId: request.id } : { requestId: request.id };
}
