import { describe, expect, it } from 'vitest';
import { FailureLimiter } from './failure-limiter.js';

describe('the failed sign-in limiter', () => {
  it('counts a failure that is told late (by another worker) in its place in time', () => {
    const limiter = new FailureLimiter({ maxFailures: 2, windowMs: 10_000 });
    limiter.record('client:a', 1000);
    limiter.record('client:a', 3000);
    // Failed at 2000 in another process, heard of here after the one at 3000.
    limiter.record('client:a', 2000);
    // The two newest failures are at 2000 and 3000: the client may try again once the one at 2000 leaves the window.
    expect(limiter.retryAfterSeconds('client:a', 3000)).toBe(9);
    expect(limiter.retryAfterSeconds('client:a', 12_001)).toBe(0);
  });
});
