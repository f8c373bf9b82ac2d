/** ServingMetrics.snapshot(): the cumulative figures as the /metrics scrape has them, read without the text format. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ServingMetrics } from './serving-metrics.js';

describe('ServingMetrics.snapshot', () => {
  it('reads requests by status, latency buckets, gauges and split sides, and agrees with the scrape', async () => {
    const registry = new Registry();
    const m = ServingMetrics.for(registry);
    const v1 = m.forVersion('cancer', '1');
    for (const seconds of [0.0004, 0.002, 0.002]) {
      v1.ok.v2.inc();
      v1.latency.observe(seconds);
    }
    v1.ok.mlflow.inc();
    v1.latency.observe(0.3);
    m.requests.inc({ model: 'cancer', version: '1', protocol: 'v2', status: '400' });
    m.requests.inc({ model: 'cancer', version: '', protocol: 'v2', status: '503' });
    v1.inFlight.inc();
    const challenger = m.forRole('cancer', '2', 'challenger');
    challenger.ok(0.004);
    challenger.failed();
    m.addGaugeSource({ gauges: () => [{ model: 'cancer', version: '1', queueDepth: 3, inFlight: 1 }] });

    const snap = await m.snapshot();
    const one = snap.versions.find((v) => v.version === '1');
    expect(one).toMatchObject({ model: 'cancer', byStatus: { '200': 4, '400': 1 }, queueDepth: 3, inFlightBatches: 1 });
    expect(one?.latency?.count).toBe(4);
    expect(one?.latency?.counts).toHaveLength((one?.latency?.bounds.length ?? 0) + 1);
    // ≤ 0.0005 s: 1; ≤ 0.0025 s: 3; ≤ 0.5 s: 4; and the +Inf bucket is the count.
    const at = (le: number) => one?.latency?.counts[one.latency.bounds.indexOf(le)];
    expect([at(0.0005), at(0.0025), at(0.25), at(0.5), one?.latency?.counts.at(-1)]).toEqual([1, 3, 3, 4, 4]);
    expect(snap.versions.find((v) => v.version === '')?.byStatus).toEqual({ '503': 1 });
    expect(snap.inFlight.get('cancer')).toBe(1);
    expect(snap.roles).toEqual([expect.objectContaining({ model: 'cancer', version: '2', role: 'challenger', requests: 2 })]);
    expect(snap.roles[0]?.latency?.count).toBe(1);

    // Reading the snapshot hands the pending successes to the counter once: the scrape counts them once too.
    const scraped = (await registry.getMetricsAsJSON()).find((x) => x.name === 'slipway_serving_requests_total') as { values: Array<{ labels: Record<string, string>; value: number }> };
    const ok = scraped.values.filter((v) => v.labels.status === '200').reduce((a, v) => a + v.value, 0);
    expect(ok).toBe(4);
    expect((await m.snapshot()).versions.find((v) => v.version === '1')?.byStatus).toEqual({ '200': 4, '400': 1 });
  });
});
