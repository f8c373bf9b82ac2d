/**
 * Arrival schedules of the open model: a piecewise-linear arrival rate turned into
 * the intended send time of every request. Both functions are pure and self-contained
 * (no imports, no outer references) because the generator worker embeds their source.
 */

/** One stretch of an open-model profile: the rate moves linearly from `from` to `to` req/s. */
export interface RateSegment {
  durationMs: number;
  from: number;
  to: number;
}

/** Number of arrivals a profile schedules in `[0, untilMs)`. */
export function arrivalsBefore(segments: RateSegment[], untilMs: number): number {
  let t = 0;
  let count = 0;
  for (const s of segments) {
    if (untilMs <= t) break;
    const span = Math.min(untilMs - t, s.durationMs);
    // Integral of a linear rate over the covered part of the segment (rates are per second).
    const slope = s.durationMs > 0 ? (s.to - s.from) / s.durationMs : 0;
    count += (s.from * span + (slope * span * span) / 2) / 1000;
    t += s.durationMs;
  }
  return Math.floor(count + 1e-9);
}

/**
 * Returns a function giving the intended send offset (ms from the start) of arrival `k`
 * (0-based, strictly increasing across calls), or -1 once the profile has ended.
 */
export function createArrivalClock(segments: RateSegment[]): (k: number) => number {
  let index = 0;
  let segStartMs = 0;
  let segStartCount = 0;
  return function arrivalAt(k: number): number {
    for (;;) {
      const s = segments[index];
      if (s === undefined) return -1;
      const slope = s.durationMs > 0 ? (s.to - s.from) / s.durationMs : 0; // req/s per ms
      const segCount = (s.from * s.durationMs + (slope * s.durationMs * s.durationMs) / 2) / 1000;
      const n = k - segStartCount; // arrivals needed inside this segment
      if (n < segCount - 1e-9) {
        // Solve from*t + slope*t^2/2 = 1000*n for t (ms).
        let t: number;
        if (Math.abs(slope) < 1e-12) t = (1000 * n) / s.from;
        else t = (-s.from + Math.sqrt(s.from * s.from + 2 * slope * 1000 * n)) / slope;
        return segStartMs + Math.max(0, Math.min(t, s.durationMs));
      }
      segStartMs += s.durationMs;
      segStartCount += segCount;
      index += 1;
    }
  };
}
