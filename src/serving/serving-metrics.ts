/**
 * Prometheus metrics of the serving domain (prom-client). Metrics are created once
 * per registry, so several apps in one process (tests, `serve` + `server`) share them.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Reads live queue depth and in-flight batches per model at scrape time. */
export interface ServingGaugeSource {
  gauges(): Array<{ model: string; version: string; queueDepth: number; inFlight: number }>;
}

/** Metrics already bound to one model version's labels. */
export interface VersionMetrics {
  ok: { v2: { inc(): void }; mlflow: { inc(): void } };
  latency: { observe(v: number): void };
  queueTime: { observe(v: number): void };
  inFlight: { inc(): void; dec(): void };
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The serving metrics registered on one registry. */
export class ServingMetrics {
  readonly requests: Counter<'model' | 'version' | 'protocol' | 'status'>;
  readonly latency: Histogram<'model' | 'version'>;
  readonly queueTime: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly loadTime: Histogram<'model'>;
  readonly loadFailures: Counter<'model'>;
  readonly inFlightRequests: Gauge<'model'>;
  readonly #sources = new Set<ServingGaugeSource>();

  private constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'slipway_serving_requests_total',
      help: 'Inference requests by model, version, protocol and HTTP status.',
      labelNames: ['model', 'version', 'protocol', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: 'slipway_serving_request_duration_seconds',
      help: 'Time from request decoding to response, per model version.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.queueTime = new Histogram({
      name: 'slipway_serving_queue_duration_seconds',
      help: 'Time requests waited in the batching queue.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'slipway_serving_batch_size_rows',
      help: 'Rows per executed batch.',
      labelNames: ['model', 'version'],
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.loadTime = new Histogram({
      name: 'slipway_serving_model_load_duration_seconds',
      help: 'Time to load and warm up a model version.',
      labelNames: ['model'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.loadFailures = new Counter({
      name: 'slipway_serving_model_load_failures_total',
      help: 'Model versions that failed to load.',
      labelNames: ['model'],
      registers,
    });
    this.inFlightRequests = new Gauge({
      name: 'slipway_serving_inflight_requests',
      help: 'Requests accepted and not yet answered.',
      labelNames: ['model'],
      registers,
    });
    const sources = this.#sources;
    new Gauge({
      name: 'slipway_serving_queue_depth',
      help: 'Requests waiting in the batching queue.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.reset();
        for (const s of sources) for (const g of s.gauges()) this.set({ model: g.model, version: g.version }, g.queueDepth);
      },
    });
    new Gauge({
      name: 'slipway_serving_inflight_batches',
      help: 'Batches being executed.',
      labelNames: ['model', 'version'],
      registers,
      collect() {
        this.reset();
        for (const s of sources) for (const g of s.gauges()) this.set({ model: g.model, version: g.version }, g.inFlight);
      },
    });
  }

  readonly #children = new Map<string, VersionMetrics>();

  /** Label-bound metrics of one model version, cached: the hot path skips label hashing. */
  forVersion(model: string, version: string): VersionMetrics {
    const key = `${model}\u0000${version}`;
    let c = this.#children.get(key);
    if (!c) {
      const labels = { model, version };
      c = {
        ok: { v2: this.requests.labels({ ...labels, protocol: 'v2', status: '200' }), mlflow: this.requests.labels({ ...labels, protocol: 'mlflow', status: '200' }) },
        latency: this.latency.labels(labels),
        queueTime: this.queueTime.labels(labels),
        inFlight: this.inFlightRequests.labels({ model }),
      };
      this.#children.set(key, c);
    }
    return c;
  }

  /** Adds a source of live gauges; returns a function that removes it. */
  addGaugeSource(source: ServingGaugeSource): () => void {
    this.#sources.add(source);
    return () => this.#sources.delete(source);
  }

  static #byRegistry = new WeakMap<Registry, ServingMetrics>();

  /** The serving metrics of `registry`, created on first use. */
  static for(registry: Registry): ServingMetrics {
    let m = ServingMetrics.#byRegistry.get(registry);
    if (!m) {
      m = new ServingMetrics(registry);
      ServingMetrics.#byRegistry.set(registry, m);
    }
    return m;
  }
}
