/**
 * Serving on the main server: registered models are served on the same port
 * (V2 and MLflow scoring), loaded at start and on first request, swapped when an
 * alias moves, and drained on shutdown.
 */
import { modelFileAllowList } from '../../artifacts/model-file-allow-list.js';
import { SlipwayError, isSlipwayError } from '../../core/errors.js';
import type { ModelRef } from '../../core/model-source.js';
import { InferenceService } from '../../serving/inference-service.js';
import { ModelManager, refToUri } from '../../serving/model-manager.js';
import { ServingMetrics } from '../../serving/serving-metrics.js';
import { resolveServingOptions } from '../../serving/serving-options.js';
import { TrafficSplitter } from '../../serving/traffic-split.js';
import type { DomainPlugin } from '../app.js';
import { getMetricsRegistry } from '../metrics-registry.js';
import { appendAuditEvent } from '../../audit/audit-trail.js';
import { mutationOf } from '../native/services.js';
import { registerServingRoutes, type ServingRoutesInit } from './serving-routes.js';
import { registerExplainRoutes } from './explain-routes.js';
import { registerNativeRoutes } from '../native/native-route.js';
import { servingStatsRoutes } from '../native/serving-stats-routes.js';
import { accessServiceOf, principalOf } from '../native/access-routes.js';
import { NATIVE_PREFIX } from './native-api.js';
import { shareQueues } from '../cluster/queue-share.js';

const serving: DomainPlugin = async (app, ctx) => {
  const registry = getMetricsRegistry();
  const metrics = ServingMetrics.for(registry);
  const options = resolveServingOptions({ ...ctx.config.serving, bodyLimit: ctx.config.bodyLimit });
  const source = ctx.modelSource;
  const modelFiles = modelFileAllowList(ctx.artifacts, ctx.config.modelSourceAllowedDirs);
  const cluster = ctx.cluster;
  // In a cluster, the workers shed on the whole server's queue, and a new version serves in every worker at once or in none.
  const queues = cluster ? shareQueues(cluster) : undefined;
  const manager = new ModelManager({
    options,
    metrics,
    logger: ctx.logger,
    modelFiles,
    ...(source ? { source } : {}),
    ...(cluster ? { swapGate: cluster.swapGate, onSwapLoadFailed: cluster.onSwapLoadFailed, onServing: cluster.onServing } : {}),
    ...(queues ? { queuedElsewhere: (name: string) => queues.queuedElsewhere(name) } : {}),
  });
  const stopReporting = queues?.report(() => manager.queueDepths());
  // Canary, shadow and blue-green releases steer this server's traffic through it.
  // A release of a registered model not yet requested loads it as its first request would (loadOnDemand, below).
  const traffic = new TrafficSplitter({ manager, metrics, logger: ctx.logger, loadOnDemand: (name) => loadOnDemand(name) });
  ctx.traffic = traffic;
  ctx.servedModelNames = () => manager.readyNames();
  const service = new InferenceService({ manager, metrics, observers: ctx.inferenceObservers, clock: ctx.clock, logger: ctx.logger, traffic });
  let closing = false;
  // Not ready until the registered models are listed and loaded: they are the models this server was configured to serve.
  let starting = source?.list !== undefined;

  // Concurrent first requests for one model share a single load.
  const onDemand = new Map<string, Promise<void>>();
  const loadOnDemand = (name: string): Promise<void> => {
    const list = source?.list?.bind(source);
    if (!list) return Promise.resolve();
    let pending = onDemand.get(name);
    if (!pending) {
      pending = (async () => {
        const ref = preferredRef(await list(), name);
        if (!ref) {
          const reason = await source?.unservableReason?.(name);
          throw new SlipwayError('NOT_FOUND', reason ?? `Model '${name}' is not served here and has no registered ONNX version.`, { model: name });
        }
        if (!manager.has(name)) await manager.load(name, refToUri(ref));
      })().finally(() => onDemand.delete(name));
      onDemand.set(name, pending);
    }
    return pending;
  };

  // Registered models start loading in the background so the server listens at once;
  // shutdown waits for this (it skips what is left) so the store is never closed under it.
  let startupLoads: Promise<void> = Promise.resolve();
  if (source?.list) {
    startupLoads = source
      .list()
      .then(async (refs) => {
        for (const name of new Set(refs.map((r) => r.name))) {
          const ref = preferredRef(refs, name);
          if (closing || !ref || manager.has(name)) continue;
          await manager.load(name, refToUri(ref), undefined, { required: true });
        }
      })
      .catch((err: unknown) => ctx.logger.warn({ err: isSlipwayError(err) ? err.message : err }, 'serving: listing registered models failed'))
      .finally(() => (starting = false));
  }

  // Loading or unloading a model through the repository API changes what the server does: audit it.
  const audit: ServingRoutesInit['audit'] = async (req, event) => {
    const { actor, requestId } = mutationOf(req);
    await ctx.store.db.transaction().execute((trx) =>
      appendAuditEvent(trx, ctx.store.dialect, { actor, requestId, action: event.action, entityType: 'served_model', entityId: event.model, change: event.change, time: ctx.clock.now() }),
    );
  };
  await registerServingRoutes(app, {
    manager,
    service,
    registry,
    logger: ctx.logger,
    loadOnDemand,
    isClosing: () => closing,
    isStarting: () => starting,
    modelControl: ctx.config.modelControl,
    requestId: (req) => req.id,
    audit,
    ...(ctx.fastRoutes ? { fastRoutes: ctx.fastRoutes } : {}),
    // A worker answers /metrics and readiness for the whole cluster.
    ...(cluster ? { metricsText: cluster.metricsText, othersReady: cluster.othersReady } : {}),
  });
  const explain = await registerExplainRoutes(app, { manager, store: ctx.store, logger: ctx.logger, loadOnDemand });
  registerNativeRoutes(
    app,
    NATIVE_PREFIX,
    servingStatsRoutes({
      metrics,
      index: () => manager.index(),
      clock: ctx.clock,
      startedTime: ctx.clock.now(),
      // Readers of a model see its figures; the route table lets in any signed-in user.
      readable: (request) => accessServiceOf(ctx).readableModelNames(principalOf(request)),
      ...(cluster ? { cluster } : {}),
    }),
    ctx,
  );
  ctx.onClose.push(async () => {
    closing = true;
    stopReporting?.();
    await startupLoads;
    await manager.close();
    await explain.close();
  });
};

/**
 * Which reference a model is served by on the main server: the `champion` alias, else
 * `production`, else its first alias (so moving the alias hot-swaps), else its newest version.
 */
export function preferredRef(refs: ModelRef[], name: string): ModelRef | undefined {
  const mine = refs.filter((r) => r.name === name);
  const aliased = mine.filter((r) => r.alias !== undefined);
  return aliased.find((r) => r.alias === 'champion') ?? aliased.find((r) => r.alias === 'production') ?? aliased[0] ?? mine[0];
}

export default serving;
