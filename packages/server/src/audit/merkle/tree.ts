/**
 * Incremental RFC 9162 §2.1 Merkle tree over a pluggable node store.
 *
 * The store keeps the hash of every *complete* subtree: node (level, index)
 * is MTH(D[index·2^level : (index+1)·2^level]); level 0 holds the leaf hashes.
 * Appending leaf n writes its leaf hash plus one node per subtree it completes
 * (1 + trailing ones of n ≤ log2(n+1) + 1 writes) and reads nothing: the
 * hashes of the complete subtrees covering the current tree (the "frontier")
 * are cached in memory. The root of any earlier size and every proof are
 * assembled from complete subtrees in O(log n) node reads; nothing is ever
 * rebuilt.
 *
 * No Node-specific APIs: usable in the browser with the in-memory store.
 */
import { emptyRoot, isHash, leafHash, nodeHash } from '@bulwark/ledger';

type MaybePromise<T> = T | Promise<T>;

/**
 * Persistence for complete-subtree hashes. `put` must be an upsert: after a
 * failed append the same position is written again (with the same hash if the
 * same leaf is retried, or a new one if the failed leaf was rolled back).
 */
export interface NodeStore {
  get(level: number, index: number): MaybePromise<Uint8Array | undefined>;
  put(level: number, index: number, hash: Uint8Array): MaybePromise<void>;
}

/** Volatile NodeStore backed by arrays (tests, browser-side mirrors, caches). */
export class MemoryNodeStore implements NodeStore {
  readonly #levels: Uint8Array[][] = [];

  get(level: number, index: number): Uint8Array | undefined {
    return this.#levels[level]?.[index];
  }

  put(level: number, index: number, hash: Uint8Array): void {
    let row = this.#levels[level];
    if (row === undefined) {
      row = [];
      this.#levels[level] = row;
    }
    row[index] = hash.slice();
  }
}

export interface AppendResult {
  /** Zero-based position of the new leaf (= tree size before the append). */
  index: number;
  leafHash: Uint8Array;
}

interface Subtree {
  level: number;
  hash: Uint8Array;
}

function assertSize(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer`);
  }
}

/** Largest power of two strictly less than n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** Levels of the complete subtrees that make up a tree of `size` leaves, left to right. */
function decompose(size: number): number[] {
  const levels: number[] = [];
  let level = 0;
  while (2 ** (level + 1) <= size) level++;
  for (let rest = size; rest > 0; level--) {
    const width = 2 ** level;
    if (rest >= width) {
      levels.push(level);
      rest -= width;
    }
  }
  return levels;
}

/** Right fold of complete-subtree hashes (left to right, decreasing size) into MTH. */
function fold(hashes: readonly Uint8Array[]): Uint8Array {
  let acc = hashes[hashes.length - 1];
  if (acc === undefined) return emptyRoot();
  for (let i = hashes.length - 2; i >= 0; i--) {
    const left = hashes[i];
    if (left === undefined) throw new Error('unreachable');
    acc = nodeHash(left, acc);
  }
  return acc;
}

export class MerkleTree {
  readonly #store: NodeStore;
  #size: number;
  /** Complete subtrees covering [0, size), left to right (strictly decreasing level). */
  #frontier: Subtree[];
  /** Serialises appends; reads never wait on it. */
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(store: NodeStore, size: number, frontier: Subtree[]) {
    this.#store = store;
    this.#size = size;
    this.#frontier = frontier;
  }

  /**
   * Open a tree whose first `size` leaves are already in `store` (0 for a new
   * tree). Reads the O(log size) frontier nodes; throws if any is missing.
   */
  static async open(store: NodeStore, size = 0): Promise<MerkleTree> {
    assertSize('size', size);
    const frontier: Subtree[] = [];
    let offset = 0;
    for (const level of decompose(size)) {
      const hash = await MerkleTree.#read(store, level, offset / 2 ** level);
      frontier.push({ level, hash });
      offset += 2 ** level;
    }
    return new MerkleTree(store, size, frontier);
  }

  /** Number of committed leaves. */
  get size(): number {
    return this.#size;
  }

  /** Hash `leafBytes` (RFC 9162 leaf hash) and append it. */
  append(leafBytes: Uint8Array): Promise<AppendResult> {
    if (!(leafBytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError('leaf must be a Uint8Array'));
    }
    return this.appendLeafHash(leafHash(leafBytes));
  }

  /**
   * Append an already computed leaf hash. Appends are serialised; the size
   * only advances once every node write has succeeded, so a failed append
   * leaves the tree unchanged (re-`open` it if the store rolled back writes
   * that had already succeeded).
   */
  appendLeafHash(hash: Uint8Array): Promise<AppendResult> {
    if (!isHash(hash)) return Promise.reject(new TypeError('leaf hash must be 32 bytes'));
    const leaf = hash.slice();
    const run = this.#tail.then(() => this.#append(leaf));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #append(leaf: Uint8Array): Promise<AppendResult> {
    const index = this.#size;
    if (index >= Number.MAX_SAFE_INTEGER) throw new RangeError('tree is full');
    const frontier = this.#frontier.slice();
    const writes: Array<[number, number, Uint8Array]> = [[0, index, leaf]];
    let hash = leaf;
    let level = 0;
    for (
      let last = frontier.at(-1);
      last !== undefined && last.level === level;
      last = frontier.at(-1)
    ) {
      frontier.pop();
      hash = nodeHash(last.hash, hash);
      level++;
      writes.push([level, Math.floor(index / 2 ** level), hash]);
    }
    frontier.push({ level, hash });
    for (const [l, i, h] of writes) await this.#store.put(l, i, h);
    this.#frontier = frontier;
    this.#size = index + 1;
    return { index, leafHash: leaf.slice() };
  }

  /** MTH(D[0:size]) for any size ≤ the current size (default: current). */
  async root(size: number = this.#size): Promise<Uint8Array> {
    this.#checkSize('size', size);
    if (size === this.#size) return fold(this.#frontier.map((s) => s.hash));
    return this.#rangeHash(0, size);
  }

  /**
   * RFC 9162 §2.1.3.1 PATH(index, D[0:size]): sibling hashes from the leaf
   * upwards (nearest sibling first).
   */
  async inclusionProof(index: number, size: number = this.#size): Promise<Uint8Array[]> {
    this.#checkSize('size', size);
    assertSize('index', index);
    if (index >= size) throw new RangeError('index must be less than size');
    const topDown: Uint8Array[] = [];
    let lo = 0;
    let hi = size;
    while (hi - lo > 1) {
      const k = splitPoint(hi - lo);
      if (index < lo + k) {
        topDown.push(await this.#rangeHash(lo + k, hi));
        hi = lo + k;
      } else {
        topDown.push(await this.#rangeHash(lo, lo + k));
        lo += k;
      }
    }
    return topDown.reverse();
  }

  /**
   * RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]) = SUBPROOF(size1, D[0:size2], true).
   * Empty when size1 is 0 or equals size2.
   */
  async consistencyProof(size1: number, size2: number = this.#size): Promise<Uint8Array[]> {
    this.#checkSize('size2', size2);
    assertSize('size1', size1);
    if (size1 > size2) throw new RangeError('size1 must not exceed size2');
    if (size1 === 0 || size1 === size2) return [];
    const topDown: Uint8Array[] = [];
    let lo = 0;
    let hi = size2;
    let m = size1; // relative to lo
    let whole = true; // the RFC's `b`: D[lo:lo+m] is the entire old tree
    for (;;) {
      const n = hi - lo;
      if (m === n) {
        if (!whole) topDown.push(await this.#rangeHash(lo, hi));
        break;
      }
      const k = splitPoint(n);
      if (m <= k) {
        topDown.push(await this.#rangeHash(lo + k, hi));
        hi = lo + k;
      } else {
        topDown.push(await this.#rangeHash(lo, lo + k));
        lo += k;
        m -= k;
        whole = false;
      }
    }
    return topDown.reverse();
  }

  #checkSize(name: string, size: number): void {
    assertSize(name, size);
    if (size > this.#size) throw new RangeError(`${name} ${size} exceeds tree size ${this.#size}`);
  }

  /**
   * MTH(D[lo:hi]) for a range produced by the RFC recursion (lo is aligned to a
   * power of two ≥ hi − lo), from at most log2(hi − lo) + 1 complete subtrees.
   */
  async #rangeHash(lo: number, hi: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let p = lo;
    while (p < hi) {
      let level = 0;
      while (p % 2 ** (level + 1) === 0 && p + 2 ** (level + 1) <= hi) level++;
      parts.push(await MerkleTree.#read(this.#store, level, p / 2 ** level));
      p += 2 ** level;
    }
    return fold(parts);
  }

  static async #read(store: NodeStore, level: number, index: number): Promise<Uint8Array> {
    const hash = await store.get(level, index);
    if (!isHash(hash))
      throw new Error(`merkle node store is missing node (level ${level}, index ${index})`);
    return hash;
  }
}
