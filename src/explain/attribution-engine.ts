/**
 * Per-feature attributions of tabular rows against a background sample (interventional Shapley
 * values): the value of a coalition S is the mean model output over the background rows with
 * the features of S taken from the explained row. The perturbed rows are built in chunks of
 * whole coalitions and handed to a scorer one chunk at a time, so a caller can pace them.
 */
import { SlipwayError } from '../core/errors.js';
import { exactAttributions, exactPlan, kernelAttributions, kernelPlan, type AttributionMethod, type CoalitionPlan } from './coalitions.js';

/** Scores `count` rows (row-major, `features` values each): one model output per row. */
export type RowScorer = (rows: Float32Array | Float64Array, count: number) => Promise<ArrayLike<number>>;

/** How rows are explained. */
export interface AttributionOptions {
  /** Exact Shapley values up to this many features, KernelSHAP beyond. @default 12 */
  maxExactFeatures?: number;
  /** Coalitions KernelSHAP evaluates per explained row (rounded down to an even number). @default 2048 */
  sampleBudget?: number;
  /** Seed of KernelSHAP's coalition draws. @default 1 */
  seed?: number;
  /** Rows per scored chunk (at least one coalition's background). @default 16384 */
  chunkRows?: number;
  /** Element type the model reads. @default Float32Array */
  rowType?: Float32ArrayConstructor | Float64ArrayConstructor;
  /** Awaited before every chunk after the first: where the caller yields to other work. */
  pace?: () => Promise<void>;
}

/** The attributions of one explained row. */
export interface RowAttribution {
  /** The model output for the row, v(N). */
  prediction: number;
  /** One value per feature; they sum to prediction - baseline. */
  attributions: Float64Array;
}

/** Attributions of several rows against one background. */
export interface AttributionResult {
  method: AttributionMethod;
  /** The expected output over the background, v(∅). */
  baseline: number;
  /** Background rows every coalition is averaged over. */
  backgroundSize: number;
  /** Coalitions evaluated per explained row (besides the empty and the full one). */
  coalitions: number;
  /** Model rows scored in all. */
  modelRows: number;
  rows: RowAttribution[];
}

/** The widest model explained: KernelSHAP's regression grows with the square of the features. */
export const MAX_FEATURES = 256;

/**
 * Multiply-adds of KernelSHAP's regression for one row, which runs on the JavaScript thread (about
 * coalitions x (features - 1)^2; a 256-feature row with 2,048 coalitions takes about 60 ms on one core).
 * One row stays under MAX_REGRESSION_PER_ROW (about 0.1 s; rows are separated by a yield to other
 * work), one request under MAX_REGRESSION_PER_REQUEST (a few seconds of one core in all).
 */
export function regressionCost(plan: CoalitionPlan): number {
  return plan.method === 'kernel' ? plan.count * (plan.features - 1) ** 2 : 0;
}

/** The most regression multiply-adds for one explained row. */
export const MAX_REGRESSION_PER_ROW = 2 ** 28;
/** The most regression multiply-adds for all the rows of one request. */
export const MAX_REGRESSION_PER_REQUEST = 2 ** 33;

/** The largest KernelSHAP budget (coalitions) one row of `features` features may use. */
export function maxKernelBudget(features: number): number {
  return 2 * Math.floor(MAX_REGRESSION_PER_ROW / Math.max(1, (features - 1) ** 2) / 2);
}

/** Throws LIMIT_EXCEEDED, naming what to shrink, when the regression of `rows` rows under `plan` is over its bounds. */
export function checkRegression(plan: CoalitionPlan, rows: number): void {
  const perRow = regressionCost(plan);
  if (perRow > MAX_REGRESSION_PER_ROW) {
    throw new SlipwayError(
      'LIMIT_EXCEEDED',
      `KernelSHAP over ${plan.features} features with ${plan.count} coalitions costs ${perRow} multiply-adds per row in its regression, above the limit of ${MAX_REGRESSION_PER_ROW}; send a parameters.sample_budget of at most ${maxKernelBudget(plan.features)}.`,
    );
  }
  if (perRow * rows > MAX_REGRESSION_PER_REQUEST) {
    throw new SlipwayError(
      'LIMIT_EXCEEDED',
      `KernelSHAP over ${rows} rows of ${plan.features} features with ${plan.count} coalitions costs ${perRow * rows} multiply-adds in its regression, above the limit of ${MAX_REGRESSION_PER_REQUEST}; send at most ${Math.floor(MAX_REGRESSION_PER_REQUEST / perRow)} rows, or a smaller parameters.sample_budget.`,
    );
  }
}

/** The plan `explainRows` would use for `features` features; lets a caller size the work before starting it. */
export function planFor(features: number, opts: Pick<AttributionOptions, 'maxExactFeatures' | 'sampleBudget' | 'seed'> = {}): CoalitionPlan {
  const maxExact = opts.maxExactFeatures ?? 12;
  if (features < 1) throw new SlipwayError('INVALID_ARGUMENT', 'A model with no input features cannot be explained.');
  if (features > MAX_FEATURES) throw new SlipwayError('LIMIT_EXCEEDED', `Explanations cover models of up to ${MAX_FEATURES} features; this one has ${features}.`);
  if (features === 1) return { method: 'exact', features, masks: new Uint8Array(0), count: 0 };
  return features <= maxExact ? exactPlan(features) : kernelPlan(features, opts.sampleBudget ?? 2048, opts.seed ?? 1);
}

/** Explains `rows` (each `features` long) against `background` with the model behind `score`. */
export async function explainRows(rows: ArrayLike<number>[], background: ArrayLike<number>[], score: RowScorer, opts: AttributionOptions = {}): Promise<AttributionResult> {
  const features = rows[0]?.length ?? background[0]?.length ?? 0;
  if (background.length === 0) throw new SlipwayError('INVALID_ARGUMENT', 'The background sample is empty.');
  for (const r of [...rows, ...background]) {
    if (r.length !== features) throw new SlipwayError('INVALID_ARGUMENT', `Every row must have ${features} features; one has ${r.length}.`);
  }
  const plan = planFor(features, opts);
  checkRegression(plan, rows.length);
  const RowType = opts.rowType ?? Float32Array;
  const bg = background.length;
  const chunkRows = Math.max(opts.chunkRows ?? 16_384, bg);
  let modelRows = 0;
  let first = true;
  const run = async (buffer: Float32Array | Float64Array, count: number): Promise<ArrayLike<number>> => {
    if (!first) await opts.pace?.();
    first = false;
    modelRows += count;
    const out = await score(count === buffer.length / features ? buffer : buffer.subarray(0, count * features), count);
    if (out.length !== count) throw new SlipwayError('INTERNAL', `The model returned ${out.length} values for ${count} rows.`);
    return out;
  };

  // The background alone gives the baseline; the explained rows alone give the predictions.
  const head = new RowType((bg + rows.length) * features);
  background.forEach((r, i) => head.set(r, i * features));
  rows.forEach((r, i) => head.set(r, (bg + i) * features));
  const headOut = await run(head, bg + rows.length);
  let baseline = 0;
  for (let i = 0; i < bg; i++) baseline += headOut[i] as number;
  baseline /= bg;
  const predictions = rows.map((_, i) => headOut[bg + i] as number);

  // Coalition values, row by row: whole coalitions per chunk, each averaged over the background.
  const values = rows.map(() => new Float64Array(plan.count));
  const perChunk = Math.max(1, Math.floor(chunkRows / bg));
  const buffer = new RowType(perChunk * bg * features);
  const bgFlat = new RowType(bg * features);
  background.forEach((r, i) => bgFlat.set(r, i * features));
  const jobs = rows.length * plan.count;
  for (let start = 0; start < jobs; start += perChunk) {
    const end = Math.min(jobs, start + perChunk);
    for (let job = start; job < end; job++) {
      const row = rows[Math.floor(job / Math.max(1, plan.count))] as ArrayLike<number>;
      const k = job % plan.count;
      const at = (job - start) * bg * features;
      buffer.set(bgFlat, at);
      const mask = k * features;
      for (let j = 0; j < features; j++) {
        if (plan.masks[mask + j] !== 1) continue;
        const x = row[j] as number;
        for (let b = 0; b < bg; b++) buffer[at + b * features + j] = x;
      }
    }
    const out = await run(buffer, (end - start) * bg);
    for (let job = start; job < end; job++) {
      let sum = 0;
      const from = (job - start) * bg;
      for (let b = 0; b < bg; b++) sum += out[from + b] as number;
      (values[Math.floor(job / plan.count)] as Float64Array)[job % plan.count] = sum / bg;
    }
  }

  const result: RowAttribution[] = [];
  for (let r = 0; r < rows.length; r++) {
    // The regression of a wide model takes milliseconds per row: let other work in between rows.
    if (r > 0 && plan.method === 'kernel') await new Promise((resolve) => setImmediate(resolve));
    const prediction = predictions[r] as number;
    const v = values[r] as Float64Array;
    let attributions: Float64Array;
    if (features === 1) attributions = Float64Array.of(prediction - baseline);
    else attributions = plan.method === 'exact' ? exactAttributions(features, v, baseline, prediction) : kernelAttributions(plan, v, baseline, prediction);
    result.push({ prediction, attributions });
  }
  return { method: plan.method, baseline, backgroundSize: bg, coalitions: plan.count, modelRows, rows: result };
}
