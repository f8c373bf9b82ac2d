/**
 * MLflow's limits and validation rules for tracking input, with MLflow's messages,
 * so clients see the errors they already know.
 */
import { errors, SlipwayError } from '../core/errors.js';
import type { Metric, Param, Tag } from './tracking-types.js';

/** The largest sizes MLflow 2.12 accepts. */
export const TRACKING_LIMITS = {
  batchMetrics: 1000,
  batchParams: 100,
  batchTags: 100,
  batchTotal: 1000,
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 5000,
  experimentTagValueLength: 5000,
  runNameLength: 250,
  experimentNameLength: 500,
  datasetNameLength: 500,
  datasetDigestLength: 36,
  datasetSourceLength: 65535,
  datasetSchemaLength: 1048575,
  datasetProfileLength: 16384,
  inputTagValueLength: 500,
  // Not MLflow's: log-inputs writes row by row in one transaction, so a call is bounded to keep the writer free.
  inputDatasets: 1000,
  inputTags: 1000,
  maxSearchResults: 50000,
  defaultSearchResults: 1000,
} as const;

// Python's \w is Unicode-aware, hence the property classes.
const NAME_PATTERN = /^[\p{L}\p{N}_\-. /]+$/u;

function normalisesToItself(name: string): boolean {
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return false;
  return !name.split('/').some((part) => part === '.' || part === '..');
}

const validNames = new Set<string>();

/** Checks a metric, param or tag key as MLflow does (characters, path-normal form, length). */
export function validateKey(kind: 'metric' | 'param' | 'tag', key: unknown): string {
  if (typeof key === 'string' && validNames.has(key)) return key;
  if (key === undefined || key === null) throw errors.missing('key');
  if (typeof key !== 'string') throw errors.invalid(`Invalid ${kind} name: '${String(key)}'. The name must be a string.`);
  if (!NAME_PATTERN.test(key)) {
    throw errors.invalid(`Invalid ${kind} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`);
  }
  if (!normalisesToItself(key)) {
    throw errors.invalid(`Invalid ${kind} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such.`);
  }
  checkLength(`${capitalise(kind)} name`, key, TRACKING_LIMITS.keyLength);
  // Keys repeat across points and batches; remembering valid ones keeps ingest cheap.
  if (validNames.size < 100_000) validNames.add(key);
  return key;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Throws MLflow's length error when `value` is longer than `limit`. */
export function checkLength(what: string, value: string, limit: number): void {
  if (value.length > limit) {
    throw new SlipwayError('LIMIT_EXCEEDED', `${what} '${value.slice(0, 250)}' had length ${value.length}, which exceeded length limit of ${limit}`, { limit, length: value.length });
  }
}

/** Checks a string value field. */
export function requireString(field: string, value: unknown): string {
  if (value === undefined || value === null) throw errors.missing(field);
  if (typeof value !== 'string') throw errors.invalid(`Invalid value ${JSON.stringify(value)} for parameter '${field}': expected a string.`);
  return value;
}

/** Validates one param (key, value ≤ 6000 characters). */
export function validateParam(p: Param): void {
  validateKey('param', p.key);
  const value = requireString('value', p.value);
  checkLength('Param value', value, TRACKING_LIMITS.paramValueLength);
}

/** Validates one run tag (key, value ≤ 5000 characters). */
export function validateTag(t: Tag, limit: number = TRACKING_LIMITS.tagValueLength): void {
  validateKey('tag', t.key);
  const value = requireString('value', t.value);
  checkLength('Tag value', value, limit);
}

/** Validates one metric point: numeric value (NaN/±Infinity allowed), integer timestamp and step. */
export function validateMetric(m: Metric): void {
  validateKey('metric', m.key);
  if (typeof m.value !== 'number') {
    throw errors.invalid(`Got invalid value ${JSON.stringify(m.value)} for metric '${m.key}' (timestamp=${String(m.timestamp)}). Please specify value as a valid double (64-bit floating point)`);
  }
  if (!Number.isSafeInteger(m.timestamp) || m.timestamp < 0) {
    throw errors.invalid(`Got invalid timestamp ${JSON.stringify(m.timestamp)} for metric '${m.key}' (value=${m.value}). Timestamp must be a nonnegative long (64-bit integer) `);
  }
  if (!Number.isSafeInteger(m.step)) {
    throw errors.invalid(`Got invalid step ${JSON.stringify(m.step)} for metric '${m.key}' (value=${m.value}). Step must be a valid long (64-bit integer).`);
  }
}

/** Checks MLflow's per-batch limits before anything is written. */
export function validateBatchSizes(metrics: number, params: number, tags: number): void {
  const over = (limit: number, n: number, what: string): SlipwayError =>
    new SlipwayError(
      'LIMIT_EXCEEDED',
      `A batch logging request can contain at most ${limit} ${what}. Got ${n} ${what}. Please split up ${what} across multiple requests and try again.`,
      { limit, count: n },
    );
  if (metrics > TRACKING_LIMITS.batchMetrics) throw over(TRACKING_LIMITS.batchMetrics, metrics, 'metrics');
  if (params > TRACKING_LIMITS.batchParams) throw over(TRACKING_LIMITS.batchParams, params, 'params');
  if (tags > TRACKING_LIMITS.batchTags) throw over(TRACKING_LIMITS.batchTags, tags, 'tags');
  const total = metrics + params + tags;
  if (total > TRACKING_LIMITS.batchTotal) throw over(TRACKING_LIMITS.batchTotal, total, 'metrics, params, and tags');
}

const ID_PATTERN = /^[a-zA-Z0-9][\w-]{0,255}$/;

/** Checks a run id's format (MLflow: "Invalid run ID"). */
export function validateRunId(runId: unknown, field = 'run_id'): string {
  if (runId === undefined || runId === null || runId === '') throw errors.missing(field);
  if (typeof runId !== 'string' || !ID_PATTERN.test(runId)) throw errors.invalid(`Invalid run ID: '${String(runId)}'`);
  return runId;
}

/** Checks an experiment id's format; returns its integer. */
export function parseExperimentId(id: unknown, field = 'experiment_id'): number {
  if (id === undefined || id === null || id === '') throw errors.missing(field);
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw errors.invalid(`Invalid experiment ID: '${String(id)}'`);
  const n = /^\d{1,15}$/.test(id) ? Number(id) : NaN;
  if (!Number.isSafeInteger(n)) throw errors.notFound(`No Experiment with id=${id} exists`, { experimentId: id });
  return n;
}

/** Checks `max_results` against a ceiling. */
export function validateMaxResults(value: number | undefined, fallback: number, ceiling: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw errors.invalid(`Invalid value ${String(value)} for parameter 'max_results' supplied: it must be a positive integer.`);
  if (value > ceiling) throw errors.invalid(`Invalid value ${value} for parameter 'max_results' supplied. It must be at most ${ceiling}, but got value ${value}`);
  return value;
}
