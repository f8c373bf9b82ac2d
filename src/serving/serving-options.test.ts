import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config.js';
import { DEFAULT_SERVING_OPTIONS, resolveServingOptions } from './serving-options.js';

describe('serving options', () => {
  it('defaults suit a small machine and user values override them', () => {
    expect(resolveServingOptions()).toEqual(DEFAULT_SERVING_OPTIONS);
    expect(resolveServingOptions({ maxBatchSize: 8, nonFinite: 'allow' })).toMatchObject({ maxBatchSize: 8, nonFinite: 'allow', intraOpThreads: DEFAULT_SERVING_OPTIONS.intraOpThreads, spinWait: false });
  });

  it('reads SLIPWAY_SERVING_* from the environment through the resolved config', () => {
    const config = resolveConfig({}, { SLIPWAY_SERVING_MAX_BATCH_SIZE: '16', SLIPWAY_SERVING_DEADLINE_MS: '250', SLIPWAY_SERVING_NON_FINITE: 'allow' }, '/nonexistent');
    expect(resolveServingOptions(config.serving)).toMatchObject({ maxBatchSize: 16, deadlineMs: 250, nonFinite: 'allow', concurrency: 1 });
  });

  it('names the bad option', () => {
    expect(() => resolveServingOptions({ nonFinite: 'ignore' })).toThrow(/Serving option 'nonFinite' is invalid/);
    expect(() => resolveServingOptions({ maxBatchSize: 0 })).toThrow(/Serving option 'maxBatchSize' is invalid/);
    expect(() => resolveServingOptions({ spinWait: 'yes' })).toThrow(/Serving option 'spinWait' is invalid/);
    expect(() => resolveServingOptions({ sessions: 2 } as never)).toThrow(/Serving option 'sessions' is invalid/);
  });
});
