/**
 * Where the tokens of the three tokenizer kinds of the text fixtures (WordPiece, byte-level BPE,
 * Unigram) lie in an input with accents, CJK and emoji, as the token explanations report them.
 */
import { describe, expect, it } from 'vitest';
import { fixture } from '../../test/support/serving.js';
import { TextTokenizer } from '../serving/text-model.js';
import { placeTokens, tokenReader } from './text-occlusion.js';

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
