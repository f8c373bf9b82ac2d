/**
 * Token-level attributions of text models by occlusion: a token's attribution is the model
 * output for the whole text minus the output with that token removed; the baseline is the
 * output for the empty text (every token removed). Occlusion values are not Shapley values:
 * they do not add up to prediction - baseline.
 *
 * Two kinds of text model are explained:
 * - a tokenizer step in front of a token graph: the tokens are the tokenizer's own (special
 *   tokens kept in place, never occluded), and the graph is fed token ids directly, so removing
 *   a token removes exactly that token;
 * - a graph with a string input (a scikit-learn text pipeline): the tokens are the
 *   whitespace-separated words, and a word is removed from the text it is fed.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { SlipwayError } from '../core/errors.js';
import type { Runtime } from '../serving/model-runtime.js';
import type { TensorSpec } from '../serving/model-signature.js';
import type { TensorData } from '../serving/tensor-types.js';
import type { TextTokenizer } from '../serving/text-model.js';

/** The most tokens of one row that are occluded one by one (one model row each). */
export const MAX_TEXT_TOKENS = 256;

/** One token of an explained text: its text, where it lies in the input (Unicode characters), its attribution. */
export interface TokenAttribution {
  feature: string;
  value: number;
  /** Offset of the token's first character in the input, in Unicode code points; null when it cannot be placed (an unknown-token piece). */
  start: number | null;
  /** Offset just past its last character; null as for `start`. */
  end: number | null;
}

/** A text split into the units occlusion removes, and the model inputs of its variants. */
export interface OccludedText<T> {
  tokens: Array<Omit<TokenAttribution, 'value'>>;
  /** The model input of the whole text. */
  full: T;
  /** The model input with token `i` removed. */
  without(i: number): T;
  /** Tokens the model's own truncation cut off (not explained). */
  truncated: number;
}

/** How a kind of text model is split and scored. */
export interface TextOcclusion<T> {
  /** Describes the tokens, for the answer. */
  tokenization: string;
  /** Splits one text; `where` names it in errors. */
  split(text: string, where: string): OccludedText<T>;
  /** The model input of the empty text. */
  empty(): T;
  /** Runs a batch of inputs; the explained output's value for each. */
  score(batch: T[]): Promise<Float64Array>;
}

/** The explained value of each row of `outputs`: a column, or the softmax probability of one. */
export type OutputPicker = (outputs: TensorData[], rows: number) => Float64Array;

function bad(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message);
}

function tooLong(where: string, count: number, unit: string): SlipwayError {
  return new SlipwayError('LIMIT_EXCEEDED', `${where} has ${count} ${unit}; explanations occlude at most ${MAX_TEXT_TOKENS} per row. Send a shorter text.`);
}

/** Words of a string-input graph: maximal runs of non-space characters, removed from the text one at a time. */
export function wordOcclusion(run: (texts: string[]) => Promise<TensorData[]>, pick: OutputPicker): TextOcclusion<string> {
  return {
    tokenization: 'words (runs of non-space characters)',
    split(text, where) {
      const words: Array<{ feature: string; start: number; end: number; at: number; length: number }> = [];
      // Offsets are reported in code points; slicing uses the UTF-16 positions of the match.
      let codePoints = 0;
      let last = 0;
      for (const m of text.matchAll(/\S+/gu)) {
        codePoints += [...text.slice(last, m.index)].length;
        const length = [...m[0]].length;
        words.push({ feature: m[0], start: codePoints, end: codePoints + length, at: m.index, length: m[0].length });
        codePoints += length;
        last = m.index + m[0].length;
      }
      if (words.length === 0) throw bad(`${where} is empty (or only spaces); there are no words to explain.`);
      if (words.length > MAX_TEXT_TOKENS) throw tooLong(where, words.length, 'words');
      return {
        tokens: words.map(({ feature, start, end }) => ({ feature, start, end })),
        full: text,
        without: (i) => {
          const w = words[i] as (typeof words)[number];
          return text.slice(0, w.at) + text.slice(w.at + w.length);
        },
        truncated: 0,
      };
    },
    empty: () => '',
    score: async (batch) => {
      const outputs = await run(batch);
      return pick(outputs, batch.length);
    },
  };
}

/** Token ids with their type ids. */
interface Ids {
  ids: number[];
  typeIds: number[];
}

/**
 * A second reader of a text model's tokenizer.json: it gives the token strings and the
 * normalizer that the serving step keeps to itself, from the file the model was loaded with.
 */
export async function tokenReader(onnxPath: string, tokenizer: TextTokenizer): Promise<TokenReader> {
  const file = join(dirname(onnxPath), tokenizer.config.tokenizer);
  const extraFile = tokenizer.config.tokenizerConfig ? join(dirname(onnxPath), tokenizer.config.tokenizerConfig) : undefined;
  const json = JSON.parse(await readFile(file, 'utf8')) as { pre_tokenizer?: unknown; decoder?: unknown };
  const reader = new Tokenizer(json, extraFile ? (JSON.parse(await readFile(extraFile, 'utf8')) as object) : {});
  return { tokenizer: reader, byteLevel: JSON.stringify([json.pre_tokenizer ?? null, json.decoder ?? null]).includes('"ByteLevel"') };
}

/** A tokenizer.json read for its token strings, and whether its tokens spell bytes (byte-level BPE). */
export interface TokenReader {
  tokenizer: Tokenizer;
  byteLevel: boolean;
}

/** The tokenizer's tokens of a tokenizer-step model (`reader`: its `tokenReader`), fed to its graph as ids. */
export function tokenOcclusion(tokenizer: TextTokenizer, { tokenizer: reader, byteLevel }: TokenReader, graph: Runtime, pick: OutputPicker): TextOcclusion<Ids> {
  const normalize = (s: string) => (reader.normalizer ? reader.normalizer.normalize(s) : s);
  const prefix = (reader.model as { continuing_subword_prefix?: string } | null)?.continuing_subword_prefix ?? '##';
  // Where the text's own tokens sit among the special tokens, and how many truncation kept.
  const layout = (text: string, where: string) => {
    const encoded = tokenizer.encode(text, where);
    // The content starts after the template's leading special tokens, whatever the text itself holds
    // (a text may start with a special token written out, such as "[CLS]"), and truncation keeps a prefix of it.
    const at = tokenizer.leadingSpecials;
    const length = encoded.ids.length - tokenizer.specialTokens;
    let total: number;
    try {
      total = tokenizer.contentIds(text).length;
    } catch (err) {
      throw bad(`${where} cannot be tokenised: ${(err as Error).message.split('\n')[0]}.`);
    }
    return { encoded, at, length, total: Math.max(total, length) };
  };
  const withSpecials = (encoded: Ids, at: number, length: number, middle: number[]): Ids => {
    const ids = [...encoded.ids.slice(0, at), ...middle, ...encoded.ids.slice(at + length)];
    const type = encoded.typeIds[at] ?? 0;
    const typeIds = [...encoded.typeIds.slice(0, at), ...middle.map(() => type), ...encoded.typeIds.slice(at + length)];
    return { ids, typeIds };
  };
  let emptyIds: Ids | undefined;
  const feedsOf = (batch: Ids[]) => {
    const width = batch.reduce((m, r) => Math.max(m, r.ids.length), 0);
    return graph.signature.inputs.map((spec) => tokenTensor(spec, batch, width, tokenizer.padId));
  };
  return {
    tokenization: `the model's ${tokenizer.kind} tokenizer (special tokens kept, not occluded)`,
    split(text, where) {
      const { encoded, at, length, total } = layout(text, where);
      if (length > MAX_TEXT_TOKENS) throw tooLong(where, length, 'tokens');
      const content = encoded.ids.slice(at, at + length);
      emptyIds ??= withSpecials(encoded, at, length, []);
      return {
        tokens: placeTokens(text, content.map((id) => reader.id_to_token(id) ?? String(id)), normalize, prefix, byteLevel),
        full: { ids: encoded.ids, typeIds: encoded.typeIds },
        without: (i) => withSpecials(encoded, at, length, [...content.slice(0, i), ...content.slice(i + 1)]),
        truncated: total - length,
      };
    },
    empty: () => {
      if (!emptyIds) throw new SlipwayError('INTERNAL', 'The empty input is known once a text was split.');
      return emptyIds;
    },
    score: async (batch) => pick(await graph.run(feedsOf(batch)), batch.length),
  };
}

/**
 * Where each token lies in the input. The library gives no offsets, so the input is normalised
 * one character at a time (as the tokenizer's normalizer does) and each token's text is looked
 * up in that, left to right; a token that cannot be found (an unknown-token piece) gets null.
 */
export function placeTokens(text: string, tokens: string[], normalize: (s: string) => string, prefix: string, byteLevel = false): Array<Omit<TokenAttribution, 'value'>> {
  const chars = [...text];
  if (byteLevel) {
    const placed = placeBytes(chars, tokens);
    if (placed) return placed;
  }
  let normalized = '';
  const origin: number[] = [];
  chars.forEach((c, i) => {
    const n = normalize(c);
    normalized += n;
    for (let k = 0; k < n.length; k++) origin.push(i);
  });
  let cursor = 0;
  return tokens.map((token) => {
    const surface = surfaceOf(token, prefix);
    const found = surface === '' ? -1 : normalized.indexOf(surface, cursor);
    if (found < 0) return { feature: token, start: null, end: null };
    cursor = found + surface.length;
    return { feature: token, start: origin[found] as number, end: (origin[cursor - 1] as number) + 1 };
  });
}

/**
 * Byte-level tokens (GPT-2 style) spell the UTF-8 bytes of the text, a space added in front:
 * each token covers the characters its bytes belong to (a character split over tokens is
 * covered by each of them). Undefined when the bytes do not spell the text (a normalizer changed it).
 */
function placeBytes(chars: string[], tokens: string[]): Array<Omit<TokenAttribution, 'value'>> | undefined {
  const charOf: number[] = [];
  chars.forEach((c, i) => {
    for (let k = 0; k < Buffer.byteLength(c); k++) charOf.push(i);
  });
  const spelled = tokens.map((t) => [...t].map((c) => BYTE_OF.get(c)));
  if (spelled.some((b) => b.includes(undefined))) return undefined;
  const all = Buffer.from(spelled.flat() as number[]);
  const text = Buffer.from(chars.join(''));
  const lead = all.length === text.length + 1 && all[0] === 0x20 && all.subarray(1).equals(text) ? 1 : all.equals(text) ? 0 : -1;
  if (lead < 0) return undefined;
  let at = -lead;
  return tokens.map((token, i) => {
    let from = at;
    const to = at + (spelled[i] as number[]).length;
    at = to;
    // Leading spaces are the word boundary, not part of the token's place.
    while (from < to && (from < 0 || text[from] === 0x20)) from++;
    if (from >= to) return { feature: token, start: null, end: null };
    return { feature: token, start: charOf[from] as number, end: (charOf[to - 1] as number) + 1 };
  });
}

// GPT-2's byte-level alphabet: the printable characters that stand for each byte value.
const BYTE_OF = (() => {
  const printable = [...range(0x21, 0x7e), ...range(0xa1, 0xac), ...range(0xae, 0xff)];
  const map = new Map<string, number>();
  let extra = 0;
  for (let b = 0; b < 256; b++) map.set(String.fromCodePoint(printable.includes(b) ? b : 256 + extra++), b);
  return map;
})();

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The text a token stands for: without the word-piece prefix, the SentencePiece space mark, or the byte-level encoding. */
function surfaceOf(token: string, prefix: string): string {
  if (prefix && token.startsWith(prefix) && token.length > prefix.length) return token.slice(prefix.length);
  if (token.includes('\u2581')) return token.replaceAll('\u2581', ' ').trim();
  const chars = [...token];
  if (chars.some((c) => c.codePointAt(0)! >= 0x100) && chars.every((c) => BYTE_OF.has(c))) {
    const decoded = Buffer.from(chars.map((c) => BYTE_OF.get(c) as number)).toString('utf8');
    return decoded.includes('\ufffd') ? '' : decoded.trim();
  }
  return token;
}

// Token ids are small non-negative integers: an INT64 tensor is filled through a 32-bit view of its low words.
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function tokenTensor(spec: TensorSpec, rows: Ids[], width: number, padId: number): TensorData {
  const n = rows.length * width;
  const wide = spec.datatype === 'INT64';
  const data = wide ? new BigInt64Array(n) : new Int32Array(n);
  const words = wide && LITTLE_ENDIAN ? new Int32Array(data.buffer) : undefined;
  const put = words ? (i: number, v: number) => (words[2 * i] = v) : wide ? (i: number, v: number) => ((data as BigInt64Array)[i] = BigInt(v)) : (i: number, v: number) => ((data as Int32Array)[i] = v);
  rows.forEach((r, row) => {
    const at = row * width;
    for (let j = 0; j < width; j++) {
      const inside = j < r.ids.length;
      const v = spec.name === 'input_ids' ? (inside ? (r.ids[j] as number) : padId) : spec.name === 'attention_mask' ? (inside ? 1 : 0) : inside ? (r.typeIds[j] as number) : 0;
      if (v !== 0) put(at + j, v);
    }
  });
  return { datatype: spec.datatype, shape: [rows.length, width], data };
}

/** The result of explaining rows of text. */
export interface TextAttributionResult {
  baseline: number;
  rows: Array<{ prediction: number; attributions: TokenAttribution[]; truncated: number }>;
  /** Model rows scored in all. */
  modelRows: number;
  /** The most tokens of a row. */
  maxTokens: number;
}

/**
 * The most characters (code points) of one explained text. Occlusion scores one variant of the text
 * per token, each nearly as long as the text: this bounds the work and memory of one chunk of them.
 */
export const MAX_TEXT_CHARS = 10_000;

/**
 * Explains `texts` by occlusion, scoring at most `chunk` inputs at a time and awaiting `pace` between chunks.
 * The occluded variants are built one chunk at a time, so at most `chunk` of them are held at once.
 */
export async function explainTexts<T>(texts: string[], where: (i: number) => string, occlusion: TextOcclusion<T>, opts: { chunk?: number; pace?: () => Promise<void> } = {}): Promise<TextAttributionResult> {
  texts.forEach((t, i) => {
    // Code points are counted only when the UTF-16 length is over the cap (it is never below their count).
    const chars = t.length > MAX_TEXT_CHARS ? [...t].length : t.length;
    if (chars > MAX_TEXT_CHARS) throw bad(`${where(i)} has ${chars} characters; explanations take texts of at most ${MAX_TEXT_CHARS} characters. Send a shorter text.`);
  });
  const split = texts.map((t, i) => occlusion.split(t, where(i)));
  function* variants(): Generator<T> {
    yield occlusion.empty();
    for (const s of split) {
      yield s.full;
      for (let i = 0; i < s.tokens.length; i++) yield s.without(i);
    }
  }
  const total = split.reduce((n, s) => n + 1 + s.tokens.length, 1);
  const chunk = Math.max(1, opts.chunk ?? 64);
  const values = new Float64Array(total);
  const next = variants();
  for (let start = 0; start < total; start += chunk) {
    if (start > 0) await opts.pace?.();
    const batch: T[] = [];
    for (let k = 0; k < chunk && start + k < total; k++) batch.push(next.next().value as T);
    const out = await occlusion.score(batch);
    if (out.length !== batch.length) throw new SlipwayError('INTERNAL', `The model returned ${out.length} values for ${batch.length} texts.`);
    values.set(out, start);
  }
  const baseline = values[0] as number;
  let at = 1;
  const rows = split.map((s) => {
    const prediction = values[at++] as number;
    const attributions = s.tokens.map((t) => ({ feature: t.feature, value: prediction - (values[at++] as number), start: t.start, end: t.end }));
    return { prediction, attributions, truncated: s.truncated };
  });
  return { baseline, rows, modelRows: total, maxTokens: split.reduce((m, s) => Math.max(m, s.tokens.length), 0) };
}
