/**
 * The bounded text summary of live windows and references: the same figures as the exact text
 * profile (itself checked against scipy) on the project's review fixtures, halves that merge to
 * the whole in any order and through JSON (as window parts of replicas do), the window profile
 * carrying it, and the caps on lengths and token ids.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../serving/mlflow-protocol.js';
import { TextTokenizer } from '../../serving/text-model.js';
import { DatasetProfile } from '../profile/dataset-profile.js';
import { profileTexts, textDrift, type TextTokenizerView } from './text-drift.js';
import { summariseTexts, TEXT_LENGTH_CAP, TEXT_TOKEN_CAP, TEXT_TOKENIZE_CHARS, TextSummary, textSummaryDrift } from './text-summary.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'text');
const column = (name: string) => parseCsv(readFileSync(join(FIXTURES, name), 'utf8')).slice(1).map((r) => r[0] as string);
const viaJson = (s: TextSummary) => TextSummary.fromJSON(JSON.parse(JSON.stringify(s.toJSON())));

describe('text summary', () => {
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    tokenizer = (await TextTokenizer.load(join(FIXTURES, 'transformer', 'model.onnx'))) as TextTokenizer;
  });

  it('gives the figures of the exact text profile on the drifted feed and the holdout', () => {
    const train = column('reviews_train.csv');
    for (const [name, drifted] of [
      ['reviews_drifted.csv', true],
      ['reviews_holdout.csv', false],
    ] as const) {
      const current = column(name);
      const exact = textDrift(profileTexts(train, tokenizer), profileTexts(current, tokenizer));
      const bounded = textSummaryDrift(summariseTexts(train, tokenizer), summariseTexts(current, tokenizer));
      expect(bounded.drift).toBe(drifted);
      expect(bounded.rows).toEqual(exact.rows);
      expect(bounded.tokenLength.ksStatistic).toBeCloseTo(exact.tokenLength.ksStatistic, 12);
      expect(bounded.tokenLength.pValue).toBeCloseTo(exact.tokenLength.pValue, 12);
      for (const k of ['tokenLength', 'charLength', 'oovRate', 'emptyShare', 'nonTextShare'] as const) {
        expect(bounded[k].reference).toBeCloseTo(exact[k].reference, 12);
        expect(bounded[k].current).toBeCloseTo(exact[k].current, 12);
      }
      expect(bounded.tokens.jensenShannon).toBeCloseTo(exact.tokens.jensenShannon, 12);
    }
  });

  it('merges halves into the whole, in either order and through JSON', () => {
    const values: unknown[] = [...column('reviews_drifted.csv'), null, 7, ''];
    const whole = summariseTexts(values, tokenizer);
    const a = summariseTexts(values.slice(0, 120), tokenizer);
    const b = summariseTexts(values.slice(120), tokenizer);
    const ab = viaJson(a).merge(viaJson(b));
    const ba = viaJson(b).merge(viaJson(a));
    const sorted = (s: TextSummary) => ({ ...s.toJSON(), tokenCounts: s.toJSON().tokenCounts.sort((x, y) => x[0] - y[0]) });
    expect(sorted(ab)).toEqual(sorted(whole));
    expect(sorted(ba)).toEqual(sorted(whole));
    expect(whole.nonText).toBe(1);
    expect(whole.rows).toBe(values.length);
  });

  it('travels with a window profile: merged window parts carry the sum of their texts', () => {
    const values = column('reviews_holdout.csv');
    const part = (from: number, to: number) => {
      const p = new DatasetProfile(to - from, new Map());
      p.texts.set('text', summariseTexts(values.slice(from, to), tokenizer));
      return DatasetProfile.fromJSON(JSON.parse(JSON.stringify(p.toJSON(true))));
    };
    const merged = part(0, 50);
    merged.merge(part(50, values.length));
    const whole = summariseTexts(values, tokenizer);
    expect(merged.texts.get('text')?.tokens).toBe(whole.tokens);
    expect(merged.texts.get('text')?.rows).toBe(values.length);
    expect(textSummaryDrift(whole, merged.texts.get('text') as TextSummary).tokens.jensenShannon).toBe(0);
    // A window without texts keeps its profile format as before.
    expect(new DatasetProfile(0, new Map()).toJSON()).not.toHaveProperty('texts');
  });

  it('keeps at most the capped token ids and length buckets, with every token still counted', () => {
    // A tokenizer whose every text is one fresh id, and whose lengths run past the cap.
    let next = 0;
    const fresh: TextTokenizerView = { unknownId: undefined, contentIds: (t) => (t.startsWith('long') ? Array.from({ length: TEXT_LENGTH_CAP + 10 }, () => 0) : [next++]) };
    const many = new TextSummary();
    for (let i = 0; i < TEXT_TOKEN_CAP * 2; i++) many.add(`w${i}`, fresh);
    many.add('long text', fresh);
    expect(many.tokenCounts.size).toBeLessThanOrEqual(TEXT_TOKEN_CAP);
    const counted = [...many.tokenCounts.values()].reduce((s, n) => s + n, 0) + many.otherTokens;
    expect(counted).toBe(many.tokens);
    expect(many.tokens).toBe(TEXT_TOKEN_CAP * 2 + TEXT_LENGTH_CAP + 10);
    // The most frequent id (0, from the long text) is kept.
    expect(many.tokenCounts.get(0)).toBe(TEXT_LENGTH_CAP + 11);
    expect(many.lengths.get(TEXT_LENGTH_CAP)).toBe(1);
    expect(Math.max(...many.lengths.keys())).toBe(TEXT_LENGTH_CAP);
  });

  it('tokenises only the first characters of a very long text, and leaves the summary as it was when the tokenizer throws', () => {
    const seen: number[] = [];
    const tok: TextTokenizerView = {
      unknownId: 0,
      contentIds: (t) => {
        if (t.startsWith('boom')) throw new RangeError('Maximum call stack size exceeded');
        seen.push(t.length);
        return [1, 2];
      },
    };
    const s = new TextSummary();
    // A long text whose cut falls inside an emoji (a surrogate pair) is cut before it.
    s.add(`${'a'.repeat(TEXT_TOKENIZE_CHARS - 1)}😀 and more`, tok);
    expect(seen).toEqual([TEXT_TOKENIZE_CHARS - 1]);
    expect(s.chars).toBe(TEXT_TOKENIZE_CHARS + 9);
    const before = JSON.stringify(s.toJSON());
    expect(() => s.add('boom', tok)).toThrow(RangeError);
    expect(JSON.stringify(s.toJSON())).toBe(before);
  });

  it('refuses JSON that is not a text summary, naming what is expected', () => {
    expect(() => TextSummary.fromJSON({ rows: 1 })).toThrow(/Not a text summary/);
    expect(() => DatasetProfile.fromJSON({ format: 'slipway-profile/1', rows: 0, columns: [], texts: { text: { rows: -1 } } })).toThrow(/text input 'text' is corrupt/);
  });
});
