/**
 * The tokenizer step in front of the real tiny transformer graph: what the graph is fed for
 * a batch (padded to the batch's longest row, or to max_length when so configured).
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelRuntime, type Runtime } from './model-runtime.js';
import type { TensorData } from './tensor-types.js';
import { TextTokenizer } from './text-model.js';
import { TextRuntime } from './text-runtime.js';

const FOLDER = resolve(import.meta.dirname, '..', '..', 'test', 'fixtures', 'text', 'transformer');
const opts = { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: false } as const;

/** A runtime that hands batches to the real graph and keeps what it was fed. */
class Recording implements Runtime {
  readonly fed: TensorData[][] = [];
  constructor(readonly inner: ModelRuntime) {}
  get signature() {
    return this.inner.signature;
  }
  run(inputs: TensorData[]) {
    this.fed.push(inputs);
    return this.inner.run(inputs);
  }
  release() {
    return this.inner.release();
  }
}

async function textModel(settings: Record<string, unknown>, padId?: number): Promise<{ runtime: TextRuntime; graph: Recording }> {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-text-runtime-'));
  cpSync(FOLDER, dir, { recursive: true });
  writeFileSync(join(dir, 'text-model.json'), JSON.stringify(settings));
  if (padId !== undefined) {
    const tokenizer = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ ...tokenizer, padding: { strategy: 'BatchLongest', direction: 'Right', pad_id: padId, pad_type_id: 0, pad_token: '[MASK]' } }));
  }
  const graph = new Recording(await ModelRuntime.load(join(dir, 'model.onnx'), opts));
  return { runtime: new TextRuntime(graph, (await TextTokenizer.load(join(dir, 'model.onnx'))) as TextTokenizer), graph };
}

const texts = (data: string[]): TensorData[] => [{ datatype: 'BYTES', shape: [data.length], data }];
const rows = (t: TensorData) => Array.from({ length: t.shape[0] as number }, (_, r) => Array.from((t.data as BigInt64Array).subarray(r * (t.shape[1] as number), (r + 1) * (t.shape[1] as number)), Number));

describe('TextRuntime', () => {
  const opened: Runtime[] = [];
  afterAll(() => Promise.all(opened.map((r) => r.release())));

  it("pads each batch to its longest row with the tokenizer's pad id, masking the padding", async () => {
    const { runtime, graph } = await textModel({ max_length: 64 });
    opened.push(runtime);
    const out = await runtime.run(texts(['great', 'the food was really great and lovely']));
    const [ids, mask, types] = graph.fed[0] as TensorData[];
    expect(ids?.shape).toEqual([2, 9]);
    expect(rows(mask as TensorData)).toEqual([[1, 1, 1, 0, 0, 0, 0, 0, 0], new Array(9).fill(1)]);
    expect(rows(ids as TensorData)[0]?.slice(3)).toEqual(new Array(6).fill(0));
    expect(rows(types as TensorData).flat().every((v) => v === 0)).toBe(true);
    expect(out[0]?.shape).toEqual([2, 3]);
    // The short row's answer does not depend on the padding the long row forced on it.
    const alone = await runtime.run(texts(['great']));
    expect(graph.fed[1]?.[0]?.shape).toEqual([1, 3]);
    Array.from(alone[0]?.data as Float32Array).forEach((v, j) => expect(v).toBeCloseTo((out[0]?.data as Float32Array)[j] as number, 5));
  });

  it("pads with the tokenizer file's pad_id when it names one", async () => {
    const { runtime, graph } = await textModel({}, 4);
    opened.push(runtime);
    await runtime.run(texts(['great', 'the food was great']));
    const ids = rows(graph.fed[0]?.[0] as TensorData);
    expect(ids[0]?.slice(3)).toEqual(new Array((ids[0]?.length ?? 0) - 3).fill(4));
    expect(ids[1]?.every((v) => v !== 4)).toBe(true);
  });

  it('pads every row to max_length when padding is max_length', async () => {
    const { runtime, graph } = await textModel({ max_length: 20, padding: 'max_length' });
    opened.push(runtime);
    await runtime.run(texts(['great']));
    expect(graph.fed[0]?.[0]?.shape).toEqual([1, 20]);
  });

  it('refuses a graph whose inputs a tokenizer cannot feed', async () => {
    const { runtime } = await textModel({});
    opened.push(runtime);
    const graph = { signature: { inputs: [{ name: 'features', datatype: 'FP32' as const, shape: [-1, 4] }], outputs: runtime.signature.outputs, batchable: true }, run: async () => [], release: async () => {} };
    expect(() => new TextRuntime(graph, runtime.tokenizer)).toThrow("The model's input 'features' is not one a tokenizer feeds (input_ids, attention_mask, token_type_ids).");
  });
});
