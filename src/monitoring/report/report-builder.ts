/**
 * Builds a monitoring report (drift + quality + per-column overlays) from a reference
 * (table or profile) and a current table or profile. The JSON document holds summaries
 * and binned distributions only — never raw rows — so it stays small for any data size.
 */
import { DatasetProfile, profileTable } from '../profile/dataset-profile.js';
import type { ColumnProfile } from '../profile/column-profile.js';
import { SlipwayError } from '../../core/errors.js';
import { columnDrift, computeDrift, type ColumnDrift, type DatasetDrift } from '../drift/data-drift.js';
import type { TextDrift } from '../drift/text-drift.js';
import { textSummaryDrift } from '../drift/text-summary.js';
import { inferTask, labelledPerformance, type ModelTask, type SidePerformance } from '../performance/labelled-performance.js';
import { driftOptionsOf, type MonitorSpec } from '../quality/monitor-spec.js';
import { runQualitySuite, type QualityExtras, type QualityResult, type TestStatus } from '../quality/quality-suite.js';
import { columnByName, type Column, type Table } from '../table.js';
import { countDuplicateRows } from './row-duplicates.js';

/** Summary statistics of one column on one side. */
export interface ColumnSummary {
  rows: number;
  missing: number;
  distinct: number;
  min?: number | null;
  max?: number | null;
  mean?: number | null;
  std?: number | null;
  median?: number | null;
  top?: Array<{ value: string; count: number }>;
}

/** Binned reference and current shares for an overlay plot. */
export type Overlay =
  | { type: 'histogram'; edges: number[]; reference: number[]; current: number[] }
  | { type: 'categories'; labels: string[]; reference: number[]; current: number[] };

/** One column of the report. */
export interface ReportColumn {
  name: string;
  kind: string;
  /** `target` or `prediction` when declared so; features otherwise. */
  role: 'feature' | 'target' | 'prediction';
  reference: ColumnSummary;
  current: ColumnSummary | null;
  overlay: Overlay | null;
}

/** The report document (`--json`). */
export interface ReportDocument {
  format: 'slipway-report/1';
  generatedAt: string;
  status: TestStatus;
  reference: { source: string; rows: number };
  current: { source: string; rows: number };
  /** Drift of the feature columns (the target and prediction are left out). */
  drift: DatasetDrift;
  /** Drift of the declared target and prediction columns, reported apart from the features. */
  targetDrift: ColumnDrift | null;
  predictionDrift: ColumnDrift | null;
  /** Present when a target and a prediction are declared. */
  performance: ReportPerformance | null;
  quality: QualityResult;
  columns: ReportColumn[];
  /** A text model's inputs (both sides profiled with its tokenizer: a reference and live windows), by input name; absent otherwise. */
  text?: Record<string, TextDrift>;
  /** How much the model relies on each feature (mean absolute attribution on current rows), when a model was named for it. */
  importance?: ReportImportance | null;
  /** Why `importance` is null when it was asked for as optional. */
  importanceNote?: string;
}

/** Global importance of the model's features, beside their drift. */
export interface ReportImportance {
  model: string;
  version: string;
  output: string;
  method: 'exact' | 'kernel';
  /** Rows drawn from the current data and explained. */
  rows: number;
  backgroundSize: number;
  sampleBudget: number | null;
  /** Largest first; `share` is the feature's part of the sum over all features. */
  features: Array<{ name: string; meanAbsAttribution: number; share: number }>;
}

/** Model performance on the labelled rows of each side. */
export interface ReportPerformance {
  task: ModelTask;
  /** How the task was decided: from the target column's values, or set by the spec. */
  taskFrom: 'target' | 'spec';
  target: string;
  prediction: string;
  /** Null when that side has no target or prediction values (e.g. a profile, or labels not yet known). */
  reference: SidePerformance | null;
  current: SidePerformance | null;
  notes: string[];
}

/** A side of the comparison: a raw table (exact statistics) or a profile (with the table's text columns when known). */
export type ReportSide = { table: Table; source?: string } | { profile: DatasetProfile; source: string; duplicates?: number; table?: Table; labels?: Column[] };

/** Options of `buildReport`. */
export interface ReportOptions {
  spec?: MonitorSpec;
  /** Time stamp written into the report (injected for deterministic output). */
  now?: Date;
}

/** A side ready for comparison. */
export interface PreparedSide {
  profile: DatasetProfile;
  source: string;
  duplicates?: number;
  table?: Table;
  /** Copies of the declared target and prediction columns in row order (profiling sorts the table's numbers). */
  labels?: Column[];
}

function labelCopies(table: Table, spec: MonitorSpec): Column[] {
  const out: Column[] = [];
  for (const name of [spec.target, spec.prediction]) {
    const c = name === undefined ? undefined : columnByName(table, name);
    if (c) out.push(c.type === 'number' ? { ...c, values: c.values.slice() } : { ...c, values: c.values.slice() });
  }
  return out;
}

/**
 * Profiles a table side with every value kept (so drift statistics are exact, equal to
 * scipy's). With `release`, the profile sorts the table's numeric buffers in place and
 * keeps them (the table's numeric columns are emptied), which halves the memory of large reports.
 */
export function prepareSide(side: ReportSide, spec: MonitorSpec = {}, release = false): PreparedSide {
  if ('profile' in side) return { profile: side.profile, source: side.source, duplicates: side.duplicates, table: side.table, labels: side.labels };
  const duplicates = countDuplicateRows(side.table);
  const labels = labelCopies(side.table, spec);
  const profile = profileTable(side.table, { exactLimit: Number.MAX_SAFE_INTEGER, kinds: spec.kinds, adopt: release });
  return { profile, source: side.source ?? side.table.source ?? 'table', duplicates, table: side.table, labels };
}

function nonNumericOf(reference: DatasetProfile, current: Table | undefined): QualityExtras['nonNumeric'] {
  if (!current) return undefined;
  const out: NonNullable<QualityExtras['nonNumeric']> = {};
  for (const col of current.columns) {
    const ref = reference.columns.get(col.name);
    if (!ref || ref.kind !== 'numerical' || col.type !== 'string') continue;
    let count = 0;
    let first: { value: string; row: number } | undefined;
    col.values.forEach((v, i) => {
      if (v === null || (Number.isFinite(Number(v.trim())) && v.trim() !== '')) return;
      count++;
      first ??= { value: v, row: i + 1 };
    });
    if (first) out[col.name] = { count, first: first.value, row: first.row };
  }
  return out;
}

function summary(p: ColumnProfile): ColumnSummary {
  const base = { rows: p.rows, missing: p.missing, distinct: p.distinct() };
  if (p.kind === 'numerical') {
    const has = p.count > 0;
    return { ...base, min: has ? p.min : null, max: has ? p.max : null, mean: has ? p.mean : null, std: has ? p.std : null, median: p.quantile(0.5) };
  }
  const counts = p.categoricalSample().counts;
  return { ...base, top: [...counts].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([value, count]) => ({ value, count })) };
}

function overlay(ref: ColumnProfile, cur: ColumnProfile): Overlay | null {
  if (ref.kind !== cur.kind || ref.count === 0 || cur.count === 0) return null;
  if (ref.kind === 'numerical') {
    const lo = Math.min(ref.min, cur.min);
    const hi0 = Math.max(ref.max, cur.max);
    const hi = hi0 === lo ? lo + 1 : hi0;
    const bins = 30;
    const edges = Array.from({ length: bins + 1 }, (_, i) => (i === bins ? hi : lo + ((hi - lo) * i) / bins));
    const shares = (p: ColumnProfile): number[] => {
      const s = p.numericSample();
      if (!s.weights) {
        // Exact values are sorted: each bin's count is a difference of two binary searches.
        const below = (x: number) => {
          let lo = 0;
          let hi2 = s.values.length;
          while (lo < hi2) {
            const mid = (lo + hi2) >>> 1;
            if ((s.values[mid] as number) < x) lo = mid + 1;
            else hi2 = mid;
          }
          return lo;
        };
        const cuts = edges.map((e, i) => (i === bins ? s.values.length : below(e)));
        return Array.from({ length: bins }, (_, i) => ((cuts[i + 1] as number) - (cuts[i] as number)) / s.count);
      }
      const counts = new Array<number>(bins).fill(0);
      for (let i = 0; i < s.values.length; i++) {
        const idx = Math.min(bins - 1, Math.max(0, Math.floor((((s.values[i] as number) - lo) / (hi - lo)) * bins)));
        counts[idx] = (counts[idx] as number) + (s.weights ? (s.weights[i] as number) : 1);
      }
      return counts.map((c) => c / s.count);
    };
    return { type: 'histogram', edges, reference: shares(ref), current: shares(cur) };
  }
  if (ref.kind === 'text') return null;
  const rc = ref.categoricalSample();
  const cc = cur.categoricalSample();
  const labels = [...new Set([...rc.counts.keys(), ...cc.counts.keys()])]
    .sort((a, b) => (rc.counts.get(b) ?? 0) + (cc.counts.get(b) ?? 0) - ((rc.counts.get(a) ?? 0) + (cc.counts.get(a) ?? 0)))
    .slice(0, 20);
  return { type: 'categories', labels, reference: labels.map((l) => (rc.counts.get(l) ?? 0) / rc.count), current: labels.map((l) => (cc.counts.get(l) ?? 0) / cc.count) };
}

function performanceOf(ref: PreparedSide, cur: PreparedSide, spec: MonitorSpec, target: string, prediction: string): ReportPerformance {
  const find = (side: PreparedSide, name: string) => side.labels?.find((c) => c.name === name);
  const notes: string[] = [];
  const targetColumn = find(cur, target) ?? find(ref, target);
  const task = spec.task ?? (targetColumn ? inferTask(targetColumn) : 'classification');
  const sideOf = (side: PreparedSide, which: string): SidePerformance | null => {
    const t = find(side, target);
    const p = find(side, prediction);
    if (t && p) return labelledPerformance(t, p, task);
    const absent = [t ? null : target, p ? null : prediction].filter((x) => x !== null).join(' and ');
    notes.push(side.profile.columns.has(target) && side.profile.columns.has(prediction) ? `The ${which} is a profile: no row-by-row values of ${absent}.` : `The ${which} data has no column ${absent}.`);
    return null;
  };
  const reference = sideOf(ref, 'reference');
  const current = sideOf(cur, 'current');
  for (const s of [reference, current]) {
    if (s?.task === 'classification' && s.threshold !== null) notes.push(`${prediction} is taken as P(${target} = ${s.positiveLabel ?? '1'}): predicted label = ${prediction} >= ${s.threshold}.`);
  }
  return { task, taskFrom: spec.task ? 'spec' : 'target', target, prediction, reference, current, notes: [...new Set(notes)] };
}

/** Compares `current` with `reference`: feature drift, target and prediction drift, model performance, the quality suite and per-column overlays. */
export function buildReport(reference: ReportSide, current: ReportSide, opts: ReportOptions = {}): ReportDocument {
  const spec = opts.spec ?? {};
  const ref = prepareSide(reference, spec);
  const cur = prepareSide(current, spec);
  const roles = new Map<string, 'target' | 'prediction'>();
  if (spec.prediction !== undefined) roles.set(spec.prediction, 'prediction');
  if (spec.target !== undefined) roles.set(spec.target, 'target');
  for (const name of roles.keys()) {
    if (!ref.profile.columns.has(name) && !cur.profile.columns.has(name)) throw new SlipwayError('INVALID_ARGUMENT', `The ${roles.get(name)} column '${name}' is in neither the reference nor the current data.`);
  }
  const driftOptions = driftOptionsOf(spec);
  const drift = computeDrift(ref.profile, cur.profile, { ...driftOptions, exclude: [...(spec.exclude ?? []), ...roles.keys()] });
  const roleDrift = (name: string | undefined): ColumnDrift | null => {
    const rp = name === undefined ? undefined : ref.profile.columns.get(name);
    return rp && !(spec.exclude ?? []).includes(rp.name) ? columnDrift(rp, cur.profile.columns.get(rp.name), driftOptions) : null;
  };
  // Labels often arrive later than the inputs: a declared target or prediction absent on one side is no schema failure.
  const absent = [...roles.keys()].filter((n) => !ref.profile.columns.has(n) || !cur.profile.columns.has(n));
  const qualitySpec = absent.length > 0 ? { ...spec, exclude: [...(spec.exclude ?? []), ...absent] } : spec;
  const quality = runQualitySuite(ref.profile, cur.profile, qualitySpec, { referenceDuplicates: ref.duplicates, currentDuplicates: cur.duplicates, nonNumeric: nonNumericOf(ref.profile, cur.table) }, drift);
  const excluded = new Set(spec.exclude ?? []);
  const columns: ReportColumn[] = [];
  for (const [name, rp] of ref.profile.columns) {
    if (excluded.has(name)) continue;
    const cp = cur.profile.columns.get(name);
    columns.push({ name, kind: rp.kind, role: roles.get(name) ?? 'feature', reference: summary(rp), current: cp ? summary(cp) : null, overlay: cp ? overlay(rp, cp) : null });
  }
  const performance = spec.target !== undefined && spec.prediction !== undefined ? performanceOf(ref, cur, spec, spec.target, spec.prediction) : null;
  const text: Record<string, TextDrift> = {};
  for (const [name, rt] of ref.profile.texts) {
    const ct = cur.profile.texts.get(name);
    if (ct && !excluded.has(name)) text[name] = textSummaryDrift(rt, ct);
  }
  return {
    format: 'slipway-report/1',
    generatedAt: (opts.now ?? new Date()).toISOString(),
    status: quality.status,
    reference: { source: ref.source, rows: ref.profile.rows },
    current: { source: cur.source, rows: cur.profile.rows },
    drift,
    targetDrift: roleDrift(spec.target),
    predictionDrift: roleDrift(spec.prediction),
    performance,
    quality,
    columns,
    ...(Object.keys(text).length > 0 ? { text } : {}),
  };
}

/** JSON text of a report; non-finite numbers become null so the document is valid JSON. */
export function reportToJson(doc: ReportDocument, indent = 2): string {
  return JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent);
}
