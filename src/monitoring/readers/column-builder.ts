/** Grows one column while a reader streams rows: numbers stay in a Float64Array until a non-numeric value appears. */
import type { Column } from '../table.js';

/** Text that means "missing" (pandas' defaults). */
export const MISSING_TOKENS: ReadonlySet<string> = new Set(['', 'NA', 'N/A', 'n/a', 'NaN', 'nan', '-nan', '-NaN', 'null', 'NULL', 'None', '#N/A', '<NA>', 'NULL']);

/** Accumulates one column. */
export class ColumnBuilder {
  private numbers: Float64Array = new Float64Array(1024);
  private strings: Array<string | null> | null = null;
  length = 0;
  /** Numeric values seen before the column turned into text. */
  numericLike = 0;
  /** First non-numeric value and its row (1-based data row), for error messages. */
  firstText: { value: string; row: number } | undefined;

  constructor(readonly name: string) {}

  /** Appends a number (NaN = missing). */
  pushNumber(v: number): void {
    if (this.strings) {
      this.strings.push(v === v ? String(v) : null);
      this.numericLike++;
      this.length++;
      return;
    }
    if (this.length === this.numbers.length) {
      const grown = new Float64Array(this.numbers.length * 2);
      grown.set(this.numbers);
      this.numbers = grown;
    }
    this.numbers[this.length++] = v;
  }

  /** Appends raw text: missing tokens become missing, numbers become numbers. */
  pushText(raw: string): void {
    const t = raw.trim();
    if (MISSING_TOKENS.has(t)) return this.pushNumber(NaN);
    if (!this.strings) {
      const n = Number(t);
      if (t !== '' && Number.isFinite(n)) return this.pushNumber(n);
      this.firstText = { value: raw, row: this.length + 1 };
      this.numericLike = this.length - this.countMissing();
      this.strings = Array.from(this.numbers.subarray(0, this.length), (v) => (v === v ? String(v) : null));
    }
    this.strings.push(raw);
    this.length++;
  }

  /** Drops values beyond `len` (a row cut by a chunk boundary). */
  truncate(len: number): void {
    if (this.strings) this.strings.length = len;
    this.length = len;
  }

  /** Appends a missing value. */
  pushMissing(): void {
    this.pushNumber(NaN);
  }

  private countMissing(): number {
    let m = 0;
    for (let i = 0; i < this.length; i++) if (this.numbers[i] !== this.numbers[i]) m++;
    return m;
  }

  /** The finished column. */
  finish(): Column {
    if (this.strings) return { name: this.name, type: 'string', values: this.strings, numericLike: this.numericLike };
    // A view when little capacity is unused: copying 1M-row columns would double peak memory.
    const values = this.length >= this.numbers.length * 0.75 ? this.numbers.subarray(0, this.length) : this.numbers.slice(0, this.length);
    return { name: this.name, type: 'number', values };
  }
}
