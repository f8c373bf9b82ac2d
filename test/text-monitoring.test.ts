/**
 * `slipway monitor text` (the built CLI): text drift and quality of a column of reviews
 * against the training texts, with the model's own tokenizer.
 */
import { describe, expect, it } from 'vitest';
import { runCli, tempHome } from './support/cli.js';
import { fixture } from './support/serving.js';

describe('slipway monitor text', () => {
  const env = { SLIPWAY_HOME: tempHome('slipway-text-monitor') };
  const args = (current: string, tokenizer = fixture('text/transformer/model.onnx')) => ['monitor', 'text', '--reference', fixture('text/reviews_train.csv'), '--current', fixture(`text/${current}`), '--tokenizer', tokenizer];

  it('reports lengths, out-of-vocabulary rate, empty share and token-distribution drift of a drifted feed', async () => {
    const r = await runCli(args('reviews_drifted.csv'), env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tokens per text \(mean\)\s+6\.509\s+14\.31\s+KS p = 0 DRIFT/);
    expect(r.stdout).toMatch(/out-of-vocabulary tokens\s+0\.00 %\s+4\.00 %/);
    expect(r.stdout).toMatch(/empty or missing\s+0\.00 %\s+12\.00 %/);
    expect(r.stdout).toMatch(/token distribution .*Jensen-Shannon 0\.3276 \(threshold 0\.1\) DRIFT/);
    expect(r.stdout).toContain("text drift in 'text': DETECTED");
  });

  it('finds none in the holdout, also with the tokenizer.json alone, and prints JSON', async () => {
    const r = await runCli([...args('reviews_holdout.csv', fixture('text/transformer/tokenizer.json')), '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ column: 'text', tokenizer: 'WordPiece', drift: false, rows: { reference: 1500, current: 200 }, tokens: { drift: false } });
  });

  it('exits 2 naming the problem for a model without a tokenizer and a missing column', async () => {
    const notText = await runCli(args('reviews_holdout.csv', fixture('text/bow_classifier.onnx')), env);
    expect(notText.code).toBe(2);
    expect(notText.stderr).toContain('is not a text model: it has no text-model.json beside it');
    const column = await runCli([...args('reviews_holdout.csv'), '--column', 'review'], env);
    expect(column.code).toBe(2);
    expect(column.stderr).toMatch(/has no column 'review' \(name it with --column\); its columns are text, label\./);
  });
});
