/**
 * Frequent items by the Misra–Gries summary: at most `capacity` counters; exact while
 * the column has no more distinct values than that; otherwise every reported count
 * undercounts by at most n / (capacity + 1). Mergeable (Agarwal et al. 2012).
 * Written here because no installed package implements it.
 */

/** Counters kept per column. @default 1024 */
export const DEFAULT_FREQUENT_ITEMS = 1024;

/** A mergeable frequent-items summary. */
export class FrequentItems {
  readonly counts: Map<string, number>;
  /** True once a counter was decremented away (counts are then lower bounds). */
  approximate: boolean;

  constructor(readonly capacity = DEFAULT_FREQUENT_ITEMS, counts?: Map<string, number>, approximate = false) {
    this.counts = counts ?? new Map();
    this.approximate = approximate;
  }

  /** Counts one occurrence of `item`. */
  add(item: string, weight = 1): void {
    const c = this.counts.get(item);
    if (c !== undefined) this.counts.set(item, c + weight);
    else this.counts.set(item, weight);
    if (this.counts.size > this.capacity) this.shrink();
  }

  /** Folds `other` into this summary. */
  merge(other: FrequentItems): void {
    for (const [k, v] of other.counts) this.counts.set(k, (this.counts.get(k) ?? 0) + v);
    this.approximate ||= other.approximate;
    if (this.counts.size > this.capacity) this.shrink();
  }

  private shrink(): void {
    // Subtract the (capacity+1)-th largest count from every counter and drop the non-positive ones.
    const sorted = [...this.counts.values()].sort((a, b) => b - a);
    const cut = sorted[this.capacity] as number;
    for (const [k, v] of this.counts) {
      if (v - cut <= 0) this.counts.delete(k);
      else this.counts.set(k, v - cut);
    }
    this.approximate = true;
  }

  /** The `k` most frequent items, most frequent first. */
  top(k: number): Array<{ value: string; count: number }> {
    return [...this.counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, k).map(([value, count]) => ({ value, count }));
  }
}
