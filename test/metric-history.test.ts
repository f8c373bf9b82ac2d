/**
 * Downsampled metric histories for charts, over HTTP on 127.0.0.1 through the SDK, on a SQLite file
 * and on PostgreSQL: a 100,000-point series comes back as at most maxPoints points in step order that
 * keep its spike, dip and global extremes (the same points a plain reference computation picks), a
 * window zooms in with full detail, NaN and ±Infinity survive, and bad input gets a clear 400 or 404.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlipwayClient, type Metric as WireMetric } from '../src/client/index.js';
import { openTestApp, type TestApp } from '../src/server/native/native-api.test-support.js';
import { trackingOf } from '../src/server/native/services.js';
import { downsampleMinMax, type Metric } from '../src/tracking/index.js';
import { DIALECTS } from './support/dialects.js';

const N = 100_000;
const T0 = 1_700_000_000_000;
const SPIKE = 54_321;
const DIP = 77_777;

/** A smooth wave with a little deterministic noise, one spike up and one dip down. */
function series(): Metric[] {
  const out: Metric[] = [];
  for (let i = 0; i < N; i++) {
    const value = i === SPIKE ? 50 : i === DIP ? -30 : Math.sin(i / 2000) + ((i * 7919) % 13) / 100;
    out.push({ key: 'loss', value, step: i, timestamp: T0 + i * 10 });
  }
  return out;
}

/** The reference: group points by bucket in a Map, then take each group's first, last, argmin, argmax and first NaN. */
function reference(points: Metric[], maxPoints: number, x: 'step' | 'time'): Metric[] {
  if (points.length <= maxPoints) return points;
  const xs = points.map((p) => (x === 'step' ? p.step : p.timestamp));
  const buckets = Math.floor(maxPoints / (points.some((p) => Number.isNaN(p.value)) ? 5 : 4));
  const lo = Math.min(...xs);
  const span = Math.max(...xs) - lo;
  const groups = new Map<number, number[]>();
  xs.forEach((v, i) => {
    const b = span === 0 ? 0 : Math.min(buckets - 1, Math.floor(((v - lo) / span) * buckets));
    groups.set(b, [...(groups.get(b) ?? []), i]);
  });
  const keep = new Set<number>();
  for (const idx of groups.values()) {
    keep.add(idx[0] as number).add(idx[idx.length - 1] as number);
    const finite = idx.filter((i) => !Number.isNaN((points[i] as Metric).value));
    if (finite.length > 0) {
      const vals = finite.map((i) => (points[i] as Metric).value);
      keep.add(finite[vals.indexOf(Math.min(...vals))] as number).add(finite[vals.indexOf(Math.max(...vals))] as number);
    }
    const nan = idx.find((i) => Number.isNaN((points[i] as Metric).value));
    if (nan !== undefined) keep.add(nan);
  }
  return [...keep].sort((a, b) => a - b).map((i) => points[i] as Metric);
}

const wire = (m: Metric): WireMetric => ({ ...m, value: Number.isNaN(m.value) ? 'NaN' : m.value === Infinity ? 'Infinity' : m.value === -Infinity ? '-Infinity' : m.value });

describe.each(DIALECTS)('downsampled metric history on $name', (dialect) => {
  let t: TestApp;
  let client: SlipwayClient;
  let runId: string;
  let other: string;
  const data = series();
  beforeAll(async () => {
    t = await openTestApp(dialect);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    client = new SlipwayClient({ url: `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}` });
    runId = (await client.runs.create({ runName: 'long-training' })).info.runId;
    other = (await client.runs.create({ runName: 'short-training' })).info.runId;
    const tracking = trackingOf(t.ctx);
    // Logged out of order in batches of 1000, as a trainer with several writers would.
    for (let b = N / 1000 - 1; b >= 0; b--) await tracking.logBatch(runId, { metrics: data.slice(b * 1000, (b + 1) * 1000).map((m) => ({ ...m })) });
    const odd = [1, Number.NaN, 3, Infinity, 2, -Infinity, 5, Number.NaN, 4, 0].flatMap((v, i) => Array.from({ length: 100 }, (_, j) => ({ key: 'odd', value: j === 50 ? v : i + j / 1000, step: i * 100 + j, timestamp: T0 + i * 100 + j })));
    await tracking.logBatch(runId, { metrics: odd.slice(0, 500) });
    await tracking.logBatch(runId, { metrics: odd.slice(500) });
    // Two writers whose blocks interleave step by step: the blocks overlap, so the points need a real sort.
    await tracking.logBatch(runId, { metrics: data.slice(0, 1000).filter((m) => m.step % 2 === 0).map((m) => ({ ...m, key: 'mixed' })) });
    await tracking.logBatch(runId, { metrics: data.slice(0, 1000).filter((m) => m.step % 2 === 1).map((m) => ({ ...m, key: 'mixed' })) });
    await tracking.logBatch(runId, { metrics: data.slice(0, 10).map((m) => ({ ...m, key: 'train/loss' })) });
    await tracking.logBatch(other, { metrics: data.slice(0, 300).map((m) => ({ ...m, value: m.value * 2 })) });
  }, 120_000);
  afterAll(async () => t?.close());

  it('keeps the spike, the dip and the global extremes of 100,000 points in at most maxPoints points, sorted by step', async () => {
    const h = await client.runs.downsampledHistory(runId, 'loss', { maxPoints: 2000 });
    expect(h).toMatchObject({ key: 'loss', x: 'step', total: N, downsampled: true });
    expect(h.returned).toBe(h.points.length);
    expect(h.points.length).toBeLessThanOrEqual(2000);
    expect(h.points.length).toBeGreaterThan(1000);
    const steps = h.points.map((p) => p.step);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(h.points).toContainEqual({ key: 'loss', value: 50, step: SPIKE, timestamp: T0 + SPIKE * 10 });
    expect(h.points).toContainEqual({ key: 'loss', value: -30, step: DIP, timestamp: T0 + DIP * 10 });
    expect(steps[0]).toBe(0);
    expect(steps.at(-1)).toBe(N - 1);
    expect(h.points).toEqual(reference(data, 2000, 'step'));
  });

  it('answers 1000 points by default and every point unchanged when the series fits', async () => {
    const h = await client.runs.downsampledHistory(runId, 'loss');
    expect(h.points.length).toBeLessThanOrEqual(1000);
    expect(h.points).toEqual(reference(data, 1000, 'step'));
    const small = await client.runs.downsampledHistory(other, 'loss', { maxPoints: 300 });
    expect(small).toMatchObject({ total: 300, returned: 300, downsampled: false });
    expect(small.points.map((p) => p.value)).toEqual(data.slice(0, 300).map((m) => m.value * 2));
  });

  it('zooms into a window on the step or time axis with full detail', async () => {
    const zoom = await client.runs.downsampledHistory(runId, 'loss', { maxPoints: 2000, from: SPIKE - 500, to: SPIKE + 500 });
    expect(zoom).toMatchObject({ total: 1001, returned: 1001, downsampled: false });
    expect(zoom.points).toEqual(data.slice(SPIKE - 500, SPIKE + 501));
    const wide = await client.runs.downsampledHistory(runId, 'loss', { maxPoints: 500, from: 10_000, to: 60_000 });
    expect(wide).toMatchObject({ total: 50_001, downsampled: true });
    expect(wide.points).toEqual(reference(data.slice(10_000, 60_001), 500, 'step'));
    const byTime = await client.runs.downsampledHistory(runId, 'loss', { x: 'time', maxPoints: 400, from: T0 + 700_000, to: T0 + 800_000 });
    expect(byTime).toMatchObject({ x: 'time', total: 10_001, downsampled: true });
    expect(byTime.points).toContainEqual(data[DIP]);
    expect(byTime.points).toEqual(reference(data.slice(70_000, 80_001), 400, 'time'));
    const empty = await client.runs.downsampledHistory(runId, 'loss', { from: N + 10, to: N + 20 });
    expect(empty).toMatchObject({ total: 0, returned: 0, downsampled: false, points: [] });
  });

  it('sorts points of overlapping blocks into step order before bucketing', async () => {
    const h = await client.runs.downsampledHistory(runId, 'mixed', { maxPoints: 100 });
    expect(h).toMatchObject({ total: 1000, downsampled: true });
    expect(h.points).toEqual(reference(data.slice(0, 1000).map((m) => ({ ...m, key: 'mixed' })), 100, 'step'));
    const all = await client.runs.downsampledHistory(runId, 'mixed', { maxPoints: 1000, x: 'time' });
    expect(all.points.map((p) => p.step)).toEqual(data.slice(0, 1000).map((m) => m.step));
  });

  it('reads a metric whose key holds a slash, and downsamples in-memory series the same way for library callers', async () => {
    const h = await client.runs.downsampledHistory(runId, 'train/loss', { maxPoints: 5 });
    expect(h).toMatchObject({ key: 'train/loss', total: 10, downsampled: true });
    expect(h.points.map((p) => p.step)).toEqual(reference(data.slice(0, 10), 5, 'step').map((m) => m.step));
    const local = downsampleMinMax(data, 2000, 'step');
    expect(local).toMatchObject({ total: N, returned: local.points.length, downsampled: true });
    expect(local.points).toEqual(reference(data, 2000, 'step'));
  });

  it('keeps NaN and ±Infinity and reports them as MLflow does', async () => {
    const h = await client.runs.downsampledHistory(runId, 'odd', { maxPoints: 50 });
    expect(h).toMatchObject({ total: 1000, downsampled: true });
    const values = h.points.map((p) => p.value);
    expect(values).toContain('NaN');
    expect(values).toContain('Infinity');
    expect(values).toContain('-Infinity');
    const all = (await client.runs.metricHistory(runId, 'odd')).metrics.map((m) => ({ ...m, value: Number(m.value) }));
    expect(h.points).toEqual(reference(all, 50, 'step').map(wire));
  });

  it('answers one metric of several runs in the order asked, a run without it with no points', async () => {
    const third = (await client.runs.create({ runName: 'no-loss' })).info.runId;
    const many = await client.runs.downsampledHistories([other, runId, third], 'loss', { maxPoints: 1000 });
    expect(many.histories.map((h) => [h.runId, h.total, h.downsampled])).toEqual([
      [other, 300, false],
      [runId, N, true],
      [third, 0, false],
    ]);
    expect(many.histories[1]?.points).toEqual(reference(data, 1000, 'step'));
    const tooMany = Array.from({ length: 101 }, (_, i) => i.toString(16).padStart(32, '0'));
    await expect(client.runs.downsampledHistories(tooMany, 'loss')).rejects.toMatchObject({ status: 400, message: expect.stringContaining('at most 100 runs') });
    await expect(client.runs.downsampledHistories([runId, 'f'.repeat(32)], 'loss')).rejects.toMatchObject({ status: 404, code: 'NOT_FOUND' });
  });

  it('answers bad input with a 400 naming the problem and unknown runs or metrics with a 404', async () => {
    const bad = async (query: Record<string, unknown>, text: string) =>
      expect(client.runs.downsampledHistory(runId, 'loss', query as never)).rejects.toMatchObject({ status: 400, code: 'INVALID_ARGUMENT', message: expect.stringContaining(text) });
    await bad({ maxPoints: 0 }, "'maxPoints'");
    await bad({ maxPoints: 10_001 }, "'maxPoints'");
    await bad({ maxPoints: 'many' }, "'maxPoints'");
    await bad({ maxPoints: 2.5 }, "'maxPoints'");
    await bad({ x: 'epoch' }, "'x'");
    await bad({ from: 'soon' }, "'from'");
    await bad({ to: '' }, "'to'");
    await bad({ from: 10, to: 5 }, 'from must not be greater than to; got from=10 and to=5');
    await expect(client.runs.downsampledHistory('0'.repeat(32), 'loss')).rejects.toMatchObject({ status: 404, message: expect.stringContaining('not found') });
    await expect(client.runs.downsampledHistory(runId, 'accuracy')).rejects.toMatchObject({ status: 404, message: `Run ${runId} has no metric 'accuracy'.` });
    await expect(client.runs.downsampledHistory('not-a-run', 'loss')).rejects.toMatchObject({ status: 400 });
  });
});
