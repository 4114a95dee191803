/**
 * The most frequent items of an unbounded stream in bounded memory: the
 * Space-Saving algorithm (Metwally, Agrawal, El Abbadi, "Efficient
 * Computation of Frequent and Top-k Elements in Data Streams", 2005) with
 * its Stream-Summary structure, so every offer is O(1).
 *
 * At most `capacity` items are tracked. A new item, when full, replaces one
 * with the smallest count and inherits that count plus one, so counts are
 * overestimates by at most `error`; any item seen more than N / capacity
 * times in a stream of N is guaranteed to be tracked. Blocked names are a
 * high-cardinality stream (trackers put random labels in front), which is
 * why an exact Map of counts is not an option.
 */

interface Bucket {
  count: number;
  items: Set<string>;
  /** Towards smaller counts. */
  lower: Bucket | null;
  /** Towards larger counts. */
  higher: Bucket | null;
}

interface Tracked {
  bucket: Bucket;
  error: number;
}

export interface TopItem {
  name: string;
  count: number;
  /** How much of count may come from items this one replaced. */
  error: number;
}

export class SpaceSaving {
  readonly #capacity: number;
  readonly #items = new Map<string, Tracked>();
  /** Smallest count. */
  #min: Bucket | null = null;
  /** Largest count. */
  #max: Bucket | null = null;

  constructor(capacity: number) {
    this.#capacity = Math.max(1, Math.floor(capacity));
  }

  get size(): number {
    return this.#items.size;
  }

  offer(item: string): void {
    const tracked = this.#items.get(item);
    if (tracked !== undefined) {
      this.#increment(item, tracked);
      return;
    }
    if (this.#items.size < this.#capacity) {
      // A newcomer counts 1: it joins (or starts) the bottom bucket.
      let bottom = this.#min;
      if (bottom === null || bottom.count !== 1) bottom = this.#insertAbove(null, 1);
      bottom.items.add(item);
      this.#items.set(item, { bucket: bottom, error: 0 });
      return;
    }
    // Full: take over an item with the smallest count.
    const bottom = this.#min as Bucket;
    const victim = bottom.items.values().next().value as string;
    bottom.items.delete(victim);
    this.#items.delete(victim);
    bottom.items.add(item);
    const entry = { bucket: bottom, error: bottom.count };
    this.#items.set(item, entry);
    this.#increment(item, entry);
  }

  /** The n most frequent, largest count first (ties by name, for stable output). */
  top(n: number): TopItem[] {
    const out: TopItem[] = [];
    for (let bucket = this.#max; bucket !== null && out.length < n; bucket = bucket.lower) {
      const names = [...bucket.items].sort();
      for (const name of names) {
        if (out.length >= n) break;
        out.push({ name, count: bucket.count, error: this.#items.get(name)?.error ?? 0 });
      }
    }
    return out;
  }

  #increment(item: string, tracked: Tracked): void {
    const from = tracked.bucket;
    const count = from.count + 1;
    let to = from.higher;
    if (to === null || to.count !== count) to = this.#insertAbove(from, count);
    from.items.delete(item);
    to.items.add(item);
    tracked.bucket = to;
    if (from.items.size === 0) this.#unlink(from);
  }

  /** A new empty bucket just above `below` (or at the bottom when null). */
  #insertAbove(below: Bucket | null, count: number): Bucket {
    const higher = below === null ? this.#min : below.higher;
    const bucket: Bucket = { count, items: new Set(), lower: below, higher };
    if (below === null) this.#min = bucket;
    else below.higher = bucket;
    if (higher === null) this.#max = bucket;
    else higher.lower = bucket;
    return bucket;
  }

  #unlink(bucket: Bucket): void {
    if (bucket.lower === null) this.#min = bucket.higher;
    else bucket.lower.higher = bucket.higher;
    if (bucket.higher === null) this.#max = bucket.lower;
    else bucket.higher.lower = bucket.lower;
  }
}
