/** Text helpers the release reports share: figures as readable lines, and side-by-side figures. */
import type { GateResult, Release } from '../../client/schemas/releases.js';

/** A number as a report shows it: up to 6 significant digits, integers whole. */
export function figureText(value: unknown): string {
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '-';
  return JSON.stringify(value);
}

/** A gate's figures as `key: value` lines, nested objects one level flattened (`candidate.accuracy: 0.93`). */
export function figureLines(figures: Record<string, unknown>): string[] {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(figures)) {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) lines.push(`${key}.${k}: ${figureText(v)}`);
    } else lines.push(`${key}: ${figureText(value)}`);
  }
  return lines;
}

function numbersOf(side: unknown, prefix = ''): Map<string, number> {
  const out = new Map<string, number>();
  if (typeof side !== 'object' || side === null || Array.isArray(side)) return out;
  for (const [k, v] of Object.entries(side)) {
    if (typeof v === 'number') out.set(`${prefix}${k}`, v);
    // Latencies often sit one level down (latencyMs.p99).
    else if (prefix === '' && typeof v === 'object' && v !== null && !Array.isArray(v)) for (const [kk, vv] of numbersOf(v, `${k}.`)) out.set(kk, vv);
  }
  return out;
}

/** The candidate's and the champion's numeric figures of a gate, row by row; empty when the gate has no two sides. */
export function sideBySide(gate: GateResult): Array<{ figure: string; candidate: number | undefined; champion: number | undefined }> {
  const candidate = numbersOf(gate.figures.candidate);
  const champion = numbersOf(gate.figures.champion);
  if (candidate.size === 0) return [];
  const keys = [...new Set([...candidate.keys(), ...champion.keys()])];
  return keys.map((figure) => ({ figure, candidate: candidate.get(figure), champion: champion.get(figure) }));
}

/** The test-like outcome of the rollout: passed when promoted, failed when rolled back or aborted, else not run. */
export function rolloutOutcome(release: Release): { verdict: 'pass' | 'fail' | 'skipped'; reason: string } {
  switch (release.state) {
    case 'promoted':
      return { verdict: 'pass', reason: `${release.model} version ${release.version} is ${release.environment}.` };
    case 'rolled_back':
    case 'aborted':
      return { verdict: 'fail', reason: release.reason || release.state };
    case 'rejected':
      return { verdict: 'skipped', reason: `Not run: the release was rejected (${release.reason}).` };
    default:
      return { verdict: 'skipped', reason: `Not finished: the release is ${release.state}.` };
  }
}

/** The strategy of a release in a few words: `canary 10/50/100 % every 30s`. */
export function strategyText(release: Release): string {
  const s = release.policy.strategy;
  switch (s.kind) {
    case 'canary':
      return `canary ${s.steps.join('/')} % every ${s.interval}`;
    case 'shadow':
      return `shadow ${s.share} % for ${s.duration}`;
    case 'blue-green':
      return `blue-green, bake ${s.bake}`;
    default:
      return 'direct';
  }
}

/** The release's duration in seconds (to its end, else its last update). */
export function releaseSeconds(release: Release): number {
  return Math.max(0, ((release.endedTime ?? release.updatedTime) - release.createdTime) / 1000);
}

/** A gate's duration in seconds, 0 when it did not run. */
export function gateSeconds(gate: GateResult): number {
  return gate.startedTime !== undefined && gate.endedTime !== undefined ? Math.max(0, (gate.endedTime - gate.startedTime) / 1000) : 0;
}
