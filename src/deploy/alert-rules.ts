/**
 * Prometheus alerting rules for Slipway servers: serving (errors, p99 latency, load shedding, model load
 * failures), tracking (5xx ratio, p99 latency) and monitoring (drift, windows not closing, dropped rows).
 * Every metric named is one the server exports at /metrics (a test scrapes a server to check). They are
 * rendered as deploy/prometheus/slipway-alerts.yml for `rule_files:` and as a PrometheusRule object for the
 * Prometheus Operator; both come from here, and a test keeps the committed file equal to the rendering.
 */
import { stringify } from 'yaml';
import type { DeployOptions } from './deploy-options.js';
import type { KubernetesObject } from './kubernetes-manifests.js';

/** One alerting rule, as Prometheus reads it. */
export interface AlertRule {
  alert: string;
  expr: string;
  /** How long the condition must hold; absent: fire at once. */
  for?: string;
  labels: { severity: 'warning' | 'critical' };
  annotations: { summary: string; description: string };
}

/** A named group of rules. */
export interface AlertRuleGroup {
  name: string;
  rules: AlertRule[];
}

/** Slipway's alerting rules. Thresholds are starting points, explained in docs/deploy.md. */
export const ALERT_RULE_GROUPS: readonly AlertRuleGroup[] = [
  {
    name: "slipway-serving",
    rules: [
      {
        // 500 (inference failed) and 504 (deadline passed); 503 is load shedding, alerted on by its own rule.
        alert: "SlipwayServingErrorRatioHigh",
        expr: `(
  sum by (model) (rate(slipway_serving_requests_total{status=~"5..", status!="503"}[5m]))
  /
  sum by (model) (rate(slipway_serving_requests_total[5m]))
) > 0.05`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: "Model {{ $labels.model }}: {{ $value | humanizePercentage }} of inference requests fail",
          description: "More than 5% of requests to {{ $labels.model }} answered 500 or 504 over 5 minutes. Check the server log and slipway_serving_model_load_failures_total.",
        },
      },
      {
        alert: "SlipwayServingLatencyP99High",
        expr: "histogram_quantile(0.99, sum by (model, le) (rate(slipway_serving_request_duration_seconds_bucket[5m]))) > 0.25",
        for: "10m",
        labels: { severity: "warning" },
        annotations: {
          summary: "Model {{ $labels.model }}: p99 inference latency {{ $value | humanizeDuration }}",
          description: "The 99th percentile of request time for {{ $labels.model }} stayed above 250ms for 10 minutes. Look at queue depth and batch size; add replicas (docs/serving.md).",
        },
      },
      {
        // A full queue answers 503 with Retry-After (docs/serving.md, Overload and deadlines).
        alert: "SlipwayServingLoadShedding",
        expr: `(
  sum by (model) (rate(slipway_serving_requests_total{status="503"}[5m]))
  /
  sum by (model) (rate(slipway_serving_requests_total[5m]))
) > 0.01`,
        for: "5m",
        labels: { severity: "warning" },
        annotations: {
          summary: "Model {{ $labels.model }}: {{ $value | humanizePercentage }} of requests shed",
          description: "More than 1% of requests to {{ $labels.model }} got 503 for 5 minutes: queues are full or replicas drain. Scale out or raise --max-queue-size.",
        },
      },
      {
        alert: "SlipwayModelLoadFailures",
        expr: "sum by (model) (increase(slipway_serving_model_load_failures_total[15m])) > 0",
        labels: { severity: "critical" },
        annotations: {
          summary: "Model {{ $labels.model }} failed to load",
          description: "A version of {{ $labels.model }} failed to load in the last 15 minutes; the replica keeps serving the version it had, or is not ready. The server log names the reason.",
        },
      },
    ],
  },
  {
    name: "slipway-tracking",
    rules: [
      {
        alert: "SlipwayTrackingServerErrors",
        expr: `(
  sum by (api) (rate(slipway_http_requests_total{code=~"5.."}[5m]))
  /
  sum by (api) (rate(slipway_http_requests_total[5m]))
) > 0.02`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: "{{ $labels.api }} API: {{ $value | humanizePercentage }} of requests answer 5xx",
          description: "More than 2% of tracking and registry requests answered 5xx over 5 minutes. A 503 usually means the metadata store is unreachable; check /api/v1/health.",
        },
      },
      {
        alert: "SlipwayTrackingLatencyP99High",
        expr: "histogram_quantile(0.99, sum by (api, le) (rate(slipway_http_request_duration_seconds_bucket[5m]))) > 2",
        for: "15m",
        labels: { severity: "warning" },
        annotations: {
          summary: "{{ $labels.api }} API: p99 latency {{ $value | humanizeDuration }}",
          description: "The 99th percentile of tracking and registry request time stayed above 2s for 15 minutes; check the metadata store.",
        },
      },
    ],
  },
  {
    name: "slipway-monitoring",
    rules: [
      {
        alert: "SlipwayFeatureDrift",
        expr: "max by (model, version, feature) (slipway_monitoring_feature_drifted) == 1",
        for: "15m",
        labels: { severity: "warning" },
        annotations: {
          summary: "Model {{ $labels.model }} v{{ $labels.version }}: feature {{ $labels.feature }} drifted",
          description: "The feature drifted from the reference in every closed window for 15 minutes. Compare windows with slipway monitor report.",
        },
      },
      {
        alert: "SlipwayDriftShareHigh",
        expr: "max by (model, version) (slipway_monitoring_drift_share) > 0.3",
        for: "15m",
        labels: { severity: "critical" },
        annotations: {
          summary: "Model {{ $labels.model }} v{{ $labels.version }}: {{ $value | humanizePercentage }} of features drifted",
          description: "Over 30% of the features drifted for 15 minutes: the input population changed; consider retraining.",
        },
      },
      {
        // Rows keep being sampled but no replica closed a window for 15 minutes (3 windows of 5m, 15 of the default
        // 1m): the flush job is stuck or no replica holds its lease. The newest close over all replicas, since one flushes.
        alert: "SlipwayMonitoringWindowsNotFlushed",
        expr: `(sum by (model) (increase(slipway_monitoring_sampled_rows_total[15m])) > 0)
unless on (model)
(time() - max by (model) (slipway_monitoring_window_closed_timestamp_seconds) < 900)`,
        for: "5m",
        labels: { severity: "critical" },
        annotations: {
          summary: "Model {{ $labels.model }}: monitoring windows are not being closed",
          description: "Rows are sampled for {{ $labels.model }} but no window closed in 15 minutes; drift and quality are not evaluated. Check the server log of the replica holding the monitoring lease.",
        },
      },
      {
        alert: "SlipwayMonitoringRowsDropped",
        expr: "sum by (model) (increase(slipway_monitoring_dropped_rows_total[10m])) > 0",
        for: "10m",
        labels: { severity: "warning" },
        annotations: {
          summary: "Model {{ $labels.model }}: sampled rows dropped",
          description: "The monitoring buffer was full and dropped rows for 10 minutes; lower SLIPWAY_MONITORING_SAMPLE_RATE or the window.",
        },
      },
    ],
  },
];

/** The rules file deploy/prometheus/slipway-alerts.yml holds. */
export function renderAlertRulesFile(): string {
  const header = [
    '# Prometheus alerting rules for Slipway servers (`slipway server`, `slipway serve`).',
    '# Rendered by `slipway deploy render prometheus-rules` from src/deploy/alert-rules.ts; edit the rules',
    '# there (a test keeps this file equal to the rendering). Every metric named is one the server exports at',
    '# /metrics. Unit tests: promtool test rules deploy/prometheus/slipway-alerts.test.yml. Thresholds are',
    '# starting points: docs/deploy.md explains each rule.',
  ];
  return `${header.join('\n')}\n${stringify({ groups: ALERT_RULE_GROUPS }, { lineWidth: 0 })}`;
}

/** The rules as a PrometheusRule (monitoring.coreos.com/v1), labelled so the Prometheus that picks the ServiceMonitor picks it too. */
export function prometheusRule(o: DeployOptions, labels: Record<string, string>): KubernetesObject {
  return {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: o.name, namespace: o.namespace, labels: { ...labels, ...o.serviceMonitorLabels } },
    spec: { groups: ALERT_RULE_GROUPS.map((g) => ({ name: g.name, rules: g.rules.map((r) => ({ ...r, labels: { ...r.labels }, annotations: { ...r.annotations } })) })) },
  };
}
