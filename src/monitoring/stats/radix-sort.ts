/**
 * Sorting of large numeric columns. `Float64Array.prototype.sort` takes ~90 ms per
 * million values on our reference machine; drift tests sort every column of both
 * datasets, so an LSD radix sort over the IEEE-754 bit pattern (four 16-bit passes)
 * is written here: no installed package sorts typed arrays faster than the built-in.
 */

/** Below this size the built-in sort is faster than four radix passes. */
const RADIX_THRESHOLD = 4096;

/** Returns the finite and infinite values of `values` (NaN dropped) sorted ascending, in a new array. */
export function sortedWithoutNaN(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    if (v === v) out[k++] = v;
  }
  const trimmed = k === n ? out : out.slice(0, k);
  return sortFloat64InPlace(trimmed);
}

/** Moves the non-NaN values of `a` to its front, sorts them in place and returns that prefix (a view, no copy). */
export function sortWithoutNaNInPlace(a: Float64Array): Float64Array {
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v === v) a[k++] = v;
  }
  return sortFloat64InPlace(a.subarray(0, k));
}

/** Sorts `a` ascending in place (no NaN expected) and returns it. */
export function sortFloat64InPlace(a: Float64Array): Float64Array {
  const n = a.length;
  if (n < RADIX_THRESHOLD) return a.sort();
  const words = new Uint32Array(a.buffer, a.byteOffset, n * 2);
  let lo = new Uint32Array(n);
  let hi = new Uint32Array(n);
  // Map the bit pattern to an unsigned key whose order is the numeric order:
  // negative numbers flip every bit, positive ones flip the sign bit.
  for (let i = 0; i < n; i++) {
    const l = words[2 * i] as number;
    const h = words[2 * i + 1] as number;
    if (h & 0x80000000) {
      lo[i] = ~l >>> 0;
      hi[i] = ~h >>> 0;
    } else {
      lo[i] = l;
      hi[i] = (h | 0x80000000) >>> 0;
    }
  }
  const counts = new Uint32Array(4 * 65536);
  for (let i = 0; i < n; i++) {
    const l = lo[i] as number;
    const h = hi[i] as number;
    (counts[l & 0xffff] as number)++;
    (counts[65536 + (l >>> 16)] as number)++;
    (counts[131072 + (h & 0xffff)] as number)++;
    (counts[196608 + (h >>> 16)] as number)++;
  }
  let lo2 = new Uint32Array(n);
  let hi2 = new Uint32Array(n);
  for (let pass = 0; pass < 4; pass++) {
    const base = pass * 65536;
    // A digit on which every key agrees moves nothing; skip the pass.
    let skip = false;
    for (let d = 0; d < 65536; d++) {
      const c = counts[base + d] as number;
      if (c === n) skip = true;
      if (c !== 0) break;
    }
    if (skip) continue;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[base + d] as number;
      counts[base + d] = sum;
      sum += c;
    }
    const src = pass < 2 ? lo : hi;
    const shift = pass % 2 === 0 ? 0 : 16;
    for (let i = 0; i < n; i++) {
      const digit = ((src[i] as number) >>> shift) & 0xffff;
      const pos = counts[base + digit] as number;
      counts[base + digit] = pos + 1;
      lo2[pos] = lo[i] as number;
      hi2[pos] = hi[i] as number;
    }
    [lo, lo2] = [lo2, lo];
    [hi, hi2] = [hi2, hi];
  }
  for (let i = 0; i < n; i++) {
    const l = lo[i] as number;
    const h = hi[i] as number;
    if (h & 0x80000000) {
      words[2 * i] = l;
      words[2 * i + 1] = (h & 0x7fffffff) >>> 0;
    } else {
      words[2 * i] = ~l >>> 0;
      words[2 * i + 1] = ~h >>> 0;
    }
  }
  return a;
}
