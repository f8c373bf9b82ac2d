/**
 * Serving on the main server: registered models are served on the same port
 * (V2 and MLflow scoring), loaded at start and on first request, swapped when an
 * alias moves, and drained on shutdown.
 */
import { SlipwayError, isSlipwayError } from '../../core/errors.js';
import { InferenceService } from '../../serving/inference-service.js';
import { ModelManager, refToUri } from '../../serving/model-manager.js';
import { ServingMetrics } from '../../serving/serving-metrics.js';
import { resolveServingOptions } from '../../serving/serving-options.js';
import type { DomainPlugin } from '../app.js';
import { getMetricsRegistry } from '../metrics-registry.js';
import { registerServingRoutes } from './serving-routes.js';

const serving: DomainPlugin = async (app, ctx) => {
  const registry = getMetricsRegistry();
  const metrics = ServingMetrics.for(registry);
  const options = resolveServingOptions({ bodyLimit: ctx.config.bodyLimit });
  const source = ctx.modelSource;
  const manager = new ModelManager({ options, metrics, logger: ctx.logger, ...(source ? { source } : {}) });
  const service = new InferenceService({ manager, metrics, observers: ctx.inferenceObservers, clock: ctx.clock, logger: ctx.logger });
  let closing = false;

  const loadOnDemand = async (name: string): Promise<void> => {
    if (!source?.list) return;
    const refs = await source.list();
    const ref = refs.find((r) => r.name === name);
    if (!ref) throw new SlipwayError('NOT_FOUND', `Model '${name}' is not served here and has no registered ONNX version.`, { model: name });
    await manager.load(name, refToUri(ref));
  };

  // Registered models start loading in the background so the server listens at once.
  if (source?.list) {
    void source
      .list()
      .then(async (refs) => {
        const seen = new Set<string>();
        for (const ref of refs) {
          if (seen.has(ref.name) || closing) continue;
          seen.add(ref.name);
          await manager.load(ref.name, refToUri(ref));
        }
      })
      .catch((err: unknown) => ctx.logger.warn({ err: isSlipwayError(err) ? err.message : err }, 'serving: listing registered models failed'));
  }

  await registerServingRoutes(app, { manager, service, registry, logger: ctx.logger, loadOnDemand, isClosing: () => closing });
  ctx.onClose.push(async () => {
    closing = true;
    await manager.close();
  });
};

export default serving;
