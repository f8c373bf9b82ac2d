/**
 * Runs a candidate model, and the champion when there is one, over the same holdout
 * rows in the same run and scores both with scikit-learn's metric definitions, so a
 * release compares like with like.
 */
import { availableParallelism } from 'node:os';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { SlipwayError } from '../../core/errors.js';
import { readTable } from '../../monitoring/readers/table-reader.js';
import type { NumericColumn, Table } from '../../monitoring/table.js';
import { fromMemoryOptions, withoutZipMaps } from '../../serving/onnx-file.js';
import { classificationEvaluation, classificationFromScores, logLoss, predictedLabels, regressionEvaluation, rocAucOf, type ClassificationEvaluation, type ClassScores } from './metrics.js';

/** What the holdout measures: class labels or a continuous target. */
export type EvaluationTask = 'classification' | 'regression';

/** A model version to evaluate. */
export interface EvaluatedModel {
  onnxPath: string;
  version: string;
  /** The holdout columns the model reads, in input order; default every column except the label, in file order. */
  columns?: string[];
}

/** One model's figures on the holdout. */
export interface ModelEvaluation {
  version: string;
  rows: number;
  /** Seconds from handing each batch to onnxruntime to holding its outputs, summed; the next batch is assembled meanwhile. */
  seconds: number;
  rowsPerSecond: number;
  /** By wire name (see METRIC_NAMES); null where the data leave a metric undefined. */
  metrics: Record<string, number | null>;
  /** Classification only: rows = true class, columns = predicted class, in the order of `classes`. */
  confusionMatrix?: number[][];
  classes?: number[];
}

/** Both models' figures on one holdout. */
export interface EvaluationResult {
  task: EvaluationTask;
  label: string;
  rows: number;
  candidate: ModelEvaluation;
  champion?: ModelEvaluation;
}

/** Options of `evaluateOnHoldout`. */
export interface EvaluateOnHoldoutOptions {
  /** A .csv, .tsv, .jsonl, .ndjson or .parquet file. */
  holdoutPath: string;
  /** The column holding the true label or target. */
  label: string;
  /** Default: regression when the candidate gives one float column and the label has more than 20 distinct or non-integer values. */
  task?: EvaluationTask;
  candidate: EvaluatedModel;
  champion?: EvaluatedModel;
  /** Rows per onnxruntime call. @default 8192 */
  batchSize?: number;
  /** Stops the evaluation between batches; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each batch with the rows both models have scored. */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
}

/** Rows per onnxruntime call unless told otherwise. */
export const DEFAULT_EVALUATION_BATCH_SIZE = 8192;

// Above this many distinct label values a single-output model is taken for a regressor.
const MAX_CLASSES_FOR_DEFAULT = 20;

type Ort = typeof import('onnxruntime-node');

interface LoadedModel {
  model: EvaluatedModel;
  session: InferenceSession;
  input: string;
  features: string[];
  /** A float output: one score column (P(1) or a regression value) or one probability column per class. */
  scores?: string;
  /** An integer output of predicted labels, as scikit-learn converters add beside the probabilities. */
  labels?: string;
  /** The class of each probability column when the model names them (a ZipMap's labels). */
  columnClasses?: number[];
}

interface ModelOutputs {
  seconds: number;
  scoreColumns: number;
  scores?: Float64Array;
  labels?: Float64Array;
}

/**
 * Reads the holdout and evaluates the candidate (and champion) on it. Features go to the model
 * as float32, a missing value as NaN; the label column must be numeric and complete.
 */
export async function evaluateOnHoldout(opts: EvaluateOnHoldoutOptions): Promise<EvaluationResult> {
  const table = await readTable(opts.holdoutPath);
  return evaluateTable(table, opts);
}

/** Evaluates on a holdout already read into a table (`opts.holdoutPath` names it in messages). */
export async function evaluateTable(table: Table, opts: EvaluateOnHoldoutOptions): Promise<EvaluationResult> {
  const file = opts.holdoutPath;
  const batchSize = opts.batchSize ?? DEFAULT_EVALUATION_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new SlipwayError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}.`, { batchSize });
  if (table.rows === 0) throw new SlipwayError('INVALID_ARGUMENT', `The holdout ${file} has no rows.`, { path: file });
  const labelColumn = table.columns.find((c) => c.name === opts.label);
  if (!labelColumn) {
    throw new SlipwayError('INVALID_ARGUMENT', `The holdout ${file} has no label column '${opts.label}'; its columns are ${table.columns.map((c) => c.name).join(', ')}.`, { path: file, column: opts.label });
  }
  const y = numericValues(table, labelColumn.name, file);
  for (let i = 0; i < y.length; i++) {
    if (Number.isNaN(y[i])) throw new SlipwayError('INVALID_ARGUMENT', `The label column '${opts.label}' of ${file} has no value in data row ${i + 1}.`, { path: file, column: opts.label, row: i + 1 });
  }
  const defaultFeatures = table.columns.filter((c) => c.name !== opts.label).map((c) => c.name);
  const ort = await import('onnxruntime-node');
  const loaded: LoadedModel[] = [];
  try {
    const roles = opts.champion ? [opts.candidate, opts.champion] : [opts.candidate];
    for (const model of roles) loaded.push(await loadModel(ort, model, model.columns ?? defaultFeatures, table, file));
    const outputs = await runModels(ort, loaded, table, batchSize, opts);
    const first = outputs[0] as ModelOutputs;
    const task = opts.task ?? defaultTask(first, y);
    if (task === 'classification') {
      for (let i = 0; i < y.length; i++) {
        if (!Number.isInteger(y[i])) {
          throw new SlipwayError('INVALID_ARGUMENT', `The label column '${opts.label}' of ${file} holds ${y[i]} in data row ${i + 1}; classification needs integer class labels.`, { path: file, column: opts.label, row: i + 1 });
        }
      }
    }
    const score = (m: LoadedModel, o: ModelOutputs): ModelEvaluation => scoreModel(task, m, o, y);
    const candidate = score(loaded[0] as LoadedModel, first);
    const champion = loaded[1] && outputs[1] ? score(loaded[1], outputs[1]) : undefined;
    return { task, label: opts.label, rows: table.rows, candidate, ...(champion ? { champion } : {}) };
  } finally {
    await Promise.all(loaded.map((m) => m.session.release().catch(() => undefined)));
  }
}

function numericValues(table: Table, name: string, file: string): Float64Array {
  const column = table.columns.find((c) => c.name === name);
  if (!column) throw new SlipwayError('INVALID_ARGUMENT', `The holdout ${file} has no column '${name}'.`, { path: file, column: name });
  if (column.type !== 'number') {
    const bad = column.values.find((v) => v !== null && !Number.isFinite(Number(v)));
    throw new SlipwayError('INVALID_ARGUMENT', `Column '${name}' of ${file} is not numeric${bad !== undefined ? ` (it holds '${bad}')` : ''}.`, { path: file, column: name });
  }
  return column.values;
}

async function loadModel(ort: Ort, model: EvaluatedModel, features: string[], table: Table, file: string): Promise<LoadedModel> {
  const who = `model version ${model.version} (${model.onnxPath})`;
  for (const name of features) numericValues(table, name, file);
  if (features.length === 0) throw new SlipwayError('INVALID_ARGUMENT', `The holdout ${file} has no feature columns besides the label.`, { path: file });
  const options: InferenceSession.SessionOptions = {
    intraOpNumThreads: Math.max(1, Math.min(4, availableParallelism())),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  let session: InferenceSession;
  let columnClasses: number[] | undefined;
  try {
    session = await ort.InferenceSession.create(model.onnxPath, options);
    if (session.outputMetadata.some((m) => !m.isTensor)) {
      const rewritten = await withoutZipMaps(model.onnxPath);
      if (rewritten) {
        await session.release();
        session = await ort.InferenceSession.create(rewritten.model, fromMemoryOptions(model.onnxPath, options));
        const classes = rewritten.outputs[0]?.classes;
        if (classes?.every((c) => typeof c === 'number')) columnClasses = classes as number[];
      }
    }
  } catch (err) {
    throw new SlipwayError('INVALID_ARGUMENT', `Cannot load ${who}: ${(err as Error).message}`, { path: model.onnxPath, version: model.version });
  }
  const fail = (message: string): never => {
    void session.release().catch(() => undefined);
    throw new SlipwayError('INVALID_ARGUMENT', `${who} ${message}`, { path: model.onnxPath, version: model.version });
  };
  const inputs = session.inputMetadata;
  const input = inputs[0];
  if (inputs.length !== 1 || !input?.isTensor) return fail(`must take one tensor input of float32 features; it takes ${inputs.map((m) => m.name).join(', ')}.`);
  if (input.type !== 'float32') return fail(`takes input '${input.name}' of type ${input.type}; evaluation feeds float32 features.`);
  const width = input.shape[input.shape.length - 1];
  if (input.shape.length !== 2 || (typeof width === 'number' && width !== features.length)) {
    return fail(`expects input '${input.name}' of shape [${input.shape.join(', ')}], but the holdout gives ${features.length} feature columns (${features.join(', ')}).`);
  }
  const tensors = session.outputMetadata.filter((m): m is InferenceSession.TensorValueMetadata => m.isTensor);
  const scores = tensors.find((m) => m.type === 'float32' || m.type === 'float64')?.name;
  const labels = tensors.find((m) => m.type === 'int64' || m.type === 'int32')?.name;
  if (!scores && !labels) return fail(`has no float or integer tensor output to score (outputs: ${session.outputMetadata.map((m) => m.name).join(', ')}).`);
  return { model, session, input: input.name, features, ...(scores ? { scores } : {}), ...(labels ? { labels } : {}), ...(columnClasses ? { columnClasses } : {}) };
}

async function runModels(ort: Ort, models: LoadedModel[], table: Table, batchSize: number, opts: EvaluateOnHoldoutOptions): Promise<ModelOutputs[]> {
  const n = table.rows;
  const byName = new Map(table.columns.filter((c): c is NumericColumn => c.type === 'number').map((c) => [c.name, c.values]));
  // Models reading the same columns share batch buffers; two of each, so the next batch is
  // assembled while onnxruntime (on its own threads) runs the current one.
  const buffers = new Map<string, { columns: Float64Array[]; data: [Float32Array, Float32Array] }>();
  const bufferOf = models.map((m) => {
    const key = m.features.join('\u0000');
    let b = buffers.get(key);
    if (!b) {
      const size = Math.min(batchSize, n) * m.features.length;
      b = { columns: m.features.map((f) => byName.get(f) as Float64Array), data: [new Float32Array(size), new Float32Array(size)] };
      buffers.set(key, b);
    }
    return b;
  });
  const fill = (start: number, slot: number): void => {
    const rows = Math.min(batchSize, n - start);
    for (const b of buffers.values()) fillBatch(b.columns, b.data[slot] as Float32Array, start, rows);
  };
  const outputs: ModelOutputs[] = models.map(() => ({ seconds: 0, scoreColumns: 0 }));
  fill(0, 0);
  for (let start = 0, slot = 0; start < n; start += batchSize, slot ^= 1) {
    opts.signal?.throwIfAborted();
    const rows = Math.min(batchSize, n - start);
    for (let m = 0; m < models.length; m++) {
      const model = models[m] as LoadedModel;
      const out = outputs[m] as ModelOutputs;
      const data = (bufferOf[m] as { data: Float32Array[] }).data[slot] as Float32Array;
      const t0 = performance.now();
      const feed = { [model.input]: new ort.Tensor('float32', data.subarray(0, rows * model.features.length), [rows, model.features.length]) };
      const fetches = [model.scores, model.labels].filter((x): x is string => x !== undefined);
      const running = model.session.run(feed, fetches);
      if (m === models.length - 1 && start + batchSize < n) fill(start + batchSize, slot ^ 1);
      let result: InferenceSession.OnnxValueMapType;
      try {
        result = await running;
      } catch (err) {
        throw new SlipwayError('INVALID_ARGUMENT', `Model version ${model.model.version} (${model.model.onnxPath}) failed on rows ${start + 1}-${start + rows} of ${opts.holdoutPath}: ${(err as Error).message}`, { path: model.model.onnxPath, version: model.model.version });
      }
      collect(model, out, result, start, rows, n);
      out.seconds += (performance.now() - t0) / 1000;
    }
    opts.onProgress?.(start + rows, n);
  }
  return outputs;
}

function fillBatch(columns: Float64Array[], data: Float32Array, start: number, rows: number): void {
  const width = columns.length;
  for (let j = 0; j < width; j++) {
    const col = columns[j] as Float64Array;
    for (let i = 0; i < rows; i++) data[i * width + j] = col[start + i] as number;
  }
}

function collect(model: LoadedModel, out: ModelOutputs, result: InferenceSession.OnnxValueMapType, start: number, rows: number, n: number): void {
  if (model.scores) {
    const t = result[model.scores] as Tensor;
    const cols = t.dims.length <= 1 ? 1 : t.dims.slice(1).reduce((a, b) => a * b, 1);
    if (!out.scores) {
      out.scoreColumns = cols;
      out.scores = new Float64Array(n * cols);
    } else if (cols !== out.scoreColumns) {
      throw new SlipwayError('INVALID_ARGUMENT', `Model version ${model.model.version} gave ${cols} output columns for rows from ${start + 1}, ${out.scoreColumns} before.`, { version: model.model.version });
    }
    out.scores.set(t.data as Float32Array | Float64Array, start * cols);
  }
  if (model.labels) {
    const t = result[model.labels] as Tensor;
    out.labels ??= new Float64Array(n);
    const data = t.data as BigInt64Array | Int32Array;
    for (let i = 0; i < rows; i++) out.labels[start + i] = Number(data[i]);
  }
}

function defaultTask(first: ModelOutputs, y: Float64Array): EvaluationTask {
  if (first.labels || first.scoreColumns !== 1) return 'classification';
  const distinct = new Set<number>();
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v)) return 'regression';
    distinct.add(v);
    if (distinct.size > MAX_CLASSES_FOR_DEFAULT) return 'regression';
  }
  return 'classification';
}

function scoreModel(task: EvaluationTask, model: LoadedModel, out: ModelOutputs, y: Float64Array): ModelEvaluation {
  const n = y.length;
  const base = { version: model.model.version, rows: n, seconds: out.seconds, rowsPerSecond: out.seconds > 0 ? n / out.seconds : 0 };
  if (task === 'regression') {
    if (!out.scores || out.scoreColumns !== 1) {
      throw new SlipwayError('INVALID_ARGUMENT', `Model version ${model.model.version} (${model.model.onnxPath}) gives ${out.scores ? `${out.scoreColumns} float columns` : 'no float output'}; a regression evaluation needs one prediction column.`, { version: model.model.version });
    }
    return { ...base, metrics: regressionEvaluation(y, out.scores) };
  }
  const scores: ClassScores | undefined = out.scores ? { columns: out.scoreColumns, values: out.scores } : undefined;
  let evaluation: ClassificationEvaluation;
  if (!out.labels && !model.columnClasses) evaluation = classificationFromScores(y, scores as ClassScores);
  else {
    let yPred: Float64Array;
    if (out.labels) yPred = out.labels;
    else {
      yPred = predictedLabels(scores as ClassScores, n);
      const classes = model.columnClasses as number[];
      for (let i = 0; i < n; i++) yPred[i] = classes[yPred[i] as number] as number;
    }
    evaluation = classificationEvaluation(y, yPred);
    if (scores) {
      // Probability columns follow the model's own class order; ROC AUC and log loss need labels as column indexes.
      const yIndex = model.columnClasses ? columnIndexes(y, model.columnClasses) : y;
      evaluation.metrics.roc_auc = rocAucOf(yIndex, scores);
      evaluation.metrics.log_loss = logLoss(yIndex, scores);
    }
  }
  return { ...base, metrics: evaluation.metrics, confusionMatrix: evaluation.confusionMatrix, classes: evaluation.classes };
}

function columnIndexes(y: Float64Array, classes: number[]): Float64Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  // A label the model has no column for becomes -1, which leaves ROC AUC and log loss undefined (null).
  return Float64Array.from(y, (v) => index.get(v) ?? -1);
}
