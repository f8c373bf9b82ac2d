/**
 * The one Prometheus registry of a Slipway process. Every domain adds its metrics
 * here (serving creates its own on first use; monitoring adds gauges) and the
 * serving plugin exposes it at GET /metrics.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

// prom-client's gauges that end in `_total`, which promtool rejects for non-counters; the
// per-type gauges without the suffix (nodejs_active_handles{type}, ...) sum to the same value.
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

let shared: Registry | undefined;

/** The process-wide registry, with Node.js process metrics (CPU, memory, event loop lag, GC). */
export function getMetricsRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
    for (const name of MISNAMED_DEFAULT_GAUGES) shared.removeSingleMetric(name);
  }
  return shared;
}
