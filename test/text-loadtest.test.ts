/**
 * A load test driven by a CSV text column against text models served over real HTTP on
 * loopback: the V2 bodies carry the column as BYTES, the MLflow bodies as a string column.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadTest } from '../src/loadtest/index.js';
import { fixture, servingApp, type ServingHarness } from './support/serving.js';

describe('load tests on text models', () => {
  let h: ServingHarness;
  beforeAll(async () => {
    h = await servingApp({ executor: 'inline' }, undefined, { listen: true });
    await h.manager.load('reviews', fixture('text/transformer/model.onnx'));
    await h.manager.load('bow', fixture('text/bow_classifier.onnx'));
  });
  afterAll(() => h.close());

  // Text that looks like a number, quotes, accents, CJK and emoji stay text.
  const csv = join(mkdtempSync(join(tmpdir(), 'slipway-text-load-')), 'reviews.csv');
  writeFileSync(csv, 'text,label\n42,neutral\n"the ""café"" was great 😀",positive\n最悪 awful service,negative\n');

  for (const [model, path] of [['reviews', '/v2/models/reviews/infer'], ['bow', '/v2/models/bow/infer'], ['reviews', '/models/reviews/invocations'], ['bow', '/models/bow/invocations']] as const) {
    it(`drives ${path} from the text column of the holdout CSV without an error`, async () => {
      const before = h.records.length;
      const r = await runLoadTest({ target: `${h.url}${path}`, data: fixture('text/reviews_holdout.csv'), rowsPerRequest: 4, rate: 40, duration: '1s', warmup: '0s', workers: 1 });
      expect(r.errorRate, JSON.stringify(r)).toBe(0);
      expect(r.requests.completed).toBeGreaterThanOrEqual(30);
      const seen = h.records.slice(before).filter((rec) => rec.model === model);
      expect(seen.length).toBeGreaterThanOrEqual(30);
    });
  }

  for (const path of ['/v2/models/reviews/infer', '/models/reviews/invocations']) {
    it(`sends text that looks like a number as text to ${path}`, async () => {
      const r = await runLoadTest({ target: `${h.url}${path}`, data: csv, rate: 20, duration: '500ms', warmup: '0s', workers: 1 });
      expect(r.errorRate, JSON.stringify(r)).toBe(0);
      expect(r.requests.completed).toBeGreaterThanOrEqual(8);
    });
  }
});
