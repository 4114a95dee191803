import { inNetwork, maskBytes, parseAddress, parseCidr } from './address.ts';

/**
 * Per-client response rate limiting. Its first job is to keep the resolver
 * from being used as a reflector: a spoofed-source UDP flood otherwise turns
 * into a flood of (larger) answers at the victim. Its second is to stop one
 * misbehaving client from starving the others of upstream capacity.
 */

export interface RateLimitOptions {
  /** Sustained queries per second per client network. Default 200; 0 or Infinity turns limiting off. */
  queriesPerSecond?: number;
  /** Bucket size: how many queries may arrive at once after a quiet spell. Default 2 × the rate. */
  burst?: number;
  /**
   * IPv4 network a bucket covers. Default 32: behind one public IPv4 address
   * there is usually a whole office NAT already, so grouping a /24 (as BIND's
   * RRL does for an authoritative server) would make neighbours who share an
   * ISP range throttle each other.
   */
  ipv4Prefix?: number;
  /**
   * IPv6 network a bucket covers. Default 56: a single host can pick any of
   * the 2^64 addresses in its /64, and a home or small-office site is usually
   * delegated a /56 (RIPE-690), so anything longer than /56 is free for one
   * client to rotate through; /48 would lump whole organisations together.
   */
  ipv6Prefix?: number;
  /** Networks tracked at once; the least recently seen are forgotten. Default 100 000. */
  maxTracked?: number;
  /**
   * Over the limit, every slip-th refused UDP query is answered with an
   * empty TC=1 response instead of nothing, so a real client caught in a
   * spoofed flood still gets through by retrying over TCP, while the victim
   * of a reflection gets no more bytes than the attacker sent (BIND RRL's
   * `slip`). Default 2; 0 never slips.
   */
  slip?: number;
}

export type Transport = 'udp' | 'tcp' | 'dot' | 'doh';
export type RateLimitAction = 'allow' | 'slip' | 'drop';

interface Bucket {
  tokens: number;
  /** Clock reading (ms) of the last refill. */
  at: number;
  /** Queries refused since the bucket was created; drives the slip rhythm. */
  refused: number;
}

export class ClientRateLimiter {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #ipv4Prefix: number;
  readonly #ipv6Prefix: number;
  readonly #maxTracked: number;
  readonly #slip: number;
  readonly #now: () => number;
  readonly #enabled: boolean;
  /** Insertion order is recency order: a check moves its bucket to the end. */
  readonly #buckets = new Map<string, Bucket>();
  #exempt: { bytes: Uint8Array; prefix: number }[] = [];

  /** `now` is a monotonic clock in milliseconds (performance.now by default). */
  constructor(opts: RateLimitOptions = {}, now: () => number = () => performance.now()) {
    const rate = opts.queriesPerSecond ?? 200;
    this.#enabled = rate > 0 && Number.isFinite(rate);
    this.#ratePerMs = rate / 1000;
    this.#burst = Math.max(1, opts.burst ?? 2 * rate);
    this.#ipv4Prefix = clampPrefix(opts.ipv4Prefix ?? 32, 32);
    this.#ipv6Prefix = clampPrefix(opts.ipv6Prefix ?? 56, 128);
    this.#maxTracked = Math.max(1, opts.maxTracked ?? 100_000);
    this.#slip = Math.max(0, Math.floor(opts.slip ?? 2));
    this.#now = now;
  }

  /**
   * What to do with one query: 'allow' it; 'slip' (answer empty with TC=1,
   * UDP only); or 'drop' — for UDP no answer at all, for the stream
   * transports (TCP, DoT, DoH) the caller answers REFUSED, since the
   * handshake already proved the source address is real and nothing can be
   * reflected off a connection.
   */
  check(address: string, transport: Transport): RateLimitAction {
    if (!this.#enabled) return 'allow';
    const bytes = parseAddress(address);
    if (bytes !== null && this.#isExempt(bytes)) return 'allow';
    const key = bytes === null ? `?${address}` : this.#networkKey(bytes);

    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now, refused: 0 };
      if (this.#buckets.size >= this.#maxTracked) {
        // Forgetting the least recently seen network costs little: an idle
        // bucket has refilled anyway, and an active abuser stays recent.
        const oldest = this.#buckets.keys().next();
        if (oldest.done !== true) this.#buckets.delete(oldest.value);
      }
    } else {
      this.#buckets.delete(key);
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#ratePerMs);
      bucket.at = now;
    }
    this.#buckets.set(key, bucket);

    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'allow';
    }
    bucket.refused += 1;
    if (transport === 'udp' && this.#slip > 0 && bucket.refused % this.#slip === 0) return 'slip';
    return 'drop';
  }

  /**
   * Networks never limited (a load balancer, the office NAT, monitoring),
   * replacing the previous list. Throws on a CIDR that does not parse, so a
   * typo in configuration is noticed rather than silently exempting nothing.
   */
  exempt(cidrs: string[]): void {
    const parsed = cidrs.map((cidr) => {
      const network = parseCidr(cidr);
      if (network === null) throw new TypeError(`Not a network: ${cidr}`);
      return network;
    });
    this.#exempt = parsed;
  }

  /** Networks currently tracked. */
  get tracked(): number {
    return this.#buckets.size;
  }

  #isExempt(bytes: Uint8Array): boolean {
    for (const network of this.#exempt) if (inNetwork(bytes, network)) return true;
    return false;
  }

  #networkKey(bytes: Uint8Array): string {
    if (bytes.length === 4) {
      const value =
        ((bytes[0] as number) * 0x1000000 +
          (((bytes[1] as number) << 16) | ((bytes[2] as number) << 8) | (bytes[3] as number))) >>>
        0;
      const mask = this.#ipv4Prefix === 0 ? 0 : (0xffffffff << (32 - this.#ipv4Prefix)) >>> 0;
      return `4:${(value & mask) >>> 0}`;
    }
    return `6:${Buffer.from(maskBytes(bytes, this.#ipv6Prefix)).toString('hex')}`;
  }
}

function clampPrefix(prefix: number, bits: number): number {
  return Math.min(bits, Math.max(0, Math.floor(prefix)));
}
