/**
 * The `importance` part of POST /api/v1/monitoring/reports: `{ "model": "models:/NAME@ALIAS", "rows"?: N }`
 * asks for the global importance of that model version's features (mean absolute attribution over
 * N rows drawn from the report's current data, against a background from the version's reference).
 */
import { isSlipwayError, SlipwayError } from '../../core/errors.js';
import { globalImportance, referenceMissing, type FeatureImportance } from '../../explain/index.js';
import { findReference } from '../../monitoring/reference/reference-repository.js';
import type { DatasetProfile } from '../../monitoring/profile/dataset-profile.js';
import type { ServerContext } from '../context.js';

/** The most rows a report may explain for its importance section. */
const MAX_IMPORTANCE_ROWS = 200;

/**
 * Reads the `importance` field of a report request and measures it on `current`. With
 * `optional: true` a model that cannot be explained (no reference, not a tabular model) gives
 * `{ importance: null, note }` instead of failing the whole report.
 */
export async function reportImportance(
  ctx: ServerContext,
  value: unknown,
  current: DatasetProfile,
  resolveUri: (uri: unknown) => Promise<{ name: string; version: string }>,
): Promise<{ importance: FeatureImportance | null; note?: string }> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SlipwayError('INVALID_ARGUMENT', "'importance' must be { model: \"models:/NAME@ALIAS\", rows?, optional? }.");
  const v = value as Record<string, unknown>;
  if (v.optional !== undefined && typeof v.optional !== 'boolean') throw new SlipwayError('INVALID_ARGUMENT', "'importance.optional' must be true or false.");
  try {
    return { importance: await measure(ctx, v, current, resolveUri) };
  } catch (err) {
    if (v.optional !== true || !isSlipwayError(err) || err.status >= 500) throw err;
    return { importance: null, note: `Feature importance is not available: ${err.message}` };
  }
}

async function measure(ctx: ServerContext, v: Record<string, unknown>, current: DatasetProfile, resolveUri: (uri: unknown) => Promise<{ name: string; version: string }>): Promise<FeatureImportance> {
  const rows = v.rows ?? 20;
  if (typeof rows !== 'number' || !Number.isSafeInteger(rows) || rows < 1 || rows > MAX_IMPORTANCE_ROWS) {
    throw new SlipwayError('INVALID_ARGUMENT', `'importance.rows' must be an integer from 1 to ${MAX_IMPORTANCE_ROWS}, got ${JSON.stringify(rows)}.`);
  }
  const { name, version } = await resolveUri(v.model);
  if (!ctx.modelSource) throw new SlipwayError('NOT_IMPLEMENTED', 'This server has no model registry to find the model file in.');
  const resolved = await ctx.modelSource.resolve({ name, version });
  const reference = await findReference(ctx.store, name, version);
  if (!reference) throw referenceMissing({ name, version });
  return globalImportance({
    model: name,
    version,
    onnxPath: resolved.onnxPath,
    ...(resolved.columns ? { columns: resolved.columns } : {}),
    reference: reference.profile,
    current,
    rows,
  });
}
