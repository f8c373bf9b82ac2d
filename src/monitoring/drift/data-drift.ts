/**
 * Column and dataset drift between a reference and a current profile. Profiles carry
 * exact values up to their exact limit (then statistics are exact, equal to scipy's);
 * beyond it they carry DDSketch bins and the statistics are approximate (`approximate`).
 */
import { SlipwayError } from '../../core/errors.js';
import type { ColumnProfile } from '../profile/column-profile.js';
import type { DatasetProfile } from '../profile/dataset-profile.js';
import { distinctUnionUpTo } from '../stats/samples.js';
import { DRIFT_TEST_SPECS, DRIFT_TESTS, defaultDriftTest, isDrift, runDriftTest, type DriftInput, type DriftTestName } from './drift-tests.js';

/** Per-column override of the test and/or threshold. */
export interface ColumnDriftOptions {
  test?: DriftTestName;
  threshold?: number;
  /** Leave the column out of drift. */
  skip?: boolean;
}

/** Options of `computeDrift`. */
export interface DriftOptions {
  /** Dataset drift when the share of drifted columns is at least this. @default 0.5 */
  driftShare?: number;
  /** Test for every column unless overridden (default: Evidently's choice per column). */
  test?: DriftTestName;
  /** Threshold for every column unless overridden (default: the test's). */
  threshold?: number;
  columns?: Record<string, ColumnDriftOptions>;
  /** Columns left out (e.g. ids, the target). */
  exclude?: string[];
}

/** Drift of one column. */
export interface ColumnDrift {
  column: string;
  kind: string;
  /** 'skipped' when the column cannot be tested (text, no values on one side); it then never counts as drifted. */
  status: 'ok' | 'drift' | 'skipped';
  drifted: boolean;
  test: DriftTestName | null;
  scoreKind: 'p-value' | 'distance' | null;
  score: number | null;
  statistic: number | null;
  threshold: number | null;
  /** Higher is more severe: distance / threshold, or threshold / p-value (capped at 1e6). */
  severity: number;
  referenceCount: number;
  currentCount: number;
  /** True when a side came from a sketch rather than exact values. */
  approximate: boolean;
  note?: string;
}

/** Drift of a dataset. */
export interface DatasetDrift {
  drifted: boolean;
  driftShare: number;
  driftedColumns: number;
  testedColumns: number;
  share: number;
  columns: ColumnDrift[];
}

function inputOf(p: ColumnProfile): DriftInput {
  let n: ReturnType<ColumnProfile['numericSample']> | undefined;
  let c: ReturnType<ColumnProfile['categoricalSample']> | undefined;
  return { numeric: () => (n ??= p.numericSample()), categorical: () => (c ??= p.categoricalSample()) };
}

function unionDistinct(ref: ColumnProfile, cur: ColumnProfile, cap: number): number {
  if (ref.kind === 'numerical' && cur.kind === 'numerical') return distinctUnionUpTo(ref.numericSample(), cur.numericSample(), cap);
  const keys = new Set([...ref.categoricalSample().counts.keys(), ...cur.categoricalSample().counts.keys()]);
  return keys.size;
}

function skipped(ref: ColumnProfile, cur: ColumnProfile | undefined, note: string): ColumnDrift {
  return {
    column: ref.name,
    kind: ref.kind,
    status: 'skipped',
    drifted: false,
    test: null,
    scoreKind: null,
    score: null,
    statistic: null,
    threshold: null,
    severity: 0,
    referenceCount: ref.count,
    currentCount: cur?.count ?? 0,
    approximate: false,
    note,
  };
}

/** Validates drift options, naming the bad field. */
export function validateDriftOptions(o: DriftOptions): void {
  const checkTest = (t: unknown, where: string) => {
    if (t !== undefined && !DRIFT_TESTS.includes(t as DriftTestName)) throw new SlipwayError('INVALID_ARGUMENT', `${where}: unknown drift test '${String(t)}' (use one of ${DRIFT_TESTS.join(', ')}).`);
  };
  const checkThreshold = (t: unknown, where: string) => {
    if (t !== undefined && (typeof t !== 'number' || !Number.isFinite(t) || t < 0)) throw new SlipwayError('INVALID_ARGUMENT', `${where}: threshold must be a non-negative number.`);
  };
  checkTest(o.test, 'drift.test');
  checkThreshold(o.threshold, 'drift.threshold');
  if (o.driftShare !== undefined && (typeof o.driftShare !== 'number' || !(o.driftShare > 0 && o.driftShare <= 1))) throw new SlipwayError('INVALID_ARGUMENT', 'drift.driftShare must be in (0, 1].');
  for (const [name, c] of Object.entries(o.columns ?? {})) {
    checkTest(c.test, `drift.columns.${name}.test`);
    checkThreshold(c.threshold, `drift.columns.${name}.threshold`);
  }
}

/** Compares one column. */
export function columnDrift(ref: ColumnProfile, cur: ColumnProfile | undefined, o: DriftOptions = {}): ColumnDrift {
  const override = o.columns?.[ref.name] ?? {};
  if (!cur) return skipped(ref, cur, 'column missing from the current data');
  if (ref.kind === 'text') return skipped(ref, cur, 'text columns are not tested for drift');
  if (cur.kind !== ref.kind) return skipped(ref, cur, `kind changed from ${ref.kind} to ${cur.kind} (see the quality suite)`);
  if (ref.count === 0) return skipped(ref, cur, 'no values in the reference');
  if (cur.count === 0) return skipped(ref, cur, 'no values in the current data');
  const nUnique = unionDistinct(ref, cur, 5);
  const test = override.test ?? o.test ?? defaultDriftTest(ref.kind, ref.count, nUnique);
  const spec = DRIFT_TEST_SPECS[test];
  const asCategorical = ref.kind !== 'numerical' || test === 'chisquare' || test === 'z';
  if (ref.kind !== 'numerical' && !spec.categorical) throw new SlipwayError('INVALID_ARGUMENT', `Drift test '${test}' needs numbers but column '${ref.name}' is ${ref.kind}.`);
  const threshold = override.threshold ?? o.threshold ?? spec.defaultThreshold;
  const out = runDriftTest(test, asCategorical, inputOf(ref), inputOf(cur));
  const drifted = isDrift(test, out.score, threshold);
  const severity = spec.scoreKind === 'distance' ? out.score / Math.max(threshold, 1e-12) : Math.min(1e6, threshold / Math.max(out.score, threshold / 1e6));
  return {
    column: ref.name,
    kind: ref.kind,
    status: drifted ? 'drift' : 'ok',
    drifted,
    test,
    scoreKind: spec.scoreKind,
    score: out.score,
    statistic: out.statistic,
    threshold,
    severity,
    referenceCount: ref.count,
    currentCount: cur.count,
    approximate: !ref.isExact || !cur.isExact,
    ...(out.note ? { note: out.note } : {}),
  };
}

/** Drift of every reference column, sorted by severity (most severe first), and the dataset verdict. */
export function computeDrift(reference: DatasetProfile, current: DatasetProfile, o: DriftOptions = {}): DatasetDrift {
  validateDriftOptions(o);
  const exclude = new Set(o.exclude ?? []);
  const columns: ColumnDrift[] = [];
  for (const [name, ref] of reference.columns) {
    if (exclude.has(name) || o.columns?.[name]?.skip) continue;
    columns.push(columnDrift(ref, current.columns.get(name), o));
  }
  columns.sort((a, b) => Number(b.drifted) - Number(a.drifted) || b.severity - a.severity || a.column.localeCompare(b.column));
  const tested = columns.filter((c) => c.status !== 'skipped').length;
  const drifted = columns.filter((c) => c.drifted).length;
  const driftShare = o.driftShare ?? 0.5;
  const share = tested === 0 ? 0 : drifted / tested;
  return { drifted: tested > 0 && share >= driftShare, driftShare, driftedColumns: drifted, testedColumns: tested, share, columns };
}
