/**
 * A text model's window written in parts by two processes at once (two replicas closing their
 * share of the same minute): the stored window's text summary is the summary of every text,
 * on each dialect the project runs on.
 */
import { join, resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../../test/support/dialects.js';
import { parseCsv } from '../../serving/mlflow-protocol.js';
import { TextTokenizer } from '../../serving/text-model.js';
import { openStore } from '../../store/store.js';
import { summariseTexts } from '../drift/text-summary.js';
import { DatasetProfile } from '../profile/dataset-profile.js';
import { listWindows, mergeIntoStored } from './window-repository.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'text');
const texts = parseCsv(readFileSync(join(FIXTURES, 'reviews_drifted.csv'), 'utf8')).slice(1).map((r) => r[0] as string);

for (const dialect of DIALECTS) {
  describe(`text window parts from several replicas (${dialect.name})`, () => {
    let tokenizer: TextTokenizer;
    const cleanups: Array<() => Promise<void>> = [];
    beforeAll(async () => {
      tokenizer = (await TextTokenizer.load(join(FIXTURES, 'transformer', 'model.onnx'))) as TextTokenizer;
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    it('adds up every part, whatever the order they land in', async () => {
      const { store, uri, dispose } = await dialect.open();
      cleanups.push(dispose);
      const other = await openStore(uri);
      cleanups.push(() => other.close());
      const parts = Array.from({ length: 10 }, (_, i) => texts.filter((_t, j) => j % 10 === i));
      const write = (s: typeof store, part: string[]) => {
        const profile = new DatasetProfile(part.length, new Map());
        profile.texts.set('text', summariseTexts(part, tokenizer));
        return mergeIntoStored(s, { model: 'reviews', version: '1', windowStart: 60_000, windowEnd: 120_000, rows: part.length, requests: 1, droppedRows: 0, profile }, (w) => ({ rows: w.rows }), Date.now());
      };
      await Promise.all(parts.map((part, i) => write(i % 2 === 0 ? store : other, part)));
      const [w] = await listWindows(store, 'reviews', { withProfiles: true });
      const whole = summariseTexts(texts, tokenizer).toJSON();
      const stored = w?.profile?.texts.get('text')?.toJSON();
      expect(w?.rows).toBe(texts.length);
      expect(stored && { ...stored, tokenCounts: stored.tokenCounts.sort((a, b) => a[0] - b[0]) }).toEqual({ ...whole, tokenCounts: whole.tokenCounts.sort((a, b) => a[0] - b[0]) });
    });
  });
}
