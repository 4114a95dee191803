/**
 * A Map that remembers use order, for the response cache and the rate
 * limiter's buckets. A plain Map in insertion order (delete + re-insert on
 * use, evict `keys().next()`) looks equivalent but is not: V8 leaves
 * tombstones where entries were deleted and `keys().next()` walks over all of
 * them, so once a cache of 100 000 entries is full every eviction costs tens
 * of microseconds (measured ~60 µs) — exactly under a random-subdomain
 * flood, when misses come fastest. Here the order is a doubly linked list
 * threaded through the entries, so use and eviction are O(1) and nothing
 * ever iterates the Map from its start.
 */

interface Node<K, V> {
  key: K;
  value: V;
  /** Towards the most recently used. */
  newer: Node<K, V> | null;
  /** Towards the least recently used. */
  older: Node<K, V> | null;
}

export class LruMap<K, V> {
  readonly #nodes = new Map<K, Node<K, V>>();
  #newest: Node<K, V> | null = null;
  #oldest: Node<K, V> | null = null;

  get size(): number {
    return this.#nodes.size;
  }

  /** The value, without counting as a use. */
  peek(key: K): V | undefined {
    return this.#nodes.get(key)?.value;
  }

  /** The value, made the most recently used. */
  get(key: K): V | undefined {
    const node = this.#nodes.get(key);
    if (node === undefined) return undefined;
    if (node !== this.#newest) {
      this.#unlink(node);
      this.#pushNewest(node);
    }
    return node.value;
  }

  /** Stores the value as the most recently used (replacing any under that key). */
  set(key: K, value: V): void {
    const existing = this.#nodes.get(key);
    if (existing !== undefined) {
      existing.value = value;
      this.get(key);
      return;
    }
    const node: Node<K, V> = { key, value, newer: null, older: null };
    this.#nodes.set(key, node);
    this.#pushNewest(node);
  }

  delete(key: K): V | undefined {
    const node = this.#nodes.get(key);
    if (node === undefined) return undefined;
    this.#nodes.delete(key);
    this.#unlink(node);
    return node.value;
  }

  /** Removes and returns the least recently used entry. */
  shift(): [K, V] | undefined {
    const node = this.#oldest;
    if (node === null) return undefined;
    this.#nodes.delete(node.key);
    this.#unlink(node);
    return [node.key, node.value];
  }

  clear(): void {
    this.#nodes.clear();
    this.#newest = null;
    this.#oldest = null;
  }

  /** Every entry, least recently used first (a full walk: not for the query path). */
  *entries(): Generator<[K, V]> {
    for (let node = this.#oldest; node !== null; node = node.newer) yield [node.key, node.value];
  }

  #pushNewest(node: Node<K, V>): void {
    node.older = this.#newest;
    node.newer = null;
    if (this.#newest !== null) this.#newest.newer = node;
    this.#newest = node;
    if (this.#oldest === null) this.#oldest = node;
  }

  #unlink(node: Node<K, V>): void {
    if (node.newer === null) this.#newest = node.older;
    else node.newer.older = node.older;
    if (node.older === null) this.#oldest = node.newer;
    else node.older.newer = node.newer;
    node.newer = null;
    node.older = null;
  }
}
