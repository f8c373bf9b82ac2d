// Shared helpers of the monitoring benchmarks: seeded data and CSV files generated on demand.
import { createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A seeded xorshift generator in [0, 1). */
export function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Approximately normal values (sum of 4 uniforms). */
export function normalish(r) {
  return (r() + r() + r() + r() - 2) * 1.7320508;
}

/** Column c of the synthetic data: a mix of scales; `shift` moves some columns in the current set. */
export function value(r, c, shift) {
  const base = normalish(r) * (1 + (c % 5)) + c * 10;
  return shift && c % 10 === 0 ? base * 1.2 + 3 : base;
}

/** `cols` Float64Array columns of `rows` seeded values. */
export function columns(rows, cols, seed, shift = false) {
  const r = rng(seed);
  const out = Array.from({ length: cols }, () => new Float64Array(rows));
  for (let i = 0; i < rows; i++) for (let c = 0; c < cols; c++) out[c][i] = value(r, c, shift);
  return out;
}

/** Writes (once) a CSV of `rows` × `cols` seeded values and returns its path. */
export async function csvFile(name, rows, cols, seed, shift = false) {
  const dir = join(tmpdir(), 'slipway-bench-monitoring');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}-${rows}x${cols}-${seed}.csv`);
  if (existsSync(path) && statSync(path).size > rows * cols * 4) return path;
  const out = createWriteStream(path);
  out.write(Array.from({ length: cols }, (_, c) => `f${c}`).join(',') + '\n');
  const r = rng(seed);
  let chunk = [];
  for (let i = 0; i < rows; i++) {
    const line = new Array(cols);
    for (let c = 0; c < cols; c++) line[c] = value(r, c, shift).toFixed(4);
    chunk.push(line.join(','));
    if (chunk.length === 10_000) {
      if (!out.write(chunk.join('\n') + '\n')) await new Promise((res) => out.once('drain', res));
      chunk = [];
    }
  }
  if (chunk.length) out.write(chunk.join('\n') + '\n');
  await new Promise((res) => out.end(res));
  return path;
}
