/**
 * Drift and quality of a text input: the length distribution (in tokens and characters), the
 * out-of-vocabulary rate against the model's tokenizer, the share of empty and of non-text
 * values, and a drift test on the token distribution (Jensen–Shannon distance, as scipy
 * computes it). Profiles merge, so windows and replicas add up.
 */
import { jensenShannon } from '../stats/distances.js';
import { ksTwoSample } from '../stats/ks-test.js';
import { sortedWithoutNaN } from '../stats/radix-sort.js';
import { TEXT_TOKENIZE_CHARS } from './text-summary.js';

/** What a text profile needs from the model's tokenizer. */
export interface TextTokenizerView {
  /** Token ids of a text, without special tokens and without truncation. */
  contentIds(text: string): number[];
  /** The id of the unknown token; undefined for tokenizers that have none (byte-level BPE). */
  readonly unknownId: number | undefined;
}

/** A text profile as JSON. */
export interface TextProfileJson {
  rows: number;
  empty: number;
  nonText: number;
  charLengths: number[];
  tokenLengths: number[];
  tokens: number;
  unknown: number;
  /** [token id, count] pairs. */
  tokenCounts: Array<[number, number]>;
}

/** Length, vocabulary and token counts of a column of texts. */
export class TextProfile {
  rows = 0;
  /** Missing values and strings that are empty or only whitespace. */
  empty = 0;
  /** Values that are not text (numbers, booleans, objects). */
  nonText = 0;
  /** Characters (code points) of each non-empty text. */
  readonly charLengths: number[] = [];
  /** Tokens of each non-empty text. */
  readonly tokenLengths: number[] = [];
  tokens = 0;
  unknown = 0;
  readonly tokenCounts = new Map<number, number>();

  /** Adds one value of the column. */
  add(value: unknown, tokenizer: TextTokenizerView): void {
    this.rows++;
    if (value === null || value === undefined) {
      // A missing value (an empty CSV cell) is an empty text.
      this.empty++;
      return;
    }
    if (typeof value !== 'string') {
      this.nonText++;
      return;
    }
    if (value.trim() === '') {
      this.empty++;
      return;
    }
    let chars = 0;
    for (const _ of value) chars++;
    // Tokenised up to the same bound as live windows: a very long text has tokenizers recurse or allocate without end.
    const ids = tokenizer.contentIds(value.length > TEXT_TOKENIZE_CHARS ? value.slice(0, TEXT_TOKENIZE_CHARS) : value);
    this.charLengths.push(chars);
    this.tokenLengths.push(ids.length);
    this.tokens += ids.length;
    for (const id of ids) {
      if (id === tokenizer.unknownId) this.unknown++;
      this.tokenCounts.set(id, (this.tokenCounts.get(id) ?? 0) + 1);
    }
  }

  /** Adds another profile of the same column (another window or replica). */
  merge(other: TextProfile): this {
    this.rows += other.rows;
    this.empty += other.empty;
    this.nonText += other.nonText;
    for (const v of other.charLengths) this.charLengths.push(v);
    for (const v of other.tokenLengths) this.tokenLengths.push(v);
    this.tokens += other.tokens;
    this.unknown += other.unknown;
    for (const [id, n] of other.tokenCounts) this.tokenCounts.set(id, (this.tokenCounts.get(id) ?? 0) + n);
    return this;
  }

  /** Share of tokens that are the unknown token (0 when there are no tokens). */
  get oovRate(): number {
    return this.tokens === 0 ? 0 : this.unknown / this.tokens;
  }

  toJSON(): TextProfileJson {
    return {
      rows: this.rows,
      empty: this.empty,
      nonText: this.nonText,
      charLengths: this.charLengths,
      tokenLengths: this.tokenLengths,
      tokens: this.tokens,
      unknown: this.unknown,
      tokenCounts: [...this.tokenCounts],
    };
  }

  static fromJSON(j: TextProfileJson): TextProfile {
    const p = new TextProfile();
    p.rows = j.rows;
    p.empty = j.empty;
    p.nonText = j.nonText;
    p.charLengths.push(...j.charLengths);
    p.tokenLengths.push(...j.tokenLengths);
    p.tokens = j.tokens;
    p.unknown = j.unknown;
    for (const [id, n] of j.tokenCounts) p.tokenCounts.set(id, n);
    return p;
  }
}

/** Profiles a column of values with the model's tokenizer. */
export function profileTexts(values: Iterable<unknown>, tokenizer: TextTokenizerView): TextProfile {
  const p = new TextProfile();
  for (const v of values) p.add(v, tokenizer);
  return p;
}

/** When text counts as drifted. */
export interface TextDriftOptions {
  /** KS p-value below which the token-length distribution has drifted. @default 0.05 */
  lengthPValue?: number;
  /** Jensen–Shannon distance of the token distributions at or above which they have drifted. @default 0.1 */
  tokenThreshold?: number;
}

/** A reference and a current value of a share or a mean. */
export interface Compared {
  reference: number;
  current: number;
}

/** Text drift between a reference and a current profile. */
export interface TextDrift {
  rows: Compared;
  /** Token lengths of the non-empty texts: means, and the two-sample KS test (scipy's ks_2samp, method 'auto'). */
  tokenLength: Compared & { ksStatistic: number; pValue: number; drift: boolean };
  /** Mean characters of the non-empty texts. */
  charLength: Compared;
  /** Share of tokens that are the tokenizer's unknown token. */
  oovRate: Compared;
  /** Share of values that are missing, empty or only whitespace. */
  emptyShare: Compared;
  /** Share of values that are not text. */
  nonTextShare: Compared;
  /** Token distributions over the tokens seen in either: Jensen–Shannon distance (natural log). */
  tokens: { jensenShannon: number; threshold: number; drift: boolean };
  /** True when the lengths or the token distribution drifted. */
  drift: boolean;
}

function mean(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

const share = (n: number, of: number): number => (of === 0 ? 0 : n / of);

/** Compares a current text profile with the reference one. */
export function textDrift(reference: TextProfile, current: TextProfile, o: TextDriftOptions = {}): TextDrift {
  const lengthPValue = o.lengthPValue ?? 0.05;
  const threshold = o.tokenThreshold ?? 0.1;
  const ks = ksTwoSample(sortedWithoutNaN(reference.tokenLengths), sortedWithoutNaN(current.tokenLengths));
  const ids = [...new Set([...reference.tokenCounts.keys(), ...current.tokenCounts.keys()])];
  const p = Float64Array.from(ids, (id) => reference.tokenCounts.get(id) ?? 0);
  const q = Float64Array.from(ids, (id) => current.tokenCounts.get(id) ?? 0);
  const js = jensenShannon(p, q);
  const lengthDrift = ks.pValue < lengthPValue;
  const tokenDrift = js >= threshold;
  return {
    rows: { reference: reference.rows, current: current.rows },
    tokenLength: { reference: mean(reference.tokenLengths), current: mean(current.tokenLengths), ksStatistic: ks.statistic, pValue: ks.pValue, drift: lengthDrift },
    charLength: { reference: mean(reference.charLengths), current: mean(current.charLengths) },
    oovRate: { reference: reference.oovRate, current: current.oovRate },
    emptyShare: { reference: share(reference.empty, reference.rows), current: share(current.empty, current.rows) },
    nonTextShare: { reference: share(reference.nonText, reference.rows), current: share(current.nonText, current.rows) },
    tokens: { jensenShannon: js, threshold, drift: tokenDrift },
    drift: lengthDrift || tokenDrift,
  };
}
