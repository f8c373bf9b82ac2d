/** Prometheus gauges of live monitoring, created once per registry (prom-client). */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DatasetDrift } from '../drift/data-drift.js';
import type { TextDrift } from '../drift/text-drift.js';
import type { QualityResult } from '../quality/quality-suite.js';

const byRegistry = new WeakMap<Registry, MonitoringMetrics>();

/** The monitoring metrics on one registry. */
export class MonitoringMetrics {
  readonly driftScore: Gauge<'model' | 'version' | 'feature' | 'test'>;
  readonly featureDrifted: Gauge<'model' | 'version' | 'feature'>;
  readonly driftShare: Gauge<'model' | 'version'>;
  readonly qualityTests: Gauge<'model' | 'version' | 'status'>;
  readonly windowRows: Gauge<'model' | 'version'>;
  readonly windowClosed: Gauge<'model' | 'version'>;
  readonly sampledRows: Counter<'model'>;
  readonly droppedRows: Counter<'model'>;

  private constructor(registry: Registry) {
    const registers = [registry];
    this.driftScore = new Gauge({ name: 'slipway_monitoring_drift_score', help: 'Drift score of a feature in the last closed window (p-value or distance, see the test label).', labelNames: ['model', 'version', 'feature', 'test'], registers, aggregator: 'max' });
    this.featureDrifted = new Gauge({ name: 'slipway_monitoring_feature_drifted', help: '1 when the feature drifted in the last closed window.', labelNames: ['model', 'version', 'feature'], registers, aggregator: 'max' });
    this.driftShare = new Gauge({ name: 'slipway_monitoring_drift_share', help: 'Share of drifted features in the last closed window.', labelNames: ['model', 'version'], registers, aggregator: 'max' });
    this.qualityTests = new Gauge({ name: 'slipway_monitoring_quality_tests', help: 'Quality tests of the last closed window by status.', labelNames: ['model', 'version', 'status'], registers, aggregator: 'max' });
    this.windowRows = new Gauge({ name: 'slipway_monitoring_window_rows', help: 'Rows profiled in the last closed window.', labelNames: ['model', 'version'], registers, aggregator: 'max' });
    // An alert on its age finds windows that stop closing while rows keep arriving (deploy/prometheus/slipway-alerts.yml).
    this.windowClosed = new Gauge({ name: 'slipway_monitoring_window_closed_timestamp_seconds', help: 'Unix time this process last closed and published a window.', labelNames: ['model', 'version'], registers, aggregator: 'max' });
    this.sampledRows = new Counter({ name: 'slipway_monitoring_sampled_rows_total', help: 'Inference rows sampled for monitoring.', labelNames: ['model'], registers });
    this.droppedRows = new Counter({ name: 'slipway_monitoring_dropped_rows_total', help: 'Sampled inference rows dropped because the monitoring buffer was full.', labelNames: ['model'], registers });
  }

  /** The metrics on `registry`, created on first use. */
  static for(registry: Registry): MonitoringMetrics {
    let m = byRegistry.get(registry);
    if (!m) byRegistry.set(registry, (m = new MonitoringMetrics(registry)));
    return m;
  }

  /** Publishes a closed window's drift and quality; a text input's drift as a feature's, with the tests `text_length_ks` and `text_token_jensenshannon`. */
  publish(model: string, version: string, rows: number, drift: DatasetDrift | undefined, quality: QualityResult | undefined, text?: Record<string, TextDrift>): void {
    this.windowRows.set({ model, version }, rows);
    this.windowClosed.set({ model, version }, Date.now() / 1000);
    if (drift) {
      this.driftShare.set({ model, version }, drift.share);
      for (const c of drift.columns) {
        if (c.score === null || c.test === null) continue;
        this.driftScore.set({ model, version, feature: c.column, test: c.test }, c.score);
        this.featureDrifted.set({ model, version, feature: c.column }, c.drifted ? 1 : 0);
      }
    }
    if (quality) for (const [status, n] of Object.entries(quality.counts)) this.qualityTests.set({ model, version, status }, n);
    for (const [feature, d] of Object.entries(text ?? {})) {
      this.driftScore.set({ model, version, feature, test: 'text_length_ks' }, d.tokenLength.pValue);
      this.driftScore.set({ model, version, feature, test: 'text_token_jensenshannon' }, d.tokens.jensenShannon);
      this.featureDrifted.set({ model, version, feature }, d.drift ? 1 : 0);
    }
  }
}
