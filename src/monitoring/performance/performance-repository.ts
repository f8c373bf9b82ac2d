/**
 * Late labels: predictions are kept per request id when they are sampled; ground truth
 * posted later (by request id) is joined with them and scored per window.
 */
import { appendAuditEvent } from '../../audit/audit-trail.js';
import { SlipwayError } from '../../core/errors.js';
import type { Store } from '../../store/store.js';
import type { MutationMeta } from '../reference/reference-repository.js';
import { classificationMetrics, regressionMetrics, type ClassificationMetrics, type RegressionMetrics } from './model-metrics.js';

/** A prediction to keep for later scoring. */
export interface StoredPrediction {
  requestId: string;
  model: string;
  version: string;
  time: number;
  windowStart: number;
  outputs: number[];
  outputWidth: number;
}

/** Ground truth for one request: one label per predicted row. */
export interface GroundTruth {
  requestId: string;
  labels: number[];
}

/** What `recordGroundTruth` did. */
export interface GroundTruthResult {
  accepted: number;
  /** Request ids with no stored prediction (not sampled, unknown or expired). */
  unknown: string[];
}

const MAX_BATCH = 10_000;

/** Stores predictions (ignoring request ids already stored). */
export async function savePredictions(store: Store, predictions: StoredPrediction[]): Promise<void> {
  // PostgreSQL refuses a NUL in text, which would fail the whole chunk and lose its other predictions;
  // such an id cannot be labelled on every backend anyway, so its prediction is not kept.
  const storable = predictions.filter((p) => !p.requestId.includes('\u0000'));
  for (let i = 0; i < storable.length; i += 500) {
    const chunk = storable.slice(i, i + 500);
    await store.db
      .insertInto('monitoring_predictions')
      .values(chunk.map((p) => ({ request_id: p.requestId, model: p.model, version: p.version, time: p.time, window_start: p.windowStart, outputs: JSON.stringify(p.outputs), output_width: p.outputWidth })))
      .onConflict((oc) => oc.column('request_id').doNothing())
      .execute();
  }
}

/** Validates a ground-truth payload, naming the first bad item. */
export function parseGroundTruth(body: unknown): GroundTruth[] {
  const items = (body as { labels?: unknown } | null)?.labels;
  if (!Array.isArray(items)) throw new SlipwayError('MALFORMED_REQUEST', "Expected a JSON object with 'labels': [{ requestId, label | labels }].");
  if (items.length === 0) throw new SlipwayError('INVALID_ARGUMENT', "'labels' is empty.");
  if (items.length > MAX_BATCH) throw new SlipwayError('LIMIT_EXCEEDED', `At most ${MAX_BATCH} labels per request, got ${items.length}.`);
  const seen = new Set<string>();
  return items.map((raw, i) => {
    const it = raw as { requestId?: unknown; label?: unknown; labels?: unknown } | null;
    if (!it || typeof it.requestId !== 'string' || it.requestId === '') throw new SlipwayError('INVALID_ARGUMENT', `labels[${i}].requestId must be a non-empty string.`);
    // Two labellings of one request in one batch are ambiguous (and one upsert cannot write a row twice).
    if (seen.has(it.requestId)) throw new SlipwayError('INVALID_ARGUMENT', `labels[${i}].requestId '${it.requestId}' appears more than once in this request.`);
    seen.add(it.requestId);
    const labels = it.labels !== undefined ? it.labels : [it.label];
    if (!Array.isArray(labels) || labels.length === 0 || labels.some((l) => typeof l !== 'number' || !Number.isFinite(l))) {
      throw new SlipwayError('INVALID_ARGUMENT', `labels[${i}] needs a finite numeric 'label' or a non-empty 'labels' array of numbers.`);
    }
    return { requestId: it.requestId, labels: labels as number[] };
  });
}

/** Stores ground truth; labels for unknown request ids are reported, not stored. Re-posting replaces the labels. */
export async function recordGroundTruth(store: Store, model: string, items: GroundTruth[], meta: MutationMeta): Promise<GroundTruthResult> {
  const ids = items.map((i) => i.requestId);
  const known = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await store.db.selectFrom('monitoring_predictions').select(['request_id', 'outputs', 'output_width']).where('model', '=', model).where('request_id', 'in', ids.slice(i, i + 500)).execute();
    for (const r of rows) known.set(r.request_id, (JSON.parse(r.outputs) as number[]).length / Math.max(1, r.output_width));
  }
  const unknown: string[] = [];
  const accepted: GroundTruth[] = [];
  for (const it of items) {
    const rows = known.get(it.requestId);
    if (rows === undefined) unknown.push(it.requestId);
    else if (rows !== it.labels.length) throw new SlipwayError('INVALID_ARGUMENT', `Request ${it.requestId} predicted ${rows} row(s) but ${it.labels.length} label(s) were given.`);
    else accepted.push(it);
  }
  if (accepted.length > 0) {
    await store.db.transaction().execute(async (trx) => {
      for (let i = 0; i < accepted.length; i += 500) {
        await trx
          .insertInto('monitoring_ground_truth')
          .values(accepted.slice(i, i + 500).map((a) => ({ request_id: a.requestId, labels: JSON.stringify(a.labels), received_time: meta.time })))
          .onConflict((oc) => oc.column('request_id').doUpdateSet((eb) => ({ labels: eb.ref('excluded.labels'), received_time: eb.ref('excluded.received_time') })))
          .execute();
      }
      await appendAuditEvent(trx, store.dialect, { actor: meta.actor, action: 'monitoring.ground_truth.record', entityType: 'registered_model', entityId: model, requestId: meta.requestId, change: { model, requests: accepted.map((a) => a.requestId) }, time: meta.time });
    });
  }
  return { accepted: accepted.length, unknown };
}

/** Performance of one window. */
export interface WindowPerformance {
  windowStart: number;
  version: string;
  labelled: number;
  task: 'classification' | 'regression';
  classification?: ClassificationMetrics;
  regression?: RegressionMetrics;
}

/**
 * Scores labelled predictions per window. `task` defaults to classification when every
 * label is 0 or 1 and every score is in [0, 1]; the score of a 2-wide output is column 1.
 */
export async function windowPerformance(store: Store, model: string, opts: { from?: number; to?: number; task?: 'classification' | 'regression' } = {}): Promise<WindowPerformance[]> {
  let q = store.db
    .selectFrom('monitoring_predictions as p')
    .innerJoin('monitoring_ground_truth as g', 'g.request_id', 'p.request_id')
    .select(['p.window_start', 'p.version', 'p.outputs', 'p.output_width', 'g.labels'])
    .where('p.model', '=', model);
  if (opts.from !== undefined) q = q.where('p.window_start', '>=', opts.from);
  if (opts.to !== undefined) q = q.where('p.window_start', '<', opts.to);
  const rows = await q.orderBy('p.window_start').orderBy('p.request_id').execute();
  const groups = new Map<string, { windowStart: number; version: string; y: number[]; p: number[] }>();
  for (const r of rows) {
    const key = `${r.window_start}|${r.version}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { windowStart: Number(r.window_start), version: r.version, y: [], p: [] }));
    const outputs = JSON.parse(r.outputs) as number[];
    const labels = JSON.parse(r.labels) as number[];
    const w = Math.max(1, r.output_width);
    for (let i = 0; i < labels.length; i++) {
      g.y.push(labels[i] as number);
      g.p.push(outputs[i * w + (w === 2 ? 1 : 0)] as number);
    }
  }
  const out: WindowPerformance[] = [];
  for (const g of groups.values()) {
    const binary = g.y.every((v) => v === 0 || v === 1) && g.p.every((v) => v >= 0 && v <= 1);
    const task = opts.task ?? (binary ? 'classification' : 'regression');
    out.push(
      task === 'classification'
        ? { windowStart: g.windowStart, version: g.version, labelled: g.y.length, task, classification: classificationMetrics(g.y, g.p) }
        : { windowStart: g.windowStart, version: g.version, labelled: g.y.length, task, regression: regressionMetrics(g.y, g.p) },
    );
  }
  return out;
}
