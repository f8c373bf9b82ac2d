/**
 * POST /v2/models/{name}/explain on a real server context: the fixture forest (10 features, exact
 * Shapley values) and MLP (30 features, KernelSHAP) served by onnxruntime, their reference
 * profiles in SQLite, and bad input answered with a 4xx naming the problem.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { FileModelSource, fixture, holdout, readCsv } from '../../../test/support/serving.js';
import { AccessService } from '../../access/access-service.js';
import { resolveConfig } from '../../config.js';
import type { ModelRef, ResolvedModel } from '../../core/model-source.js';
import { silentLogger } from '../../core/logger.js';
import { attachReference, profileTable, readTable } from '../../monitoring/index.js';
import { buildApp } from '../app.js';
import { registryOf } from '../native/services.js';
import type { ServerContext } from '../context.js';

/** Registered models with their own column names each. */
class NamedColumnsSource extends FileModelSource {
  readonly columnsOf = new Map<string, string[]>();
  override async resolve(ref: ModelRef): Promise<ResolvedModel> {
    const resolved = await super.resolve(ref);
    const columns = this.columnsOf.get(ref.name);
    return columns ? { ...resolved, columns } : resolved;
  }
}

interface Explanation {
  model_name: string;
  model_version: string;
  output: { name: string; column: number; description: string };
  method: string;
  sample_budget: number | null;
  coalitions: number;
  background_size: number;
  features: string[];
  baseline: number;
  explanations: Array<{ prediction: number; attributions: Array<{ feature: string; value: number }> }>;
}

describe('POST /v2/models/{name}/explain', () => {
  let app: FastifyInstance;
  let ctx: ServerContext;
  let close: () => Promise<void>;
  const store = () => ctx.store;
  const diabetes = holdout('diabetes');
  const cancer = holdout('breast_cancer');

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-explain-api-'));
    const config = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('diabetes_forest.onnx')) }, {}, home);
    const source = new NamedColumnsSource().add('diabetes', '1', fixture('diabetes_forest.onnx')).add('cancer', '3', fixture('breast_cancer_mlp.onnx')).add('bare', '1', fixture('diabetes_forest.onnx')).add('plain', '1', fixture('diabetes_forest.onnx'))
      .add('reviews', '1', fixture('text/transformer/model.onnx'))
      .add('bow', '1', fixture('text/bow_classifier.onnx'));
    source.columnsOf.set('diabetes', diabetes.columns).set('cancer', cancer.columns).set('bare', diabetes.columns).set('plain', diabetes.columns);
    source.setAlias('diabetes', 'champion', '1');
    source.setAlias('cancer', 'champion', '3');
    source.setAlias('bare', 'champion', '1');
    source.setAlias('reviews', 'champion', '1');
    source.setAlias('bow', 'champion', '1');
    ctx = { config, store: opened.store, logger: silentLogger, clock: { now: () => Date.now() }, inferenceObservers: [], onClose: [], modelSource: source };
    app = await buildApp(ctx);
    await app.ready();
    await attachReference(opened.store, 'diabetes', '1', profileTable(await readTable(fixture('diabetes_train.csv'))), 'train', { time: Date.now() });
    // The monitoring report finds models by registry URI; the files themselves come from the source above.
    const registry = registryOf(ctx);
    for (const [name, versions] of [['diabetes', 1], ['plain', 1]] as const) {
      await registry.createRegisteredModel({ name });
      for (let v = 0; v < versions; v++) await registry.createModelVersion({ name, source: `s3://models/${name}/${v + 1}` });
      await registry.setAlias(name, 'champion', '1');
    }
    await attachReference(opened.store, 'cancer', '3', profileTable(await readTable(fixture('breast_cancer_train.csv'))), 'train', { time: Date.now() });
    close = async () => {
      for (const hook of ctx.onClose) await hook();
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as object });
  const body = (rows: number[][], parameters?: Record<string, unknown>) => ({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows.length, rows[0]?.length ?? 0], data: rows.flat() }], ...(parameters ? { parameters } : {}) });
  const sumOf = (e: Explanation['explanations'][number]) => e.attributions.reduce((s, a) => s + a.value, 0);

  it('gives exact Shapley values for the 10-feature forest that add up to prediction - baseline, with the predictions infer gives', async () => {
    const rows = diabetes.rows.slice(0, 3);
    const res = await post('/v2/models/diabetes/explain', body(rows));
    expect(res.statusCode).toBe(200);
    const e = res.json() as Explanation;
    expect(e).toMatchObject({ model_name: 'diabetes', model_version: '1', method: 'exact', sample_budget: null, coalitions: 1022, background_size: 100, features: diabetes.columns });
    expect(e.output).toMatchObject({ name: 'prediction', column: 0 });
    expect(e.output.description).toMatch(/default/);
    const infer = (await post('/v2/models/diabetes/infer', body(rows))).json() as { outputs: Array<{ data: number[] }> };
    e.explanations.forEach((row, i) => {
      expect(row.prediction).toBeCloseTo(infer.outputs[0]?.data[i] as number, 3);
      expect(row.attributions.map((a) => a.feature)).toEqual(diabetes.columns);
      expect(Math.abs(sumOf(row) - (row.prediction - e.baseline))).toBeLessThan(1e-6);
    });
    // The baseline is the model's mean output over a background that follows the training data: near the mean prediction.
    const train = readCsv('diabetes_train.csv').rows;
    const meanTarget = train.reduce((s, r) => s + (r.at(-1) as number), 0) / train.length;
    expect(Math.abs(e.baseline - meanTarget)).toBeLessThan(25);
  });

  it('answers the versioned path and honours background_size', async () => {
    const res = await post('/v2/models/diabetes/versions/1/explain', body(diabetes.rows.slice(5, 6), { background_size: 20 }));
    expect(res.statusCode).toBe(200);
    const e = res.json() as Explanation;
    expect(e.background_size).toBe(20);
    expect(Math.abs(sumOf(e.explanations[0] as Explanation['explanations'][number]) - ((e.explanations[0]?.prediction as number) - e.baseline))).toBeLessThan(1e-6);
  });

  it('uses KernelSHAP with the stated budget for the 30-feature MLP, and still adds up', async () => {
    const res = await post('/v2/models/cancer/explain', body(cancer.rows.slice(0, 2), { sample_budget: 256, background_size: 30 }));
    expect(res.statusCode).toBe(200);
    const e = res.json() as Explanation;
    expect(e).toMatchObject({ model_version: '3', method: 'kernel', sample_budget: 256, coalitions: 256, background_size: 30 });
    expect(e.output).toMatchObject({ name: 'probabilities', column: 0 });
    e.explanations.forEach((row) => {
      expect(row.prediction).toBeGreaterThanOrEqual(0);
      expect(row.prediction).toBeLessThanOrEqual(1);
      expect(Math.abs(sumOf(row) - (row.prediction - e.baseline))).toBeLessThan(1e-6);
    });
  });

  it('says how to attach reference data when a version has none, and explains once it is attached', async () => {
    const res = await post('/v2/models/bare/explain', body(diabetes.rows.slice(0, 1)));
    expect(res.statusCode).toBe(409);
    const message = (res.json() as { error: string }).error;
    expect(message).toContain("slipway monitor reference set models:/bare/1 --data reference.csv");
    expect(message).toContain('PUT /api/v1/monitoring/models/bare/versions/1/reference');
    // What the PUT route stores for a registered version (the fixture models here are served from files, not the registry).
    await attachReference(store(), 'bare', '1', profileTable(await readTable(fixture('diabetes_holdout.csv'))), 'holdout', { time: Date.now() });
    const again = await post('/v2/models/bare/explain', body(diabetes.rows.slice(0, 1)));
    expect(again.statusCode).toBe(200);
  });

  it('answers bad input with a 4xx that names the problem', async () => {
    const row = diabetes.rows[0] as number[];
    const cases: Array<[unknown, number, RegExp, string?]> = [
      [{ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 10], data: ['abc', ...row.slice(1)] }] }, 400, /features/],
      [body([row.slice(0, 9)]), 400, /shape|10/],
      [body([row], { output: 'nope' }), 400, /Unknown output 'nope'.*'prediction'/],
      [body([row], { class: 3 }), 400, /class 3.*1 column/],
      [body([row], { class: 'benign' }), 400, /Unknown class 'benign'/],
      [body([row], { background_size: 0 }), 400, /background_size.*1 to 1000/],
      [body([row], { sample_budget: 'many' }), 400, /sample_budget/],
      [body([row], { colour: 'blue' }), 400, /Unknown parameter 'colour'/],
      [body(Array.from({ length: 101 }, () => row)), 400, /at most 100 rows.*101/],
      [{ inputs: [] }, 400, /inputs/],
      [[1, 2], 400, /JSON object/],
    ];
    for (const [payload, status, pattern] of cases) {
      const res = await post('/v2/models/diabetes/explain', payload);
      expect({ status: res.statusCode, error: (res.json() as { error: string }).error }).toMatchObject({ status, error: expect.stringMatching(pattern) });
    }
    const notJson = await app.inject({ method: 'POST', url: '/v2/models/diabetes/explain', payload: '{"inputs": [', headers: { 'content-type': 'application/json' } });
    expect(notJson.statusCode).toBe(400);
    const noBody = await app.inject({ method: 'POST', url: '/v2/models/diabetes/explain' });
    expect(noBody.statusCode).toBe(400);
    expect((noBody.json() as { error: string }).error).toMatch(/JSON object/);
    const csv = await app.inject({ method: 'POST', url: '/v2/models/diabetes/explain', payload: 'a,b', headers: { 'content-type': 'text/csv' } });
    expect(csv.statusCode).toBe(415);
    const unknown = await post('/v2/models/ghost/explain', body([row]));
    expect(unknown.statusCode).toBe(404);
    const cost = await post('/v2/models/diabetes/explain', body(Array.from({ length: 100 }, () => row), { background_size: 1000 }));
    expect(cost.statusCode).toBe(400);
    expect((cost.json() as { error: string }).error).toMatch(/model rows, above the limit/);
  });

  it('adds the global importance of the features to a monitoring report, beside their drift', async () => {
    const rows = (data: number[][]) => data.map((r) => Object.fromEntries(diabetes.columns.map((c, j) => [c, r[j]])));
    // bmi (column 2) shifted up: a drifted feature the forest leans on.
    const current = rows(diabetes.rows.map((r) => r.map((v, j) => (j === 2 ? v * 1.3 : v))));
    const report = { reference: { model: 'models:/diabetes@champion' }, current: { rows: current }, importance: { model: 'models:/diabetes@champion', rows: 4 } };
    const res = await post('/api/v1/monitoring/reports', report);
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { drift: { columns: Array<{ column: string; drifted: boolean }> }; importance: { model: string; version: string; method: string; rows: number; features: Array<{ name: string; meanAbsAttribution: number; share: number }> } };
    expect(doc.importance).toMatchObject({ model: 'diabetes', version: '1', method: 'exact', rows: 4 });
    const features = doc.importance.features;
    expect(features.map((f) => f.name).sort()).toEqual([...diabetes.columns].sort());
    expect(features.map((f) => f.meanAbsAttribution)).toEqual([...features.map((f) => f.meanAbsAttribution)].sort((a, b) => b - a));
    expect(features.reduce((s, f) => s + f.share, 0)).toBeCloseTo(1, 9);
    expect(features.slice(0, 3).map((f) => f.name)).toContain('bmi');
    expect(doc.drift.columns.find((c) => c.column === 'bmi')?.drifted).toBe(true);
    const html = await app.inject({ method: 'POST', url: '/api/v1/monitoring/reports?format=html', payload: report });
    expect(html.body).toContain('<h2>Feature importance</h2>');
    expect(html.body).toMatch(/<tr class="drift"><td>bmi<\/td>/);
    // Without `importance` the report is as before.
    expect((await post('/api/v1/monitoring/reports', { ...report, importance: undefined })).json()).not.toHaveProperty('importance');
    const badRows = await post('/api/v1/monitoring/reports', { ...report, importance: { model: 'models:/diabetes@champion', rows: 0 } });
    expect(badRows.statusCode).toBe(400);
    expect(JSON.stringify(badRows.json())).toContain('importance.rows');
    const noReference = await post('/api/v1/monitoring/reports', { reference: { rows: current }, current: { rows: current }, importance: { model: 'models:/plain@champion' } });
    expect(noReference.statusCode).toBe(409);
    expect(JSON.stringify(noReference.json())).toContain('slipway monitor reference set models:/plain/1');
    // Asked for as optional (the web UI does), the report is built and says why importance is missing.
    const optional = await post('/api/v1/monitoring/reports', { reference: { rows: current }, current: { rows: current }, importance: { model: 'models:/plain@champion', optional: true } });
    expect(optional.statusCode).toBe(200);
    expect(optional.json()).toMatchObject({ importance: null, importanceNote: expect.stringContaining('slipway monitor reference set models:/plain/1') });
    expect((await post('/api/v1/monitoring/reports', { ...report, importance: { model: 'models:/diabetes@champion', optional: 'yes' } })).statusCode).toBe(400);
  });

  describe('text models, by occlusion', () => {
    interface TextExplanation {
      method: string;
      occlusion: { replacement: string; tokenization: string; max_tokens_per_row: number };
      output: { name: string; column: number; class?: string };
      baseline: number;
      explanations: Array<{ prediction: number; truncated_tokens: number; attributions: Array<{ feature: string; value: number; start: number | null; end: number | null }> }>;
    }
    const texts = (data: unknown[], parameters?: Record<string, unknown>, shape: number[] = [data.length]) => ({ inputs: [{ name: 'text', datatype: 'BYTES', shape, data }], ...(parameters ? { parameters } : {}) });
    const top = (row: TextExplanation['explanations'][number]) => [...row.attributions].sort((a, b) => b.value - a.value)[0];

    it('finds the planted sentiment word as the most important token of the tokenizer model, with its place in the input', async () => {
      const reviews = ['The ramen was really dreadful', 'I enjoyed the café it was fantastic'];
      const neg = await post('/v2/models/reviews/explain', texts([reviews[0]], { class: 'negative' }));
      expect(neg.statusCode).toBe(200);
      const e = neg.json() as TextExplanation;
      expect(e).toMatchObject({ method: 'occlusion', occlusion: { replacement: 'removal', max_tokens_per_row: 256 }, output: { name: 'probabilities', column: 0, class: 'negative' } });
      const row = e.explanations[0] as TextExplanation['explanations'][number];
      expect(row.attributions.map((a) => a.feature)).toEqual(['the', 'ramen', 'was', 'really', 'dreadful']);
      const best = top(row);
      expect(best?.feature).toBe('dreadful');
      expect(reviews[0]?.slice(best?.start ?? 0, best?.end ?? 0)).toBe('dreadful');
      expect(row.attributions[0]).toMatchObject({ start: 0, end: 3 });
      // The prediction is the probability infer reports for that class; the baseline is the empty text's.
      const infer = (await post('/v2/models/reviews/infer', texts([reviews[0]]))).json() as { outputs: Array<{ name: string; data: Array<string | number> }> };
      const labels = infer.outputs.find((o) => o.name === 'labels')?.data as string[];
      const scores = infer.outputs.find((o) => o.name === 'scores')?.data as number[];
      expect(row.prediction).toBeCloseTo(scores[labels.indexOf('negative')] as number, 5);
      expect(e.baseline).toBeGreaterThan(0);
      expect(e.baseline).toBeLessThan(1);

      const pos = (await post('/v2/models/reviews/explain', texts([reviews[1]], { class: 2 }))).json() as TextExplanation;
      expect(top(pos.explanations[0] as TextExplanation['explanations'][number])?.feature).toBe('fantastic');
    });

    it('explains every token of a text that starts with a special token written out, such as [CLS]', async () => {
      const text = '[CLS] the food was dreadful';
      const res = await post('/v2/models/reviews/explain', texts([text], { class: 'negative' }));
      expect(res.statusCode, res.body).toBe(200);
      const row = (res.json() as TextExplanation).explanations[0] as TextExplanation['explanations'][number];
      // The written [CLS] is a token of the text (the tokenizer reads it as its special token), explained like the others.
      expect(row.attributions.map((a) => a.feature)).toEqual(['[CLS]', 'the', 'food', 'was', 'dreadful']);
      expect(row.truncated_tokens).toBe(0);
      expect(row.attributions[1]).toMatchObject({ start: 6, end: 9 });
      expect(row.attributions[4]).toMatchObject({ start: 19, end: 27 });
    });

    it('ranks first the sentiment word the fixture generator planted in clearly positive and negative holdout reviews', async () => {
      // The generator's adjectives (make_text_fixtures.py); the clear reviews hold exactly one of them,
      // of their own class, and none of its other markers (verbs, emoji, foreign extras).
      const WORDS: Record<string, string[]> = {
        positive: ['great', 'excellent', 'wonderful', 'amazing', 'delicious', 'friendly', 'perfect', 'fantastic', 'lovely', 'superb'],
        negative: ['terrible', 'awful', 'horrible', 'disappointing', 'rude', 'cold', 'bland', 'broken', 'slow', 'dreadful'],
        neutral: ['okay', 'average', 'fine', 'ordinary', 'decent', 'standard', 'acceptable', 'usual', 'moderate', 'plain'],
      };
      const MARKERS = ['loved', 'enjoyed', 'recommend', 'hated', 'regretted', 'avoid', '😀', '美味しい', '👍🏽', 'très', '😡', '最悪', '👎', 'pas'];
      const adjectives = Object.values(WORDS).flat();
      const reviews = readFileSync(fixture('text/reviews_holdout.csv'), 'utf8').trim().split('\n').slice(1).map((line) => [line.slice(0, line.lastIndexOf(',')), line.slice(line.lastIndexOf(',') + 1)] as const);
      for (const [label, column] of [['positive', 2], ['negative', 0]] as const) {
        const clear = reviews.flatMap(([text, l]) => {
          const words = text.toLowerCase().split(' ');
          const planted = words.filter((w) => adjectives.includes(w));
          return l === label && planted.length === 1 && WORDS[label]?.includes(planted[0] as string) && !words.some((w) => MARKERS.includes(w)) ? [{ text, planted: planted[0] as string }] : [];
        });
        expect(clear.length).toBeGreaterThanOrEqual(8);
        for (const [model, shape] of [['bow', [clear.length, 1]], ['reviews', [clear.length]]] as const) {
          const res = await post(`/v2/models/${model}/explain`, texts(clear.map((c) => c.text), { class: column }, [...shape]));
          expect(res.statusCode).toBe(200);
          const e = res.json() as TextExplanation;
          const hits = e.explanations.filter((row, i) => top(row)?.feature.toLowerCase() === clear[i]?.planted).length;
          // The bag of words ranks the planted word first in every review; the tiny transformer in all
          // but at most one per class (it weighs a subject word like 'ramen' above 'slow' once).
          expect(hits, `${model} ${label}`).toBeGreaterThanOrEqual(model === 'bow' ? clear.length : clear.length - 1);
        }
      }
    });

    it('explains the words of a string-input graph, and says the class must be named for three classes', async () => {
      const res = await post('/v2/models/bow/explain', texts(['Our waiter today lovely and lovely', 'the service was  so awful'], { class: 0 }, [2, 1]));
      expect(res.statusCode).toBe(200);
      const e = res.json() as TextExplanation;
      expect(e.occlusion.tokenization).toMatch(/words/);
      const second = e.explanations[1] as TextExplanation['explanations'][number];
      expect(second.attributions.map((a) => [a.feature, a.start, a.end])).toEqual([['the', 0, 3], ['service', 4, 11], ['was', 12, 15], ['so', 17, 19], ['awful', 20, 25]]);
      expect(top(second)?.feature).toBe('awful');
      const noClass = await post('/v2/models/bow/explain', texts(['fine'], undefined, [1, 1]));
      expect(noClass.statusCode).toBe(400);
      expect(noClass.json().error).toMatch(/3 columns; name the one to explain with parameters.class/);
    });

    it('answers bad text with a 400 naming the input and the problem', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [texts([12]), /Input 'text' element 0 is number 12, not a string/],
        [texts(['fine', '   ']), /Input 'text' element 1 is empty/],
        [texts(['fine'], { background_size: 10 }), /background_size does not apply to text models/],
        [texts(['great '.repeat(300)], undefined, [1, 1]), /has 300 words; explanations occlude at most 256/],
        [texts(['fine', 'great '.repeat(2000)]), /Input 'text' element 1 has 12000 characters; explanations take texts of at most 10000 characters/],
      ];
      for (const [payload, message] of cases) {
        const url = (payload as { inputs: Array<{ shape: number[] }> }).inputs[0]?.shape.length === 2 ? '/v2/models/bow/explain' : '/v2/models/reviews/explain';
        const res = await post(url, { ...(payload as object), parameters: { ...((payload as { parameters?: object }).parameters ?? {}), class: 0 } });
        expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBeGreaterThanOrEqual(400);
        expect(res.statusCode).toBeLessThan(500);
        expect(res.json().error).toMatch(message);
      }
      const invalid = Buffer.concat([Buffer.from('{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["caf'), Buffer.from([0xe9]), Buffer.from('"]}],"parameters":{"class":0}}')]);
      const res = await app.inject({ method: 'POST', url: '/v2/models/reviews/explain', payload: invalid, headers: { 'content-type': 'application/json' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe("Input 'text' element 0 is not valid UTF-8.");
    });

    it("explains the graph's raw logits when the request names that output", async () => {
      const text = 'the service was superb';
      const e = (await post('/v2/models/reviews/explain', texts([text], { output: 'logits', class: 2 }))).json() as TextExplanation;
      expect(e.output).toMatchObject({ name: 'logits', column: 2 });
      const infer = (await post('/v2/models/reviews/infer', texts([text]))).json() as { outputs: Array<{ name: string; data: number[] }> };
      expect(e.explanations[0]?.prediction).toBeCloseTo(infer.outputs.find((o) => o.name === 'logits')?.data[2] as number, 4);
      expect(top(e.explanations[0] as TextExplanation['explanations'][number])?.feature).toBe('superb');
    });

    it('keeps plain inference answering while a long text explanation runs', async () => {
      const long = Array.from({ length: 20 }, (_, i) => `the food was ${i % 2 ? 'awful' : 'great'} and the staff quite friendly `.repeat(4).trim());
      const explaining = post('/v2/models/reviews/explain', texts(long, { class: 'positive' }));
      const infers = await Promise.all(Array.from({ length: 20 }, (_, i) => post('/v2/models/reviews/infer', texts([long[i] as string]))));
      expect(infers.every((r) => r.statusCode === 200)).toBe(true);
      const e = (await explaining).json() as TextExplanation;
      expect(e.explanations).toHaveLength(20);
      expect(e.explanations.every((row) => row.attributions.length === 36)).toBe(true);
    });

    it('explains only the tokens the model keeps when its tokenizer truncates', async () => {
      const long = Array.from({ length: 80 }, () => 'terrible').join(' ');
      const e = (await post('/v2/models/reviews/explain', texts([long], { class: 'negative' }))).json() as TextExplanation;
      const row = e.explanations[0] as TextExplanation['explanations'][number];
      // max_length 64 with [CLS] and [SEP]: 62 tokens explained, 18 cut.
      expect(row.attributions).toHaveLength(62);
      expect(row.truncated_tokens).toBe(18);
      expect(row.attributions[61]).toMatchObject({ start: 61 * 9, end: 61 * 9 + 8 });
    });
  });

  it('keeps plain inference answering while an explanation runs', async () => {
    const explaining = post('/v2/models/diabetes/explain', body(diabetes.rows.slice(0, 4)));
    const infers = await Promise.all(Array.from({ length: 20 }, (_, i) => post('/v2/models/diabetes/infer', body([diabetes.rows[i] as number[]]))));
    expect(infers.every((r) => r.statusCode === 200)).toBe(true);
    expect((await explaining).statusCode).toBe(200);
  });
});

describe('POST /v2/models/{name}/explain with access control on', () => {
  let app: FastifyInstance;
  let ctx: ServerContext;
  let close: () => Promise<void>;
  const diabetes = holdout('diabetes');
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  beforeAll(async () => {
    const sqlite = DIALECTS.find((d) => d.name === 'sqlite');
    if (!sqlite) throw new Error('sqlite dialect missing');
    const opened = await sqlite.open();
    const home = mkdtempSync(join(tmpdir(), 'slipway-explain-auth-'));
    const base = resolveConfig({ backendStoreUri: opened.uri, home, modelSourceAllowedDirs: dirname(fixture('diabetes_forest.onnx')) }, {}, home);
    const config = { ...base, auth: { enabled: true, defaultPermission: 'NO_PERMISSIONS' as const, allowAnonymous: false, protectedEnvironments: ['champion', 'production'] } };
    const source = new FileModelSource().add('diabetes', '1', fixture('diabetes_forest.onnx'));
    source.columns = diabetes.columns;
    source.setAlias('diabetes', 'champion', '1');
    const clock = { now: () => Date.now() };
    const access = new AccessService({ store: opened.store, clock, maxFailures: 1_000_000, defaultPermission: 'NO_PERMISSIONS' });
    await access.ensureAdmin('admin-password');
    await access.createUser({ username: 'reader', password: 'reader-password' });
    await access.createUser({ username: 'stranger', password: 'stranger-password' });
    await access.setPermission({ kind: 'registered_model', objectId: 'diabetes', username: 'reader', permission: 'READ' });
    ctx = { config, store: opened.store, logger: silentLogger, clock, inferenceObservers: [], onClose: [], modelSource: source, access };
    app = await buildApp(ctx);
    await app.ready();
    await attachReference(opened.store, 'diabetes', '1', profileTable(await readTable(fixture('diabetes_train.csv'))), 'train', { time: Date.now() });
    const registry = registryOf(ctx);
    await registry.createRegisteredModel({ name: 'diabetes' });
    await registry.createModelVersion({ name: 'diabetes', source: 's3://models/diabetes/1' });
    await registry.setAlias('diabetes', 'champion', '1');
    close = async () => {
      for (const hook of ctx.onClose) await hook();
      await app.close();
      await opened.dispose();
      rmSync(home, { recursive: true, force: true });
    };
  });
  afterAll(async () => close());

  it("needs READ on the model for a monitoring report's importance, even when both sides are inline rows", async () => {
    const rows = diabetes.rows.slice(0, 30).map((r) => Object.fromEntries(diabetes.columns.map((c, j) => [c, r[j]])));
    const payload = { reference: { rows }, current: { rows }, importance: { model: 'models:/diabetes@champion', rows: 2 } };
    const as = (authorization: string) => app.inject({ method: 'POST', url: '/api/v1/monitoring/reports', payload, headers: { authorization } });
    const stranger = await as(basic('stranger', 'stranger-password'));
    expect(stranger.statusCode, stranger.body).toBe(403);
    expect(stranger.body).not.toContain('meanAbsAttribution');
    const reader = await as(basic('reader', 'reader-password'));
    expect(reader.statusCode, reader.body).toBe(200);
    expect(reader.json()).toMatchObject({ importance: { model: 'diabetes', version: '1' } });
    // Without importance, a report over inline rows reads nothing stored: any signed-in user may ask for it.
    const plain = await app.inject({ method: 'POST', url: '/api/v1/monitoring/reports', payload: { reference: { rows }, current: { rows } }, headers: { authorization: basic('stranger', 'stranger-password') } });
    expect(plain.statusCode, plain.body).toBe(200);
  });

  it('needs READ on the model, as infer does', async () => {
    const payload = { inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 10], data: diabetes.rows[0] }], parameters: { background_size: 10 } };
    const as = (authorization?: string) => app.inject({ method: 'POST', url: '/v2/models/diabetes/explain', payload, headers: authorization ? { authorization } : {} });
    expect((await as()).statusCode).toBe(401);
    const inferAs = await app.inject({ method: 'POST', url: '/v2/models/diabetes/infer', payload: { inputs: payload.inputs }, headers: { authorization: basic('stranger', 'stranger-password') } });
    expect(inferAs.statusCode).toBe(403);
    expect((await as(basic('stranger', 'stranger-password'))).statusCode).toBe(403);
    expect((await as(basic('reader', 'reader-password'))).statusCode).toBe(200);
  });
});
