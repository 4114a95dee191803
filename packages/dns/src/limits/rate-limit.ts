import { LruMap } from '../cache/lru.ts';
import { inNetwork, ipv4ToNumber, parseAddress, parseCidr } from './address.ts';

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
  readonly #ipv4Mask: number;
  readonly #ipv6Prefix: number;
  readonly #maxTracked: number;
  readonly #slip: number;
  readonly #now: () => number;
  readonly #enabled: boolean;
  /** IPv4 networks are keyed by number, IPv6 ones by `6:<word>:<word>…` strings. */
  readonly #buckets = new LruMap<number | string, Bucket>();
  #exempt4: { network: number; mask: number }[] = [];
  #exempt6: { bytes: Uint8Array; prefix: number }[] = [];

  /** `now` is a monotonic clock in milliseconds (performance.now by default). */
  constructor(opts: RateLimitOptions = {}, now: () => number = () => performance.now()) {
    const rate = opts.queriesPerSecond ?? 200;
    this.#enabled = rate > 0 && Number.isFinite(rate);
    this.#ratePerMs = rate / 1000;
    this.#burst = Math.max(1, opts.burst ?? 2 * rate);
    this.#ipv4Mask = maskOf(clampPrefix(opts.ipv4Prefix ?? 32, 32));
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
    const key = this.#networkKey(address);
    if (key === null) return 'allow';

    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      // Forgetting the least recently seen network costs little: an idle
      // bucket has refilled anyway, and an active abuser is never the oldest.
      if (this.#buckets.size >= this.#maxTracked) this.#buckets.shift();
      bucket = { tokens: this.#burst, at: now, refused: 0 };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#ratePerMs);
      bucket.at = now;
    }

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
    this.#exempt4 = parsed
      .filter((n) => n.bytes.length === 4)
      .map((n) => ({ network: bytesToNumber(n.bytes), mask: maskOf(n.prefix) }));
    this.#exempt6 = parsed.filter((n) => n.bytes.length === 16);
  }

  /** Networks currently tracked. */
  get tracked(): number {
    return this.#buckets.size;
  }

  /**
   * The bucket key of the client's network, or null when exempt. IPv4 (also
   * in its usual IPv4-mapped form) is parsed without allocating: this runs
   * for every query, including every packet of a flood.
   */
  #networkKey(address: string): number | string | null {
    let v4 = ipv4ToNumber(address);
    if (v4 < 0 && address.startsWith('::ffff:')) v4 = ipv4ToNumber(address, 7);
    let bytes: Uint8Array | null = null;
    if (v4 < 0) {
      bytes = parseAddress(address);
      // Not an address at all (cannot come from a socket): limit it by its text.
      if (bytes === null) return `?${address}`;
      if (bytes.length === 4) v4 = bytesToNumber(bytes);
    }
    if (v4 >= 0) {
      for (const { network, mask } of this.#exempt4) if ((v4 & mask) >>> 0 === network) return null;
      return (v4 & this.#ipv4Mask) >>> 0;
    }
    const v6 = bytes as Uint8Array;
    for (const network of this.#exempt6) if (inNetwork(v6, network)) return null;
    // The covered 32-bit words as decimal numbers: measured several times
    // cheaper to build than hex or a string of char codes. The bytes are
    // ours (parseAddress made them), so they are masked in place.
    const prefix = this.#ipv6Prefix;
    const words = Math.ceil(prefix / 32);
    for (let i = Math.floor(prefix / 8); i < words * 4; i++) {
      v6[i] = (v6[i] as number) & (0xff00 >> Math.max(0, prefix - i * 8));
    }
    let key = '6';
    for (let w = 0; w < words; w++) key += `:${bytesToNumber(v6, w * 4)}`;
    return key;
  }
}

function bytesToNumber(bytes: Uint8Array, at = 0): number {
  return (
    (bytes[at] as number) * 0x1000000 +
    (((bytes[at + 1] as number) << 16) |
      ((bytes[at + 2] as number) << 8) |
      (bytes[at + 3] as number))
  );
}

/** The IPv4 netmask of a prefix length, as an unsigned number (`<< 32` is `<< 0` in JS). */
function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

function clampPrefix(prefix: number, bits: number): number {
  return Math.min(bits, Math.max(0, Math.floor(prefix)));
}
