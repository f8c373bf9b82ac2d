/**
 * Metric history is stored in blocks: one row per (run, key) per write, holding that
 * write's points. A 1000-point batch becomes a handful of rows instead of 1000, which is
 * what makes ingest fast. Values are kept as float64, so NaN and ±Infinity round-trip
 * exactly on both backends.
 *
 * Two layouts, told apart by the first byte:
 * - 0x01 raw: (value, timestamp, step) as little-endian float64 triples (24 bytes a point);
 * - 0x02 compact: the first timestamp and step as float64, then per point the value as
 *   float64 and the timestamp and step as zig-zag varint deltas from the previous point.
 *   A batch usually shares one timestamp and counts steps up by one, so a point takes
 *   about 10 bytes: less to write to the WAL and to checkpoint. Used when every delta
 *   fits in 31 bits, so the arithmetic stays exact.
 */
import type { Metric } from './tracking-types.js';

const RAW = 0x01;
const COMPACT = 0x02;
const RAW_POINT = 24;
const MAX_DELTA = 2 ** 31;

/** A block ready to insert: its step range and packed bytes. */
export interface MetricBlock {
  key: string;
  count: number;
  minStep: number;
  maxStep: number;
  points: Buffer;
}

function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, n: number, off: number): number {
  while (n >= 128) {
    buf[off++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

function encodeRaw(list: Metric[]): Buffer {
  const buf = Buffer.allocUnsafe(1 + list.length * RAW_POINT);
  buf[0] = RAW;
  let off = 1;
  for (const m of list) {
    buf.writeDoubleLE(m.value, off);
    buf.writeDoubleLE(m.timestamp, off + 8);
    buf.writeDoubleLE(m.step, off + 16);
    off += RAW_POINT;
  }
  return buf;
}

/** Packs one key's points; compact when every delta is small, raw otherwise. */
export function encodeBlock(list: Metric[]): Buffer {
  const first = list[0];
  if (!first) return Buffer.from([RAW]);
  let size = 17;
  let prevTs = first.timestamp;
  let prevStep = first.step;
  for (const m of list) {
    const dt = m.timestamp - prevTs;
    const ds = m.step - prevStep;
    if (dt >= MAX_DELTA || dt <= -MAX_DELTA || ds >= MAX_DELTA || ds <= -MAX_DELTA) return encodeRaw(list);
    size += 8 + varintLength(zigzag(dt)) + varintLength(zigzag(ds));
    prevTs = m.timestamp;
    prevStep = m.step;
  }
  const buf = Buffer.allocUnsafe(size);
  buf[0] = COMPACT;
  buf.writeDoubleLE(first.timestamp, 1);
  buf.writeDoubleLE(first.step, 9);
  let off = 17;
  prevTs = first.timestamp;
  prevStep = first.step;
  for (const m of list) {
    buf.writeDoubleLE(m.value, off);
    off = writeVarint(buf, zigzag(m.timestamp - prevTs), off + 8);
    off = writeVarint(buf, zigzag(m.step - prevStep), off);
    prevTs = m.timestamp;
    prevStep = m.step;
  }
  return buf;
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
    let minStep = Infinity;
    let maxStep = -Infinity;
    for (const m of list) {
      if (m.step < minStep) minStep = m.step;
      if (m.step > maxStep) maxStep = m.step;
    }
    blocks.push({ key, count: list.length, minStep, maxStep, points: encodeBlock(list) });
  }
  return blocks;
}

/** Unpacks a block's points, appending them to `out`. */
export function decodeMetricBlock(key: string, points: Uint8Array, out: Metric[]): Metric[] {
  const buf = Buffer.isBuffer(points) ? points : Buffer.from(points.buffer, points.byteOffset, points.byteLength);
  if (buf[0] === RAW) {
    for (let off = 1; off + RAW_POINT <= buf.length; off += RAW_POINT) {
      out.push({ key, value: buf.readDoubleLE(off), timestamp: buf.readDoubleLE(off + 8), step: buf.readDoubleLE(off + 16) });
    }
    return out;
  }
  if (buf[0] !== COMPACT) throw new Error(`Unknown metric block layout ${String(buf[0])}`);
  let timestamp = buf.readDoubleLE(1);
  let step = buf.readDoubleLE(9);
  let off = 17;
  const readVarint = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = buf[off++] as number;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
  };
  while (off < buf.length) {
    const value = buf.readDoubleLE(off);
    off += 8;
    timestamp += unzigzag(readVarint());
    step += unzigzag(readVarint());
    out.push({ key, value, timestamp, step });
  }
  return out;
}

/** MLflow's history order: step, then timestamp, then value (stable for equal points). */
export function compareHistory(a: Metric, b: Metric): number {
  return a.step - b.step || a.timestamp - b.timestamp || (Number.isNaN(a.value) ? 0 : a.value) - (Number.isNaN(b.value) ? 0 : b.value);
}

/** One metric's points as parallel columns, for reading a long history without an object per point. */
export interface MetricColumns {
  value: Float64Array;
  timestamp: Float64Array;
  step: Float64Array;
  /** Where each stored block's points start; the last entry is the number of points. */
  blockStarts: number[];
}

/** Unpacks blocks (with their stored point counts) into columns, block after block. */
export function decodeMetricColumns(blocks: ReadonlyArray<{ points: Uint8Array; count: number }>): MetricColumns {
  let total = 0;
  for (const b of blocks) total += b.count;
  const cols: MetricColumns = { value: new Float64Array(total), timestamp: new Float64Array(total), step: new Float64Array(total), blockStarts: [] };
  let at = 0;
  for (const b of blocks) {
    cols.blockStarts.push(at);
    const buf = Buffer.isBuffer(b.points) ? b.points : Buffer.from(b.points.buffer, b.points.byteOffset, b.points.byteLength);
    if (buf[0] === RAW) {
      for (let off = 1; off + RAW_POINT <= buf.length && at < total; off += RAW_POINT, at++) {
        cols.value[at] = buf.readDoubleLE(off);
        cols.timestamp[at] = buf.readDoubleLE(off + 8);
        cols.step[at] = buf.readDoubleLE(off + 16);
      }
      continue;
    }
    if (buf[0] !== COMPACT) throw new Error(`Unknown metric block layout ${String(buf[0])}`);
    let timestamp = buf.readDoubleLE(1);
    let step = buf.readDoubleLE(9);
    let off = 17;
    while (off < buf.length && at < total) {
      cols.value[at] = buf.readDoubleLE(off);
      off += 8;
      let n = 0;
      let scale = 1;
      for (;;) {
        const c = buf[off++] as number;
        n += (c & 0x7f) * scale;
        if (c < 0x80) break;
        scale *= 128;
      }
      timestamp += unzigzag(n);
      n = 0;
      scale = 1;
      for (;;) {
        const c = buf[off++] as number;
        n += (c & 0x7f) * scale;
        if (c < 0x80) break;
        scale *= 128;
      }
      step += unzigzag(n);
      cols.timestamp[at] = timestamp;
      cols.step[at] = step;
      at++;
    }
  }
  cols.blockStarts.push(at);
  return cols;
}
