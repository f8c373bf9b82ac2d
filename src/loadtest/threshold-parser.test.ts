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
    ['p99<<50ms', 'expected <metric><op><value>'],
    ['p99 50ms', 'expected <metric><op><value>'],
    ['latency<50ms', "unknown metric 'latency'"],
    ['p99<50parsecs', "unknown latency unit 'parsecs'"],
    ['error_rate<150%', 'cannot exceed 100%'],
    ['error_rate<1ms', "unknown error_rate unit 'ms'"],
    ['throughput>5/fortnight', "unknown throughput unit '/fortnight'"],
    ['p101<5ms', 'percentile'],
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
