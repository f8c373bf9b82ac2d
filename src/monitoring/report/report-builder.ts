/**
 * Builds a monitoring report (drift + quality + per-column overlays) from a reference
 * (table or profile) and a current table or profile. The JSON document holds summaries
 * and binned distributions only — never raw rows — so it stays small for any data size.
 */
import { DatasetProfile, profileTable } from '../profile/dataset-profile.js';
import type { ColumnProfile } from '../profile/column-profile.js';
import { computeDrift, type DatasetDrift } from '../drift/data-drift.js';
import { driftOptionsOf, type MonitorSpec } from '../quality/monitor-spec.js';
import { runQualitySuite, type QualityExtras, type QualityResult, type TestStatus } from '../quality/quality-suite.js';
import type { Table } from '../table.js';
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
  drift: DatasetDrift;
  quality: QualityResult;
  columns: ReportColumn[];
}

/** A side of the comparison: a raw table (exact statistics) or a profile (with the table's text columns when known). */
export type ReportSide = { table: Table; source?: string } | { profile: DatasetProfile; source: string; duplicates?: number; table?: Table };

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
}

/**
 * Profiles a table side with every value kept (so drift statistics are exact, equal to
 * scipy's). With `release`, the profile sorts the table's numeric buffers in place and
 * keeps them (the table's numeric columns are emptied), which halves the memory of large reports.
 */
export function prepareSide(side: ReportSide, spec: MonitorSpec = {}, release = false): PreparedSide {
  if ('profile' in side) return { profile: side.profile, source: side.source, duplicates: side.duplicates, table: side.table };
  const duplicates = countDuplicateRows(side.table);
  const profile = profileTable(side.table, { exactLimit: Number.MAX_SAFE_INTEGER, kinds: spec.kinds, adopt: release });
  return { profile, source: side.source ?? side.table.source ?? 'table', duplicates, table: side.table };
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

/** Compares `current` with `reference`: drift, the quality suite and per-column overlays. */
export function buildReport(reference: ReportSide, current: ReportSide, opts: ReportOptions = {}): ReportDocument {
  const spec = opts.spec ?? {};
  const ref = prepareSide(reference, spec);
  const cur = prepareSide(current, spec);
  const drift = computeDrift(ref.profile, cur.profile, driftOptionsOf(spec));
  const quality = runQualitySuite(ref.profile, cur.profile, spec, { referenceDuplicates: ref.duplicates, currentDuplicates: cur.duplicates, nonNumeric: nonNumericOf(ref.profile, cur.table) }, drift);
  const excluded = new Set(spec.exclude ?? []);
  const columns: ReportColumn[] = [];
  for (const [name, rp] of ref.profile.columns) {
    if (excluded.has(name)) continue;
    const cp = cur.profile.columns.get(name);
    columns.push({ name, kind: rp.kind, reference: summary(rp), current: cp ? summary(cp) : null, overlay: cp ? overlay(rp, cp) : null });
  }
  return {
    format: 'slipway-report/1',
    generatedAt: (opts.now ?? new Date()).toISOString(),
    status: quality.status,
    reference: { source: ref.source, rows: ref.profile.rows },
    current: { source: cur.source, rows: cur.profile.rows },
    drift,
    quality,
    columns,
  };
}

/** JSON text of a report; non-finite numbers become null so the document is valid JSON. */
export function reportToJson(doc: ReportDocument, indent = 2): string {
  return JSON.stringify(doc, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent);
}
