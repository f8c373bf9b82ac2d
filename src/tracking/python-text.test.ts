import { parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { MAX_VALUE_TEXT, pythonFloatRepr, pythonStr } from './python-text.js';

describe('pythonStr: a request value as MLflow (Python) prints it', () => {
  it('keeps a number as sent when its literal is known, and renders floats as Python repr does', () => {
    const sent = parse('{"a": 9.0, "b": 9, "c": 1e16, "d": 0.00001, "e": 123456789012345678901234567890, "f": -0, "g": 2.5e-3}') as Record<string, unknown>;
    expect(Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, pythonStr(v)]))).toEqual({
      a: '9.0',
      b: '9',
      c: '1e+16',
      d: '1e-05',
      e: '123456789012345678901234567890',
      f: '0',
      g: '0.0025',
    });
  });

  it('prints strings bare at the top and quoted inside lists and objects, None/True/False for the rest', () => {
    expect(pythonStr('foo')).toBe('foo');
    expect(pythonStr(parse('[{"key": "mae", "value": 2.5}]'))).toBe("[{'key': 'mae', 'value': 2.5}]");
    expect(pythonStr([null, true, false, "it's", 'say "hi"', 'both \' and "', 'tab\there', '\u00a0', '\u{1F600}'])).toBe(
      `[None, True, False, "it's", 'say "hi"', 'both \\' and "', 'tab\\there', '\\xa0', '\u{1F600}']`,
    );
  });

  it('matches Python float repr at the switch to exponent notation', () => {
    expect([1e15, 1234567890123456, 1e16, 0.0001, 0.00012, 1e-5, 1.5e300, -2.5, 0.1 + 0.2, NaN, -Infinity].map(pythonFloatRepr)).toEqual([
      '1000000000000000.0',
      '1234567890123456.0',
      '1e+16',
      '0.0001',
      '0.00012',
      '1e-05',
      '1.5e+300',
      '-2.5',
      '0.30000000000000004',
      'nan',
      '-inf',
    ]);
  });

  it('cuts long values so an error message stays small', () => {
    const text = pythonStr(Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, value: i })));
    expect(text.length).toBe(MAX_VALUE_TEXT + 3);
    expect(text.startsWith("[{'key': 'k0', 'value': 0}, ")).toBe(true);
    expect(text.endsWith('...')).toBe(true);
  });
});
