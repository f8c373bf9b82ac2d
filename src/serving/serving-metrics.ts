/**
 * Prometheus metrics of the serving domain (prom-client). Metrics are created once
 * per registry, so several apps in one process (tests, `serve` + `server`) share them.
 *
 * The per-request metrics are pre-aggregated: prom-client validates and hashes the label
 * set on every observe() or inc() (about half a microsecond each), and a 1-row inference
 * makes five of them, several percent of its whole cost. So each model version keeps
 * plain counters and bucket arrays, which prom-client reads at scrape time: the counters
 * through its `collect` hook, the histograms as metrics of their own in its registry format.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Reads live queue depth and in-flight batches per model at scrape time. */
export interface ServingGaugeSource {
  gauges(): Array<{ model: string; version: string; queueDepth: number; inFlight: number }>;
}

/** Metrics already bound to one model version's labels; each call is a few plain additions. */
export interface VersionMetrics {
  ok: { v2: { inc(): void }; mlflow: { inc(): void } };
  latency: { observe(v: number): void };
  queueTime: { observe(v: number): void };
  inFlight: { inc(): void; dec(): void };
}

/** Metrics of one side of a traffic split (model, version, role), bound once: each call is a few plain additions. */
export interface RoleMetrics {
  /** A request answered by this side, with its latency in seconds. */
  ok(seconds: number): void;
  /** A request this side failed. */
  failed(): void;
}

/** One label set's buckets (non-cumulative counts; the last slot is above every bound). */
export class HistogramSeries {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] as number) + 1;
    this.sum += v;
    this.count += 1;
  }

  /** The buckets as Prometheus exposes them: cumulative counts per bound, then the +Inf count. */
  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let acc = 0;
    for (const c of this.counts) counts.push((acc += c));
    return { bounds: this.bounds, counts, sum: this.sum, count: this.count };
  }
}

/** A histogram's cumulative state: `counts[i]` observations ≤ `bounds[i]`, the last entry (+Inf) being `count`. */
export interface HistogramSnapshot {
  bounds: readonly number[];
  counts: number[];
  sum: number;
  count: number;
}

/** Cumulative figures of one served model version (`version` is '' for requests refused before a version was chosen). */
export interface VersionSnapshot {
  model: string;
  version: string;
  /** Requests by HTTP status, both protocols together. */
  byStatus: Record<string, number>;
  /** Latency of answered requests, in seconds. */
  latency: HistogramSnapshot | undefined;
  queueDepth: number;
  inFlightBatches: number;
}

/** Cumulative figures of one side of a traffic split. */
export interface RoleSnapshot {
  model: string;
  version: string;
  role: string;
  requests: number;
  /** Latency of the answered ones, in seconds; requests minus its count failed. */
  latency: HistogramSnapshot | undefined;
}

/** Every serving figure at one moment, read without going through the text exposition. */
export interface ServingSnapshot {
  versions: VersionSnapshot[];
  roles: RoleSnapshot[];
  /** Requests accepted and not yet answered, per model. */
  inFlight: Map<string, number>;
}

/**
 * A histogram whose series are fed directly (see the module comment), exposed to the
 * registry with prom-client's metric interface: `get()` in the shape its own histograms
 * produce (`_bucket` with cumulative `le` counts, `_sum`, `_count`) and `reset()`.
 */
export class PreaggregatedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly collect = undefined;
  readonly #series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Histogram);
  }

  /** The series of one label set, created on first use; keep it to observe without lookups. */
  series(labels: Record<string, string>): HistogramSeries {
    const key = Object.values(labels).join('\u0000');
    let s = this.#series.get(key);
    if (!s) {
      s = new HistogramSeries(labels, this.bounds);
      this.#series.set(key, s);
    }
    return s;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> }> {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.#series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i] as number;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Every series so far. */
  allSeries(): IterableIterator<HistogramSeries> {
    return this.#series.values();
  }

  /** Forgets every series (prom-client's registry.resetMetrics()). */
  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Successful requests of one model version not yet handed to the counter. */
interface PendingOk {
  labels: { model: string; version: string };
  v2: number;
  mlflow: number;
}

/** Requests of one split side not yet handed to the counter. */
interface PendingRole {
  labels: { model: string; version: string; role: string };
  n: number;
}

/** The serving metrics registered on one registry. */
export class ServingMetrics {
  readonly requests: Counter<'model' | 'version' | 'protocol' | 'status'>;
  readonly latency: PreaggregatedHistogram;
  readonly queueTime: PreaggregatedHistogram;
  readonly batchSize: PreaggregatedHistogram;
  readonly loadTime: Histogram<'model'>;
  readonly loadFailures: Counter<'model'>;
  readonly splitRequests: Counter<'model' | 'version' | 'role'>;
  readonly splitLatency: PreaggregatedHistogram;
  readonly #pendingRole: PendingRole[] = [];
  readonly #roles = new Map<string, RoleMetrics>();
  readonly #sources = new Set<ServingGaugeSource>();
  readonly #pendingOk: PendingOk[] = [];
  readonly #inFlight = new Map<string, { n: number }>();

  private constructor(registry: Registry) {
    const registers = [registry];
    const pendingOk = this.#pendingOk;
    this.requests = new Counter({
      name: 'slipway_serving_requests_total',
      help: 'Inference requests by model, version, protocol and HTTP status.',
      labelNames: ['model', 'version', 'protocol', 'status'],
      registers,
      collect() {
        for (const p of pendingOk) {
          if (p.v2 > 0) this.inc({ ...p.labels, protocol: 'v2', status: '200' }, p.v2);
          if (p.mlflow > 0) this.inc({ ...p.labels, protocol: 'mlflow', status: '200' }, p.mlflow);
          p.v2 = 0;
          p.mlflow = 0;
        }
      },
    });
    this.latency = new PreaggregatedHistogram('slipway_serving_request_duration_seconds', 'Time from request decoding to response, per model version.', LATENCY_BUCKETS, registry);
    this.queueTime = new PreaggregatedHistogram('slipway_serving_queue_duration_seconds', 'Time requests waited in the batching queue.', LATENCY_BUCKETS, registry);
    this.batchSize = new PreaggregatedHistogram('slipway_serving_batch_size_rows', 'Rows per executed batch.', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024], registry);
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
    const pendingRole = this.#pendingRole;
    this.splitRequests = new Counter({
      name: 'slipway_serving_split_requests_total',
      help: 'Requests of models whose traffic is split, by model, version and role (champion, challenger, or shadow for mirrored copies).',
      labelNames: ['model', 'version', 'role'],
      registers,
      collect() {
        for (const p of pendingRole) {
          if (p.n > 0) this.inc(p.labels, p.n);
          p.n = 0;
        }
      },
    });
    this.splitLatency = new PreaggregatedHistogram(
      'slipway_serving_split_request_duration_seconds',
      'Latency of answered requests of models whose traffic is split, per model version and role.',
      LATENCY_BUCKETS,
      registry,
    );
    const inFlight = this.#inFlight;
    new Gauge({
      name: 'slipway_serving_inflight_requests',
      help: 'Requests accepted and not yet answered.',
      labelNames: ['model'],
      registers,
      collect() {
        for (const [model, c] of inFlight) this.set({ model }, c.n);
      },
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

  /** Label-bound metrics of one model version, cached: the hot path does plain additions. */
  forVersion(model: string, version: string): VersionMetrics {
    const key = `${model}\u0000${version}`;
    let c = this.#children.get(key);
    if (!c) {
      const labels = { model, version };
      const ok: PendingOk = { labels, v2: 0, mlflow: 0 };
      this.#pendingOk.push(ok);
      let inFlight = this.#inFlight.get(model);
      if (!inFlight) {
        inFlight = { n: 0 };
        this.#inFlight.set(model, inFlight);
      }
      const flight = inFlight;
      c = {
        ok: { v2: { inc: () => void (ok.v2 += 1) }, mlflow: { inc: () => void (ok.mlflow += 1) } },
        latency: this.latency.series(labels),
        queueTime: this.queueTime.series(labels),
        inFlight: { inc: () => void (flight.n += 1), dec: () => void (flight.n -= 1) },
      };
      this.#children.set(key, c);
    }
    return c;
  }

  /** Label-bound split metrics of one model version in one role, cached like `forVersion`. */
  forRole(model: string, version: string, role: 'champion' | 'challenger' | 'shadow'): RoleMetrics {
    const key = `${model}\u0000${version}\u0000${role}`;
    let r = this.#roles.get(key);
    if (!r) {
      const labels = { model, version, role };
      const pending: PendingRole = { labels, n: 0 };
      this.#pendingRole.push(pending);
      const latency = this.splitLatency.series(labels);
      r = {
        ok: (seconds) => {
          pending.n += 1;
          latency.observe(seconds);
        },
        failed: () => void (pending.n += 1),
      };
      this.#roles.set(key, r);
    }
    return r;
  }

  /** Adds a source of live gauges; returns a function that removes it. */
  addGaugeSource(source: ServingGaugeSource): () => void {
    this.#sources.add(source);
    return () => this.#sources.delete(source);
  }

  /**
   * The cumulative figures of every model version and split side: request counts by status, latency
   * buckets, queue depth and in-flight requests. Counts only grow (until the registry is reset), so a
   * reader derives rates and quantiles from the difference between two snapshots.
   */
  async snapshot(): Promise<ServingSnapshot> {
    // get() runs the counters' collect hooks first, so the pending successes are in the answer.
    const [requests, splits] = await Promise.all([this.requests.get(), this.splitRequests.get()]);
    const versions = new Map<string, VersionSnapshot>();
    const entry = (model: string, version: string): VersionSnapshot => {
      const key = `${model}\u0000${version}`;
      let v = versions.get(key);
      if (!v) {
        v = { model, version, byStatus: {}, latency: undefined, queueDepth: 0, inFlightBatches: 0 };
        versions.set(key, v);
      }
      return v;
    };
    for (const { labels, value } of requests.values) {
      if (value === 0) continue;
      const v = entry(String(labels.model), String(labels.version ?? ''));
      const status = String(labels.status);
      v.byStatus[status] = (v.byStatus[status] ?? 0) + value;
    }
    for (const s of this.latency.allSeries()) {
      if (s.labels.model === undefined || s.labels.version === undefined) continue;
      entry(s.labels.model, s.labels.version).latency = s.snapshot();
    }
    for (const source of this.#sources) {
      for (const g of source.gauges()) {
        const v = entry(g.model, g.version);
        v.queueDepth += g.queueDepth;
        v.inFlightBatches += g.inFlight;
      }
    }
    const roles = new Map<string, RoleSnapshot>();
    for (const { labels, value } of splits.values) {
      const r = { model: String(labels.model), version: String(labels.version), role: String(labels.role) };
      roles.set(`${r.model}\u0000${r.version}\u0000${r.role}`, { ...r, requests: value, latency: undefined });
    }
    for (const s of this.splitLatency.allSeries()) {
      const { model, version, role } = s.labels;
      if (model === undefined || version === undefined || role === undefined) continue;
      const key = `${model}\u0000${version}\u0000${role}`;
      const r = roles.get(key) ?? { model, version, role, requests: s.count, latency: undefined };
      r.latency = s.snapshot();
      roles.set(key, r);
    }
    const inFlight = new Map<string, number>();
    for (const [model, c] of this.#inFlight) inFlight.set(model, c.n);
    return { versions: [...versions.values()], roles: [...roles.values()], inFlight };
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
