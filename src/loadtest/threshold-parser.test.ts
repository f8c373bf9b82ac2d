import { describe, expect, it } from 'vitest';
import { evaluateThresholds, parseThreshold } from './threshold-parser.js';

describe('parseThreshold', () => {
  it('reads latency percentiles, mean and max in any time unit as milliseconds', () => {
    expect(parseThreshold('p99<50ms')).toMatchObject({ metric: 'latency', statistic: 'p99', op: '<', limit: 50 });
    expect(parseThreshold('p95<=20ms')).toMatchObject({ statistic: 'p95', op: '<=', limit: 20 });
    expect(parseThreshold('p99.9 < 0.2s')).toMatchObject({ statistic: 'p99.9', limit: 200 });
    expect(parseThreshold('mean<500us')).toMatchObject({ statistic: 'mean', limit: 0.5 });
    expect(parseThreshold('max<1s')).toMatchObject({ statistic: 'max', limit: 1000 });
    expect(parseThreshold('p50<7')).toMatchObject({ limit: 7 });
  });

  it('reads error rates as fractions and throughput as requests per second', () => {
    expect(parseThreshold('error_rate<0.1%')).toMatchObject({ metric: 'error_rate', limit: 0.001 });
    expect(parseThreshold('error_rate<=0.05')).toMatchObject({ metric: 'error_rate', op: '<=', limit: 0.05 });
    expect(parseThreshold('throughput>2000/s')).toMatchObject({ metric: 'throughput', op: '>', limit: 2000 });
    expect(parseThreshold('throughput>=60000/m')).toMatchObject({ limit: 1000 });
  });

  it.each([
    ['p(99)<50', 'p99<50ms'],
    ['p(99.9)<=100', 'p99.9<=100ms'],
    ['p( 95 ) < 0.2s', 'p95<200ms'],
    ['avg<5', 'mean<5ms'],
    ['med<10', 'p50<10ms'],
    ['min>1', 'min>1ms'],
    ['max<200', 'max<200ms'],
    ['rate<0.01', 'error_rate<1%'],
  ])("reads k6's %j as %j", (k6, ours) => {
    const { expression: a, ...fromK6 } = parseThreshold(k6);
    const { expression: b, ...fromOurs } = parseThreshold(ours);
    expect([a, b]).toEqual([k6, ours]);
    expect(fromK6).toEqual(fromOurs);
    const inputs = { percentile: (p: number) => (p >= 99 ? 60 : 8), meanMs: 4, maxMs: 150, minMs: 2, errorRate: 0.02, throughput: 100 };
    expect(evaluateThresholds([parseThreshold(k6)], inputs)[0]?.passed).toBe(evaluateThresholds([parseThreshold(ours)], inputs)[0]?.passed);
  });

  it.each([
    ['p99<<50ms', 'expected <metric><op><value>'],
    ['p99 50ms', 'expected <metric><op><value>'],
    ['latency<50ms', "unknown metric 'latency'"],
    ['p99<50parsecs', "unknown latency unit 'parsecs'"],
    ['error_rate<150%', 'cannot exceed 100%'],
    ['error_rate<1ms', "unknown error_rate unit 'ms'"],
    ['throughput>5/fortnight', "unknown throughput unit '/fortnight'"],
    ['p101<5ms', 'percentile'],
    ['p(101)<5', 'percentile'],
    ['q(99)<5', "unknown metric 'q(99)'"],
    ['', 'expected <metric><op><value>'],
  ])('rejects %j with an error naming the expression', (expr, why) => {
    let caught: unknown;
    try {
      parseThreshold(expr);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((caught as Error).message).toContain(`'${expr}'`);
    expect((caught as Error).message).toContain(why);
  });
});

describe('evaluateThresholds', () => {
  const inputs = { percentile: (p: number) => (p >= 99 ? 40 : 10), meanMs: 12, maxMs: 80, minMs: 1, errorRate: 0.002, throughput: 1500 };

  it('gives each threshold its measured value and verdict', () => {
    const v = evaluateThresholds(['p99<50ms', 'p50<5ms', 'error_rate<0.1%', 'throughput>1000/s', 'max<=80ms'].map(parseThreshold), inputs);
    expect(v.map((t) => [t.expression, t.actual, t.passed])).toEqual([
      ['p99<50ms', 40, true],
      ['p50<5ms', 10, false],
      ['error_rate<0.1%', 0.002, false],
      ['throughput>1000/s', 1500, true],
      ['max<=80ms', 80, true],
    ]);
  });

  it('fails a latency threshold when nothing was measured', () => {
    const [v] = evaluateThresholds([parseThreshold('p99<50ms')], { ...inputs, percentile: () => Number.NaN });
    expect(v?.passed).toBe(false);
  });
});
