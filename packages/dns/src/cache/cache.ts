import { LruMap } from './lru.ts';
import {
  HEADER_LENGTH,
  readQuestion,
  readRecords,
  soaMinimum,
  TYPE_OPT,
  TYPE_SOA,
  writeU32,
} from './wire.ts';

/**
 * The resolver's response cache. It keeps upstream answers in wire format
 * with the offsets of their TTL fields, so a hit costs one buffer copy and a
 * few 4-byte writes instead of a decode and an encode. Lifetimes follow RFC
 * 1035 (the smallest answer TTL), RFC 2308 (negative answers live for the
 * SOA's negative TTL) and RFC 8767 (expired answers may be served, briefly,
 * while upstreams are unreachable).
 */

export interface CacheOptions {
  /** Entries kept; the least recently used go first. Default 100 000. */
  maxEntries?: number;
  /**
   * Bytes kept (wire size plus bookkeeping), so a cache of large answers
   * (DNSSEC, long TXT) cannot grow to maxEntries × 64 KiB. Default 128 MiB.
   */
  maxBytes?: number;
  /** Floor on an entry's lifetime, seconds. Default 0. */
  minTtl?: number;
  /** Ceiling on a positive entry's lifetime and on the TTLs handed out, seconds. Default 86 400. */
  maxTtl?: number;
  /** Ceiling on a negative entry's lifetime (RFC 2308 §5 suggests 1–3 hours). Default 3 600. */
  negativeMaxTtl?: number;
  /** Seconds after expiry an entry may still be served when upstreams fail (RFC 8767). Default 86 400. */
  staleWindow?: number;
  /** TTL written on stale answers (RFC 8767 §4 recommends 30). Default 30. */
  staleTtl?: number;
}

export interface CacheGetOptions {
  /** The client's message id, written into the copy. */
  id: number;
  /** Serve an expired entry (within the stale window) when nothing fresh can be had. */
  allowStale: boolean;
  /**
   * The client's question bytes (header excluded): written over the cached
   * question so the answer echoes the client's letter case (0x20 encoding).
   * Ignored unless exactly as long as the cached question.
   */
  question?: Uint8Array;
  /**
   * Remove the upstream's OPT record: a client that sent no OPT must get none
   * back (RFC 6891 §7). Default false (the OPT is returned untouched).
   */
  stripOpt?: boolean;
}

export interface CacheHit {
  response: Uint8Array;
  stale: boolean;
  /** Milliseconds until the entry expires; negative once it has (stale answers). */
  expiresInMs: number;
  /** The entry's whole lifetime, ms; with expiresInMs, enough to decide on a prefetch. */
  lifetimeMs: number;
}

interface Entry {
  /** The response as the upstream sent it (our own copy). */
  wire: Uint8Array;
  questionLength: number;
  ttlOffsets: number[];
  /** Each record's TTL when stored, already capped; counted down on the way out. */
  ttls: number[];
  storedAt: number;
  expiresAt: number;
  optStart: number;
  optEnd: number;
  bytes: number;
}

/** Rough per-entry overhead beyond the wire bytes: the objects, typed arrays and Map slot. */
const ENTRY_OVERHEAD = 200;

export class ResponseCache {
  readonly #entries = new LruMap<string, Entry>();
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #minTtl: number;
  readonly #maxTtl: number;
  readonly #negativeMaxTtl: number;
  readonly #staleWindowMs: number;
  readonly #staleTtl: number;
  #bytes = 0;

  constructor(opts: CacheOptions = {}) {
    this.#maxEntries = opts.maxEntries ?? 100_000;
    this.#maxBytes = opts.maxBytes ?? 128 * 1024 * 1024;
    this.#minTtl = opts.minTtl ?? 0;
    this.#maxTtl = opts.maxTtl ?? 86_400;
    this.#negativeMaxTtl = opts.negativeMaxTtl ?? 3_600;
    this.#staleWindowMs = (opts.staleWindow ?? 86_400) * 1000;
    this.#staleTtl = opts.staleTtl ?? 30;
  }

  /**
   * The key for a question. The DO bit is part of it because a DO=1 answer
   * carries RRSIGs a DO=0 client did not ask for. The name comes last, so
   * parseKey can split the key whatever characters the name holds.
   */
  static key(name: string, type: number, klass: number, dnssecOk: boolean): string {
    return `${type}:${klass}:${dnssecOk ? 1 : 0}:${name}`;
  }

  static parseKey(
    key: string,
  ): { name: string; type: number; klass: number; dnssecOk: boolean } | null {
    const match = /^(\d+):(\d+):([01]):/.exec(key);
    if (match === null) return null;
    return {
      name: key.slice(match[0].length),
      type: Number(match[1]),
      klass: Number(match[2]),
      dnssecOk: match[3] === '1',
    };
  }

  /**
   * Caches a response (wire, as the upstream sent it). Positive answers live
   * for the smallest answer TTL (capped at maxTtl); NXDOMAIN and NODATA for
   * min(SOA TTL, SOA MINIMUM) from the authority section (RFC 2308 §5, capped
   * at negativeMaxTtl), and a CNAME chain ending in NXDOMAIN/NODATA for the
   * smaller of both. Not cached: SERVFAIL, FORMERR, REFUSED and every other
   * RCODE (also extended ones in the OPT), truncated answers, negative
   * answers without an SOA (RFC 2308 §5: no negative TTL to go by), non-QUERY
   * opcodes, lifetimes of 0 and malformed messages. Returns whether it was cached.
   */
  set(key: string, response: Uint8Array, nowMs: number): boolean {
    if (response.length > 0xffff) return false;
    const question = readQuestion(response);
    if (question === null) return false;
    const { flags } = question;
    const isResponse = (flags & 0x8000) !== 0;
    const opcode = (flags >> 11) & 0xf;
    const truncated = (flags & 0x0200) !== 0;
    const rcode = flags & 0xf;
    if (!isResponse || opcode !== 0 || truncated || (rcode !== 0 && rcode !== 3)) return false;
    const records = readRecords(response);
    if (records === null) return false;

    let answerMin = Number.POSITIVE_INFINITY;
    let negativeTtl: number | null = null;
    let optStart = -1;
    let optEnd = -1;
    for (const record of records) {
      if (record.type === TYPE_OPT) {
        // One OPT, in the additional section, with no extended RCODE bits (RFC 6891 §6.1.1).
        if (record.section !== 'additional' || optStart >= 0) return false;
        if (response[record.ttlOffset] !== 0) return false;
        optStart = record.start;
        optEnd = record.end;
      } else if (record.section === 'answer') {
        answerMin = Math.min(answerMin, record.ttl);
      } else if (
        record.section === 'authority' &&
        record.type === TYPE_SOA &&
        negativeTtl === null
      ) {
        const minimum = soaMinimum(response, record);
        if (minimum === null) return false;
        negativeTtl = Math.min(record.ttl, minimum);
      }
    }
    const negative = rcode === 3 || question.ancount === 0;
    if (negative && negativeTtl === null) return false;
    let seconds = Math.min(answerMin, this.#maxTtl);
    if (negativeTtl !== null) seconds = Math.min(seconds, negativeTtl, this.#negativeMaxTtl);
    seconds = Math.max(seconds, this.#minTtl);
    if (!(seconds > 0)) return false;

    // TTLs handed out never promise more than we keep: a negative answer's
    // records (its SOA) say the negative TTL (RFC 2308 §3), others maxTtl.
    const ceiling = negative ? seconds : this.#maxTtl;
    // Plain arrays: small typed arrays are cheap to read but each costs an
    // off-heap allocation, and a record count is small.
    const ttlOffsets: number[] = [];
    const ttls: number[] = [];
    for (const record of records) {
      if (record.type === TYPE_OPT) continue;
      ttlOffsets.push(record.ttlOffset);
      ttls.push(Math.min(record.ttl, ceiling));
    }

    this.delete(key);
    const entry: Entry = {
      wire: response.slice(),
      questionLength: question.questionEnd - HEADER_LENGTH,
      ttlOffsets,
      ttls,
      storedAt: nowMs,
      expiresAt: nowMs + seconds * 1000,
      optStart,
      optEnd,
      bytes: response.length + ttls.length * 16 + key.length * 2 + ENTRY_OVERHEAD,
    };
    if (entry.bytes > this.#maxBytes) return false;
    this.#entries.set(key, entry);
    this.#bytes += entry.bytes;
    this.#evict();
    return true;
  }

  /**
   * A fresh hit, each TTL counted down by the time it spent here (never
   * below 0), with the caller's id; or, when allowStale and within the stale
   * window, the expired answer with every TTL set to staleTtl (stale: true).
   * The response is always a new copy: a Buffer from Node's pool for small
   * buffers (a fresh ArrayBuffer per hit costs more than the rest of the
   * hit), so use it with its byteOffset, never `.buffer` alone. Entries
   * past the stale window are dropped here; expired ones within it stay for
   * a later stale lookup.
   */
  get(key: string, nowMs: number, opts: CacheGetOptions): CacheHit | undefined {
    const entry = this.#entries.peek(key);
    if (entry === undefined) return undefined;
    const expiresInMs = entry.expiresAt - nowMs;
    const stale = expiresInMs <= 0;
    if (stale) {
      if (-expiresInMs > this.#staleWindowMs) {
        this.delete(key);
        return undefined;
      }
      if (!opts.allowStale) return undefined;
    }
    this.#entries.get(key); // counts as a use for the LRU order

    const { wire } = entry;
    const strip = opts.stripOpt === true && entry.optStart >= 0;
    const removed = strip ? entry.optEnd - entry.optStart : 0;
    let out: Uint8Array;
    if (strip) {
      out = Buffer.allocUnsafe(wire.length - removed);
      out.set(wire.subarray(0, entry.optStart));
      out.set(wire.subarray(entry.optEnd), entry.optStart);
      const arcount = (((wire[10] as number) << 8) | (wire[11] as number)) - 1;
      out[10] = arcount >> 8;
      out[11] = arcount & 0xff;
    } else {
      out = Buffer.allocUnsafe(wire.length);
      out.set(wire);
    }
    out[0] = (opts.id >> 8) & 0xff;
    out[1] = opts.id & 0xff;
    if (opts.question !== undefined && opts.question.length === entry.questionLength) {
      out.set(opts.question, HEADER_LENGTH);
    }

    const elapsed = Math.floor((nowMs - entry.storedAt) / 1000);
    const { ttlOffsets, ttls } = entry;
    for (let i = 0; i < ttlOffsets.length; i++) {
      let offset = ttlOffsets[i] as number;
      if (strip && offset > entry.optStart) offset -= removed;
      const ttl = stale ? this.#staleTtl : Math.max(0, (ttls[i] as number) - elapsed);
      writeU32(out, offset, ttl);
    }
    return { response: out, stale, expiresInMs, lifetimeMs: entry.expiresAt - entry.storedAt };
  }

  /**
   * Keys worth refreshing ahead of demand: expired (but still within the
   * stale window) or expiring within `withinMs`. A walk over the whole cache,
   * meant for a periodic job, not the query path.
   */
  refreshCandidates(nowMs: number, withinMs: number, limit = Number.POSITIVE_INFINITY): string[] {
    const keys: string[] = [];
    for (const [key, entry] of this.#entries.entries()) {
      if (keys.length >= limit) break;
      const left = entry.expiresAt - nowMs;
      if (left <= withinMs && -left <= this.#staleWindowMs) keys.push(key);
    }
    return keys;
  }

  delete(key: string): void {
    const entry = this.#entries.delete(key);
    if (entry !== undefined) this.#bytes -= entry.bytes;
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Bytes accounted (wire plus an estimate of bookkeeping). */
  get bytes(): number {
    return this.#bytes;
  }

  #evict(): void {
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#entries.shift();
      if (oldest === undefined) return;
      this.#bytes -= oldest[1].bytes;
    }
  }
}
