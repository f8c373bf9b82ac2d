/** Checks and normalisations for registry inputs, with MLflow's rules and messages. */
import { SlipwayError, errors } from '../core/errors.js';
import type { ModelStage } from './registry-types.js';

/** The stage a deleted version is parked in; never shown to users (MLflow keeps the same marker). */
export const DELETED_STAGE = 'Deleted_Internal';

const STAGES: readonly ModelStage[] = ['None', 'Staging', 'Production', 'Archived'];

/** The longest registered-model name, alias or tag key accepted. */
export const MAX_NAME_LENGTH = 256;
/** The longest tag value accepted (MLflow's limit for model tags). */
export const MAX_TAG_VALUE_LENGTH = 5000;
/** The longest description accepted. */
export const MAX_DESCRIPTION_LENGTH = 65536;

/** Requires a non-empty string parameter. */
export function requireString(value: unknown, field: string): string {
  if (value === undefined || value === null || value === '') throw errors.missing(field);
  if (typeof value !== 'string') throw errors.invalid(`Parameter '${field}' must be a string, got ${typeof value}.`, { field });
  return value;
}

/** Validates a registered model name. */
export function validateModelName(name: unknown, field = 'name'): string {
  if (name === undefined || name === null || name === '') {
    throw new SlipwayError('MISSING_ARGUMENT', 'Registered model name cannot be empty.', { field });
  }
  if (typeof name !== 'string') throw errors.invalid(`Parameter '${field}' must be a string, got ${typeof name}.`, { field });
  if (name.length > MAX_NAME_LENGTH) throw errors.invalid(`Registered model name is longer than ${MAX_NAME_LENGTH} characters.`, { field });
  // A model name is part of `models:/NAME/VERSION` and `models:/NAME@ALIAS` URIs, so '/' and '@' would make those ambiguous.
  if (/[/@]/.test(name)) throw errors.invalid(`Registered model name '${name}' must not contain '/' or '@'.`, { field });
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw errors.invalid('Registered model name must not contain control characters.', { field });
  return name;
}

/** Parses a version number given as a string or number ("3" → 3). */
export function parseVersion(version: unknown, field = 'version'): number {
  if (version === undefined || version === null || version === '') throw errors.missing(field);
  const text = typeof version === 'number' ? String(version) : version;
  // MLflow's words (its clients and tests match them): "Model version must be an integer, got '…'".
  if (typeof text !== 'string' || !/^\d+$/.test(text.trim())) throw errors.invalid(`Model version must be an integer, got '${String(version)}'`, { field });
  const n = Number(text.trim());
  if (!Number.isSafeInteger(n) || n < 1) throw errors.invalid(`Model version must be a positive integer, got '${String(version)}'`, { field });
  return n;
}

/** Validates an alias name with MLflow's rules: not empty, not `latest`, not shaped like a version (`v3`). */
export function validateAlias(alias: unknown): string {
  if (alias === undefined || alias === null || alias === '') throw new SlipwayError('MISSING_ARGUMENT', 'Registered model alias name cannot be empty.', { field: 'alias' });
  if (typeof alias !== 'string') throw errors.invalid(`Parameter 'alias' must be a string, got ${typeof alias}.`, { field: 'alias' });
  if (alias.length > MAX_NAME_LENGTH) throw errors.invalid(`Registered model alias name is longer than ${MAX_NAME_LENGTH} characters.`, { field: 'alias' });
  if (alias.toLowerCase() === 'latest') throw errors.invalid("'latest' is reserved and cannot be used as an alias.", { field: 'alias' });
  if (/^v\d+$/i.test(alias)) throw errors.invalid(`Alias '${alias}' looks like a version ('v<number>'); choose another name.`, { field: 'alias' });
  if (/[/@]/.test(alias)) throw errors.invalid(`Alias '${alias}' must not contain '/' or '@'.`, { field: 'alias' });
  return alias;
}

/** Most tags a model or version may be created with (as for runs and experiments). */
export const MAX_TAGS_AT_CREATION = 1000;

/** Validates the tags given at creation: each one, and their count. */
export function validateCreationTags(tags: Record<string, string> | undefined): Array<{ key: string; value: string }> {
  const entries = Object.entries(tags ?? {});
  // One SQL row per tag: an unbounded list would overflow the database's parameter limit.
  if (entries.length > MAX_TAGS_AT_CREATION) {
    throw new SlipwayError('LIMIT_EXCEEDED', `At most ${MAX_TAGS_AT_CREATION} tags may be set at creation. Got ${entries.length} tags.`, { field: 'tags' });
  }
  return entries.map(([k, v]) => validateTag(k, v));
}

/** Validates a tag key and value. */
export function validateTag(key: unknown, value: unknown): { key: string; value: string } {
  const k = requireString(key, 'key');
  if (k.length > MAX_NAME_LENGTH) throw errors.invalid(`Tag key '${k.slice(0, 40)}…' is longer than ${MAX_NAME_LENGTH} characters.`, { field: 'key' });
  if (value === undefined || value === null) throw errors.missing('value');
  if (typeof value !== 'string') throw errors.invalid(`Tag value for '${k}' must be a string, got ${typeof value}.`, { field: 'value' });
  if (value.length > MAX_TAG_VALUE_LENGTH) {
    throw new SlipwayError('LIMIT_EXCEEDED', `Tag value for '${k}' is ${value.length} characters; the limit is ${MAX_TAG_VALUE_LENGTH}.`, { field: 'value' });
  }
  return { key: k, value };
}

/** Validates an optional description. */
export function validateDescription(description: unknown): string | undefined {
  if (description === undefined || description === null) return undefined;
  if (typeof description !== 'string') throw errors.invalid(`Parameter 'description' must be a string, got ${typeof description}.`, { field: 'description' });
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw new SlipwayError('LIMIT_EXCEEDED', `Description is ${description.length} characters; the limit is ${MAX_DESCRIPTION_LENGTH}.`, { field: 'description' });
  }
  return description;
}

/** Canonicalises a stage name case-insensitively (`production` → `Production`). */
export function parseStage(stage: unknown): ModelStage {
  if (stage === undefined || stage === null || stage === '') throw errors.missing('stage');
  const found = typeof stage === 'string' ? STAGES.find((s) => s.toLowerCase() === stage.toLowerCase()) : undefined;
  if (!found) throw errors.invalid(`Invalid Model Version stage: ${String(stage)}. Value must be one of ${STAGES.join(', ')}.`, { field: 'stage' });
  return found;
}

/** Every stage a version can be in, in display order. */
export function allStages(): readonly ModelStage[] {
  return STAGES;
}

/** Resolves `max_results` against a default and a ceiling, rejecting nonsense. */
export function parseMaxResults(value: unknown, fallback: number, ceiling: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw errors.invalid(`Invalid value for request parameter max_results. It must be a positive integer, but got value '${String(value)}'.`, { field: 'max_results' });
  if (n > ceiling) throw errors.invalid(`Invalid value for request parameter max_results. It must be at most ${ceiling}, but got value ${n}.`, { field: 'max_results' });
  return n;
}

/** Encodes an offset as an opaque page token. */
export function encodePageToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

/** Decodes a page token made by `encodePageToken`. */
export function decodePageToken(token: unknown): number {
  if (token === undefined || token === null || token === '') return 0;
  if (typeof token === 'string') {
    try {
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
      if (typeof parsed.offset === 'number' && Number.isSafeInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
    } catch {
      // falls through to the error below
    }
  }
  throw errors.invalid(`Invalid page token '${String(token)}'.`, { field: 'page_token' });
}
