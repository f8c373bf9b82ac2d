/**
 * Explains predictions of served tabular models: decodes a V2 infer body, picks the output to
 * explain, draws the background from the version's reference profile and computes Shapley values
 * (exact, or KernelSHAP beyond `maxExactFeatures`) on a session of its own.
 *
 * Explanations stay off the request path of plain inference: they run on a separate onnxruntime
 * session in a worker thread with one intra-op thread, one explanation at a time (the others wait
 * in a short queue), and while plain inference is busy (`busy`) each chunk of perturbed rows first
 * rests `restFactor` times as long as the previous chunk took, so explanations take at most
 * 1 / (1 + restFactor) of one core from a busy server (a tenth by default).
 */
import { SlipwayError } from '../core/errors.js';
import type { DatasetProfile } from '../monitoring/profile/dataset-profile.js';
import { loadRuntime, type Runtime } from '../serving/model-runtime.js';
import type { ModelSignature, TensorSpec } from '../serving/model-signature.js';
import type { ServingOptions } from '../serving/serving-options.js';
import type { TensorData } from '../serving/tensor-types.js';
import { TextTokenizer } from '../serving/text-model.js';
import { decodeV2Request } from '../serving/v2-protocol.js';
import { checkRegression, explainRows, maxKernelBudget, planFor, type AttributionResult } from './attribution-engine.js';
import { backgroundFromProfile, MAX_BACKGROUND_SIZE } from './background.js';
import type { AttributionMethod } from './coalitions.js';
import { explainTexts, MAX_TEXT_TOKENS, tokenOcclusion, tokenReader, wordOcclusion, type OutputPicker, type TextOcclusion, type TokenAttribution, type TokenReader } from './text-occlusion.js';

/** The served model version to explain (a `LoadedModel` fits). */
export interface ExplainedModel {
  name: string;
  version: string;
  /** The ONNX file the version was loaded from. */
  source: string;
  signature: ModelSignature;
  columns: string[] | undefined;
}

/** Limits of one explain request. */
export interface ExplainLimits {
  /** Rows one request may explain. @default 100 */
  maxRows: number;
  /** Model rows (perturbed rows) one request may cost. @default 25000000 */
  maxModelRows: number;
  /** Background rows when the request names none. @default 100 */
  backgroundSize: number;
  /** KernelSHAP coalitions per row when the request names none. @default 2048 */
  sampleBudget: number;
  /** Exact Shapley values up to this many features. @default 12 */
  maxExactFeatures: number;
  /** Explanations waiting for their turn before more are refused (OVERLOADED). @default 8 */
  maxWaiting: number;
  /** While plain inference is busy, each chunk rests this many times the previous chunk's time. @default 9 */
  restFactor: number;
}

/** Defaults of `ExplainLimits`. */
export const DEFAULT_EXPLAIN_LIMITS: ExplainLimits = {
  maxRows: 100,
  maxModelRows: 25_000_000,
  backgroundSize: 100,
  sampleBudget: 2048,
  maxExactFeatures: 12,
  maxWaiting: 8,
  restFactor: 9,
};

/** What the service needs. */
export interface ExplainServiceInit {
  /** The reference profile of a model version (monitoring's), or undefined when none is attached. */
  reference(model: string, version: string): Promise<DatasetProfile | undefined>;
  /** Serving options: the graph optimisation level of the explanation session and the non-finite policy of inputs. */
  options: Pick<ServingOptions, 'graphOptimizationLevel' | 'nonFinite'>;
  /** True while plain inference is busy (asked before every chunk of perturbed rows). */
  busy?: () => boolean;
  /** Opens the explanation session of a model file (default: a worker-thread session with one intra-op thread). */
  openSession?: (onnxPath: string) => Promise<Runtime>;
  limits?: Partial<ExplainLimits>;
}

/** The explanation of one row. */
export interface RowExplanation {
  prediction: number;
  /** Per feature; for a text model, per token, with its place in the input. */
  attributions: Array<{ feature: string; value: number } | TokenAttribution>;
  /** Text models: tokens the model's own truncation cut off (not explained). */
  truncated_tokens?: number;
}

/** How a text model's tokens were occluded. */
export interface OcclusionInfo {
  /** What stands in for an occluded token: it is removed. */
  replacement: 'removal';
  tokenization: string;
  max_tokens_per_row: number;
}

/** The answer to an explain request (the wire form of POST /v2/models/{name}/explain). */
export interface ExplainResponse {
  model_name: string;
  model_version: string;
  /** The explained output, its column, and why that one. */
  output: { name: string; column: number; class?: string | number; description: string };
  method: AttributionMethod | 'occlusion';
  /** Text models: how tokens were occluded. */
  occlusion?: OcclusionInfo;
  /** Coalitions KernelSHAP drew per row; null for exact values. */
  sample_budget: number | null;
  /** Coalitions evaluated per row, besides the empty and the full one. */
  coalitions: number;
  background_size: number;
  /** Where the background came from. */
  background_source: string;
  features: string[];
  /** The expected output over the background. */
  baseline: number;
  explanations: RowExplanation[];
}

const PARAMETERS = ['output', 'class', 'background_size', 'sample_budget'] as const;

/** Explains rows of served models. */
export class ExplainService {
  readonly #init: ExplainServiceInit;
  readonly #limits: ExplainLimits;
  readonly #sessions = new Map<string, Promise<Runtime>>();
  readonly #texts = new Map<string, Promise<{ tokenizer?: TextTokenizer; reader?: TokenReader }>>();
  #running: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;

  constructor(init: ExplainServiceInit) {
    this.#init = init;
    this.#limits = { ...DEFAULT_EXPLAIN_LIMITS, ...init.limits };
  }

  /** The limits in force. */
  get limits(): ExplainLimits {
    return this.#limits;
  }

  /** Explains the rows of `body` (a parsed V2 infer request) for `model`. */
  async explain(model: ExplainedModel, body: unknown, opts: { bodyIsUtf8?: boolean } = {}): Promise<ExplainResponse> {
    if (isTextModel(model)) return this.#explainText(model, body, opts.bodyIsUtf8 ?? true);
    const input = tabularInput(model);
    const params = readParameters(body);
    const output = chooseOutput(model.signature, params);
    const { rows, features } = this.#decodeRows(model, input, body);
    const backgroundSize = params.backgroundSize ?? this.#limits.backgroundSize;
    // Unless the request names a budget, a wide model gets no more coalitions than its regression bound allows.
    const sampleBudget = params.sampleBudget ?? Math.max(16, Math.min(this.#limits.sampleBudget, maxKernelBudget(features.length)));
    const plan = planFor(features.length, { maxExactFeatures: this.#limits.maxExactFeatures, sampleBudget });
    checkRegression(plan, rows.length);
    const cost = rows.length * (plan.count + 1) * backgroundSize;
    if (cost > this.#limits.maxModelRows) {
      throw new SlipwayError(
        'LIMIT_EXCEEDED',
        `Explaining ${rows.length} rows of ${features.length} features (${plan.method === 'exact' ? 'exact' : `KernelSHAP, ${plan.count} coalitions`}) against ${backgroundSize} background rows costs ${cost} model rows, above the limit of ${this.#limits.maxModelRows}; send fewer rows, a smaller parameters.background_size or a smaller parameters.sample_budget.`,
      );
    }
    const profile = await this.#init.reference(model.name, model.version);
    if (!profile) throw referenceMissing(model);
    const background = backgroundFromProfile(profile, features, backgroundSize);

    return this.#turn(async () => {
      const session = await this.#session(model);
      const width = output.width ?? (await this.#outputWidth(session, model, output.spec, background));
      const column = output.column ?? defaultColumn(output.spec, width);
      if (column >= width) throw new SlipwayError('INVALID_ARGUMENT', `Unknown class ${column}: output '${output.spec.name}' has ${width} column${width === 1 ? '' : 's'} (0 to ${width - 1}).`);
      const result = await explainRows(rows, background, this.#scorer(session, input, output.spec.name, output.index, column), {
        maxExactFeatures: this.#limits.maxExactFeatures,
        sampleBudget,
        rowType: input.datatype === 'FP64' ? Float64Array : Float32Array,
        pace: this.#pace(),
      });
      return answer(model, features, output.spec, width, column, output.classLabel(column), params.output !== undefined || params.class !== undefined, result);
    });
  }

  /** Token-level attributions of a text model by occlusion (removal of each token in turn). */
  async #explainText(model: ExplainedModel, body: unknown, bodyIsUtf8: boolean): Promise<ExplainResponse> {
    const params = readParameters(body);
    for (const [key, v] of [['background_size', params.backgroundSize], ['sample_budget', params.sampleBudget]] as const) {
      if (v !== undefined) throw new SlipwayError('INVALID_ARGUMENT', `parameters.${key} does not apply to text models: their tokens are explained by occlusion against the empty text.`);
    }
    const input = model.signature.inputs[0] as TensorSpec;
    const decoded = decodeV2Request(withoutExplainParameters(body), model.signature, this.#init.options.nonFinite);
    const tensor = decoded.inputs[0] as TensorData;
    // One text per row: a [rows] or [rows, 1] tensor (several string columns are not one text).
    if (tensor.shape.length > 2 || (tensor.shape.length === 2 && tensor.shape[1] !== 1)) {
      throw new SlipwayError('INVALID_ARGUMENT', `Input '${input.name}' has shape [${tensor.shape.join(', ')}]; text explanations take one text per row, shape [rows] or [rows, 1].`);
    }
    const texts = tensor.data as string[];
    if (texts.length < 1) throw new SlipwayError('INVALID_ARGUMENT', `Input '${input.name}' has no texts to explain.`);
    if (texts.length > this.#limits.maxRows) throw new SlipwayError('LIMIT_EXCEEDED', `An explain request may hold at most ${this.#limits.maxRows} rows; this one has ${texts.length}.`);
    // JSON text is decoded as UTF-8 with invalid bytes turned into U+FFFD: a body that was not
    // valid UTF-8 is refused naming the first text that holds such a replacement.
    if (!bodyIsUtf8) {
      const at = texts.findIndex((t) => t.includes('\ufffd'));
      throw new SlipwayError('INVALID_ARGUMENT', at >= 0 ? `Input '${input.name}' element ${at} is not valid UTF-8.` : 'The request body is not valid UTF-8.');
    }
    const { tokenizer, reader } = await this.#textOf(model);
    const labels = tokenizer?.config.labels;
    // A tokenizer step with labels is explained on the softmax probabilities of its logits (what
    // 'scores' reports, per class rather than ranked); the graph's own float outputs can be named.
    const graphOutputs = labels ? model.signature.outputs.slice(0, -2) : model.signature.outputs;
    const probabilities: TensorSpec | undefined = labels ? { name: 'probabilities', datatype: 'FP32', shape: [-1, labels.length], parameters: { classes: labels } } : undefined;
    const logitsIndex = labels ? graphOutputs.findIndex((o) => (tokenizer?.config.logits ? o.name === tokenizer.config.logits : o.datatype === 'FP32' && o.shape.length === 2 && o.shape[1] === labels.length)) : -1;
    const signature = { ...model.signature, outputs: probabilities ? [probabilities, ...graphOutputs] : graphOutputs };
    const output = chooseOutput(signature, params);
    const softmax = output.spec === probabilities;
    const sourceIndex = softmax ? logitsIndex : graphOutputs.indexOf(output.spec);
    let width = output.width;
    let column = output.column;
    const pick: OutputPicker = (outputs, rows) => {
      const t = outputs[sourceIndex] as TensorData;
      const data = t.data as ArrayLike<number>;
      const w = data.length / rows;
      width ??= w;
      column ??= defaultColumn(output.spec, w);
      if (!Number.isInteger(w) || column >= w) throw new SlipwayError('INVALID_ARGUMENT', `Unknown class ${column}: output '${output.spec.name}' has ${w} column${w === 1 ? '' : 's'} (0 to ${w - 1}).`);
      const out = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        if (!softmax) {
          out[r] = Number(data[r * w + column]);
          continue;
        }
        let max = -Infinity;
        for (let j = 0; j < w; j++) max = Math.max(max, Number(data[r * w + j]));
        let sum = 0;
        for (let j = 0; j < w; j++) sum += Math.exp(Number(data[r * w + j]) - max);
        out[r] = Math.exp(Number(data[r * w + column]) - max) / sum;
      }
      return out;
    };
    return this.#turn(async () => {
      const graph = await this.#session(model, tokenizer !== undefined);
      const occlusion: TextOcclusion<unknown> = tokenizer
        ? (tokenOcclusion(tokenizer, reader as TokenReader, graph, pick) as TextOcclusion<unknown>)
        : (wordOcclusion(async (batch) => graph.run([{ datatype: 'BYTES', shape: input.shape.length === 2 ? [batch.length, 1] : [batch.length], data: batch }]), pick) as TextOcclusion<unknown>);
      const result = await explainTexts(texts, (i) => `Input '${input.name}' element ${i}`, occlusion, { pace: this.#pace() });
      const chosen = params.output !== undefined || params.class !== undefined;
      const col = column as number;
      const label = output.classLabel(col);
      const which = `'${output.spec.name}' column ${col}${label !== undefined ? ` (class ${String(label)})` : ''}${softmax ? ', the softmax of the logits' : ''}`;
      const description = chosen ? `${which}, as named by the request` : width === 2 ? `${which}: the positive-class probability, the default for a two-column output; name another with parameters.output / parameters.class` : `${which}: the first floating-point output, the default; name another with parameters.output`;
      return {
        model_name: model.name,
        model_version: model.version,
        output: { name: output.spec.name, column: col, ...(label !== undefined ? { class: label } : {}), description },
        method: 'occlusion',
        occlusion: { replacement: 'removal', tokenization: occlusion.tokenization, max_tokens_per_row: MAX_TEXT_TOKENS },
        sample_budget: null,
        coalitions: result.maxTokens,
        background_size: 1,
        background_source: 'the empty text (every token removed)',
        features: [],
        baseline: result.baseline,
        explanations: result.rows.map((r) => ({ prediction: r.prediction, attributions: r.attributions, truncated_tokens: r.truncated })),
      };
    });
  }

  /** The tokenizer step of a text model (none for a string-input graph), read once per version. */
  #textOf(model: ExplainedModel): Promise<{ tokenizer?: TextTokenizer; reader?: TokenReader }> {
    const key = `${model.name}\u0000${model.version}\u0000${model.source}`;
    let found = this.#texts.get(key);
    if (!found) {
      found = TextTokenizer.load(model.source).then(async (tokenizer) => (tokenizer ? { tokenizer, reader: await tokenReader(model.source, tokenizer) } : {}));
      this.#texts.set(key, found);
      found.catch(() => this.#texts.delete(key));
      if (this.#texts.size > MAX_SESSIONS) this.#texts.delete(this.#texts.keys().next().value as string);
    }
    return found;
  }

  /** Frees the explanation sessions; later requests are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    this.#texts.clear();
    await Promise.all(sessions.map((s) => s.then((r) => r.release(), () => undefined)));
  }

  #decodeRows(model: ExplainedModel, input: TensorSpec, body: unknown): { rows: number[][]; features: string[] } {
    const width = input.shape[1] as number;
    // The body is a V2 infer request: the serving domain validates it (types, shape, non-finite values) the same way.
    const decoded = decodeV2Request(withoutExplainParameters(body), model.signature, this.#init.options.nonFinite);
    const tensor = decoded.inputs[0] as TensorData;
    const count = tensor.shape[0] ?? 0;
    if (count < 1) throw new SlipwayError('INVALID_ARGUMENT', `Input '${input.name}' has no rows to explain.`);
    if (count > this.#limits.maxRows) throw new SlipwayError('LIMIT_EXCEEDED', `An explain request may hold at most ${this.#limits.maxRows} rows; this one has ${count}.`);
    const data = tensor.data as ArrayLike<number>;
    const rows = Array.from({ length: count }, (_, r) => Array.from({ length: width }, (_, j) => Number(data[r * width + j])));
    const features = model.columns && model.columns.length === width ? model.columns : Array.from({ length: width }, (_, j) => `input_${j}`);
    return { rows, features };
  }

  /** One explanation at a time; a few wait their turn, more are refused. */
  async #turn<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new SlipwayError('UNAVAILABLE', 'The server is shutting down.');
    // The one running and those waiting.
    if (this.#pending > this.#limits.maxWaiting) {
      throw new SlipwayError('OVERLOADED', `${this.#pending - 1} explanations are waiting already; retry later.`, { retryAfterSeconds: 1 });
    }
    this.#pending++;
    const mine = this.#running.then(work).finally(() => this.#pending--);
    this.#running = mine.catch(() => undefined);
    return mine;
  }

  /** The explanation session of a model; `graphOnly`: the token graph of a text model without its tokenizer step. */
  #session(model: ExplainedModel, graphOnly = false): Promise<Runtime> {
    const key = `${model.name}\u0000${model.version}\u0000${model.source}\u0000${graphOnly ? 'graph' : 'model'}`;
    let session = this.#sessions.get(key);
    if (!session) {
      const settings = { intraOpThreads: 1, graphOptimizationLevel: this.#init.options.graphOptimizationLevel, spinWait: false };
      const open = graphOnly
        ? async (path: string) => (await import('../serving/worker-runtime.js')).WorkerRuntime.load(path, 1, settings)
        : (this.#init.openSession ?? ((path: string) => loadRuntime(path, { ...settings, warmup: false, executor: 'worker', concurrency: 1 })));
      session = open(model.source);
      this.#sessions.set(key, session);
      session.catch(() => this.#sessions.delete(key));
      // Keep the sessions of the last few versions explained; older ones are released.
      while (this.#sessions.size > MAX_SESSIONS) {
        const [oldest, old] = this.#sessions.entries().next().value as [string, Promise<Runtime>];
        this.#sessions.delete(oldest);
        void old.then((r) => r.release(), () => undefined);
      }
    } else {
      this.#sessions.delete(key);
      this.#sessions.set(key, session);
    }
    return session;
  }

  /** The columns of an output whose width the signature leaves open, learnt from one row. */
  async #outputWidth(session: Runtime, model: ExplainedModel, spec: TensorSpec, background: number[][]): Promise<number> {
    const input = tabularInput(model);
    const row = background[0] as number[];
    const data = input.datatype === 'FP64' ? Float64Array.from(row) : Float32Array.from(row);
    const outputs = await session.run([{ datatype: input.datatype, shape: [1, row.length], data }]);
    return (outputs[model.signature.outputs.indexOf(spec)] as TensorData).data.length;
  }

  #scorer(session: Runtime, input: TensorSpec, outputName: string, outputIndex: number, column: number) {
    return async (rows: Float32Array | Float64Array, count: number): Promise<Float64Array> => {
      const outputs = await session.run([{ datatype: input.datatype, shape: [count, rows.length / count], data: rows }]);
      const t = outputs[outputIndex] as TensorData;
      const data = t.data as ArrayLike<number>;
      const width = data.length / count;
      if (!Number.isInteger(width) || column >= width) throw new SlipwayError('INVALID_ARGUMENT', `Output '${outputName}' has ${width} columns per row; column ${column} does not exist.`);
      const out = new Float64Array(count);
      for (let r = 0; r < count; r++) out[r] = data[r * width + column] as number;
      return out;
    };
  }

  /** Rests between chunks while plain inference is busy, in proportion to the last chunk's time. */
  #pace(): () => Promise<void> {
    let last = performance.now();
    return async () => {
      const took = performance.now() - last;
      if (this.#init.busy?.()) await new Promise((r) => setTimeout(r, Math.min(MAX_REST_MS, took * this.#limits.restFactor)));
      last = performance.now();
    };
  }
}

const MAX_SESSIONS = 4;
const MAX_REST_MS = 1000;

/** The message that tells how to attach reference data to a model version. */
export function referenceMissing(model: { name: string; version: string }): SlipwayError {
  const uri = `models:/${model.name}/${model.version}`;
  return new SlipwayError(
    'REFERENCE_DATA_MISSING',
    `Model '${model.name}' version ${model.version} has no reference data to draw the explanation background from. Attach it with 'slipway monitor reference set ${uri} --data reference.csv' (or --dataset NAME@VERSION, --from-training-data), or PUT /api/v1/monitoring/models/${encodeURIComponent(model.name)}/versions/${encodeURIComponent(model.version)}/reference with {"rows": [...]}.`,
    { model: model.name, version: model.version },
  );
}

/** A model whose single input is text (BYTES): a tokenizer step, or a graph with a string input. */
export function isTextModel(model: ExplainedModel): boolean {
  return model.signature.inputs.length === 1 && model.signature.inputs[0]?.datatype === 'BYTES';
}

/** The single 2-D FP32/FP64 input of a tabular model; other models cannot be explained (yet). */
export function tabularInput(model: ExplainedModel): TensorSpec {
  const inputs = model.signature.inputs;
  const only = inputs[0];
  if (inputs.length !== 1 || !only || only.shape.length !== 2 || !((only.shape[1] as number) > 0) || (only.datatype !== 'FP32' && only.datatype !== 'FP64')) {
    const has = inputs.map((i) => `'${i.name}' ${i.datatype} [${i.shape.join(', ')}]`).join(', ');
    throw new SlipwayError('INVALID_ARGUMENT', `Model '${model.name}' cannot be explained: explanations need one 2-D FP32 or FP64 input with a fixed number of features; it has ${has}.`);
  }
  return only;
}

/** What a request names about the output and the work. */
export interface Parameters {
  output?: string;
  class?: number | string;
  backgroundSize?: number;
  sampleBudget?: number;
}

function readParameters(body: unknown): Parameters {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SlipwayError('MALFORMED_REQUEST', 'The explain request must be a JSON object with an "inputs" list.');
  const p = (body as Record<string, unknown>).parameters;
  if (p === undefined) return {};
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new SlipwayError('INVALID_ARGUMENT', '"parameters" must be an object.');
  const given = p as Record<string, unknown>;
  for (const k of Object.keys(given)) {
    if (!(PARAMETERS as readonly string[]).includes(k)) throw new SlipwayError('INVALID_ARGUMENT', `Unknown parameter '${k}'; explain takes ${PARAMETERS.join(', ')}.`);
  }
  const out: Parameters = {};
  if (given.output !== undefined) {
    if (typeof given.output !== 'string') throw new SlipwayError('INVALID_ARGUMENT', 'parameters.output must be the name of an output.');
    out.output = given.output;
  }
  if (given.class !== undefined) {
    const c = given.class;
    if (!(typeof c === 'string' || (typeof c === 'number' && Number.isSafeInteger(c) && c >= 0))) throw new SlipwayError('INVALID_ARGUMENT', 'parameters.class must be a column index (0, 1, …) or a class label.');
    out.class = c;
  }
  const int = (key: string, min: number, max: number): number | undefined => {
    const v = given[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new SlipwayError('INVALID_ARGUMENT', `parameters.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}.`);
    return v;
  };
  const bg = int('background_size', 1, MAX_BACKGROUND_SIZE);
  if (bg !== undefined) out.backgroundSize = bg;
  const budget = int('sample_budget', 16, MAX_SAMPLE_BUDGET);
  if (budget !== undefined) out.sampleBudget = budget;
  return out;
}

const MAX_SAMPLE_BUDGET = 65_536;

/** The body without the explain parameters, so the V2 decoder sees a plain infer request. */
function withoutExplainParameters(body: unknown): unknown {
  const { parameters: _parameters, ...rest } = body as Record<string, unknown>;
  return rest;
}

/** The output and column to explain. */
export interface ChosenOutput {
  spec: TensorSpec;
  index: number;
  /** The column the request named; undefined for the default. */
  column: number | undefined;
  /** Columns per row, when the signature or the class labels tell; else running the model does. */
  width: number | undefined;
  classLabel(column: number): string | number | undefined;
}

/** The output and column to explain: the named ones, else the first floating-point output and its positive-class column. */
export function chooseOutput(sig: ModelSignature, params: Parameters): ChosenOutput {
  const floats = sig.outputs.filter((o) => o.datatype === 'FP32' || o.datatype === 'FP64');
  let spec: TensorSpec | undefined;
  if (params.output !== undefined) {
    spec = sig.outputs.find((o) => o.name === params.output);
    if (!spec) throw new SlipwayError('INVALID_ARGUMENT', `Unknown output '${params.output}'; the model has ${sig.outputs.map((o) => `'${o.name}'`).join(', ')}.`);
    if (!floats.includes(spec)) throw new SlipwayError('INVALID_ARGUMENT', `Output '${spec.name}' is ${spec.datatype}; explanations need a floating-point output (${floats.map((o) => `'${o.name}'`).join(', ') || 'the model has none'}).`);
  } else {
    spec = floats[0];
    if (!spec) throw new SlipwayError('INVALID_ARGUMENT', `The model has no floating-point output to explain; its outputs are ${sig.outputs.map((o) => `'${o.name}' ${o.datatype}`).join(', ')}.`);
  }
  const index = sig.outputs.indexOf(spec);
  const classes = Array.isArray(spec.parameters?.classes) ? (spec.parameters.classes as Array<string | number>) : undefined;
  const width = spec.shape.length === 1 ? 1 : spec.shape.length === 2 && (spec.shape[1] as number) > 0 ? (spec.shape[1] as number) : classes?.length;
  const classLabel = (column: number) => classes?.[column];
  let column: number | undefined;
  if (params.class !== undefined) {
    if (typeof params.class === 'number') column = params.class;
    else {
      const at = classes?.findIndex((c) => String(c) === params.class) ?? -1;
      if (at < 0) throw new SlipwayError('INVALID_ARGUMENT', `Unknown class '${params.class}' for output '${spec.name}'; ${classes ? `its classes are ${classes.map((c) => `'${String(c)}'`).join(', ')}` : 'it has no class labels, so name a column index (0, 1, …)'}.`);
      column = at;
    }
    if (width !== undefined && column >= width) throw new SlipwayError('INVALID_ARGUMENT', `Unknown class ${column}: output '${spec.name}' has ${width} column${width === 1 ? '' : 's'} (0 to ${width - 1}).`);
  } else if (width !== undefined) defaultColumn(spec, width);
  return { spec, index, column, width, classLabel };
}

/** The column explained by default: the only one, or the positive class of a two-column output. */
function defaultColumn(spec: TensorSpec, width: number): number {
  if (width === 1) return 0;
  if (width === 2) return 1;
  const classes = Array.isArray(spec.parameters?.classes);
  throw new SlipwayError('INVALID_ARGUMENT', `Output '${spec.name}' has ${width} columns; name the one to explain with parameters.class (0 to ${width - 1}${classes ? ' or a class label' : ''}).`);
}

function answer(model: ExplainedModel, features: string[], spec: TensorSpec, width: number, column: number, label: string | number | undefined, chosen: boolean, result: AttributionResult): ExplainResponse {
  const which = `'${spec.name}' column ${column}${label !== undefined ? ` (class ${String(label)})` : ''}`;
  const description = chosen
    ? `${which}, as named by the request`
    : width === 2
      ? `${which}: the positive-class probability, the default for a two-column output; name another with parameters.output / parameters.class`
      : `${which}: the first floating-point output, the default; name another with parameters.output`;
  return {
    model_name: model.name,
    model_version: model.version,
    output: { name: spec.name, column, ...(label !== undefined ? { class: label } : {}), description },
    method: result.method,
    sample_budget: result.method === 'kernel' ? result.coalitions : null,
    coalitions: result.coalitions,
    background_size: result.backgroundSize,
    background_source: `the reference profile of version ${model.version}`,
    features,
    baseline: result.baseline,
    explanations: result.rows.map((r) => ({ prediction: r.prediction, attributions: features.map((feature, j) => ({ feature, value: r.attributions[j] as number })) })),
  };
}
