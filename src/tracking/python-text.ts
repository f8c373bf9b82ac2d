/**
 * A request value as MLflow's server prints it in "Invalid value X for parameter 'p' supplied":
 * Python's `str()` of the value `json.loads` made of it. Strings appear bare, `None`/`True`/`False`
 * for null and booleans, lists and objects in Python's repr (`[{'key': 'mae', 'value': 2.5}]`),
 * integers exactly as sent and floats in Python's shortest repr (`9.0`, `1e-05`, `1e+16`).
 *
 * Python keeps integers and floats apart (`9` and `9.0`) where JSON.parse does not; numbers parsed with
 * lossless-json (LosslessNumber, their literal kept) are shown as Python would. Plain JavaScript numbers
 * are shown as integers when integral. Hand-written: the rules are Python's own (float_repr_style
 * 'short', unicode_repr), which no npm library reproduces.
 */
import { isLosslessNumber } from 'lossless-json';

/** The longest rendering returned; longer values are cut and end with '...'. */
export const MAX_VALUE_TEXT = 1000;

/** Python's `repr()` of a float. */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  // toExponential() gives the shortest digits that round-trip, as Python's repr uses.
  const [mantissa = '', exponent = '0'] = x.toExponential().split('e');
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  const decpt = Number(exponent) + 1; // the value is 0.<digits> × 10^decpt
  if (decpt <= -4 || decpt > 16) {
    const e = decpt - 1;
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0] ?? '0'}${frac}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}

// What Python's str.isprintable() calls unprintable: other (Cc, Cf, Cs, Co, Cn) and separators but ' '.
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function escapeChar(ch: string): string {
  switch (ch) {
    case '\\': return '\\\\';
    case '\n': return '\\n';
    case '\r': return '\\r';
    case '\t': return '\\t';
    default: {
      if (ch === ' ' || !UNPRINTABLE.test(ch)) return ch;
      const code = ch.codePointAt(0) ?? 0;
      if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
      if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
      return `\\U${code.toString(16).padStart(8, '0')}`;
    }
  }
}

/** Python's `repr()` of a str. */
export function pythonStringRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  // for…of walks code points; a lone surrogate comes through on its own and is escaped.
  for (const ch of s) out += ch === quote ? `\\${ch}` : escapeChar(ch);
  return out + quote;
}

function numberText(v: number): string {
  if (Number.isInteger(v)) return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
  return pythonFloatRepr(v);
}

function literalText(literal: string): string {
  // JSON number grammar: a fraction or an exponent makes it a Python float.
  if (/[.eE]/.test(literal)) return pythonFloatRepr(Number(literal));
  return BigInt(literal).toString(); // '-0' is the integer 0
}

/** Appends the repr of `v` to `out`, stopping once `out` passes `budget` characters. */
function reprInto(v: unknown, out: string[], state: { length: number; budget: number }): void {
  const push = (s: string): void => {
    out.push(s);
    state.length += s.length;
  };
  if (state.length > state.budget) return;
  if (v === null || v === undefined) return push('None');
  if (v === true) return push('True');
  if (v === false) return push('False');
  if (typeof v === 'string') return push(pythonStringRepr(v));
  if (typeof v === 'number') return push(numberText(v));
  if (typeof v === 'bigint') return push(v.toString());
  if (isLosslessNumber(v)) return push(literalText(v.value));
  if (Array.isArray(v)) {
    push('[');
    v.forEach((item, i) => {
      if (i > 0) push(', ');
      reprInto(item, out, state);
    });
    return push(']');
  }
  if (typeof v === 'object') {
    push('{');
    Object.entries(v).forEach(([key, item], i) => {
      if (i > 0) push(', ');
      push(`${pythonStringRepr(key)}: `);
      reprInto(item, out, state);
    });
    return push('}');
  }
  return push(String(v));
}

/** Python's `str()` of a JSON value: strings bare, everything else as `repr()`; at most MAX_VALUE_TEXT characters. */
export function pythonStr(v: unknown): string {
  let text: string;
  if (typeof v === 'string') text = v;
  else {
    const out: string[] = [];
    reprInto(v, out, { length: 0, budget: MAX_VALUE_TEXT });
    text = out.join('');
  }
  return text.length > MAX_VALUE_TEXT ? `${text.slice(0, MAX_VALUE_TEXT)}...` : text;
}
