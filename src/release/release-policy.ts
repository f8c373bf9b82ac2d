/**
 * What a release policy asks of the world, checked before a release is written:
 * gate names, holdouts, thresholds relative to a champion, durations.
 */
import { open } from 'node:fs/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetSchema } from 'hyparquet';
import { parseDuration } from '../core/duration.js';
import { SlipwayError, isSlipwayError } from '../core/errors.js';
import { parseThreshold } from '../loadtest/threshold-parser.js';
import { parseMetricThreshold } from './evaluation/index.js';
import { parseRelativeSlo } from './gates/load-test-gate.js';
import type { GateSpec, ReleasePolicy, StrategySpec } from '../client/schemas/releases.js';

/** Where release holdouts live in the artifact store; the release routes read nothing outside it. */
export const HOLDOUT_PREFIX = 'releases/holdouts/';

/** Gate kinds that read a holdout. */
const HOLDOUT_KINDS = new Set<GateSpec['kind']>(['evaluation', 'quality', 'drift']);

/** Strategies that steer live traffic, so the model must be served here by the environment's alias. */
export const LIVE_STRATEGIES = new Set<StrategySpec['kind']>(['canary', 'shadow', 'blue-green']);

/** A gate's name in reports: its own, else its kind, numbered from the second of a kind on (`evaluation-2`). */
export function gateNames(gates: readonly GateSpec[]): string[] {
  const seen = new Map<string, number>();
  return gates.map((g) => {
    const n = (seen.get(g.kind) ?? 0) + 1;
    seen.set(g.kind, n);
    return g.name ?? (n === 1 ? g.kind : `${g.kind}-${n}`);
  });
}

/** The holdout a gate reads: its own, else the policy's. */
export function holdoutOf(gate: GateSpec, policy: ReleasePolicy): string | undefined {
  if (!HOLDOUT_KINDS.has(gate.kind)) return undefined;
  return ('holdout' in gate ? gate.holdout : undefined) ?? policy.holdout;
}

/** Whether a gate needs a holdout. */
export function needsHoldout(gate: GateSpec): boolean {
  return HOLDOUT_KINDS.has(gate.kind);
}

const CHAMPION_WORD = /\bchampion\b/i;

/** The thresholds of a gate that compare with the champion (`accuracy >= champion - 0.02`, `p99 <= champion * 1.25`). */
export function relativeThresholds(gate: GateSpec): string[] {
  if (gate.kind === 'evaluation') return gate.metrics.filter((m) => CHAMPION_WORD.test(m));
  if (gate.kind === 'loadtest') return gate.slo.filter((m) => CHAMPION_WORD.test(m));
  return [];
}

/** The number of approvals a policy waits for (the largest of its approval gates), 0 without one. */
export function approvalsNeeded(policy: ReleasePolicy): number {
  let n = 0;
  for (const g of policy.gates) if (g.kind === 'approval') n = Math.max(n, g.count);
  return n;
}

/** A policy duration in ms, its field named in the error. */
export function policyDuration(value: string, field: string): number {
  return parseDuration(value, { name: field, max: 7 * 24 * 3_600_000 });
}

/** Checks the parts of a strategy zod cannot: its durations and the order of canary steps. Throws INVALID_ARGUMENT. */
export function checkStrategy(strategy: StrategySpec): void {
  if (strategy.kind === 'canary') {
    policyDuration(strategy.interval, 'policy.strategy.interval');
    for (let i = 1; i < strategy.steps.length; i++) {
      if ((strategy.steps[i] as number) <= (strategy.steps[i - 1] as number)) {
        throw new SlipwayError('INVALID_ARGUMENT', `policy.strategy.steps must rise step by step (e.g. 10, 50, 100); got ${strategy.steps.join(', ')}.`, { field: 'policy.strategy.steps' });
      }
    }
  }
  if (strategy.kind === 'shadow') {
    policyDuration(strategy.duration, 'policy.strategy.duration');
    policyDuration(strategy.interval, 'policy.strategy.interval');
  }
  if (strategy.kind === 'blue-green') policyDuration(strategy.bake, 'policy.strategy.bake');
}

/** Gate kinds that cannot run without a label column. */
const LABELLED_KINDS = new Set<GateSpec['kind']>(['evaluation']);

/** Whether a gate cannot run without a label column (the evaluation gate scores predictions against it). */
export function needsLabel(gate: GateSpec): boolean {
  return LABELLED_KINDS.has(gate.kind);
}

/** The label column a gate reads: its own, else the policy's. */
export function labelOf(gate: GateSpec, policy: ReleasePolicy): string | undefined {
  if (gate.kind !== 'evaluation' && gate.kind !== 'quality' && gate.kind !== 'drift' && gate.kind !== 'loadtest') return undefined;
  return gate.label ?? policy.label;
}

/**
 * Checks what a gate's text says before anything is written: every evaluation threshold names a known
 * metric and every load-test SLO reads. Throws INVALID_ARGUMENT naming the gate.
 */
export function checkGateText(gate: GateSpec, name: string): void {
  const named = (err: unknown): never => {
    if (isSlipwayError(err)) throw new SlipwayError('INVALID_ARGUMENT', `Gate '${name}' (${gate.kind}): ${err.message}`, { gate: name, ...(err.details ?? {}) });
    throw err;
  };
  if (gate.kind === 'evaluation') {
    for (const m of gate.metrics) {
      try {
        parseMetricThreshold(m);
      } catch (err) {
        named(err);
      }
    }
  }
  if (gate.kind === 'loadtest') {
    for (const slo of gate.slo) {
      try {
        if (!parseRelativeSlo(slo)) parseThreshold(slo);
      } catch (err) {
        named(err);
      }
    }
  }
}

/** The first line of a text file (at most 1 MiB of it). */
async function firstLine(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
    const end = text.search(/\r?\n/);
    return end < 0 ? text : text.slice(0, end);
  } finally {
    await file.close();
  }
}

/** Splits one delimited header line, RFC 4180 quotes included. */
function splitHeader(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === delimiter) {
      out.push(cell);
      cell = '';
    } else cell += c;
  }
  out.push(cell);
  return out;
}

/**
 * The column names of a holdout file, read cheaply: the header line of CSV/TSV, the keys of the first
 * JSON line, the Parquet schema from the footer. The format is `name`'s extension (a store's local copy
 * may have none). Undefined for a format it cannot tell.
 */
export async function holdoutColumns(path: string, name = path): Promise<string[] | undefined> {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  if (ext === 'csv' || ext === 'tsv') return splitHeader(await firstLine(path), ext === 'tsv' ? '\t' : ',');
  if (ext === 'jsonl' || ext === 'ndjson') {
    try {
      const first = JSON.parse(await firstLine(path)) as unknown;
      return first !== null && typeof first === 'object' && !Array.isArray(first) ? Object.keys(first) : undefined;
    } catch {
      return undefined;
    }
  }
  if (ext === 'parquet') {
    const metadata = await parquetMetadataAsync(await asyncBufferFromFile(path));
    return parquetSchema(metadata).children.map((c) => c.element.name);
  }
  return undefined;
}
