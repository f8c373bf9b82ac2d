/**
 * Metric history is stored in blocks: one row per (run, key) per write, holding that
 * write's points packed as little-endian float64 triples (value, timestamp, step).
 * A 1000-point batch becomes a handful of rows instead of 1000, which is what makes
 * ingest fast; float64 also keeps NaN and ±Infinity exactly, on both backends.
 */
import type { Metric } from './tracking-types.js';

const POINT_BYTES = 24;

/** A block ready to insert: its points, step range and packed bytes. */
export interface MetricBlock {
  key: string;
  count: number;
  minStep: number;
  maxStep: number;
  points: Buffer;
}

/** Groups points by key (keeping their order) and packs each group into one block. */
export function encodeMetricBlocks(metrics: Metric[]): MetricBlock[] {
  const byKey = new Map<string, Metric[]>();
  for (const m of metrics) {
    const list = byKey.get(m.key);
    if (list) list.push(m);
    else byKey.set(m.key, [m]);
  }
  const blocks: MetricBlock[] = [];
  for (const [key, list] of byKey) {
    const buf = Buffer.allocUnsafe(list.length * POINT_BYTES);
    let minStep = Infinity;
    let maxStep = -Infinity;
    let off = 0;
    for (const m of list) {
      buf.writeDoubleLE(m.value, off);
      buf.writeDoubleLE(m.timestamp, off + 8);
      buf.writeDoubleLE(m.step, off + 16);
      off += POINT_BYTES;
      if (m.step < minStep) minStep = m.step;
      if (m.step > maxStep) maxStep = m.step;
    }
    blocks.push({ key, count: list.length, minStep, maxStep, points: buf });
  }
  return blocks;
}

/** Unpacks a block's points, appending them to `out`. */
export function decodeMetricBlock(key: string, points: Uint8Array, out: Metric[]): Metric[] {
  const buf = Buffer.isBuffer(points) ? points : Buffer.from(points.buffer, points.byteOffset, points.byteLength);
  for (let off = 0; off + POINT_BYTES <= buf.length; off += POINT_BYTES) {
    out.push({ key, value: buf.readDoubleLE(off), timestamp: buf.readDoubleLE(off + 8), step: buf.readDoubleLE(off + 16) });
  }
  return out;
}

/** MLflow's history order: step, then timestamp, then value (stable for equal points). */
export function compareHistory(a: Metric, b: Metric): number {
  return a.step - b.step || a.timestamp - b.timestamp || (Number.isNaN(a.value) ? 0 : a.value) - (Number.isNaN(b.value) ? 0 : b.value);
}
