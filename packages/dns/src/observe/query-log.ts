import { formatAddress, maskBytes, parseAddress } from '../limits/address.ts';
import type { DnsCategory, QueryEvent } from '../types.ts';

/**
 * The query log: what a query leaves behind, decided by the client's policy
 * (off, anonymised, full), and a buffer that hands entries to storage in
 * batches without ever slowing or failing the resolver.
 */

export interface QueryLogEntry {
  /** ISO 8601. */
  at: string;
  /** The client's address (full) or its network, /24 or /48 (anonymised). */
  client: string;
  clientId: string | null;
  groupId: string | null;
  orgId: string | null;
  protocol: QueryEvent['protocol'];
  name: string;
  type: string;
  rcode: string;
  outcome: QueryEvent['outcome'];
  category: DnsCategory | null;
  rule: string | null;
  upstream: string | null;
  durationMs: number;
}

/**
 * The client's network rather than the client: IPv4 to its /24
 * (`192.0.2.0`), IPv6 to its /48 (`2001:db8:1::`), the usual granularity
 * for privacy-preserving logs (what remains identifies a site or an ISP
 * range, not a person). IPv4-mapped IPv6 is treated as IPv4. An address
 * that does not parse gives '' rather than leaking it unchanged.
 */
export function anonymiseAddress(address: string): string {
  const bytes = parseAddress(address);
  if (bytes === null) return '';
  return formatAddress(maskBytes(bytes, bytes.length === 4 ? 24 : 48));
}

/** The log entry for an event under its log mode: null when the mode is off. */
export function toLogEntry(event: QueryEvent): QueryLogEntry | null {
  if (event.logMode === 'off') return null;
  const full = event.logMode === 'full';
  return {
    at: new Date(event.at).toISOString(),
    client: full ? event.clientAddress : anonymiseAddress(event.clientAddress),
    // A registered device's id names a person's device as surely as an address does.
    clientId: full ? event.clientId : null,
    groupId: event.groupId,
    orgId: event.orgId,
    protocol: event.protocol,
    name: event.name,
    type: event.type,
    rcode: event.rcode,
    outcome: event.outcome,
    category: event.category,
    rule: event.rule,
    upstream: event.upstream,
    durationMs: event.durationMs,
  };
}

export interface QueryLogBufferOptions {
  /** Stores a batch. Called once at a time, in order; a rejection loses that batch. */
  flush: (entries: QueryLogEntry[]) => Promise<void>;
  /** Longest an entry waits before a flush starts, ms. Default 1000. */
  intervalMs?: number;
  /** Entries per flush; reaching it flushes at once. Default 500. */
  maxBatch?: number;
  /** Entries held while the sink is slow or down; the oldest go first beyond it. Default 50 000. */
  maxPending?: number;
  /** Told about sink failures (which never reach the resolver). */
  onError?: (error: unknown) => void;
}

export class QueryLogBuffer {
  readonly #sink: (entries: QueryLogEntry[]) => Promise<void>;
  readonly #intervalMs: number;
  readonly #maxBatch: number;
  readonly #maxPending: number;
  readonly #onError: (error: unknown) => void;
  /** A queue: live entries are #pending[#head..]; compacted as the head advances. */
  #pending: (QueryLogEntry | undefined)[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<void> | null = null;
  #closed = false;
  #dropped = 0;
  #failed = 0;

  constructor(opts: QueryLogBufferOptions) {
    this.#sink = opts.flush;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#maxBatch = Math.max(1, opts.maxBatch ?? 500);
    this.#maxPending = Math.max(1, opts.maxPending ?? 50_000);
    this.#onError = opts.onError ?? (() => {});
  }

  /** Queues an entry; never throws, never waits. Entries pushed after close() are dropped. */
  push(entry: QueryLogEntry): void {
    if (this.#closed) {
      this.#dropped += 1;
      return;
    }
    this.#pending.push(entry);
    if (this.pending > this.#maxPending) {
      this.#pending[this.#head] = undefined;
      this.#head += 1;
      this.#dropped += 1;
      this.#compact();
    }
    if (this.pending >= this.#maxBatch) this.#drain();
    else if (this.#timer === null && this.#running === null) this.#arm();
  }

  get pending(): number {
    return this.#pending.length - this.#head;
  }

  /** Entries discarded because the buffer was full (or closed). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Entries in batches the sink rejected. */
  get failed(): number {
    return this.#failed;
  }

  /** Stops the timer and flushes everything still pending. Never rejects. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#drain();
    while (this.#running !== null) await this.#running;
  }

  /** Starts a flush loop unless one is running; it empties the queue batch by batch. */
  #drain(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#running !== null || this.pending === 0) return;
    this.#running = this.#loop().finally(() => {
      this.#running = null;
      // A full batch (or closing) goes on at once; a partial one waits at most one interval.
      if (this.pending >= this.#maxBatch || this.#closed) this.#drain();
      else if (this.pending > 0) this.#arm();
    });
  }

  #arm(): void {
    this.#timer = setTimeout(() => this.#drain(), this.#intervalMs);
    // A pending flush must not keep the process alive; close() flushes on shutdown.
    this.#timer.unref();
  }

  async #loop(): Promise<void> {
    // Keep going while full batches are waiting (or anything, once closing).
    do {
      const batch = this.#take();
      try {
        await this.#sink(batch);
      } catch (error) {
        this.#failed += batch.length;
        try {
          this.#onError(error);
        } catch {
          // A failing error reporter must not take the log (or the resolver) down.
        }
      }
    } while (this.pending >= this.#maxBatch || (this.#closed && this.pending > 0));
  }

  #take(): QueryLogEntry[] {
    const end = Math.min(this.#pending.length, this.#head + this.#maxBatch);
    const batch = this.#pending.slice(this.#head, end) as QueryLogEntry[];
    this.#head = end;
    this.#compact();
    return batch;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
  }
}
