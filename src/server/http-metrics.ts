/**
 * Request rate, errors and latency of the tracking and registry APIs (MLflow's REST API, the
 * ajax-api the MLflow UI calls, and Slipway's /api/v1), by route pattern: what the alert rules
 * and dashboard in deploy/ read. Serving keeps its own per-model metrics (serving-metrics.ts);
 * health, /metrics and the UI's files are not counted.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

/** Seconds; tracking calls range from sub-millisecond reads to multi-second searches and uploads. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The API family a path belongs to, or undefined when it is not counted here. */
export function apiOf(url: string): 'mlflow' | 'slipway' | undefined {
  if (url.startsWith('/api/2.0/') || url.startsWith('/ajax-api/2.0/')) return 'mlflow';
  if (url.startsWith('/api/v1/') && !url.startsWith('/api/v1/health')) return 'slipway';
  return undefined;
}

interface HttpMetrics {
  requests: Counter<'api' | 'method' | 'route' | 'code'>;
  duration: Histogram<'api' | 'method' | 'route'>;
}

const byRegistry = new WeakMap<Registry, HttpMetrics>();

function metricsOn(registry: Registry): HttpMetrics {
  let m = byRegistry.get(registry);
  if (!m) {
    m = {
      requests: new Counter({ name: 'slipway_http_requests_total', help: 'Tracking and registry API requests by API (mlflow, slipway), method, route pattern and HTTP status.', labelNames: ['api', 'method', 'route', 'code'], registers: [registry] }),
      duration: new Histogram({ name: 'slipway_http_request_duration_seconds', help: 'Time from a tracking or registry API request to its answer, by API, method and route pattern.', labelNames: ['api', 'method', 'route'], buckets: BUCKETS, registers: [registry] }),
    };
    byRegistry.set(registry, m);
  }
  return m;
}

/** Counts and times every tracking and registry request answered by `app`, on `registry`. */
export function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const m = metricsOn(registry);
  app.addHook('onResponse', async (request, reply) => {
    const api = apiOf(request.url);
    if (!api) return;
    // The route pattern keeps the label set bounded; a path no route matched is one series.
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { api, method: request.method, route };
    m.requests.inc({ ...labels, code: String(reply.statusCode) });
    m.duration.observe(labels, reply.elapsedTime / 1000);
  });
}
