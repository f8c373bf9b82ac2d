/**
 * Live monitoring of served models. The sampler (an inference observer) queues
 * sampled requests; every `flushIntervalMs` the monitor drains the queue, folds rows
 * into per-window profiles (one per model version and window), keeps predictions for
 * late labels, and closes windows `graceMs` after they end: the window is merged
 * with any stored copy (replicas), compared with the version's reference profile
 * (drift + quality), saved with its figures, published as gauges, and alert rules run.
 */
import type { Clock } from '../../core/clock.js';
import { SlipwayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { OutboundPolicy } from '../../core/outbound-policy.js';
import type { Store } from '../../store/store.js';
import { AlertEngine, type AlertActionHook, type AlertTransaction } from '../alerts/alert-engine.js';
import { computeDrift, type DatasetDrift, type DriftOptions } from '../drift/data-drift.js';
import type { TextDrift, TextDriftOptions } from '../drift/text-drift.js';
import { TextSummary, textSummaryDrift } from '../drift/text-summary.js';
import { ColumnProfile, type ProfileOptions } from '../profile/column-profile.js';
import { DatasetProfile } from '../profile/dataset-profile.js';
import { savePredictions, type StoredPrediction } from '../performance/performance-repository.js';
import { runQualitySuite, type QualityResult } from '../quality/quality-suite.js';
import { findReference } from '../reference/reference-repository.js';
import { InferenceSampler, type SampledRecord, type SamplerOptions } from './inference-sampler.js';
import type { MonitoringMetrics } from './monitoring-metrics.js';
import { mergeIntoStored, type WindowFigures, type WindowWrite } from './window-repository.js';

/** Options of live monitoring. */
export interface LiveMonitorOptions extends SamplerOptions {
  /** Window length in ms. @default 60000 */
  windowMs?: number;
  /** How often the queue is drained and finished windows are closed, in ms. @default 1000 */
  flushIntervalMs?: number;
  /** Wait after a window ends before closing it (late requests), in ms. @default 2000 */
  graceMs?: number;
  /** Profile options of window profiles; windows keep sketches, not raw values. @default { exactLimit: 0 } */
  profile?: ProfileOptions;
  /** Drift options for windows against the reference. */
  drift?: DriftOptions;
  /** When a text model's input counts as drifted (token-length KS p-value, Jensen–Shannon threshold). */
  textDrift?: TextDriftOptions;
  /** Keep outputs per request id for late labels. @default true */
  keepPredictions?: boolean;
  /** Where alert webhooks may be sent. @default public hosts only */
  webhookPolicy?: OutboundPolicy;
  /** Runs an alert rule's action when the rule fires (see AlertEngineOptions.onAction). */
  onAlertAction?: AlertActionHook;
  /**
   * Where alert rules are evaluated after windows close: `inline`, by the flush that closed them
   * (one process), or `job`, by `evaluateChangedAlerts`, which the holder of the alerts lease runs
   * (replicas). @default 'inline'
   */
  alertEvaluation?: 'inline' | 'job';
}

/** How far back a job's next pass looks for changed windows beyond its last start: replicas' clocks differ a little. */
const CHANGED_WINDOWS_SLACK_MS = 5000;

/** Defaults of `LiveMonitorOptions`. */
export const DEFAULT_LIVE_OPTIONS: { windowMs: number; flushIntervalMs: number; graceMs: number; sampleRate: number; maxBufferedRows: number } = {
  windowMs: 60_000,
  flushIntervalMs: 1000,
  graceMs: 2000,
  sampleRate: 1,
  maxBufferedRows: 100_000,
};

interface OpenWindow {
  model: string;
  version: string;
  windowStart: number;
  rows: number;
  requests: number;
  droppedRows: number;
  profile: DatasetProfile;
}

/** Column names for a record's inputs and outputs. */
function columnNames(r: SampledRecord): { inputs: string[]; outputs: string[] } {
  const width = r.inputs && r.rows > 0 ? r.inputs.length / r.rows : 0;
  const inputs = r.columns && r.columns.length === width ? r.columns : Array.from({ length: width }, (_, i) => `input_${i}`);
  const ow = r.outputWidth ?? (r.outputs && r.rows > 0 ? r.outputs.length / r.rows : 0);
  const outputs = ow === 1 ? ['prediction'] : Array.from({ length: ow }, (_, i) => `prediction_${i}`);
  return { inputs, outputs };
}

/** The live monitor of one server. */
export class LiveMonitor {
  readonly sampler: InferenceSampler;
  readonly alerts: AlertEngine;
  private readonly open = new Map<string, OpenWindow>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** Windows updated at or after this time have rules still to evaluate (job mode); undefined: evaluate every rule. */
  private alertsSince: number | undefined;
  private readonly opts: LiveMonitorOptions & typeof DEFAULT_LIVE_OPTIONS;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly logger: Logger,
    opts: LiveMonitorOptions = {},
    private readonly metrics?: MonitoringMetrics,
  ) {
    this.opts = { ...DEFAULT_LIVE_OPTIONS, ...opts };
    if (!(this.opts.sampleRate > 0 && this.opts.sampleRate <= 1)) throw new SlipwayError('INVALID_ARGUMENT', `The monitoring sample rate must be in (0, 1], got ${this.opts.sampleRate}.`);
    if (!Number.isInteger(this.opts.windowMs) || this.opts.windowMs < 1000) throw new SlipwayError('INVALID_ARGUMENT', `The monitoring window must be a whole number of ms, at least 1000, got ${this.opts.windowMs}.`);
    this.sampler = new InferenceSampler({ ...opts, bucketMs: this.opts.windowMs });
    this.alerts = new AlertEngine(store, clock, logger, undefined, opts.webhookPolicy, opts.onAlertAction ? { onAction: opts.onAlertAction } : {});
  }

  /** Window length in ms. */
  get windowMs(): number {
    return this.opts.windowMs;
  }

  /** Starts the periodic flush (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    // A failed periodic flush is logged by flush(); the next one tries again.
    this.timer = setInterval(() => void this.flush().catch(() => {}), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the periodic flush without closing windows. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops the timer and closes every open window (a failure is logged: shutdown goes on). */
  async close(): Promise<void> {
    this.stop();
    await this.flush(true).catch(() => {});
  }

  /**
   * Drains the queue and closes finished windows (all windows with `closeAll`); serialised.
   * Rejects when writing failed (the failure is also logged); later flushes still run.
   */
  flush(closeAll = false): Promise<void> {
    const run = this.flushing.then(() => this.doFlush(closeAll));
    this.flushing = run.catch((err: unknown) => this.logger.error({ err }, 'monitoring: flush failed'));
    return run;
  }

  private windowOf(model: string, version: string, time: number): OpenWindow {
    const start = Math.floor(time / this.opts.windowMs) * this.opts.windowMs;
    const key = `${model}\u0000${version}\u0000${start}`;
    let w = this.open.get(key);
    if (!w) this.open.set(key, (w = { model, version, windowStart: start, rows: 0, requests: 0, droppedRows: 0, profile: new DatasetProfile(0, new Map()) }));
    return w;
  }

  private fold(r: SampledRecord, w: OpenWindow): void {
    const { inputs, outputs } = columnNames(r);
    const p = w.profile;
    const profileOpts = { exactLimit: 0, ...this.opts.profile };
    const addMatrix = (names: string[], data: ArrayLike<number> | undefined) => {
      if (!data || names.length === 0) return;
      const width = names.length;
      const col = new Float64Array(r.rows);
      names.forEach((name, c) => {
        let cp = p.columns.get(name);
        if (!cp) {
          cp = new ColumnProfile(name, 'numerical', profileOpts);
          // Rows seen before this column appeared count as missing.
          cp.rows = p.rows;
          cp.missing = p.rows;
          p.columns.set(name, cp);
        }
        for (let i = 0; i < r.rows; i++) col[i] = data[i * width + c] as number;
        cp.addNumbers(col);
      });
    };
    addMatrix(inputs, r.inputs);
    if (r.texts) {
      // Profiled here, off the request path, with the model's own tokenizer.
      let t = p.texts.get(r.texts.input);
      if (!t) p.texts.set(r.texts.input, (t = new TextSummary()));
      for (const v of r.texts.values) {
        try {
          t.add(v, r.texts.tokenizer);
        } catch (err) {
          // One text the tokenizer cannot take must not lose the rest of the drain.
          this.logger.warn({ err, model: r.model, version: r.version }, 'monitoring: a text could not be tokenised; it is left out of the window text summary');
        }
      }
    }
    addMatrix(outputs, r.outputs);
    p.rows += r.rows;
    for (const cp of p.columns.values()) {
      if (cp.rows < p.rows) {
        cp.missing += p.rows - cp.rows;
        cp.rows = p.rows;
      }
    }
    w.rows += r.rows;
    w.requests++;
  }

  private async doFlush(closeAll: boolean): Promise<void> {
    const { records, counts } = this.sampler.drain();
    const predictions: StoredPrediction[] = [];
    for (const r of records) {
      const w = this.windowOf(r.model, r.version, r.time);
      this.fold(r, w);
      this.metrics?.sampledRows.inc({ model: r.model }, r.rows);
      if (this.opts.keepPredictions !== false && r.requestId && r.outputs) {
        predictions.push({ requestId: r.requestId, model: r.model, version: r.version, time: r.time, windowStart: w.windowStart, outputs: Array.from(r.outputs), outputWidth: r.outputWidth ?? r.outputs.length / Math.max(1, r.rows) });
      }
    }
    const now = this.clock.now();
    for (const [key, dropped] of counts.droppedRows) {
      const [model, version, start] = key.split('\u0000') as [string, string, string];
      this.windowOf(model, version, Number(start)).droppedRows += dropped;
      this.metrics?.droppedRows.inc({ model }, dropped);
    }
    if (predictions.length > 0) await savePredictions(this.store, predictions);
    const models = new Set<string>();
    for (const [key, w] of this.open) {
      if (!closeAll && w.windowStart + this.opts.windowMs + this.opts.graceMs > now) continue;
      // Closed only once stored: a window whose write failed stays open for the next flush.
      await this.closeWindow(w, now);
      this.open.delete(key);
      models.add(w.model);
    }
    if (this.opts.alertEvaluation === 'job') return;
    for (const m of models) await this.alerts.evaluate(m);
  }

  /**
   * Evaluates the alert rules of every model whose windows were written (by any replica) since the
   * last pass, all rules on the first pass after `resetAlertCursor`; state changes commit through
   * `transaction` (the lease's fence), so a process that lost the alerts lease changes nothing.
   */
  async evaluateChangedAlerts(transaction?: AlertTransaction): Promise<void> {
    const startedAt = this.clock.now();
    if (this.alertsSince === undefined) {
      await this.alerts.evaluate(undefined, transaction);
    } else {
      const rows = await this.store.db.selectFrom('monitoring_windows').select('model').distinct().where('updated_time', '>=', this.alertsSince).execute();
      for (const { model } of rows) await this.alerts.evaluate(model, transaction);
    }
    this.alertsSince = startedAt - CHANGED_WINDOWS_SLACK_MS;
  }

  /** Makes the next `evaluateChangedAlerts` evaluate every rule (a new lease holder catches up on what it missed). */
  resetAlertCursor(): void {
    this.alertsSince = undefined;
  }

  private async closeWindow(w: OpenWindow, now: number): Promise<void> {
    // Read before the transaction: on SQLite one connection serves both, and the transaction holds it.
    const ref = await findReference(this.store, w.model, w.version);
    let result: ReturnType<LiveMonitor['figuresWith']> | undefined;
    const merged = await mergeIntoStored(
      this.store,
      { ...w, windowEnd: w.windowStart + this.opts.windowMs },
      (whole) => (result = this.figuresWith(ref, whole)).figures,
      now,
    );
    this.metrics?.publish(w.model, w.version, merged.rows, result?.drift, result?.quality, result?.text);
  }

  /** Drift and quality of a window against its version's reference, as flat figures. */
  async figuresOf(w: WindowWrite): Promise<{ figures: WindowFigures; drift?: DatasetDrift; quality?: QualityResult; text?: Record<string, TextDrift> }> {
    return this.figuresWith(await findReference(this.store, w.model, w.version), w);
  }

  private figuresWith(ref: Awaited<ReturnType<typeof findReference>>, w: WindowWrite): { figures: WindowFigures; drift?: DatasetDrift; quality?: QualityResult; text?: Record<string, TextDrift> } {
    const figures: WindowFigures = { rows: w.rows, requests: w.requests, dropped_rows: w.droppedRows };
    for (const [name, c] of w.profile.columns) figures[`missing_share:${name}`] = c.rows > 0 ? c.missing / c.rows : 0;
    // Text quality needs no reference; text drift compares with the reference's summary of the same input.
    for (const [name, t] of w.profile.texts) {
      figures[`text_oov_rate:${name}`] = t.oovRate;
      figures[`text_empty_share:${name}`] = t.rows > 0 ? t.empty / t.rows : 0;
      figures[`text_non_text_share:${name}`] = t.rows > 0 ? t.nonText / t.rows : 0;
    }
    if (!ref) return { figures };
    const text: Record<string, TextDrift> = {};
    for (const [name, t] of w.profile.texts) {
      const refText = ref.profile.texts.get(name);
      if (!refText) continue;
      const d = (text[name] = textSummaryDrift(refText, t, this.opts.textDrift));
      figures[`text_drift:${name}`] = d.drift ? 1 : 0;
      figures[`text_length_pvalue:${name}`] = d.tokenLength.pValue;
      figures[`text_token_js:${name}`] = d.tokens.jensenShannon;
    }
    const textDrifted = Object.values(text).filter((d) => d.drift).length;
    // Only features the reference knows (the model's inputs, and outputs when profiled).
    // Reference columns the served model never sees (e.g. the target) are left out.
    const exclude = [...(this.opts.drift?.exclude ?? []), ...ref.profile.names.filter((n) => !w.profile.columns.has(n))];
    const drift = computeDrift(ref.profile, w.profile, { ...this.opts.drift, exclude });
    const quality = runQualitySuite(ref.profile, w.profile, { exclude }, {}, drift);
    figures.drift_share = drift.share;
    // A drifted text input counts as a drifted column, and makes the window's data drifted.
    figures.drifted_columns = drift.driftedColumns + textDrifted;
    figures.dataset_drift = drift.drifted || textDrifted > 0 ? 1 : 0;
    figures.quality_failed = quality.counts.fail + quality.counts.error;
    figures.quality_warned = quality.counts.warn;
    for (const c of drift.columns) if (c.score !== null) figures[`drift_score:${c.column}`] = c.score;
    return { figures, drift, quality, ...(Object.keys(text).length > 0 ? { text } : {}) };
  }
}
