/**
 * The worker executor: one onnxruntime session per worker thread, `concurrency`
 * workers per model version, so batches of a compute-heavy model run in parallel
 * on several cores and never block the JavaScript thread that answers HTTP. Input
 * tensors are copied once into the worker's message (cheap next to a heavy model).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { SlipwayError } from '../core/errors.js';
import { signatureOf, type ModelSignature } from './model-signature.js';
import { sessionOptions } from './model-runtime.js';
import { fromMemoryOptions, withoutZipMaps } from './onnx-file.js';
import type { ServingOptions } from './serving-options.js';
import { DATATYPES, type TensorData, type TensorValues } from './tensor-types.js';

// Plain CommonJS evaluated in the worker: no build step, and onnxruntime is loaded by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const meta = (list) => list.map((m) => ({ name: m.name, isTensor: m.isTensor, type: m.type, shape: m.shape }));
ort.InferenceSession.create(workerData.path, workerData.options).then((session) => {
  parentPort.postMessage({ ready: true, inputMetadata: meta(session.inputMetadata), outputMetadata: meta(session.outputMetadata) });
  parentPort.on('message', async (msg) => {
    if (msg.release) {
      await session.release();
      parentPort.close();
      return;
    }
    try {
      const feeds = {};
      for (const i of msg.inputs) feeds[i.name] = new ort.Tensor(i.type, i.data, i.dims);
      const out = await session.run(feeds, msg.fetches);
      parentPort.postMessage({ id: msg.id, outputs: msg.fetches.map((n) => ({ data: out[n].data, dims: out[n].dims })) });
    } catch (e) {
      parentPort.postMessage({ id: msg.id, error: String((e && e.message) || e) });
    }
  });
}, (e) => parentPort.postMessage({ ready: false, error: String((e && e.message) || e) }));
`;

interface Pending {
  resolve(outputs: Array<{ data: TensorValues; dims: number[] }>): void;
  reject(err: Error): void;
}

class SessionWorker {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  dead: Error | undefined;

  /** `rewrittenFrom`: for a model rewritten in memory, the file it came from (its external data lies beside it). */
  constructor(path: string | Uint8Array, opts: Pick<ServingOptions, 'intraOpThreads' | 'graphOptimizationLevel' | 'spinWait'>, rewrittenFrom?: string) {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const options = rewrittenFrom ? fromMemoryOptions(rewrittenFrom, sessionOptions(opts)) : sessionOptions(opts);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, ortPath, options } });
    const fail = (err: Error) => {
      this.dead = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(new SlipwayError('INTERNAL', `The inference worker failed: ${err.message}`)));
    this.worker.on('exit', () => fail(new SlipwayError('MODEL_NOT_READY', 'The inference worker has stopped.')));
    this.worker.on('message', (msg: { id?: number; outputs?: Array<{ data: TensorValues; dims: number[] }>; error?: string }) => {
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new SlipwayError('INVALID_ARGUMENT', `The model rejected the input: ${msg.error.split('\n')[0]}`));
      else p.resolve(msg.outputs ?? []);
    });
  }

  /** Resolves with the session metadata once the worker has loaded the model. */
  ready(): Promise<Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: { ready?: boolean; error?: string; inputMetadata?: InferenceSession.ValueMetadata[]; outputMetadata?: InferenceSession.ValueMetadata[] }) => {
        if (msg.ready === undefined) return;
        this.worker.off('message', onMessage);
        if (msg.ready) resolve({ inputMetadata: msg.inputMetadata ?? [], outputMetadata: msg.outputMetadata ?? [] });
        else reject(new SlipwayError('INVALID_ARGUMENT', `onnxruntime could not load the model: ${(msg.error ?? '').split('\n')[0]}`));
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
  }
}

/** A pool of worker threads, each with its own session of the same model. */
export class WorkerRuntime {
  readonly signature: ModelSignature;
  readonly #workers: SessionWorker[];
  readonly #idle: SessionWorker[];
  readonly #waiting: Array<(w: SessionWorker) => void> = [];
  #nextId = 0;
  #released = false;

  private constructor(signature: ModelSignature, workers: SessionWorker[]) {
    this.signature = signature;
    this.#workers = workers;
    this.#idle = [...workers];
  }

  /** Starts `count` workers on `onnxPath` and waits until every one has loaded it. */
  static async load(onnxPath: string, count: number, opts: Pick<ServingOptions, 'intraOpThreads' | 'graphOptimizationLevel' | 'spinWait'>): Promise<WorkerRuntime> {
    const start = async (source: string | Uint8Array) => {
      const workers = Array.from({ length: count }, () => new SessionWorker(source, opts, typeof source === 'string' ? undefined : onnxPath));
      try {
        const metas = await Promise.all(workers.map((w) => w.ready()));
        return { workers, meta: metas[0] as Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'> };
      } catch (err) {
        await Promise.all(workers.map((w) => w.worker.terminate()));
        throw err;
      }
    };
    let { workers, meta } = await start(onnxPath);
    // A classifier ending in a ZipMap is served without it, as on the inline executor.
    const rewritten = meta.outputMetadata.some((m) => !m.isTensor) ? await withoutZipMaps(onnxPath) : undefined;
    if (rewritten) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      ({ workers, meta } = await start(new Uint8Array(rewritten.model.buffer, rewritten.model.byteOffset, rewritten.model.byteLength)));
    }
    try {
      return new WorkerRuntime(signatureOf(meta, rewritten?.outputs ?? []), workers);
    } catch (err) {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw err;
    }
  }

  /** Runs one batch on a free worker. */
  async run(inputs: TensorData[]): Promise<TensorData[]> {
    if (this.#released) throw new SlipwayError('MODEL_NOT_READY', 'The model version was unloaded.');
    const worker = this.#idle.pop() ?? (await new Promise<SessionWorker>((r) => this.#waiting.push(r)));
    try {
      if (worker.dead) throw worker.dead;
      const msgInputs = this.signature.inputs.map((spec, i) => {
        const t = inputs[i] as TensorData;
        return { name: spec.name, type: DATATYPES[t.datatype].ort, dims: t.shape, data: ownCopy(t.data) };
      });
      const id = this.#nextId++;
      const outputs = await new Promise<Array<{ data: TensorValues; dims: number[] }>>((resolve, reject) => {
        worker.pending.set(id, { resolve, reject });
        worker.worker.postMessage({ id, inputs: msgInputs, fetches: this.signature.outputs.map((o) => o.name) });
      });
      return this.signature.outputs.map((spec, i) => {
        const o = outputs[i] as { data: TensorValues; dims: number[] };
        return { datatype: spec.datatype, shape: [...o.dims], data: o.data };
      });
    } finally {
      const next = this.#waiting.shift();
      if (next) next(worker);
      else this.#idle.push(worker);
    }
  }

  /** Releases every worker's session and stops the threads. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await Promise.all(
      this.#workers.map(async (w) => {
        if (!w.dead) {
          w.worker.postMessage({ release: true });
          await new Promise<void>((r) => {
            w.worker.once('exit', () => r());
            setTimeout(() => void w.worker.terminate().then(() => r()), 2000).unref();
          });
        }
      }),
    );
  }
}

// Structured cloning copies a view's whole underlying buffer, so a view on a larger buffer
// (binary tensors inside a request body) is first cut to its own bytes. Inputs are copied,
// not transferred: the request still needs them afterwards (live monitoring reads them).
function ownCopy(data: TensorValues): TensorValues {
  if (Array.isArray(data)) return data;
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}
