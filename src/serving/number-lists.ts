/**
 * Reads the `"data": [...]` lists of plain numbers in a JSON document straight from its
 * bytes into typed arrays, and hands back the rest of the document — each list replaced
 * by its index — for JSON.parse. For the body of an infer request that rest is a few dozen
 * bytes, while JSON.parse of the whole body would first build a JS array of every number:
 * decoding a 784-number request this way takes 9 µs instead of 24 (30 numbers: about the
 * same), and leaves far less garbage.
 * Hand-written because no library reads JSON number lists from bytes into typed arrays.
 *
 * Numbers of at most 15 significant digits without an exponent are computed as
 * digits / 10^k, which is exact and correctly rounded (both operands are exact doubles);
 * any other number is converted by Number() on its text. Both give JSON.parse's value.
 * Anything else — nested lists, strings, a malformed number, non-ASCII bytes — makes
 * `splitNumberLists` answer undefined, and the caller parses the whole body as before.
 */

import { isAscii } from 'node:buffer';

const POW10 = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const DATA_KEY = Buffer.from('"data"', 'latin1');

// Byte values.
const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const PLUS = 43;
const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const COLON = 58;
const UPPER_E = 69;
const OPEN = 91;
const CLOSE = 93;
const LOWER_E = 101;

/** A document with its number lists taken out. */
export interface SplitDocument<A extends Float32Array | Float64Array> {
  /** The document's text with the k-th `[...]` list replaced by the number k. */
  skeleton: string;
  lists: A[];
}

// Values of the list being read; grown as needed and reused across calls, but not kept
// beyond SCRATCH_KEEP values, so one huge request does not hold its size in memory for good.
const SCRATCH_KEEP = 1 << 16;
let scratch = new Float64Array(1024);

/**
 * Splits `body` into its `"data"` number lists, stored as `ListArray`s (values rounded as a
 * typed array store rounds them), and the rest; undefined when it holds anything else there,
 * or more than `maxLists` lists.
 */
export function splitNumberLists<A extends Float32Array | Float64Array>(body: Buffer, maxLists: number, ListArray: { new (length: number): A }): SplitDocument<A> | undefined {
  // Text is cut and joined as latin1, which is only the same text for ASCII.
  if (!isAscii(body)) return undefined;
  try {
    return split(body, maxLists, ListArray);
  } finally {
    if (scratch.length > SCRATCH_KEEP) scratch = new Float64Array(1024);
  }
}

function split<A extends Float32Array | Float64Array>(body: Buffer, maxLists: number, ListArray: { new (length: number): A }): SplitDocument<A> | undefined {
  const lists: A[] = [];
  let skeleton = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const at = body.indexOf(DATA_KEY, from);
    if (at < 0) break;
    let i = skipSpace(body, at + DATA_KEY.length);
    // The text "data" as a value (followed by a comma or a bracket), not as a key.
    if (body[i] !== COLON) {
      from = i;
      continue;
    }
    i = skipSpace(body, i + 1);
    if (body[i] !== OPEN || lists.length >= maxLists) return undefined;
    const open = i;
    const count = readNumbers(body, i + 1);
    if (count < 0) return undefined;
    skeleton += body.toString('latin1', copied, open) + String(lists.length);
    const list = new ListArray(count);
    list.set(count === scratch.length ? scratch : scratch.subarray(0, count));
    lists.push(list);
    copied = from = listEnd;
  }
  if (lists.length === 0) return undefined;
  return { skeleton: skeleton + body.toString('latin1', copied), lists };
}

function skipSpace(b: Buffer, i: number): number {
  let c = b[i] as number;
  while (c === SPACE || c === LF || c === CR || c === TAB) c = b[++i] as number;
  return i;
}

// Where the last list read by `readNumbers` ended (the index after its `]`).
let listEnd = 0;

/** Reads JSON numbers from just after a `[` up to its `]` into `scratch`; returns their count, or -1 when the list holds anything else. */
function readNumbers(b: Buffer, i: number): number {
  // Bytes read past the end are undefined, which fails every comparison below: no bounds checks needed.
  let count = 0;
  i = skipSpace(b, i);
  if (b[i] === CLOSE) {
    listEnd = i + 1;
    return 0;
  }
  for (;;) {
    const start = i;
    let c = b[i] as number;
    const negative = c === MINUS;
    if (negative) c = b[++i] as number;
    if (!(c >= ZERO && c <= NINE)) return -1;
    let digits = 0;
    let mantissa = 0;
    let scale = 0;
    let exponent = false;
    if (c === ZERO) {
      c = b[++i] as number;
    } else {
      while (c >= ZERO && c <= NINE) {
        mantissa = mantissa * 10 + (c - ZERO);
        digits++;
        c = b[++i] as number;
      }
    }
    if (c === DOT) {
      c = b[++i] as number;
      if (!(c >= ZERO && c <= NINE)) return -1;
      while (c >= ZERO && c <= NINE) {
        mantissa = mantissa * 10 + (c - ZERO);
        if (mantissa !== 0) digits++;
        scale++;
        c = b[++i] as number;
      }
    }
    if (c === LOWER_E || c === UPPER_E) {
      exponent = true;
      c = b[++i] as number;
      if (c === PLUS || c === MINUS) c = b[++i] as number;
      if (!(c >= ZERO && c <= NINE)) return -1;
      while (c >= ZERO && c <= NINE) c = b[++i] as number;
    }
    let value: number;
    if (!exponent && digits <= 15 && scale <= 22) {
      value = mantissa / (POW10[scale] as number);
      if (negative) value = -value;
    } else {
      value = Number(b.toString('latin1', start, i));
    }
    if (count === scratch.length) {
      const grown = new Float64Array(scratch.length * 2);
      grown.set(scratch);
      scratch = grown;
    }
    scratch[count++] = value;
    while (c === SPACE || c === LF || c === CR || c === TAB) c = b[++i] as number;
    if (c === COMMA) {
      i = skipSpace(b, i + 1);
      continue;
    }
    if (c === CLOSE) {
      listEnd = i + 1;
      return count;
    }
    return -1;
  }
}
