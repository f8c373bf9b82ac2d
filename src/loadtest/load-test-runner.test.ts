/**
 * Correctness of the measurements against real HTTP targets on loopback with known
 * behaviour. Bounds are generous because the machine may be busy, but each one is
 * far from what a wrong measurement would give.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runLoadTest } from './index.js';
import { startTestTarget, type TestTarget } from './test-target.test-support.js';

const targets: TestTarget[] = [];
async function target(...args: Parameters<typeof startTestTarget>): Promise<TestTarget> {
  const t = await startTestTarget(...args);
  targets.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

describe('runLoadTest measurements', () => {
  it('measures a fixed 20 ms service time within tolerance', async () => {
    const t = await target({ serviceMs: 20 });
    const r = await runLoadTest({ target: t.url, rate: 100, duration: '1500ms', warmup: '300ms', workers: 1, lateTolerance: '50ms' });
    expect(r.latencyMs.min).toBeGreaterThanOrEqual(19.5);
    expect(r.latencyMs.p50).toBeGreaterThanOrEqual(20);
    // Upper bounds leave room for a busy machine's scheduling delays; a measurement that
    // lost or invented time would land far outside them.
    expect(r.latencyMs.p50).toBeLessThan(50);
    expect(r.latencyMs.p90).toBeLessThan(100);
    expect(r.latencyMs.count).toBeGreaterThanOrEqual(145);
    expect(r.latencyMs.count).toBeLessThanOrEqual(155);
    expect(r.throughput.offered).toBe(100);
    expect(r.throughput.achieved).toBeGreaterThan(90);
    expect(r.errorRate).toBe(0);
  });

  it('excludes warm-up requests from the results', async () => {
    const t = await target({ serviceMs: 1 });
    const r = await runLoadTest({ target: t.url, rate: 100, duration: '500ms', warmup: '500ms', workers: 2 });
    expect(t.requests).toBeGreaterThanOrEqual(95);
    expect(r.requests.completed).toBeGreaterThanOrEqual(45);
    expect(r.requests.completed).toBeLessThanOrEqual(55);
    expect(r.latencyMs.count).toBe(r.requests.completed);
  });

  it('shows a 1 s stall in the open model p99 and max, while a naive closed loop hides it', async () => {
    const stallAt = { serviceMs: 2, stallAtMs: 700, stallMs: 1000 };
    const [open, closed] = await Promise.all([
      target(stallAt).then((t) => runLoadTest({ target: t.url, rate: 100, duration: '2500ms', workers: 1, lateTolerance: '50ms' })),
      target(stallAt).then((t) => runLoadTest({ target: t.url, mode: 'closed', clients: 1, duration: '2500ms', workers: 1 })),
    ]);
    // Open: ~100 requests were due during the stall and each waited for its rest: p99 near 1 s.
    expect(open.latencyMs.max).toBeGreaterThan(900);
    expect(open.latencyMs.p99).toBeGreaterThan(800);
    expect(open.latencyMs.p90).toBeGreaterThan(300);
    // Closed: the one client waited once, so the stall is a single sample.
    expect(closed.latencyMs.max).toBeGreaterThan(900);
    expect(closed.latencyMs.p99).toBeLessThan(200);
    expect(open.latencyMs.p99).toBeGreaterThan(closed.latencyMs.p99 * 4);
  });

  it('reports an unsustainable rate as such instead of lowering it', async () => {
    // One request at a time, 10 ms each: capacity 100/s against 300/s offered.
    const t = await target({ serviceMs: 10, serial: true });
    const r = await runLoadTest({ target: t.url, rate: 300, duration: '1500ms', workers: 1, timeout: '1s', connections: 256, thresholds: ['throughput>=290/s'] });
    expect(r.throughput.offered).toBe(300);
    expect(r.settings.profile).toEqual([{ durationMs: 1500, from: 300, to: 300 }]);
    expect(r.throughput.achieved).toBeLessThan(150);
    // Queueing: latency later in the run is far above the first second's.
    const [first, second] = r.timeSeries;
    expect(second?.p99).toBeGreaterThan((first?.p50 ?? 0) * 2);
    expect(r.latencyMs.p99).toBeGreaterThan(300);
    expect(r.passed).toBe(false);
    expect(r.thresholds[0]).toMatchObject({ expression: 'throughput>=290/s', passed: false });
  });

  it('counts errors by status and fails an error-rate threshold', async () => {
    const t = await target({ status: (n) => (n % 2 === 0 ? 503 : 200) });
    const r = await runLoadTest({ target: t.url, mode: 'closed', clients: 2, duration: '500ms', workers: 1, thresholds: ['error_rate<1%'] });
    expect(r.errorsByStatus['503']).toBeGreaterThan(10);
    expect(r.errorRate).toBeGreaterThan(0.4);
    expect(r.errorRate).toBeLessThan(0.6);
    expect(r.requests.ok + (r.errorsByStatus['503'] ?? 0)).toBe(r.requests.completed);
    expect(r.passed).toBe(false);
  });

  it('reports refused connections as errors of their kind', async () => {
    const t = await startTestTarget();
    await t.close();
    const r = await runLoadTest({ target: t.url, rate: 20, duration: '500ms', workers: 1, thresholds: ['error_rate<50%'] });
    expect(r.errorsByKind.connection_refused).toBeGreaterThan(0);
    expect(r.requests.completed).toBe(0);
    expect(r.errorRate).toBe(1);
    expect(r.passed).toBe(false);
  });

  it('counts timeouts', async () => {
    const t = await target({ serviceMs: 2000 });
    const r = await runLoadTest({ target: t.url, rate: 10, duration: '300ms', workers: 1, timeout: '200ms' });
    expect(r.requests.timeouts).toBeGreaterThan(0);
    expect(r.errorsByKind.timeout).toBe(r.requests.timeouts);
    expect(r.passed).toBe(false);
  });

  it('a run whose generator had to drop sends cannot pass, even with thresholds that hold', async () => {
    const t = await target({ serviceMs: 100 });
    const r = await runLoadTest({ target: t.url, rate: 100, duration: '1s', workers: 1, maxInFlight: 2, thresholds: ['error_rate<=100%'] });
    expect(r.generator.dropped).toBeGreaterThan(50);
    expect(r.generator.behind).toBe(true);
    expect(r.generator.reason).toContain('dropped');
    expect(r.thresholds[0]?.passed).toBe(true);
    expect(r.passed).toBe(false);
  });

  it('passes when thresholds hold and keeps a per-second time series', async () => {
    const t = await target({ serviceMs: 1 });
    const r = await runLoadTest({ target: t.url, rate: 200, duration: '2s', workers: 2, lateTolerance: '250ms', thresholds: ['p50<500ms', 'error_rate<1%', 'throughput>150/s'] });
    expect(r.passed).toBe(true);
    expect(r.timeSeries.slice(0, 2).map((s) => s.offered)).toEqual([200, 200]);
    expect(r.timeSeries[0]?.completed).toBeGreaterThan(150);
    expect(r.percentileCurve.at(-1)?.ms).toBe(r.latencyMs.max);
  });

  it('follows ramping stages', async () => {
    const t = await target({ serviceMs: 1 });
    const r = await runLoadTest({ target: t.url, stages: [{ duration: '1s', target: 100 }, { duration: '1s', target: 300 }], workers: 1, lateTolerance: '250ms' });
    expect(r.throughput.offered).toBe(125);
    expect(r.timeSeries[0]?.offered).toBe(50);
    expect(r.timeSeries[1]?.offered).toBe(200);
    expect(r.requests.sent).toBe(250);
  });

  it('stops early on abort and still returns what it measured', async () => {
    const t = await target({ serviceMs: 1 });
    const abort = new AbortController();
    // Stop at the first progress report (about once a second) after 25 answers, however long the workers took to start.
    const started = Date.now();
    const r = await runLoadTest({ target: t.url, rate: 50, duration: '20s', workers: 1, lateTolerance: '250ms' }, { signal: abort.signal, onProgress: (p) => p.completed >= 25 && abort.abort() });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(r.requests.completed).toBeGreaterThan(20);
    expect(r.requests.completed).toBeLessThan(100);
    expect(r.passed).toBe(false);
    expect(r.failures).toContain('the run was stopped before its planned end');
  });

  it('rejects bad options with a clear error before sending anything', async () => {
    await expect(runLoadTest({ target: 'http://127.0.0.1:1/', duration: '1s' })).rejects.toThrow('rate is required for the open model');
    await expect(runLoadTest({ target: 'http://127.0.0.1:1/', rate: 10, duration: '1s', thresholds: ['p99<fast'] })).rejects.toThrow("Invalid threshold 'p99<fast'");
    await expect(runLoadTest({ target: 'ftp://x/', rate: 10, duration: '1s' })).rejects.toThrow('http:// or https://');
    await expect(runLoadTest({ target: 'http://127.0.0.1:1/', rate: 10, duration: 'later' })).rejects.toThrow("duration must be a duration such as 250ms, 10s or 5m (units: us, ms, s, m, h); got 'later'.");
    await expect(runLoadTest({ target: 'http://127.0.0.1:1/', rate: 10, duration: '1s', bogus: 1 } as never)).rejects.toThrow('Invalid load-test option');
    await expect(runLoadTest({ target: 'models:/m@champion', rate: 10, duration: '1s' })).rejects.toThrow('server');
  });
});
