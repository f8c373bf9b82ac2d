/**
 * Exact 64-bit integers in JSON. JSON numbers become doubles in JavaScript, which
 * hold integers exactly only up to ±2^53; INT64/UINT64 tensors go beyond. Node 20's
 * JSON has neither `JSON.rawJSON` nor source text in revivers, so:
 *
 * - outputs: integers beyond ±2^53 become `ExactInteger`s, and `stringifyJson`
 *   writes their digits (plain `JSON.stringify` writes the nearest double);
 * - inputs: `parseJson` remembers the text of the body it parsed, and a model with
 *   INT64/UINT64 inputs re-reads a body that holds a long integer literal with
 *   `parseJsonExact`, which keeps such literals as bigint. Other models — the
 *   FP32 path — pay two assignments and a comparison.
 */
import { randomBytes } from 'node:crypto';
import { SlipwayError } from '../core/errors.js';
import type { ModelSignature } from './model-signature.js';
import { DATATYPES } from './tensor-types.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const EXACT = Symbol('slipway.exactIntegers');

/** An integer beyond ±2^53, kept as its decimal digits. */
export class ExactInteger {
  constructor(readonly text: string) {}

  /** Where the value meets plain JSON.stringify: the nearest double, as before. */
  toJSON(): number {
    return Number(this.text);
  }
}

/** JSON values for a 64-bit integer tensor: numbers within ±2^53, `ExactInteger`s beyond. */
export function bigintJson(data: BigInt64Array | BigUint64Array): Array<number | ExactInteger> {
  const out = new Array<number | ExactInteger>(data.length);
  let exact = false;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as bigint;
    if (v <= MAX_SAFE && v >= -MAX_SAFE) out[i] = Number(v);
    else {
      out[i] = new ExactInteger(v.toString());
      exact = true;
    }
  }
  if (exact) markExact(out);
  return out;
}

/** Marks a container that holds `ExactInteger`s (directly or in a marked child). */
export function markExact<T extends object>(container: T): T {
  Object.defineProperty(container, EXACT, { value: true });
  return container;
}

/** True when `value` is marked as holding `ExactInteger`s. */
export function holdsExact(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { [EXACT]?: boolean })[EXACT] === true;
}

/**
 * JSON text for a response body, writing `ExactInteger`s as their digits. An infer
 * response is marked itself, a scoring response `{predictions}` on its predictions;
 * unmarked bodies are plain JSON.stringify.
 */
export function stringifyJson(value: unknown): string {
  if (!holdsExact(value) && !(typeof value === 'object' && value !== null && holdsExact((value as { predictions?: unknown }).predictions))) return JSON.stringify(value);
  // Each ExactInteger becomes a string carrying a random tag, and the quoted tag is then cut
  // out, leaving the digits as a bare JSON number. The tag is unguessable, so no string a
  // client sent can be mistaken for one.
  const tag = `exact-${randomBytes(12).toString('hex')}:`;
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const own = this[key];
    return own instanceof ExactInteger ? tag + own.text : v;
  });
  return text.replace(new RegExp(`"${tag}(-?\\d+)"`, 'g'), '$1');
}

// The last parsed body and its text. Every protocol decodes right after parsing, on the same
// turn, so one slot is enough; it costs two assignments where a WeakMap write costs ~8% of a
// small FP32 request's parse. `exactBody` empties it, so no body outlives its request.
let lastParsed: unknown;
let lastRaw: Buffer | string | undefined;

/** Records the text a parsed body came from, for `exactBody`. */
export function rememberRaw(parsed: unknown, raw: Buffer | string): void {
  lastParsed = parsed;
  lastRaw = raw;
}

// An integer literal that may lie beyond ±2^53: 16 digits or more, not part of a fraction or exponent.
const LONG_INTEGER = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/;

/**
 * The body to decode for `sig`: re-read with exact integers when the model takes
 * INT64/UINT64 and the body's text holds an integer literal too long for a double.
 */
export function exactBody(body: unknown, sig: ModelSignature): unknown {
  const raw = body === lastParsed ? lastRaw : undefined;
  lastParsed = lastRaw = undefined;
  if (raw === undefined || !sig.inputs.some((s) => DATATYPES[s.datatype].kind === 'bigint')) return body;
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  return LONG_INTEGER.test(text) ? parseJsonExact(text) : body;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;
/** Deeper nesting than any tensor has; guards the recursion below. */
const MAX_DEPTH = 256;

/**
 * Parses JSON text that JSON.parse has already accepted, keeping integer literals beyond
 * ±2^53 exact as bigint. Written by hand because Node 20's JSON.parse gives no access to a
 * number's source text and no JSON library is among the dependencies.
 */
export function parseJsonExact(text: string): unknown {
  let i = 0;
  const space = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const token = (re: RegExp): string => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new SlipwayError('MALFORMED_REQUEST', `The request body is not valid JSON at position ${i}.`);
    i = re.lastIndex;
    return m[0];
  };
  const value = (depth: number): unknown => {
    if (depth > MAX_DEPTH) throw new SlipwayError('MALFORMED_REQUEST', `The request body is nested more than ${MAX_DEPTH} levels deep.`);
    space();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      space();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        space();
        const k = JSON.parse(token(STRING)) as string;
        space();
        i++; // ':'
        // defineProperty: a "__proto__" key stays an own property, as with JSON.parse.
        Object.defineProperty(obj, k, { value: value(depth + 1), writable: true, enumerable: true, configurable: true });
        space();
        if (text[i++] === '}') return obj;
      }
    }
    if (c === '[') {
      i++;
      const list: unknown[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return list;
      }
      for (;;) {
        list.push(value(depth + 1));
        space();
        if (text[i++] === ']') return list;
      }
    }
    if (c === '"') return JSON.parse(token(STRING)) as string;
    if (c === 't' || c === 'f' || c === 'n') {
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
      i += word.length;
      return c === 't' ? true : c === 'f' ? false : null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m) throw new SlipwayError('MALFORMED_REQUEST', `The request body is not valid JSON at position ${i}.`);
    i = NUMBER.lastIndex;
    const literal = m[0];
    if (m[1] === undefined && m[2] === undefined && literal.length >= 16) {
      const big = BigInt(literal);
      if (big > MAX_SAFE || big < -MAX_SAFE) return big;
    }
    return Number(literal);
  };
  return value(0);
}
