/**
 * The live analysis of a canary or shadow window: challenger against champion on the
 * figures serving measured over the same window. Pure functions of the figures, so the
 * decision a release records can be recomputed from its evidence.
 */
import type { SideStats, SplitStats } from '../core/traffic-split.js';
import { psi } from '../monitoring/stats/distances.js';
import type { StrategySpec } from '../client/schemas/releases.js';

/** The checks of a canary (defaults applied). */
export type CanaryChecks = Extract<StrategySpec, { kind: 'canary' }>['checks'];

/** How one window was judged. */
export type WindowVerdict = 'pass' | 'breach' | 'inconclusive';

/** One side's figures as recorded in the evidence. */
export interface SideFigures {
  version: string;
  /** True when these are the champion's figures from an earlier window (it answered nothing in this one). */
  fromEarlierWindow?: boolean;
  requests: number;
  errors: number;
  errorRate: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** The evidence of one analysis window. */
export interface WindowAnalysis {
  verdict: WindowVerdict;
  /** Each breached check as a sentence naming the figure and its bound. */
  breaches: string[];
  /** Why the window decided nothing, when it is inconclusive. */
  note?: string;
  windowMs: number;
  champion: SideFigures;
  challenger: SideFigures;
  /** PSI of the two sides' predictions (see scorePsi); null with too few scores. */
  psi: number | null;
  /** Accuracy of each side on the predictions that have late labels so far, when the policy checks it. */
  accuracy?: LabelledAccuracy;
  shadow?: SplitStats['shadow'];
}

/** Each side's accuracy over its labelled predictions since the rollout began. */
export interface LabelledAccuracy {
  champion: { labelled: number; accuracy: number | null };
  challenger: { labelled: number; accuracy: number | null };
}

/** Fewest scores on each side for a PSI worth reading. */
const MIN_PSI_SCORES = 10;

function sideFigures(s: SideStats): SideFigures {
  return { version: s.version, requests: s.requests, errors: s.errors, errorRate: s.requests > 0 ? s.errors / s.requests : null, p50Ms: s.latencyP50Ms, p99Ms: s.latencyP99Ms };
}

/** Cut points of up to `bins` equal-frequency bins of `sorted` (ascending); ties collapse, so class labels give one bin per class. */
export function equalFrequencyCuts(sorted: readonly number[], bins = 10): number[] {
  const cuts: number[] = [];
  for (let i = 1; i < bins; i++) {
    const q = sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / bins))] as number;
    if (cuts.length === 0 || q > (cuts[cuts.length - 1] as number)) cuts.push(q);
  }
  return cuts;
}

function binShares(values: readonly number[], cuts: readonly number[]): Float64Array {
  const counts = new Float64Array(cuts.length + 1);
  for (const v of values) {
    // The bin is the number of cuts below the value (a value equal to a cut closes that cut's bin).
    let lo = 0;
    let hi = cuts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cuts[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo] = (counts[lo] as number) + 1;
  }
  for (let i = 0; i < counts.length; i++) counts[i] = (counts[i] as number) / values.length;
  return counts;
}

// As the monitoring drift statistics do: an empty bin takes a small share, so the logarithm stays finite.
function fillEmpty(p: Float64Array): void {
  for (let i = 0; i < p.length; i++) if (p[i] === 0) p[i] = 0.0001;
}

/**
 * PSI of `challenger` against `champion`: over the predicted classes when both sides give probabilities
 * (every value in [0, 1]), else over 10 equal-frequency bins of the champion's values; null when either
 * side has fewer than 10 values.
 */
export function scorePsi(champion: readonly number[], challenger: readonly number[]): number | null {
  const ref = champion.filter(Number.isFinite);
  const cur = challenger.filter(Number.isFinite);
  if (ref.length < MIN_PSI_SCORES || cur.length < MIN_PSI_SCORES) return null;
  ref.sort((a, b) => a - b);
  // Probabilities are compared by the class they predict (the same side of 0.5): two models that give the same
  // answers with another calibration (1e-30 against 0.01) are not a shift, where binning the scores themselves
  // would call every other calibration drifted. Other scores (regression values) are binned by the champion's deciles.
  const cuts = isProbability(ref) && isProbability(cur) ? CLASS_CUT : equalFrequencyCuts(ref);
  const reference = binShares(ref, cuts);
  const current = binShares(cur, cuts);
  fillEmpty(reference);
  fillEmpty(current);
  return psi({ reference, current, labels: [] });
}

/** A probability's two bins: [0, 0.5) predicts the negative class, [0.5, 1] the positive (as evaluation's labels). */
const CLASS_CUT = [0.5 - Number.EPSILON / 2];

function isProbability(sorted: readonly number[]): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of sorted) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo >= 0 && hi <= 1;
}

function fmt(n: number, digits = 3): string {
  return String(Number(n.toFixed(digits)));
}

/**
 * Judges one canary window. Fewer challenger requests than `minRequests`: inconclusive (not a breach).
 * Otherwise each check that fails is a breach: error rate, absolute p99, p99 over the champion's, PSI.
 */
export function analyseCanaryWindow(stats: SplitStats, checks: CanaryChecks, accuracy?: LabelledAccuracy, previousChampion?: SideFigures): WindowAnalysis {
  const current = sideFigures(stats.champion);
  // At the 100 % step the champion answers nothing: its latencies from the last window it served are the baseline.
  const champion = current.requests === 0 && previousChampion && previousChampion.requests > 0 ? { ...previousChampion, fromEarlierWindow: true } : current;
  const challenger = sideFigures(stats.challenger);
  const drift = scorePsi(stats.champion.scores, stats.challenger.scores);
  const base = { windowMs: stats.windowMs, champion, challenger, psi: drift, ...(accuracy ? { accuracy } : {}) };
  if (challenger.requests < checks.minRequests || challenger.requests === 0) {
    return { ...base, verdict: 'inconclusive', breaches: [], note: `${challenger.requests} challenger requests in the window, fewer than minRequests ${checks.minRequests}.` };
  }
  const breaches: string[] = [];
  const errorRate = challenger.errorRate ?? 0;
  if (errorRate > checks.maxErrorRate) breaches.push(`challenger error rate ${fmt(errorRate)} > maxErrorRate ${fmt(checks.maxErrorRate)} (${challenger.errors} of ${challenger.requests})`);
  if (checks.maxP99Ms !== undefined && challenger.p99Ms !== null && challenger.p99Ms > checks.maxP99Ms) breaches.push(`challenger p99 ${fmt(challenger.p99Ms)} ms > maxP99Ms ${fmt(checks.maxP99Ms)} ms`);
  if (checks.maxP50Ratio !== undefined && challenger.p50Ms !== null && champion.p50Ms !== null && champion.p50Ms > 0 && challenger.p50Ms > champion.p50Ms * checks.maxP50Ratio) {
    breaches.push(`challenger p50 ${fmt(challenger.p50Ms)} ms > ${fmt(checks.maxP50Ratio)} × champion p50 ${fmt(champion.p50Ms)} ms`);
  }
  if (challenger.p99Ms !== null && champion.p99Ms !== null && champion.p99Ms > 0 && challenger.p99Ms > champion.p99Ms * checks.maxP99Ratio) {
    breaches.push(`challenger p99 ${fmt(challenger.p99Ms)} ms > ${fmt(checks.maxP99Ratio)} × champion p99 ${fmt(champion.p99Ms)} ms`);
  }
  if (drift !== null && drift > checks.maxPsi) breaches.push(`PSI of the challenger's scores against the champion's ${fmt(drift)} > maxPsi ${fmt(checks.maxPsi)}`);
  const drop = accuracyDrop(accuracy, checks);
  if (drop !== undefined) breaches.push(drop);
  return { ...base, verdict: breaches.length > 0 ? 'breach' : 'pass', breaches };
}

/** The shadow strategy's bounds (defaults applied). */
export type ShadowSpec = Extract<StrategySpec, { kind: 'shadow' }>;

/** The running totals of a shadow comparison across windows. */
export interface ShadowTotals {
  compared: number;
  agreeing: number;
  challengerRequests: number;
  challengerErrors: number;
  /** Largest p99 of each side over the windows (a conservative summary). */
  championP99Ms: number | null;
  challengerP99Ms: number | null;
}

/** Empty totals. */
export function emptyShadowTotals(): ShadowTotals {
  return { compared: 0, agreeing: 0, challengerRequests: 0, challengerErrors: 0, championP99Ms: null, challengerP99Ms: null };
}

const maxOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.max(a, b));

/** Adds one window's figures to the totals. */
export function addShadowWindow(t: ShadowTotals, stats: SplitStats): ShadowTotals {
  const compared = stats.shadow?.compared ?? 0;
  const agreement = stats.shadow?.agreement ?? null;
  return {
    compared: t.compared + compared,
    agreeing: t.agreeing + (agreement === null ? 0 : agreement * compared),
    challengerRequests: t.challengerRequests + stats.challenger.requests,
    challengerErrors: t.challengerErrors + stats.challenger.errors,
    championP99Ms: maxOf(t.championP99Ms, stats.champion.latencyP99Ms),
    challengerP99Ms: maxOf(t.challengerP99Ms, stats.challenger.latencyP99Ms),
  };
}

/** The shadow verdict over the whole comparison: agreement, error rate and p99 ratio against the bounds. */
export function judgeShadow(t: ShadowTotals, spec: ShadowSpec, minCompared = 1): { pass: boolean; reasons: string[]; figures: Record<string, unknown> } {
  const agreement = t.compared > 0 ? t.agreeing / t.compared : null;
  const errorRate = t.challengerRequests > 0 ? t.challengerErrors / t.challengerRequests : null;
  const ratio = t.challengerP99Ms !== null && t.championP99Ms !== null && t.championP99Ms > 0 ? t.challengerP99Ms / t.championP99Ms : null;
  const reasons: string[] = [];
  if (t.compared < minCompared || agreement === null) reasons.push(`only ${t.compared} mirrored requests were compared`);
  else if (agreement < spec.minAgreement) reasons.push(`agreement ${fmt(agreement)} < minAgreement ${fmt(spec.minAgreement)}`);
  if (errorRate !== null && errorRate > spec.maxErrorRate) reasons.push(`challenger error rate ${fmt(errorRate)} > maxErrorRate ${fmt(spec.maxErrorRate)}`);
  if (ratio !== null && ratio > spec.maxP99Ratio) reasons.push(`challenger p99 ${fmt(t.challengerP99Ms as number)} ms > ${fmt(spec.maxP99Ratio)} × champion p99 ${fmt(t.championP99Ms as number)} ms`);
  return { pass: reasons.length === 0, reasons, figures: { ...t, agreement, errorRate, p99Ratio: ratio } };
}

/**
 * The accuracy check on late labels: a breach when both sides have at least `minRequests` labelled
 * predictions and the challenger's accuracy is more than `maxAccuracyDrop` below the champion's.
 * Fewer labels decide nothing (they may simply not have arrived yet).
 */
function accuracyDrop(accuracy: LabelledAccuracy | undefined, checks: CanaryChecks): string | undefined {
  if (checks.maxAccuracyDrop === undefined || !accuracy) return undefined;
  const { champion, challenger } = accuracy;
  const enough = Math.max(1, checks.minRequests);
  if (champion.accuracy === null || challenger.accuracy === null || champion.labelled < enough || challenger.labelled < enough) return undefined;
  if (champion.accuracy - challenger.accuracy <= checks.maxAccuracyDrop) return undefined;
  return `challenger accuracy ${fmt(challenger.accuracy)} (${challenger.labelled} labelled) < champion accuracy ${fmt(champion.accuracy)} (${champion.labelled} labelled) - maxAccuracyDrop ${fmt(checks.maxAccuracyDrop)}`;
}

/** Folds per-window performance of the two versions into one accuracy per side (weighted by labelled rows). */
export function accuracyOfSides(windows: ReadonlyArray<{ version: string; labelled: number; classification?: { accuracy: number | null } }>, championVersion: string, challengerVersion: string): LabelledAccuracy {
  const side = (version: string) => {
    let labelled = 0;
    let correct = 0;
    for (const w of windows) {
      const a = w.classification?.accuracy;
      if (w.version !== version || a === null || a === undefined) continue;
      labelled += w.labelled;
      correct += a * w.labelled;
    }
    return { labelled, accuracy: labelled > 0 ? correct / labelled : null };
  };
  return { champion: side(championVersion), challenger: side(challengerVersion) };
}
