/**
 * One loaded ONNX model on onnxruntime-node (CPU), the inline executor: a single
 * session whose runs execute on the JavaScript thread (onnxruntime-node calls the
 * native run synchronously, from a setImmediate), using its intra-op threads inside
 * each operator. The weights are held once. worker-runtime.ts runs sessions off
 * this thread instead.
 */
import * as ort from 'onnxruntime-node';
import { SlipwayError } from '../core/errors.js';
import { fromMemoryOptions, onnxFileProblem, withoutZipMaps, type ZipMapOutput } from './onnx-file.js';
import { signatureOf, type ModelSignature, type TensorSpec } from './model-signature.js';
import type { ServingOptions } from './serving-options.js';
import { DATATYPES, allocate, elementCount, type TensorData } from './tensor-types.js';
import { TextTokenizer } from './text-model.js';
import { TextRuntime } from './text-runtime.js';

/** What the batcher runs batches on: an inline session or a pool of worker sessions. */
export interface Runtime {
  readonly signature: ModelSignature;
  run(inputs: TensorData[]): Promise<TensorData[]>;
  release(): Promise<void>;
  /** Checks a request's inputs before they are queued (a text model tokenises them) and returns the inputs to queue; throws a 400 naming the problem. */
  prepare?(inputs: TensorData[]): TensorData[];
}

/** Loads a model with the configured executor and warms every session. */
export async function loadRuntime(onnxPath: string, opts: Pick<ServingOptions, 'intraOpThreads' | 'graphOptimizationLevel' | 'spinWait' | 'warmup' | 'executor' | 'concurrency'>): Promise<Runtime> {
  // A missing or non-ONNX file gets one sentence naming the problem rather than onnxruntime's text.
  const problem = await onnxFileProblem(onnxPath);
  if (problem) throw new SlipwayError('INVALID_ARGUMENT', `Cannot load ${onnxPath}: ${problem}.`);
  // A text model (text-model.json beside the file) gets its tokenizer step; a bad tokenizer fails the load.
  const tokenizer = await TextTokenizer.load(onnxPath);
  const graph = await loadGraph(onnxPath, opts);
  if (!tokenizer) return graph;
  try {
    return new TextRuntime(graph, tokenizer);
  } catch (err) {
    await graph.release();
    throw err;
  }
}

async function loadGraph(onnxPath: string, opts: Pick<ServingOptions, 'intraOpThreads' | 'graphOptimizationLevel' | 'spinWait' | 'warmup' | 'executor' | 'concurrency'>): Promise<Runtime> {
  if (opts.executor === 'inline') return ModelRuntime.load(onnxPath, opts);
  const { WorkerRuntime } = await import('./worker-runtime.js');
  const runtime = await WorkerRuntime.load(onnxPath, opts.concurrency, opts);
  if (opts.warmup) {
    try {
      const inputs = runtime.signature.inputs.map(warmupTensor);
      await Promise.all(Array.from({ length: opts.concurrency }, () => runtime.run(inputs)));
    } catch (err) {
      await runtime.release();
      throw new SlipwayError('INVALID_ARGUMENT', `Warm-up inference failed: ${firstLine(err)}`);
    }
  }
  return runtime;
}

/** onnxruntime session options for the serving options (the inline and worker executors share them). */
export function sessionOptions(opts: Pick<ServingOptions, 'intraOpThreads' | 'graphOptimizationLevel' | 'spinWait'>): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: opts.intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.graphOptimizationLevel,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: opts.spinWait ? '1' : '0' } } },
  };
}

/** A session on the JavaScript thread plus the signature it was read from. */
export class ModelRuntime implements Runtime {
  readonly signature: ModelSignature;
  readonly #session: ort.InferenceSession;
  readonly #fetches: string[];
  #released = false;

  private constructor(session: ort.InferenceSession, zipMaps: ZipMapOutput[]) {
    this.#session = session;
    this.signature = signatureOf(session, zipMaps);
    this.#fetches = this.signature.outputs.map((o) => o.name);
  }

  /** Loads `onnxPath`, reads its signature and (optionally) warms it up; throws INVALID_ARGUMENT when the file is not a usable model. */
  static async load(onnxPath: string, opts: Pick<ServingOptions, 'intraOpThreads' | 'graphOptimizationLevel' | 'spinWait' | 'warmup'>): Promise<ModelRuntime> {
    const options = sessionOptions(opts);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(onnxPath, options);
    } catch (err) {
      throw new SlipwayError('INVALID_ARGUMENT', `onnxruntime could not load ${onnxPath}: ${firstLine(err)}`);
    }
    let zipMaps: ZipMapOutput[] = [];
    // A classifier ending in a ZipMap (scikit-learn's default) is served without it, so its
    // probabilities come back as a tensor; only such models pay for reading the file twice.
    const rewritten = session.outputMetadata.some((m) => !m.isTensor) ? await withoutZipMaps(onnxPath) : undefined;
    if (rewritten) {
      await session.release();
      try {
        session = await ort.InferenceSession.create(rewritten.model, fromMemoryOptions(onnxPath, options));
      } catch (err) {
        throw new SlipwayError('INVALID_ARGUMENT', `onnxruntime could not load ${onnxPath} without its ZipMap: ${firstLine(err)}`);
      }
      zipMaps = rewritten.outputs;
    }
    let runtime: ModelRuntime;
    try {
      runtime = new ModelRuntime(session, zipMaps);
    } catch (err) {
      await session.release();
      throw err;
    }
    if (opts.warmup) {
      try {
        await runtime.run(runtime.signature.inputs.map(warmupTensor));
      } catch (err) {
        await runtime.release();
        throw new SlipwayError('INVALID_ARGUMENT', `Warm-up inference failed: ${firstLine(err)}`);
      }
    }
    return runtime;
  }

  /** Runs one batch: inputs in signature order; returns outputs in signature order. */
  async run(inputs: TensorData[]): Promise<TensorData[]> {
    if (this.#released) throw new SlipwayError('MODEL_NOT_READY', 'The model version was unloaded.');
    const feeds: Record<string, ort.Tensor> = {};
    this.signature.inputs.forEach((spec, i) => {
      const t = inputs[i] as TensorData;
      // A view on the same memory: ort.Tensor does not copy typed arrays.
      feeds[spec.name] = new ort.Tensor(DATATYPES[t.datatype].ort, t.data as never, t.shape);
    });
    let result: ort.InferenceSession.ReturnType;
    try {
      result = await this.#session.run(feeds, this.#fetches);
    } catch (err) {
      throw new SlipwayError('INVALID_ARGUMENT', `The model rejected the input: ${firstLine(err)}`);
    }
    return this.signature.outputs.map((spec) => {
      const t = result[spec.name] as ort.Tensor;
      return { datatype: spec.datatype, shape: t.dims.slice(), data: t.data as TensorData['data'] };
    });
  }

  /** Frees the native session; later runs fail with MODEL_NOT_READY. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await this.#session.release();
  }
}

function warmupTensor(spec: TensorSpec): TensorData {
  const shape = spec.shape.map((d) => (d < 0 ? 1 : d));
  return { datatype: spec.datatype, shape, data: allocate(spec.datatype, elementCount(shape)) };
}

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0] ?? 'unknown error';
}
