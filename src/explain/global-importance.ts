/**
 * Global importance of a model's features for a monitoring report: the mean absolute attribution
 * of each feature over rows drawn from the current data, against a background drawn from the
 * version's reference. Beside the drift of each feature it tells how much the model relies on
 * it, so a drifted feature the model hardly uses can be told from one it leans on.
 */
import { SlipwayError } from '../core/errors.js';
import type { DatasetProfile } from '../monitoring/profile/dataset-profile.js';
import { loadRuntime, type Runtime } from '../serving/model-runtime.js';
import type { TensorData } from '../serving/tensor-types.js';
import { explainRows, MAX_REGRESSION_PER_REQUEST, maxKernelBudget } from './attribution-engine.js';
import { backgroundFromProfile } from './background.js';
import type { AttributionMethod } from './coalitions.js';
import { chooseOutput, tabularInput } from './explain-service.js';

/** What to measure the importance of. */
export interface ImportanceInput {
  model: string;
  version: string;
  onnxPath: string;
  /** The model's column names, when known (else input_0, input_1, …). */
  columns?: string[];
  /** The version's reference: the background. */
  reference: DatasetProfile;
  /** The current data: the explained rows are drawn from it. */
  current: DatasetProfile;
  /** Rows explained. @default 20 */
  rows?: number;
  /** Background rows. @default 50 */
  backgroundSize?: number;
  /** KernelSHAP coalitions per row beyond 12 features. @default 1024 */
  sampleBudget?: number;
  /** Opens the model (default: a worker-thread session with one intra-op thread). */
  openSession?: (onnxPath: string) => Promise<Runtime>;
}

/** Mean absolute attribution per feature (the report's `importance` section). */
export interface FeatureImportance {
  model: string;
  version: string;
  output: string;
  method: AttributionMethod;
  /** Rows drawn from the current data and explained. */
  rows: number;
  backgroundSize: number;
  sampleBudget: number | null;
  /** Features by importance, largest first; `share` is the feature's part of the sum of all. */
  features: Array<{ name: string; meanAbsAttribution: number; share: number }>;
}

/** Measures the global importance of `input.model`'s features on the current data. */
export async function globalImportance(input: ImportanceInput): Promise<FeatureImportance> {
  const open = input.openSession ?? ((path: string) => loadRuntime(path, { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: false, executor: 'worker', concurrency: 1 }));
  const session = await open(input.onnxPath);
  try {
    const model = { name: input.model, version: input.version, source: input.onnxPath, signature: session.signature, columns: input.columns };
    const spec = tabularInput(model);
    const width = spec.shape[1] as number;
    const features = input.columns && input.columns.length === width ? input.columns : Array.from({ length: width }, (_, j) => `input_${j}`);
    const output = chooseOutput(session.signature, {});
    const column = output.column ?? (output.width === 2 ? 1 : 0);
    const background = backgroundFromProfile(input.reference, features, input.backgroundSize ?? 50);
    let rows: number[][];
    try {
      rows = backgroundFromProfile(input.current, features, input.rows ?? 20);
    } catch (err) {
      throw new SlipwayError('INVALID_ARGUMENT', `The current data cannot give rows to explain: ${(err as Error).message}`);
    }
    // Within the regression's bounds for this many rows of this many features (a 256-feature model gets about 660 coalitions over 200 rows).
    const perCoalition = Math.max(1, (features.length - 1) ** 2) * rows.length;
    const sampleBudget = Math.max(16, Math.min(input.sampleBudget ?? 1024, maxKernelBudget(features.length), 2 * Math.floor(MAX_REGRESSION_PER_REQUEST / perCoalition / 2)));
    const result = await explainRows(
      rows,
      background,
      async (batch, count) => {
        const out = await session.run([{ datatype: spec.datatype, shape: [count, width], data: batch }]);
        const data = (out[output.index] as TensorData).data as ArrayLike<number>;
        const stride = data.length / count;
        return Float64Array.from({ length: count }, (_, r) => data[r * stride + column] as number);
      },
      { sampleBudget, rowType: spec.datatype === 'FP64' ? Float64Array : Float32Array },
    );
    const means = features.map((_, j) => result.rows.reduce((s, r) => s + Math.abs(r.attributions[j] as number), 0) / result.rows.length);
    const total = means.reduce((s, v) => s + v, 0);
    return {
      model: input.model,
      version: input.version,
      output: `${output.spec.name} column ${column}`,
      method: result.method,
      rows: result.rows.length,
      backgroundSize: result.backgroundSize,
      sampleBudget: result.method === 'kernel' ? result.coalitions : null,
      features: features.map((name, j) => ({ name, meanAbsAttribution: means[j] as number, share: total > 0 ? (means[j] as number) / total : 0 })).sort((a, b) => b.meanAbsAttribution - a.meanAbsAttribution),
    };
  } finally {
    await session.release();
  }
}
