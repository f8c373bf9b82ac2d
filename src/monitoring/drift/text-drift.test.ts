/**
 * Text drift against scipy: test/fixtures/text/text_drift_expected.json holds what
 * scipy.stats.ks_2samp and scipy.spatial.distance.jensenshannon give on the token lengths and
 * token counts of the training reviews against a drifted feed (other languages and scripts,
 * longer texts, empty values) and against the holdout (make_text_fixtures.py), with the same
 * tokenizer.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../serving/mlflow-protocol.js';
import { TextTokenizer } from '../../serving/text-model.js';
import { profileTexts, TextProfile, textDrift } from './text-drift.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'text');
const column = (name: string) => parseCsv(readFileSync(join(FIXTURES, name), 'utf8')).slice(1).map((r) => r[0] as string);
interface Expected {
  rows: number[];
  tokenLengthMean: number[];
  charLengthMean: number[];
  ksStatistic: number;
  ksPValue: number;
  oovRate: number[];
  emptyShare: number[];
  jensenShannon: number;
}
const expected = JSON.parse(readFileSync(join(FIXTURES, 'text_drift_expected.json'), 'utf8')) as Expected & { holdout: Expected };

describe('text drift', () => {
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    tokenizer = (await TextTokenizer.load(join(FIXTURES, 'transformer', 'model.onnx'))) as TextTokenizer;
  });

  const check = (drift: ReturnType<typeof textDrift>, want: Expected) => {
    expect([drift.rows.reference, drift.rows.current]).toEqual(want.rows);
    expect(drift.tokenLength.reference).toBeCloseTo(want.tokenLengthMean[0] as number, 12);
    expect(drift.tokenLength.current).toBeCloseTo(want.tokenLengthMean[1] as number, 12);
    expect(drift.charLength.current).toBeCloseTo(want.charLengthMean[1] as number, 12);
    expect(drift.tokenLength.ksStatistic).toBeCloseTo(want.ksStatistic, 12);
    // Far in the tail (scipy: 2.5e-149 for the drifted feed) the exact KS p-value of stats/ks-test.ts
    // underflows to 0; both are far below any threshold.
    if (want.ksPValue < 1e-100) expect(drift.tokenLength.pValue).toBeLessThan(1e-100);
    else expect(Math.abs(drift.tokenLength.pValue - want.ksPValue)).toBeLessThanOrEqual(1e-9 * want.ksPValue);
    expect(drift.oovRate.reference).toBeCloseTo(want.oovRate[0] as number, 12);
    expect(drift.oovRate.current).toBeCloseTo(want.oovRate[1] as number, 12);
    expect(drift.emptyShare.current).toBeCloseTo(want.emptyShare[1] as number, 12);
    expect(drift.tokens.jensenShannon).toBeCloseTo(want.jensenShannon, 12);
  };

  it('measures lengths, out-of-vocabulary rate, empty share and token-distribution drift as scipy does, and flags the drifted feed', () => {
    const reference = profileTexts(column('reviews_train.csv'), tokenizer);
    const drift = textDrift(reference, profileTexts(column('reviews_drifted.csv'), tokenizer));
    check(drift, expected);
    expect(drift.oovRate.current).toBeGreaterThan(drift.oovRate.reference + 0.03);
    expect(drift.emptyShare.current).toBeGreaterThan(0.05);
    expect(drift).toMatchObject({ drift: true, tokenLength: { drift: true }, tokens: { drift: true } });
  });

  it('finds no drift between the training texts and the holdout', () => {
    const drift = textDrift(profileTexts(column('reviews_train.csv'), tokenizer), profileTexts(column('reviews_holdout.csv'), tokenizer));
    check(drift, expected.holdout);
    expect(drift).toMatchObject({ drift: false, tokenLength: { drift: false }, tokens: { drift: false } });
  });

  it('counts values that are not text, and profiles merge and survive JSON as one profile would', () => {
    const texts = column('reviews_drifted.csv');
    const values: unknown[] = [...texts, null, 42, { text: 'x' }];
    const whole = profileTexts(values, tokenizer);
    expect(whole.nonText).toBe(2);
    expect(whole.empty).toBe(texts.filter((t) => t.trim() === '').length + 1);
    expect(whole.rows).toBe(texts.length + 3);
    const merged = profileTexts(values.slice(0, 100), tokenizer).merge(TextProfile.fromJSON(JSON.parse(JSON.stringify(profileTexts(values.slice(100), tokenizer)))));
    expect(merged.toJSON()).toEqual(whole.toJSON());
    const reference = profileTexts(column('reviews_train.csv'), tokenizer);
    expect(textDrift(reference, merged).nonTextShare.current).toBeCloseTo(2 / (texts.length + 3), 12);
  });
});
