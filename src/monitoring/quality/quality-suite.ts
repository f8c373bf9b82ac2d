/**
 * The data-quality suite: each test has a condition and a status (pass / warn / fail /
 * error). Defaults come from the reference; a spec overrides the thresholds.
 */
import type { ColumnProfile } from '../profile/column-profile.js';
import type { DatasetProfile } from '../profile/dataset-profile.js';
import type { DatasetDrift } from '../drift/data-drift.js';
import type { MonitorSpec } from './monitor-spec.js';

/** Outcome of one test. */
export type TestStatus = 'pass' | 'warn' | 'fail' | 'error';

/** One quality test. */
export interface QualityTest {
  name: string;
  column?: string;
  status: TestStatus;
  /** The measured figure (a share, a count), or null when it could not be measured. */
  value: number | null;
  /** The condition in words, e.g. "share <= 0.05 (warn), <= 0.15 (fail)". */
  condition: string;
  message: string;
}

/** Results of the suite. */
export interface QualityResult {
  status: TestStatus;
  counts: Record<TestStatus, number>;
  tests: QualityTest[];
}

/** What the suite measures beyond the profiles (only available from raw tables). */
export interface QualityExtras {
  referenceDuplicates?: number;
  currentDuplicates?: number;
  /** Per column of the current data: values that were not numbers in a column the reference holds as numbers. */
  nonNumeric?: Record<string, { count: number; first: string; row: number }>;
}

type Bounds = { warn?: number; fail?: number };

function byBounds(value: number, b: Required<Bounds>): TestStatus {
  if (value > b.fail) return 'fail';
  if (value > b.warn) return 'warn';
  return 'pass';
}

function fmt(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4).replace(/\.?0+$/, '');
}

function condition(b: Required<Bounds>): string {
  return `share <= ${fmt(b.warn)} (else warn), <= ${fmt(b.fail)} (else fail)`;
}

function countBelow(sorted: Float64Array, x: number, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (v < x || (inclusive && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function outOfRangeShare(ref: ColumnProfile, cur: ColumnProfile): number {
  const s = cur.numericSample();
  if (s.count === 0) return 0;
  // Exact values are sorted: two binary searches instead of a pass over every value.
  if (!s.weights) return (countBelow(s.values, ref.min, false) + (s.values.length - countBelow(s.values, ref.max, true))) / s.count;
  let out = 0;
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i] as number;
    if (v < ref.min || v > ref.max) out += s.weights ? (s.weights[i] as number) : 1;
  }
  return s.count === 0 ? 0 : out / s.count;
}

function newCategoryShare(ref: ColumnProfile, cur: ColumnProfile): { share: number; examples: string[] } {
  const r = ref.categoricalSample();
  const c = cur.categoricalSample();
  let n = 0;
  const examples: string[] = [];
  for (const [k, v] of c.counts) {
    if (!r.counts.has(k)) {
      n += v;
      if (examples.length < 5) examples.push(k);
    }
  }
  return { share: c.count === 0 ? 0 : n / c.count, examples };
}

function isConstant(p: ColumnProfile): boolean {
  return p.isConstant();
}

/** Runs the suite of `current` against `reference`. */
export function runQualitySuite(reference: DatasetProfile, current: DatasetProfile, spec: MonitorSpec = {}, extras: QualityExtras = {}, drift?: DatasetDrift): QualityResult {
  const q = spec.quality ?? {};
  const tests: QualityTest[] = [];
  const excluded = new Set(spec.exclude ?? []);
  const refNames = reference.names.filter((n) => !excluded.has(n));
  const curNames = new Set(current.names);

  const missingCols = refNames.filter((n) => !curNames.has(n));
  tests.push({
    name: 'missing columns',
    status: missingCols.length === 0 ? 'pass' : (q.missingColumns ?? 'fail'),
    value: missingCols.length,
    condition: 'every reference column is present',
    message: missingCols.length === 0 ? 'All reference columns are present.' : `Missing from the current data: ${missingCols.join(', ')}.`,
  });
  const extra = current.names.filter((n) => !reference.columns.has(n) && !excluded.has(n));
  tests.push({
    name: 'extra columns',
    status: extra.length === 0 ? 'pass' : (q.extraColumns ?? 'warn'),
    value: extra.length,
    condition: 'no column the reference lacks',
    message: extra.length === 0 ? 'No extra columns.' : `Not in the reference: ${extra.join(', ')}.`,
  });

  if (current.rows === 0) {
    tests.push({ name: 'row count', status: 'error', value: 0, condition: 'the current data has rows', message: 'The current data has no rows: nothing to test.' });
    return summarise(tests);
  }

  const refDup = extras.referenceDuplicates;
  const curDup = extras.currentDuplicates;
  if (curDup !== undefined) {
    const refShare = refDup !== undefined && reference.rows > 0 ? refDup / reference.rows : 0;
    const b = { warn: q.duplicatedRows?.warn ?? refShare, fail: q.duplicatedRows?.fail ?? refShare + 0.1 };
    const share = curDup / current.rows;
    tests.push({ name: 'duplicated rows', status: byBounds(share, b), value: share, condition: condition(b), message: `${curDup} of ${current.rows} rows duplicate an earlier row.` });
  }

  for (const name of refNames) {
    const ref = reference.columns.get(name) as ColumnProfile;
    const cur = current.columns.get(name);
    if (!cur) continue;
    const cq = q.columns?.[name] ?? {};
    const nonNum = extras.nonNumeric?.[name];
    if (ref.kind !== cur.kind || nonNum) {
      const msg = nonNum
        ? `${nonNum.count} non-numeric value(s) in a numerical column, first '${nonNum.first}' at data row ${nonNum.row}.`
        : `Kind changed from ${ref.kind} to ${cur.kind}.`;
      tests.push({ name: 'column kind', column: name, status: q.kindChanges ?? 'fail', value: nonNum?.count ?? null, condition: `kind is ${ref.kind}`, message: msg });
    }

    const refShare = ref.rows > 0 ? ref.missing / ref.rows : 0;
    const mb = { warn: cq.missingShare?.warn ?? q.missingShare?.warn ?? refShare + 0.01, fail: cq.missingShare?.fail ?? q.missingShare?.fail ?? refShare + 0.1 };
    const missShare = cur.rows > 0 ? cur.missing / cur.rows : 0;
    tests.push({ name: 'missing share', column: name, status: byBounds(missShare, mb), value: missShare, condition: condition(mb), message: `${cur.missing} of ${cur.rows} values missing (reference ${fmt(refShare)}).` });

    const constLevel = cq.constant ?? q.constant ?? 'warn';
    if (isConstant(cur) && !isConstant(ref)) {
      tests.push({ name: 'constant column', column: name, status: constLevel, value: 1, condition: 'not constant (the reference is not)', message: 'Every current value is the same.' });
    } else {
      tests.push({ name: 'constant column', column: name, status: 'pass', value: isConstant(cur) ? 1 : 0, condition: 'not constant unless the reference is', message: isConstant(cur) ? 'Constant, as in the reference.' : 'Not constant.' });
    }

    if (ref.kind !== cur.kind) continue;
    if (cur.count === 0 || ref.count === 0) {
      tests.push({ name: ref.kind === 'numerical' ? 'out of range' : 'new categories', column: name, status: 'error', value: null, condition: 'both sides have values', message: ref.count === 0 ? 'The reference has no values for this column.' : 'The current data has no values for this column.' });
      continue;
    }
    if (ref.kind === 'numerical') {
      const b = { warn: cq.outOfRange?.warn ?? q.outOfRange?.warn ?? 0, fail: cq.outOfRange?.fail ?? q.outOfRange?.fail ?? 0.1 };
      const share = outOfRangeShare(ref, cur);
      tests.push({ name: 'out of range', column: name, status: byBounds(share, b), value: share, condition: `${condition(b)} outside reference [${fmt(ref.min)}, ${fmt(ref.max)}]`, message: `${fmt(share * 100)}% of values outside the reference range.` });
    } else if (ref.kind !== 'text') {
      const b = { warn: cq.newCategories?.warn ?? q.newCategories?.warn ?? 0, fail: cq.newCategories?.fail ?? q.newCategories?.fail ?? 0.1 };
      const { share, examples } = newCategoryShare(ref, cur);
      tests.push({ name: 'new categories', column: name, status: byBounds(share, b), value: share, condition: condition(b), message: share === 0 ? 'No category unseen in the reference.' : `${fmt(share * 100)}% of values in new categories (${examples.join(', ')}).` });
    }
  }

  if (drift) {
    const level = spec.drift?.onDatasetDrift ?? 'fail';
    tests.push({
      name: 'dataset drift',
      status: drift.drifted ? level : 'pass',
      value: drift.share,
      condition: `share of drifted columns < ${fmt(drift.driftShare)}`,
      message: `${drift.driftedColumns} of ${drift.testedColumns} columns drifted.`,
    });
  }
  return summarise(tests);
}

function summarise(tests: QualityTest[]): QualityResult {
  const counts: Record<TestStatus, number> = { pass: 0, warn: 0, fail: 0, error: 0 };
  for (const t of tests) counts[t.status]++;
  const status: TestStatus = counts.error > 0 ? 'error' : counts.fail > 0 ? 'fail' : counts.warn > 0 ? 'warn' : 'pass';
  return { status, counts, tests };
}
