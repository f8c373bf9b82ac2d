/**
 * Counts failed sign-ins per key (a client address, a username) in a sliding window and says
 * when a key has failed too often. In memory: a restart forgets, which only gives an attacker
 * one more window.
 */

/** The limiter's settings. */
export interface FailureLimit {
  /** Failures a key may have within the window before it is refused. @default 10 */
  maxFailures: number;
  /** The window, in ms. @default 60000 */
  windowMs: number;
}

/** Sliding-window failure counter. */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  /** @param limit how many failures per window. */
  constructor(private readonly limit: FailureLimit) {}

  /** Seconds until `key` may try again, or 0 when it may try now. */
  retryAfterSeconds(key: string, now: number): number {
    const times = this.recent(key, now);
    if (times.length < this.limit.maxFailures) return 0;
    const oldest = times[times.length - this.limit.maxFailures]!;
    return Math.max(1, Math.ceil((oldest + this.limit.windowMs - now) / 1000));
  }

  /** Records one failure of `key` at `now` (another process's failure may come in a little late); true when it reached the limit. */
  record(key: string, now: number): boolean {
    const times = this.recent(key, now);
    // Kept in time order: the limit is counted from the oldest failures in the window.
    let at = times.length;
    while (at > 0 && (times[at - 1] as number) > now) at--;
    times.splice(at, 0, now);
    // Older failures than the limit cannot matter any more.
    if (times.length > this.limit.maxFailures) times.splice(0, times.length - this.limit.maxFailures);
    this.failures.set(key, times);
    if (this.failures.size > 100_000) this.sweep(now);
    return times.length === this.limit.maxFailures;
  }

  private recent(key: string, now: number): number[] {
    const times = this.failures.get(key);
    if (!times) return [];
    const fresh = times.filter((t) => t > now - this.limit.windowMs);
    if (fresh.length === 0) this.failures.delete(key);
    return fresh;
  }

  // Many distinct keys (a scan from many addresses) must not grow the map without bound.
  private sweep(now: number): void {
    for (const key of [...this.failures.keys()]) this.recent(key, now);
  }
}
