/**
 * The one Prometheus registry of a Slipway process. Every domain adds its metrics
 * here (serving creates its own on first use; monitoring adds gauges) and the
 * serving plugin exposes it at GET /metrics.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

let shared: Registry | undefined;

/** The process-wide registry, with Node.js process metrics (CPU, memory, event loop lag, GC). */
export function getMetricsRegistry(): Registry {
  if (!shared) {
    shared = new Registry();
    collectDefaultMetrics({ register: shared });
  }
  return shared;
}
