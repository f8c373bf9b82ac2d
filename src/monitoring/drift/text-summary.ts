/**
 * A bounded, mergeable summary of a text input for live windows and references: the same
 * figures as TextProfile (lengths, out-of-vocabulary rate, empty and non-text shares, token
 * distribution), but in memory that does not grow with the rows:
 * - token lengths as a histogram of whole lengths (texts of TEXT_LENGTH_CAP tokens or more
 *   share the last bucket);
 * - character lengths as a sum (only their mean is reported);
 * - token counts for at most TEXT_TOKEN_CAP token ids, the rest of the tokens in one "other" bucket.
 * Counts (rows, empty, non-text, texts, tokens, unknown, the length histogram) add up exactly
 * whatever the order of merges. The token map is exact while the ids seen number at most the
 * cap; beyond it the least frequent ids (ties: the higher id) are folded into "other", so the
 * total still adds up.
 */
import { SlipwayError } from '../../core/errors.js';
import { jensenShannon } from '../stats/distances.js';
import { ksStatistic, ksTwoSample } from '../stats/ks-test.js';
import { kolmogorovSf } from '../stats/special-functions.js';
import type { TextDrift, TextDriftOptions, TextTokenizerView } from './text-drift.js';

/** Token lengths at or above this share one histogram bucket. */
export const TEXT_LENGTH_CAP = 2048;
/** Most token ids a summary counts one by one; the rest go to the "other" bucket. */
export const TEXT_TOKEN_CAP = 4096;
/**
 * Characters of a text that are tokenised (32 per token of the length cap): past the length cap
 * every text shares a bucket anyway, and tokenizers can be slow or overflow their stack on
 * texts of hundreds of kilobytes.
 */
export const TEXT_TOKENIZE_CHARS = 32 * TEXT_LENGTH_CAP;
/** Largest side (texts) for which the KS p-value is exact, as scipy's ks_2samp 'auto'. */
const MAX_EXACT_KS = 10_000;

/** A text summary as JSON. */
export interface TextSummaryJson {
  rows: number;
  empty: number;
  nonText: number;
  /** Non-empty texts. */
  texts: number;
  /** Characters (code points) of the non-empty texts, summed. */
  chars: number;
  tokens: number;
  unknown: number;
  /** [token length, texts] pairs. */
  lengths: Array<[number, number]>;
  /** [token id, count] pairs. */
  tokenCounts: Array<[number, number]>;
  /** Tokens whose ids are not in `tokenCounts`. */
  otherTokens: number;
}

/** The first TEXT_TOKENIZE_CHARS UTF-16 units of a text, without splitting a surrogate pair. */
function cut(text: string): string {
  const last = text.charCodeAt(TEXT_TOKENIZE_CHARS - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? TEXT_TOKENIZE_CHARS - 1 : TEXT_TOKENIZE_CHARS);
}

function add(map: Map<number, number>, key: number, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** Bounded summary of a column of texts. */
export class TextSummary {
  rows = 0;
  empty = 0;
  nonText = 0;
  texts = 0;
  chars = 0;
  tokens = 0;
  unknown = 0;
  readonly lengths = new Map<number, number>();
  readonly tokenCounts = new Map<number, number>();
  otherTokens = 0;

  /**
   * Adds one value of the column (null or undefined: missing, counted as empty). Only the first
   * TEXT_TOKENIZE_CHARS characters of a text are tokenised. When the tokenizer throws, the summary
   * is left as it was and the error is rethrown.
   */
  add(value: unknown, tokenizer: TextTokenizerView): void {
    if (value === null || value === undefined || (typeof value === 'string' && value.trim() === '')) {
      this.rows++;
      this.empty++;
      return;
    }
    if (typeof value !== 'string') {
      this.rows++;
      this.nonText++;
      return;
    }
    // Tokenised before anything is counted, so a tokenizer failure leaves no half-counted text.
    const ids = tokenizer.contentIds(value.length > TEXT_TOKENIZE_CHARS ? cut(value) : value);
    let chars = 0;
    for (const _ of value) chars++;
    this.rows++;
    this.texts++;
    this.chars += chars;
    this.tokens += ids.length;
    add(this.lengths, Math.min(ids.length, TEXT_LENGTH_CAP), 1);
    for (const id of ids) {
      if (id === tokenizer.unknownId) this.unknown++;
      add(this.tokenCounts, id, 1);
    }
    this.#cap();
  }

  /** Adds another summary of the same column (another window part, replica or batch). */
  merge(other: TextSummary): this {
    this.rows += other.rows;
    this.empty += other.empty;
    this.nonText += other.nonText;
    this.texts += other.texts;
    this.chars += other.chars;
    this.tokens += other.tokens;
    this.unknown += other.unknown;
    for (const [len, n] of other.lengths) add(this.lengths, len, n);
    for (const [id, n] of other.tokenCounts) add(this.tokenCounts, id, n);
    this.otherTokens += other.otherTokens;
    this.#cap();
    return this;
  }

  /** Folds the least frequent ids into "other" once more than TEXT_TOKEN_CAP are counted. */
  #cap(): void {
    // Trimmed to three quarters of the cap, so a stream of new ids does not sort the map on every text.
    if (this.tokenCounts.size <= TEXT_TOKEN_CAP) return;
    const keep = Math.floor((TEXT_TOKEN_CAP * 3) / 4);
    const order = [...this.tokenCounts].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    for (let i = keep; i < order.length; i++) {
      const [id, n] = order[i] as [number, number];
      this.otherTokens += n;
      this.tokenCounts.delete(id);
    }
  }

  /** Share of tokens that are the unknown token (0 when there are no tokens). */
  get oovRate(): number {
    return this.tokens === 0 ? 0 : this.unknown / this.tokens;
  }

  toJSON(): TextSummaryJson {
    return {
      rows: this.rows,
      empty: this.empty,
      nonText: this.nonText,
      texts: this.texts,
      chars: this.chars,
      tokens: this.tokens,
      unknown: this.unknown,
      lengths: [...this.lengths].sort((a, b) => a[0] - b[0]),
      tokenCounts: [...this.tokenCounts],
      otherTokens: this.otherTokens,
    };
  }

  /** Reads a summary written by `toJSON`; DATA_ERROR when it is not one. */
  static fromJSON(j: unknown): TextSummary {
    const doc = j as Partial<TextSummaryJson> | null;
    const counts = ['rows', 'empty', 'nonText', 'texts', 'chars', 'tokens', 'unknown', 'otherTokens'] as const;
    const pairs = (v: unknown) => Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && p.every((x) => Number.isSafeInteger(x) && (x as number) >= 0));
    if (!doc || typeof doc !== 'object' || !counts.every((k) => Number.isSafeInteger(doc[k]) && (doc[k] as number) >= 0) || !pairs(doc.lengths) || !pairs(doc.tokenCounts)) {
      throw new SlipwayError('DATA_ERROR', 'Not a text summary: expected counts (rows, empty, nonText, texts, chars, tokens, unknown, otherTokens) and [value, count] pairs (lengths, tokenCounts).');
    }
    const s = new TextSummary();
    for (const k of counts) s[k] = doc[k] as number;
    for (const [len, n] of doc.lengths as Array<[number, number]>) add(s.lengths, len, n);
    for (const [id, n] of doc.tokenCounts as Array<[number, number]>) add(s.tokenCounts, id, n);
    return s;
  }
}

/** Summarises a column of values with the model's tokenizer. */
export function summariseTexts(values: Iterable<unknown>, tokenizer: TextTokenizerView): TextSummary {
  const s = new TextSummary();
  for (const v of values) s.add(v, tokenizer);
  return s;
}

function expand(lengths: Map<number, number>): Float64Array {
  const out: number[] = [];
  for (const [len, n] of [...lengths].sort((a, b) => a[0] - b[0])) for (let i = 0; i < n; i++) out.push(len);
  return Float64Array.from(out);
}

/** The length histogram as ascending values and weights. */
function weighted(lengths: Map<number, number>): { values: Float64Array; weights: Float64Array } {
  const sorted = [...lengths].sort((a, b) => a[0] - b[0]);
  return { values: Float64Array.from(sorted, (p) => p[0]), weights: Float64Array.from(sorted, (p) => p[1]) };
}

/** KS test of two length histograms: exact (as scipy on the raw lengths) up to 10,000 texts a side, else the weighted statistic with the asymptotic p-value. */
function lengthKs(reference: TextSummary, current: TextSummary): { statistic: number; pValue: number } {
  if (reference.texts === 0 || current.texts === 0) return { statistic: 0, pValue: 1 };
  if (Math.max(reference.texts, current.texts) <= MAX_EXACT_KS) return ksTwoSample(expand(reference.lengths), expand(current.lengths));
  const a = weighted(reference.lengths);
  const b = weighted(current.lengths);
  const d = ksStatistic(a.values, b.values, a.weights, b.weights);
  const [m, n] = reference.texts >= current.texts ? [reference.texts, current.texts] : [current.texts, reference.texts];
  return { statistic: d, pValue: kolmogorovSf(Math.max(1, Math.round((m * n) / (m + n))), d) };
}

const share = (n: number, of: number): number => (of === 0 ? 0 : n / of);

/** Compares a current text summary with the reference one (the same figures as `textDrift`). */
export function textSummaryDrift(reference: TextSummary, current: TextSummary, o: TextDriftOptions = {}): TextDrift {
  const lengthPValue = o.lengthPValue ?? 0.05;
  const threshold = o.tokenThreshold ?? 0.1;
  const ks = lengthKs(reference, current);
  const ids = [...new Set([...reference.tokenCounts.keys(), ...current.tokenCounts.keys()])];
  const p = Float64Array.from(ids, (id) => reference.tokenCounts.get(id) ?? 0);
  const q = Float64Array.from(ids, (id) => current.tokenCounts.get(id) ?? 0);
  // Tokens outside either map are compared as one category.
  const withOther = reference.otherTokens > 0 || current.otherTokens > 0;
  const js = jensenShannon(withOther ? Float64Array.from([...p, reference.otherTokens]) : p, withOther ? Float64Array.from([...q, current.otherTokens]) : q);
  const lengthDrift = ks.pValue < lengthPValue;
  const tokenDrift = js >= threshold;
  return {
    rows: { reference: reference.rows, current: current.rows },
    tokenLength: { reference: share(reference.tokens, reference.texts), current: share(current.tokens, current.texts), ksStatistic: ks.statistic, pValue: ks.pValue, drift: lengthDrift },
    charLength: { reference: share(reference.chars, reference.texts), current: share(current.chars, current.texts) },
    oovRate: { reference: reference.oovRate, current: current.oovRate },
    emptyShare: { reference: share(reference.empty, reference.rows), current: share(current.empty, current.rows) },
    nonTextShare: { reference: share(reference.nonText, reference.rows), current: share(current.nonText, current.rows) },
    tokens: { jensenShannon: js, threshold, drift: tokenDrift },
    drift: lengthDrift || tokenDrift,
  };
}
