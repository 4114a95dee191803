/**
 * Failed-attempt back-off per source: after `free` failures each further
 * failure doubles the wait, capped. Bounds guessing of a passphrase over the
 * network on top of Argon2id's cost, without locking out other sources.
 */
export class FailureBackoff {
  readonly #failures = new Map<string, { count: number; until: number }>();
  readonly #free: number;
  readonly #baseMs: number;
  readonly #capMs: number;
  readonly #now: () => number;
  readonly #maxSources: number;

  constructor(opts: { free?: number; baseMs?: number; capMs?: number; now?: () => number } = {}) {
    this.#free = opts.free ?? 5;
    this.#baseMs = opts.baseMs ?? 1000;
    this.#capMs = opts.capMs ?? 5 * 60_000;
    this.#now = opts.now ?? Date.now;
    this.#maxSources = 10_000;
  }

  /** Milliseconds this source must still wait; 0 when it may try. */
  waitFor(source: string): number {
    const entry = this.#failures.get(source);
    if (!entry) return 0;
    return Math.max(0, entry.until - this.#now());
  }

  recordFailure(source: string): void {
    const entry = this.#failures.get(source) ?? { count: 0, until: 0 };
    entry.count += 1;
    const over = entry.count - this.#free;
    entry.until =
      over > 0 ? this.#now() + Math.min(this.#capMs, this.#baseMs * 2 ** (over - 1)) : 0;
    if (!this.#failures.has(source) && this.#failures.size >= this.#maxSources) {
      // Bounded memory: forget the oldest source rather than grow without limit.
      const oldest = this.#failures.keys().next().value;
      if (oldest !== undefined) this.#failures.delete(oldest);
    }
    this.#failures.set(source, entry);
  }

  /** After a success from this source; other sources keep their count. */
  forget(source: string): void {
    this.#failures.delete(source);
  }

  reset(): void {
    this.#failures.clear();
  }
}
