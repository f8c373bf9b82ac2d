/**
 * The tokenizer step of a text model: a standard `tokenizer.json` (WordPiece, BPE or
 * Unigram, read with @huggingface/tokenizers) and `text-model.json`, Slipway's settings
 * for it (truncation, maximum length, labels), both kept beside the ONNX file.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { SlipwayError } from '../core/errors.js';

/** The settings file that marks a model folder as a text model. */
export const TEXT_CONFIG_FILE = 'text-model.json';

/**
 * Characters of text read per token of max_length (generous: a token is rarely longer than a few
 * characters). Bounds the work and stack depth of tokenising one text; see TextTokenizer.maxChars.
 */
export const CHARS_PER_TOKEN = 32;

/** The graph inputs a tokenizer can feed. */
export const TOKEN_INPUTS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;

const fileName = z
  .string()
  .min(1)
  .refine((s) => basename(s) === s && s !== '.' && s !== '..', 'must be a file name in the model folder (no path)');

/** `text-model.json` as written by the user. */
const TextConfigFile = z
  .object({
    tokenizer: fileName.default('tokenizer.json'),
    tokenizer_config: fileName.optional(),
    input: z.string().min(1).default('text'),
    max_length: z.number().int().min(2).optional(),
    truncation: z.boolean().optional(),
    padding: z.enum(['longest', 'max_length']).default('longest'),
    labels: z.array(z.string()).min(1).optional(),
    top_k: z.number().int().min(1).optional(),
    logits: z.string().min(1).optional(),
  })
  .strict();

/** Resolved settings of a text model's tokenizer step. */
export interface TextModelConfig {
  /** File name of the tokenizer beside the ONNX file. */
  tokenizer: string;
  tokenizerConfig?: string;
  /** Name of the text input the user sends. */
  input: string;
  /** Most tokens in a row, special tokens included. */
  maxLength: number;
  /** Cut longer texts to `maxLength` (true) or refuse them with a 400 (false). */
  truncation: boolean;
  /** Pad each batch to its longest row, or every row to `maxLength`. */
  padding: 'longest' | 'max_length';
  /** Class names, in the order of the logits' columns: adds `labels` and `scores` outputs. */
  labels?: string[];
  /** How many labels each row returns, best first. */
  topK: number;
  /** The output holding the logits; the only float output of the right width when unset. */
  logits?: string;
}

function bad(message: string): SlipwayError {
  return new SlipwayError('INVALID_ARGUMENT', message);
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw bad(`Cannot read the ${what} ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (err as Error).message}.`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    // Where, not what: the parser's message quotes the file's first characters, which are nobody else's business.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw bad(`The ${what} ${path} is not valid JSON${at !== undefined ? ` (at character ${at})` : ''}.`);
  }
}

/** The text settings beside `onnxPath`, or undefined when the model has none (not a text model). */
export async function readTextConfig(onnxPath: string): Promise<{ path: string; raw: z.infer<typeof TextConfigFile> } | undefined> {
  const path = join(dirname(onnxPath), TEXT_CONFIG_FILE);
  if (!(await stat(path).catch(() => undefined))?.isFile()) return undefined;
  const parsed = TextConfigFile.safeParse(await readJson(path, 'text model settings'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw bad(`The text model settings ${path} are invalid: ${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : parsed.error.message}.`);
  }
  return { path, raw: parsed.data };
}

/** One tokenised text: ids and token type ids, special tokens included. */
export interface Encoded {
  ids: number[];
  typeIds: number[];
}

/** A tokenizer with the model's truncation and padding settings. */
export class TextTokenizer {
  readonly config: TextModelConfig;
  /** The tokenizer model's kind: WordPiece, BPE, Unigram. */
  readonly kind: string;
  readonly padId: number;
  readonly #tokenizer: Tokenizer;
  readonly #unkId: number | undefined;
  readonly #specials: number;
  readonly #leading: number;

  private constructor(tokenizer: Tokenizer, config: TextModelConfig, kind: string, padId: number) {
    this.#tokenizer = tokenizer;
    this.config = config;
    this.kind = kind;
    this.padId = padId;
    this.#unkId = tokenizer.model?.unk_token_id;
    this.#specials = this.#postProcess([]).tokens.length;
    // The special tokens the template puts before the text: where a probe token lands among them.
    const probe = '\u0000slipway-probe\u0000';
    const at = this.#postProcess([probe]).tokens.indexOf(probe);
    this.#leading = at < 0 ? 0 : at;
    if (this.#specials >= config.maxLength) throw bad(`max_length ${config.maxLength} leaves no room for text after the ${this.#specials} special tokens.`);
  }

  /** Reads the text model beside `onnxPath`; undefined when it has no text settings. Errors name the file and the problem. */
  static async load(onnxPath: string): Promise<TextTokenizer | undefined> {
    const found = await readTextConfig(onnxPath);
    if (!found) return undefined;
    return TextTokenizer.#build(dirname(onnxPath), found.raw);
  }

  /** Reads a tokenizer.json alone, with the default settings (for text monitoring of its outputs). */
  static fromTokenizerFile(path: string): Promise<TextTokenizer> {
    return TextTokenizer.#build(dirname(path), TextConfigFile.parse({ tokenizer: basename(path) }));
  }

  static async #build(dir: string, raw: z.infer<typeof TextConfigFile>): Promise<TextTokenizer> {
    const tokenizerPath = join(dir, raw.tokenizer);
    const json = await readJson(tokenizerPath, 'tokenizer');
    const extra = raw.tokenizer_config ? await readJson(join(dir, raw.tokenizer_config), 'tokenizer config') : {};
    if (!isObject(json) || !isObject(json.model) || typeof json.model.type !== 'string') {
      throw bad(`The tokenizer ${tokenizerPath} is not a tokenizer.json: it has no "model" with a "type".`);
    }
    if (!isObject(extra)) throw bad(`The tokenizer config ${join(dir, raw.tokenizer_config ?? '')} is not a JSON object.`);
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, extra);
    } catch (err) {
      throw bad(`The tokenizer ${tokenizerPath} cannot be read: ${(err as Error).message.split('\n')[0]}.`);
    }
    const truncation = isObject(json.truncation) ? json.truncation : undefined;
    const padding = isObject(json.padding) ? json.padding : undefined;
    const declaredMax = typeof truncation?.max_length === 'number' ? truncation.max_length : typeof extra.model_max_length === 'number' && extra.model_max_length < 1e9 ? extra.model_max_length : undefined;
    const maxLength = raw.max_length ?? declaredMax ?? 512;
    const config: TextModelConfig = {
      tokenizer: raw.tokenizer,
      ...(raw.tokenizer_config ? { tokenizerConfig: raw.tokenizer_config } : {}),
      input: raw.input,
      maxLength,
      truncation: raw.truncation ?? truncation !== undefined,
      padding: raw.padding,
      ...(raw.labels ? { labels: raw.labels } : {}),
      topK: Math.min(raw.top_k ?? 1, raw.labels?.length ?? 1),
      ...(raw.logits ? { logits: raw.logits } : {}),
    };
    const padId = typeof padding?.pad_id === 'number' ? padding.pad_id : (['[PAD]', '<pad>', '<|endoftext|>'].map((t) => tokenizer.token_to_id(t)).find((id) => id !== undefined) ?? 0);
    try {
      return new TextTokenizer(tokenizer, config, json.model.type, padId);
    } catch (err) {
      throw bad(`The tokenizer ${tokenizerPath} cannot be used: ${(err as Error).message}`);
    }
  }

  /**
   * Most characters of one text the tokenizer reads: max_length x CHARS_PER_TOKEN. A longer text is
   * cut to this many characters first when truncation is on (its tokens past max_length would be
   * dropped anyway), and refused when it is off, so that one long text cannot overflow the tokenizer's
   * stack or hold the event loop for seconds.
   */
  get maxChars(): number {
    return this.config.maxLength * CHARS_PER_TOKEN;
  }

  /**
   * The part of `text` the tokenizer reads: the text itself, or its first `maxChars` characters (cut at
   * the last whitespace when there is one near the end) when truncation is on. Throws a 400 naming
   * `where` and the limit when the text is longer and truncation is off.
   */
  bounded(text: string, where: string): string {
    const limit = this.maxChars;
    if (text.length <= limit) return text;
    if (!this.config.truncation) {
      throw bad(`${where} has ${text.length} characters but the model takes texts of at most ${limit} characters (max_length ${this.config.maxLength} x ${CHARS_PER_TOKEN}); shorten it, or set "truncation": true in ${TEXT_CONFIG_FILE}.`);
    }
    let end = limit;
    // Never split a surrogate pair.
    const code = text.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff) end--;
    // Cut before a word rather than inside it when a whitespace lies in the last quarter.
    for (let i = end; i > limit - limit / 4; i--) {
      if (/\s/.test(text[i] as string)) return text.slice(0, i);
    }
    return text.slice(0, end);
  }

  /**
   * Tokenises one text, special tokens included, truncated to `maxLength` when so configured.
   * Throws a 400 naming `where` when the text yields no token, is too long and truncation is off,
   * or the tokenizer library fails on it.
   */
  encode(text: string, where: string): Encoded {
    const read = this.bounded(text, where);
    // The library's encode() has no truncation: the text's own tokens are cut before the
    // special tokens are added, as the reference implementation truncates.
    let tokens: string[];
    try {
      tokens = this.#tokenizer.tokenize(read, { add_special_tokens: false });
    } catch (err) {
      throw bad(`${where} cannot be tokenised: ${(err as Error).message.split('\n')[0]}.`);
    }
    if (tokens.length === 0) throw bad(`${where} is empty (or only spaces and control characters); a text model needs some text.`);
    const room = this.config.maxLength - this.#specials;
    if (tokens.length > room) {
      if (!this.config.truncation) {
        throw bad(`${where} has ${tokens.length + this.#specials} tokens but the model takes at most ${this.config.maxLength}; shorten it, or set "truncation": true in ${TEXT_CONFIG_FILE}.`);
      }
      tokens = tokens.slice(0, room);
    }
    const processed = this.#postProcess(tokens);
    const ids = processed.tokens.map((t) => this.#tokenizer.token_to_id(t) ?? this.#unkId ?? 0);
    return { ids, typeIds: processed.token_type_ids ?? new Array<number>(ids.length).fill(0) };
  }

  /** How many special tokens come before the text's own tokens in an encoding (1 for [CLS] ... [SEP]). */
  get leadingSpecials(): number {
    return this.#leading;
  }

  /** How many special tokens an encoding holds besides the text's own tokens. */
  get specialTokens(): number {
    return this.#specials;
  }

  /** The id of the unknown token; undefined for tokenizers without one (byte-level BPE). */
  get unknownId(): number | undefined {
    return this.#unkId;
  }

  /** Token ids of a text without special tokens and without truncation (for text monitoring). */
  contentIds(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Token ids of a text as the library's own encode() gives them (special tokens as asked, no truncation). */
  referenceIds(text: string, specialTokens: boolean): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: specialTokens }).ids;
  }

  #postProcess(tokens: string[]): { tokens: string[]; token_type_ids?: number[] } {
    const post = this.#tokenizer.post_processor;
    return post ? post(tokens, null, true) : { tokens };
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
