/**
 * Where the tokens of the three tokenizer kinds of the text fixtures (WordPiece, byte-level BPE,
 * Unigram) lie in an input with accents, CJK and emoji, as the token explanations report them.
 */
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/support/serving.js';
import { ModelRuntime } from '../serving/model-runtime.js';
import type { TensorData } from '../serving/tensor-types.js';
import { TextTokenizer } from '../serving/text-model.js';
import { explainTexts, MAX_TEXT_CHARS, placeTokens, tokenReader, wordOcclusion, type OutputPicker, type TextOcclusion } from './text-occlusion.js';

const TEXT = 'Très bien, the Crème brûlée 美味しい 😀 great';

/** Each token of TEXT with the characters its offsets cover (offsets in code points). */
async function placed(file: string): Promise<Array<[string, string | null]>> {
  const path = fixture(`text/${file}`);
  const tokenizer = await TextTokenizer.fromTokenizerFile(path);
  const { tokenizer: reader, byteLevel } = await tokenReader(path, tokenizer);
  const tokens = tokenizer.contentIds(TEXT).map((id) => reader.id_to_token(id) as string);
  const chars = [...TEXT];
  return placeTokens(TEXT, tokens, (s) => (reader.normalizer ? reader.normalizer.normalize(s) : s), '##', byteLevel).map((p) => [p.feature, p.start === null ? null : chars.slice(p.start, p.end as number).join('')]);
}

describe('placeTokens', () => {
  it('places WordPiece tokens on the original, accented and upper-case characters; an unknown piece gets no place', async () => {
    const p = await placed('transformer/tokenizer.json');
    expect(p).toEqual(expect.arrayContaining([['tres', 'Très'], ['creme', 'Crème'], ['brulee', 'brûlée'], ['美', '美'], ['[UNK]', null], ['great', 'great']]));
    // Offsets count code points: the word after the emoji starts at its character index.
    expect(p.at(-1)).toEqual(['great', 'great']);
  });

  it('places byte-level BPE tokens on the characters their bytes spell, a character split over tokens on each of them', async () => {
    const p = await placed('bpe_tokenizer.json');
    expect(p).toEqual(expect.arrayContaining([['ĠbrÃ»lÃ©e', 'brûlée'], ['Ġbien', 'bien'], ['rÃ¨', 'rè']]));
    // Every character but the spaces is covered by some token.
    const covered = p.filter(([, c]) => c !== null).map(([, c]) => c).join('');
    for (const ch of [...TEXT].filter((c) => c !== ' ')) expect(covered).toContain(ch);
    expect(p.filter(([, c]) => c === '美').length).toBeGreaterThan(0);
  });

  it('places Unigram pieces without their space mark; a lone space mark gets no place', async () => {
    const p = await placed('unigram_tokenizer.json');
    expect(p).toEqual(expect.arrayContaining([['▁brûlée', 'brûlée'], ['▁美味しい', '美味しい'], ['😀', '😀'], ['▁', null]]));
  });
});

describe('explainTexts', () => {
  const opts = { intraOpThreads: 1, graphOptimizationLevel: 'all', spinWait: false, warmup: false } as const;
  // The bag-of-words graph's float output, first column.
  const pick: OutputPicker = (outputs, rows) => {
    const t = outputs.find((o) => o.datatype === 'FP32') as TensorData;
    const w = (t.data as Float32Array).length / rows;
    return Float64Array.from({ length: rows }, (_, r) => (t.data as Float32Array)[r * w] as number);
  };

  it('builds the occluded texts one chunk at a time, so a long request never holds them all', async () => {
    const graph = await ModelRuntime.load(fixture('text/bow_classifier.onnx'), opts);
    try {
      const words = wordOcclusion((batch) => graph.run([{ datatype: 'BYTES', shape: [batch.length, 1], data: batch }]), pick);
      // The real word occlusion, watched: how many variants were built, and how many were scored, when each chunk is scored.
      let built = 0;
      let scored = 0;
      const held: number[] = [];
      const watched: TextOcclusion<string> = {
        tokenization: words.tokenization,
        split: (text, where) => {
          const s = words.split(text, where);
          return { ...s, without: (i) => (built++, s.without(i)) };
        },
        empty: () => words.empty(),
        score: async (batch) => {
          held.push(built - scored);
          scored += batch.filter((t) => t !== '' && !texts.includes(t)).length;
          return words.score(batch);
        },
      };
      const texts = Array.from({ length: 20 }, (_, i) => `the food was ${i % 2 ? 'awful' : 'great'} and the staff quite friendly `.repeat(6).trim());
      const result = await explainTexts(texts, (i) => `Input 'text' element ${i}`, watched, { chunk: 16 });
      expect(result.rows).toHaveLength(20);
      expect(result.modelRows).toBe(1 + 20 * (1 + 54));
      expect(built).toBe(20 * 54);
      // Never more occluded texts built than one chunk holds (all 1,080 were built before the first chunk ran).
      expect(Math.max(...held)).toBeLessThanOrEqual(16);
      // The same attributions as when every text is explained alone.
      const alone = await explainTexts([texts[1] as string], () => 'x', words, { chunk: 1000 });
      result.rows[1]?.attributions.forEach((a, j) => expect(a.value).toBeCloseTo(alone.rows[0]?.attributions[j]?.value as number, 6));
    } finally {
      await graph.release();
    }
  });

  it(`refuses a text longer than ${MAX_TEXT_CHARS} characters, naming the element and the cap`, async () => {
    const occlusion = wordOcclusion(() => Promise.reject(new Error('not run')), pick);
    const long = `${'great '.repeat(100)}${'x'.repeat(MAX_TEXT_CHARS)}`;
    await expect(explainTexts(['fine', long], (i) => `Input 'text' element ${i}`, occlusion)).rejects.toThrow(`Input 'text' element 1 has ${[...long].length} characters; explanations take texts of at most 10000 characters. Send a shorter text.`);
    // Counted in code points: 10,000 emoji (20,000 UTF-16 units) are within the cap.
    const emoji = '😀'.repeat(MAX_TEXT_CHARS);
    await expect(explainTexts([emoji], () => 'x', wordOcclusion(() => Promise.resolve([{ datatype: 'FP32', shape: [2, 1], data: new Float32Array(2) }]), pick))).resolves.toMatchObject({ modelRows: 3 });
  });
});
