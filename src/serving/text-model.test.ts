/**
 * The tokenizer step against the reference implementation of tokenizer.json (Hugging Face's
 * Rust `tokenizers`): test/fixtures/text/tokenizer_expected.json holds the ids it gave for a
 * corpus with accents, combining marks, CJK, Korean, Arabic, Thai, emoji sequences, control
 * and zero-width characters, empty and very long texts (make-tokenizer-expected.mjs).
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SlipwayError } from '../core/errors.js';
import { TextTokenizer } from './text-model.js';

const FIXTURES = resolve(import.meta.dirname, '..', '..', 'test', 'fixtures', 'text');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'tokenizer_expected.json'), 'utf8')) as {
  corpus: string[];
  tokenizers: Record<string, { withSpecialTokens: number[][]; withoutSpecialTokens: number[][] }>;
};
const FILES: Record<string, string> = { wordpiece: 'transformer/tokenizer.json', bpe: 'bpe_tokenizer.json', unigram: 'unigram_tokenizer.json' };

/** A model folder holding `tokenizer` as tokenizer.json and the given text settings; returns its model path. */
function folder(tokenizer: string | Buffer, settings: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-text-'));
  if (typeof tokenizer === 'string') copyFileSync(tokenizer, join(dir, 'tokenizer.json'));
  else writeFileSync(join(dir, 'tokenizer.json'), tokenizer);
  writeFileSync(join(dir, 'text-model.json'), JSON.stringify(settings));
  return join(dir, 'model.onnx');
}

describe('tokenizer.json read with @huggingface/tokenizers', () => {
  for (const [name, file] of Object.entries(FILES)) {
    it(`gives the reference ids for every text of the corpus (${name})`, async () => {
      const tokenizer = (await TextTokenizer.load(folder(join(FIXTURES, file), { max_length: 1_000_000 }))) as TextTokenizer;
      const want = expected.tokenizers[name] as { withSpecialTokens: number[][]; withoutSpecialTokens: number[][] };
      expect(want.withSpecialTokens.some((ids) => ids.length > 1000), 'the corpus has a very long text').toBe(true);
      expected.corpus.forEach((text, i) => {
        const label = `${name} text ${i} ${JSON.stringify(text.slice(0, 40))}`;
        expect(tokenizer.referenceIds(text, false), label).toEqual(want.withoutSpecialTokens[i]);
        expect(tokenizer.referenceIds(text, true), label).toEqual(want.withSpecialTokens[i]);
        if ((want.withoutSpecialTokens[i] as number[]).length === 0) {
          expect(() => tokenizer.encode(text, 'Input')).toThrow('Input is empty');
        } else {
          // The serving path (tokens cut, then special tokens added) gives the same ids when nothing is cut.
          expect(tokenizer.encode(text, 'Input').ids, label).toEqual(want.withSpecialTokens[i]);
        }
      });
    });
  }

  it('truncates the text, not its special tokens, to max_length when truncation is on, else names the input and the limit', async () => {
    const long = expected.corpus.find((t) => t.length > 5000) as string;
    const full = expected.tokenizers.wordpiece?.withSpecialTokens[expected.corpus.indexOf(long)] as number[];
    const cut = (await TextTokenizer.load(folder(join(FIXTURES, FILES.wordpiece as string), { max_length: 16, truncation: true }))) as TextTokenizer;
    const ids = cut.encode(long, "Input 'text' element 0").ids;
    expect(ids).toEqual([...full.slice(0, 15), full.at(-1)]);
    expect(cut.encode(long, '').typeIds).toEqual(new Array(16).fill(0));
    const strict = (await TextTokenizer.load(folder(join(FIXTURES, FILES.wordpiece as string), { max_length: 16 }))) as TextTokenizer;
    const shorter = long.slice(0, 500);
    const tokens = cut.referenceIds(shorter, true).length;
    expect(tokens).toBeGreaterThan(16);
    expect(() => strict.encode(shorter, "Input 'text' element 2")).toThrow(`Input 'text' element 2 has ${tokens} tokens but the model takes at most 16; shorten it, or set "truncation": true in text-model.json.`);
    expect(strict.encode('the food was great', 'x').ids).toHaveLength(6);
  });

  it('tokenises only a bounded prefix of a very long text when truncation is on, and refuses it by its length when off', async () => {
    // 300 KB overflowed the Unigram model's stack (a 500); truncation cuts the text's first max_length x 32 characters.
    const huge = 'the food was great and lovely, '.repeat(10_000);
    const word = 'greatfood'.repeat(35_000);
    for (const name of ['unigram', 'wordpiece', 'bpe']) {
      const cut = (await TextTokenizer.load(folder(join(FIXTURES, FILES[name] as string), { max_length: 64, truncation: true }))) as TextTokenizer;
      const ids = cut.encode(huge, "Input 'text' element 3").ids;
      expect(ids, name).toHaveLength(64);
      // The same ids as when the text is short enough to be tokenised whole.
      expect(ids, name).toEqual(cut.encode(huge.slice(0, 1000), 'x').ids);
      // WordPiece reads an over-long word as one unknown token.
      expect(cut.encode(word, "Input 'text' element 4").ids, name).toHaveLength(name === 'wordpiece' ? 3 : 64);
      const strict = (await TextTokenizer.load(folder(join(FIXTURES, FILES[name] as string), { max_length: 64 }))) as TextTokenizer;
      expect(() => strict.encode(huge, "Input 'text' element 3"), name).toThrow(
        `Input 'text' element 3 has ${huge.length} characters but the model takes texts of at most 2048 characters (max_length 64 x 32); shorten it, or set "truncation": true in text-model.json.`,
      );
    }
    // Within a very large max_length the library itself may fail on a text: a 400 naming the element, not a 500.
    const wide = (await TextTokenizer.load(folder(join(FIXTURES, FILES.unigram as string), { max_length: 100_000, truncation: true }))) as TextTokenizer;
    const failure = (() => {
      try {
        wide.encode(word, "Input 'text' element 5");
      } catch (err) {
        return err as SlipwayError;
      }
    })();
    expect(failure?.code).toBe('INVALID_ARGUMENT');
    expect(failure?.message).toMatch(/^Input 'text' element 5 cannot be tokenised: Maximum call stack size exceeded\.$/);
  });

  it('names the file and the problem when the tokenizer or its settings cannot be read', async () => {
    await expect(TextTokenizer.load(folder(Buffer.from('{"model": {"type": "WordPiece", '), {}))).rejects.toThrow(/The tokenizer .*tokenizer\.json is not valid JSON( \(at character \d+\))?\.$/);
    await expect(TextTokenizer.load(folder(Buffer.from('{"version": "1.0"}'), {}))).rejects.toThrow(/The tokenizer .*tokenizer\.json is not a tokenizer\.json: it has no "model" with a "type"\./);
    await expect(TextTokenizer.load(folder(Buffer.from('{"model": {"type": "Mystery"}, "added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null}'), {}))).rejects.toThrow(/The tokenizer .*tokenizer\.json cannot be read: Unknown TokenizerModel type: Mystery/);
    await expect(TextTokenizer.load(folder(join(FIXTURES, FILES.wordpiece as string), { tokenizer: '../secret.json' }))).rejects.toThrow(/text-model\.json are invalid: tokenizer: must be a file name in the model folder/);
    await expect(TextTokenizer.load(folder(join(FIXTURES, FILES.wordpiece as string), { tokenizer: 'absent.json' }))).rejects.toThrow(/Cannot read the tokenizer .*absent\.json: the file does not exist\./);
    await expect(TextTokenizer.load(folder(join(FIXTURES, FILES.wordpiece as string), { max_lenght: 3 }))).rejects.toThrow(/are invalid: .*max_lenght/);
  });

  it('is not a text model without text-model.json', async () => {
    expect(await TextTokenizer.load(join(FIXTURES, 'bow_classifier.onnx'))).toBeUndefined();
  });
});
