/**
 * A set of domain names kept as 64-bit fingerprints in flat typed arrays:
 * a million blocked names cost 16–32 MB and no string at all, where a
 * `Set<string>` holds every name as a heap string plus its table entry
 * (and keeps a big list's text alive through sliced strings). Two names
 * share a fingerprint with probability about 2⁻⁶⁴ per pair — for a
 * million rules, a wrong block somewhere in 10¹³ queries.
 *
 * Fingerprints are computed right to left, so one pass over a query name
 * yields the fingerprint of every suffix (`com`, `example.com`,
 * `ads.example.com`): exactly the names a subtree or wildcard rule may sit
 * on. The hashes are FNV-1a and a multiplicative variant with per-process
 * random offsets; they index a table, they protect nothing.
 */

const seed1 = (Math.random() * 0x1_0000_0000) >>> 0 || 0x811c9dc5;
const seed2 = (Math.random() * 0x1_0000_0000) >>> 0 || 0x9747b28c;

/** Suffixes of one name: fingerprints and where each starts, longest (the whole name) first. */
export interface Suffixes {
  count: number;
  h1: Uint32Array;
  h2: Uint32Array;
  start: Int32Array;
}

/** Up to 128 labels (a name is at most 253 octets). */
export function newSuffixes(): Suffixes {
  return {
    count: 0,
    h1: new Uint32Array(128),
    h2: new Uint32Array(128),
    start: new Int32Array(128),
  };
}

/** Fills `out` with the whole name's and each parent's fingerprint (index 0: the whole name). */
export function suffixesOf(name: string, out: Suffixes): Suffixes {
  let a = seed1;
  let b = seed2;
  let n = 0;
  const stack1 = scratch1;
  const stack2 = scratch2;
  const stackStart = scratchStart;
  for (let i = name.length - 1; i >= 0; i--) {
    const c = name.charCodeAt(i);
    if (c === 0x2e && n < 128) {
      // The suffix after this dot is complete.
      stack1[n] = a >>> 0;
      stack2[n] = b >>> 0;
      stackStart[n] = i + 1;
      n += 1;
    }
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  if (n < 128) {
    stack1[n] = a >>> 0;
    stack2[n] = b >>> 0;
    stackStart[n] = 0;
    n += 1;
  }
  // Longest first.
  for (let k = 0; k < n; k++) {
    out.h1[k] = stack1[n - 1 - k] ?? 0;
    out.h2[k] = stack2[n - 1 - k] ?? 0;
    out.start[k] = stackStart[n - 1 - k] ?? 0;
  }
  out.count = n;
  return out;
}

const scratch1 = new Uint32Array(128);
const scratch2 = new Uint32Array(128);
const scratchStart = new Int32Array(128);
const single = newSuffixes();

export class NameHashSet {
  #h1 = new Uint32Array(1024);
  #h2 = new Uint32Array(1024);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds a name (lower case, no trailing dot). */
  add(name: string): void {
    const s = suffixesOf(name, single);
    this.addFingerprint(s.h1[0] ?? 0, s.h2[0] ?? 0);
  }

  has(name: string): boolean {
    const s = suffixesOf(name, single);
    return this.hasFingerprint(s.h1[0] ?? 0, s.h2[0] ?? 0);
  }

  addFingerprint(h1: number, h2raw: number): void {
    // (0, 0) marks an empty slot.
    const h2 = h1 === 0 && h2raw === 0 ? 1 : h2raw;
    if ((this.#size + 1) * 2 > this.#h1.length) this.#grow();
    if (this.#insert(this.#h1, this.#h2, h1, h2)) this.#size += 1;
  }

  hasFingerprint(h1: number, h2raw: number): boolean {
    const h2 = h1 === 0 && h2raw === 0 ? 1 : h2raw;
    const t1 = this.#h1;
    const t2 = this.#h2;
    const mask = t1.length - 1;
    for (let i = h1 & mask; ; i = (i + 1) & mask) {
      const a = t1[i] ?? 0;
      const b = t2[i] ?? 0;
      if (a === h1 && b === h2) return true;
      if (a === 0 && b === 0) return false;
    }
  }

  /** Linear probing; false when the fingerprint was there already. */
  #insert(t1: Uint32Array, t2: Uint32Array, h1: number, h2: number): boolean {
    const mask = t1.length - 1;
    for (let i = h1 & mask; ; i = (i + 1) & mask) {
      const a = t1[i] ?? 0;
      const b = t2[i] ?? 0;
      if (a === h1 && b === h2) return false;
      if (a === 0 && b === 0) {
        t1[i] = h1;
        t2[i] = h2;
        return true;
      }
    }
  }

  #grow(): void {
    const old1 = this.#h1;
    const old2 = this.#h2;
    const n1 = new Uint32Array(old1.length * 2);
    const n2 = new Uint32Array(old1.length * 2);
    for (let i = 0; i < old1.length; i++) {
      const a = old1[i] ?? 0;
      const b = old2[i] ?? 0;
      if (a !== 0 || b !== 0) this.#insert(n1, n2, a, b);
    }
    this.#h1 = n1;
    this.#h2 = n2;
  }
}
