/**
 * Wire types of the monitoring routes the SDK calls. Those routes validate their own bodies
 * (see docs/monitoring.md), so these are plain types rather than zod schemas.
 */

/** A late label for one prediction, by the request id it was served under: one `label`, or `labels` for a batch request's rows. */
export type GroundTruthLabel = { requestId: string; label: unknown } | { requestId: string; labels: unknown[] };

/** What recording ground truth did. */
export interface GroundTruthResult {
  /** Labels stored (joined with their predictions). */
  accepted: number;
  /** Request ids with no stored prediction for the model; their labels were not stored. */
  unknown: string[];
}

/** A stored live window as `GET /api/v1/monitoring/models/:name/windows` lists it. */
export interface MonitoringWindow {
  model: string;
  version: string;
  windowStart: number;
  windowEnd: number;
  rows: number;
  requests: number;
  droppedRows: number;
  /** `rows`, `drift_share`, `drifted_columns`, `dataset_drift`, `quality_failed`, `quality_warned`, `drift_score:<feature>`, `missing_share:<feature>`; for a text model `text_drift:<input>`, `text_length_pvalue:<input>`, `text_token_js:<input>`, `text_oov_rate:<input>`, `text_empty_share:<input>`, `text_non_text_share:<input>`. */
  figures: Record<string, number | null>;
}

/** The answer of `GET /api/v1/monitoring/models/:name/windows`, newest window first. */
export interface MonitoringWindowList {
  windowMs: number;
  windows: MonitoringWindow[];
}

/** One monitored model as `GET /api/v1/monitoring/models` lists it. */
export interface MonitoredModel {
  model: string;
  references: Array<{ version: string; rows: number; source: string | null; createdTime: number }>;
  latestWindow: { version: string; windowStart: number; windowEnd: number; rows: number; figures: Record<string, number | null> } | null;
  /** Rules watching the model, and the names of those firing. */
  alerts: { total: number; firing: string[] };
}

/** The answer of `GET /api/v1/monitoring/models`. */
export interface MonitoredModelList {
  windowMs: number;
  models: MonitoredModel[];
}

/** Drift of one feature in a window or report. */
export interface FeatureDrift {
  column: string;
  kind: string;
  status: 'ok' | 'drift' | 'skipped';
  drifted: boolean;
  test: string | null;
  scoreKind: 'p-value' | 'distance' | null;
  score: number | null;
  statistic: number | null;
  threshold: number | null;
  severity: number;
  referenceCount: number;
  currentCount: number;
  approximate: boolean;
  note?: string;
}

/** One data-quality test result. */
export interface QualityTestResult {
  name: string;
  column?: string;
  status: 'pass' | 'warn' | 'fail' | 'error';
  value: number | null;
  condition: string;
  message: string;
}

/** The answer of `GET /api/v1/monitoring/models/:name/windows/:windowStart`: the window compared with its reference. */
export interface MonitoringWindowDetail {
  model: string;
  version: string;
  windowStart: number;
  windowEnd: number;
  rows: number;
  requests: number;
  droppedRows: number;
  figures: Record<string, number | null>;
  /** The version's reference, or null (then drift and quality are null too). */
  reference: { rows: number; source: string | null; createdTime: number } | null;
  drift: { drifted: boolean; driftShare: number; driftedColumns: number; testedColumns: number; share: number; columns: FeatureDrift[] } | null;
  quality: { status: 'pass' | 'warn' | 'fail' | 'error'; counts: Record<'pass' | 'warn' | 'fail' | 'error', number>; tests: QualityTestResult[] } | null;
}

/** An alert rule with its state, as `GET /api/v1/monitoring/alerts` lists it. */
export interface MonitoringAlert {
  id: string;
  name: string;
  model: string;
  figure: string;
  comparison: '>' | '>=' | '<' | '<=' | '==' | '!=';
  threshold: number;
  forWindows: number;
  webhookUrl: string | null;
  action: { kind: string; environment?: string; run?: string } | null;
  createdTime: number;
  state: 'ok' | 'firing';
  consecutive: number;
  lastValue: number | null;
  lastWindow: number | null;
  since: number | null;
}

/** One transition of an alert rule (`GET /api/v1/monitoring/alerts/:id/events`). */
export interface MonitoringAlertEvent {
  dedupKey: string;
  kind: string;
  time: number;
  value: number | null;
  delivered: boolean;
  attempts: number;
  lastError: string | null;
}

/** Model performance of one window once labels arrived (`GET /api/v1/monitoring/models/:name/performance`). */
export interface WindowPerformance {
  windowStart: number;
  version: string;
  labelled: number;
  task: 'classification' | 'regression';
  classification?: Record<string, number | null>;
  regression?: Record<string, number | null>;
}
