import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  emptyRoot,
  fromHex,
  leafHash,
  nodeHash,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from '@bulwark/ledger';
import { MemoryNodeStore, MerkleTree, type NodeStore } from './tree.ts';

// A copy of shared/testdata/merkle/ (RFC 6962 reference vectors), kept in the
// repository so the tests do not depend on what sits beside the clone.
const VECTORS = new URL('../../../../../test/vectors/merkle/', import.meta.url).pathname;
const readJson = (name: string): unknown => JSON.parse(readFileSync(`${VECTORS}/${name}`, 'utf8'));

interface RootsFile {
  leaves_hex: string[];
  roots_by_size: Record<string, string>;
}
interface InclusionVector {
  leaf_index: number;
  tree_size: number;
  leaf_hex: string;
  root: string;
  path: string[];
}
interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[];
}

const rootsFile = readJson('roots.json') as RootsFile;
const inclusionVectors = readJson('inclusion.json') as InclusionVector[];
const consistencyVectors = readJson('consistency.json') as ConsistencyVector[];
const LEAVES = rootsFile.leaves_hex.map(fromHex);
const ROOTS = Array.from(
  { length: LEAVES.length + 1 },
  (_, n) => rootsFile.roots_by_size[String(n)] ?? '',
);

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] ?? 0) ^ (1 << (bit & 7));
  return out;
}

const at = <T>(list: readonly T[], i: number): T => {
  const v = list[i];
  if (v === undefined) throw new Error(`index ${i} out of range`);
  return v;
};

/** Proof mutations: each hash bit-flipped, one extra hash (front/back), one missing (front/back). */
function mutatedProofs(proof: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  proof.forEach((h, i) => {
    for (const bit of [0, 7, 128, 255])
      out.push(proof.map((p, j) => (j === i ? flipBit(h, bit) : p)));
  });
  const extra = leafHash(Uint8Array.of(0xee));
  out.push([...proof, extra], [extra, ...proof]);
  if (proof.length > 0)
    out.push(proof.slice(1), proof.slice(0, -1), [...proof, at(proof, proof.length - 1)]);
  return out;
}

/** Integer mutations: flip each of the low bits, ±1. */
function mutatedInts(n: number): number[] {
  const out = new Set<number>([n + 1, n - 1]);
  for (let b = 0; b < 5; b++) out.add(n ^ (1 << b));
  out.delete(n);
  return [...out];
}

async function vectorTree(): Promise<MerkleTree> {
  const tree = await MerkleTree.open(new MemoryNodeStore());
  for (const leaf of LEAVES) await tree.append(leaf);
  return tree;
}

// ---- naive RFC 9162 §2.1 reference (recursive, over an array of leaf hashes) ----

function largestPow2Below(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function naiveMth(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return emptyRoot();
  if (leaves.length === 1) return at(leaves, 0);
  const k = largestPow2Below(leaves.length);
  return nodeHash(naiveMth(leaves.slice(0, k)), naiveMth(leaves.slice(k)));
}
function naivePath(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = largestPow2Below(leaves.length);
  if (m < k) return [...naivePath(m, leaves.slice(0, k)), naiveMth(leaves.slice(k))];
  return [...naivePath(m - k, leaves.slice(k)), naiveMth(leaves.slice(0, k))];
}
function naiveSubproof(m: number, leaves: readonly Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [naiveMth(leaves)];
  const k = largestPow2Below(n);
  if (m <= k) return [...naiveSubproof(m, leaves.slice(0, k), b), naiveMth(leaves.slice(k))];
  return [...naiveSubproof(m - k, leaves.slice(k), false), naiveMth(leaves.slice(0, k))];
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Async store that counts reads and writes, to check the I/O bounds. */
class CountingStore implements NodeStore {
  readonly inner = new MemoryNodeStore();
  reads = 0;
  writes = 0;
  async get(level: number, index: number): Promise<Uint8Array | undefined> {
    this.reads++;
    await Promise.resolve();
    return this.inner.get(level, index);
  }
  async put(level: number, index: number, hash: Uint8Array): Promise<void> {
    this.writes++;
    await Promise.resolve();
    this.inner.put(level, index, hash);
  }
}

describe('hash', () => {
  it('uses the RFC 9162 domain separation', () => {
    assert.equal(
      toHex(emptyRoot()),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    assert.equal(toHex(leafHash(new Uint8Array(0))), ROOTS[1]);
    assert.equal(toHex(nodeHash(leafHash(at(LEAVES, 0)), leafHash(at(LEAVES, 1)))), ROOTS[2]);
  });
  it('hex round-trips and rejects malformed hex', () => {
    assert.equal(toHex(fromHex('00ff10AB')), '00ff10ab');
    for (const bad of ['0', 'zz', '0g', ' 00']) assert.throws(() => fromHex(bad), TypeError);
  });
});

describe('shared test vectors', () => {
  it('the vector files are self-consistent', () => {
    assert.equal(LEAVES.length, 8);
    assert.equal(inclusionVectors.length, 36); // Σ n for n = 1..8
    assert.equal(consistencyVectors.length, 36); // pairs 1 ≤ size1 ≤ size2 ≤ 8
    for (const v of inclusionVectors) {
      assert.equal(v.leaf_hex, rootsFile.leaves_hex[v.leaf_index]);
      assert.equal(v.root, ROOTS[v.tree_size]);
    }
    for (const v of consistencyVectors) {
      assert.equal(v.root1, ROOTS[v.size1]);
      assert.equal(v.root2, ROOTS[v.size2]);
    }
  });

  it('reproduces every root, both while growing and for historical sizes', async () => {
    const tree = await MerkleTree.open(new MemoryNodeStore());
    assert.equal(toHex(await tree.root()), ROOTS[0]);
    for (const [i, leaf] of LEAVES.entries()) {
      const { index, leafHash: lh } = await tree.append(leaf);
      assert.equal(index, i);
      assert.deepEqual(lh, leafHash(leaf));
      assert.equal(tree.size, i + 1);
      for (let s = 0; s <= tree.size; s++)
        assert.equal(toHex(await tree.root(s)), ROOTS[s], `root(${s}) at size ${tree.size}`);
    }
  });

  it('reproduces every inclusion proof; the verifier accepts each and rejects every mutation', async () => {
    const tree = await vectorTree();
    for (const v of inclusionVectors) {
      const label = `leaf ${v.leaf_index} of ${v.tree_size}`;
      const proof = await tree.inclusionProof(v.leaf_index, v.tree_size);
      assert.deepEqual(proof.map(toHex), v.path, label);
      const lh = leafHash(fromHex(v.leaf_hex));
      const root = fromHex(v.root);
      assert.equal(verifyInclusion(lh, v.leaf_index, v.tree_size, proof, root), true, label);

      for (const bad of mutatedProofs(proof))
        assert.equal(verifyInclusion(lh, v.leaf_index, v.tree_size, bad, root), false, label);
      for (const bit of [0, 100, 255]) {
        assert.equal(
          verifyInclusion(flipBit(lh, bit), v.leaf_index, v.tree_size, proof, root),
          false,
          label,
        );
        assert.equal(
          verifyInclusion(lh, v.leaf_index, v.tree_size, proof, flipBit(root, bit)),
          false,
          label,
        );
      }
      for (const index of mutatedInts(v.leaf_index)) {
        assert.equal(
          verifyInclusion(lh, index, v.tree_size, proof, root),
          false,
          `${label} as index ${index}`,
        );
      }
      // A changed size is checked against the head of that size: always rejected.
      for (const size of mutatedInts(v.tree_size)) {
        const otherRoot = size >= 0 && size <= 8 ? fromHex(at(ROOTS, size)) : root;
        assert.equal(
          verifyInclusion(lh, v.leaf_index, size, proof, otherRoot),
          false,
          `${label} as size ${size}`,
        );
      }
    }
  });

  it('reproduces every consistency proof; the verifier accepts each and rejects every mutation', async () => {
    const tree = await vectorTree();
    for (const v of consistencyVectors) {
      const label = `${v.size1} → ${v.size2}`;
      const proof = await tree.consistencyProof(v.size1, v.size2);
      assert.deepEqual(proof.map(toHex), v.proof, label);
      const r1 = fromHex(v.root1);
      const r2 = fromHex(v.root2);
      assert.equal(verifyConsistency(v.size1, v.size2, proof, r1, r2), true, label);

      for (const bad of mutatedProofs(proof))
        assert.equal(verifyConsistency(v.size1, v.size2, bad, r1, r2), false, label);
      for (const bit of [0, 100, 255]) {
        assert.equal(
          verifyConsistency(v.size1, v.size2, proof, flipBit(r1, bit), r2),
          false,
          label,
        );
        assert.equal(
          verifyConsistency(v.size1, v.size2, proof, r1, flipBit(r2, bit)),
          false,
          label,
        );
      }
      // Changed sizes are checked against the heads of those sizes. The only
      // acceptances are genuine proofs: the empty proof for equal sizes or size1 = 0.
      const rootOf = (s: number, fallback: Uint8Array) =>
        s >= 0 && s <= 8 ? fromHex(at(ROOTS, s)) : fallback;
      for (const size1 of mutatedInts(v.size1)) {
        const genuine = proof.length === 0 && (size1 === v.size2 || size1 === 0);
        assert.equal(
          verifyConsistency(size1, v.size2, proof, rootOf(size1, r1), r2),
          genuine,
          `${label} as size1 ${size1}`,
        );
      }
      for (const size2 of mutatedInts(v.size2)) {
        const genuine = proof.length === 0 && size2 === v.size1;
        assert.equal(
          verifyConsistency(v.size1, size2, proof, r1, rootOf(size2, r2)),
          genuine,
          `${label} as size2 ${size2}`,
        );
      }
    }
  });

  it('a proof verifies against a (size, root) head only when it is that head’s genuine proof', async () => {
    // Exhaustive over sizes 0..9 and every vector proof, with the roots taken
    // from the heads the sizes claim.
    const tree = await vectorTree();
    const rootOf = (s: number) => (s <= 8 ? fromHex(at(ROOTS, s)) : leafHash(Uint8Array.of(9)));
    for (const v of consistencyVectors) {
      const proof = v.proof.map(fromHex);
      for (let a = 0; a <= 9; a++) {
        for (let b = 0; b <= 9; b++) {
          const ok = verifyConsistency(a, b, proof, rootOf(a), rootOf(b));
          // Equal sizes, and size1 = 0 (every tree extends the empty one), take the empty proof.
          const genuine =
            a <= b &&
            (a === 0 || a === b
              ? proof.length === 0
              : b <= 8 &&
                JSON.stringify((await tree.consistencyProof(a, b)).map(toHex)) ===
                  JSON.stringify(v.proof));
          assert.equal(ok, genuine, `proof(${v.size1},${v.size2}) checked as (${a},${b})`);
        }
      }
    }
    for (const v of inclusionVectors) {
      const proof = v.path.map(fromHex);
      for (let i = 0; i <= 9; i++) {
        for (let s = 0; s <= 9; s++) {
          const lh = leafHash(fromHex(rootsFile.leaves_hex[i] ?? 'ff'));
          const ok = verifyInclusion(lh, i, s, proof, rootOf(s));
          const genuine =
            i < s &&
            s <= 8 &&
            JSON.stringify((await tree.inclusionProof(i, s)).map(toHex)) === JSON.stringify(v.path);
          assert.equal(ok, genuine, `path(${v.leaf_index},${v.tree_size}) checked as (${i},${s})`);
        }
      }
    }
  });

  it('sizes are bound by the signed head, not by the proof (documented RFC 9162 property)', () => {
    // With the roots held fixed, the RFC algorithms cannot tell some sizes
    // apart: callers must take (size, root) together from one signed head.
    const v = inclusionVectors.find((x) => x.leaf_index === 0 && x.tree_size === 3);
    assert.ok(v);
    const lh = leafHash(fromHex(v.leaf_hex));
    assert.equal(verifyInclusion(lh, 0, 4, v.path.map(fromHex), fromHex(v.root)), true);
  });
});

describe('verifier input handling', () => {
  const lh = leafHash(at(LEAVES, 0));
  const proof = [leafHash(at(LEAVES, 1))];
  const root = fromHex(at(ROOTS, 2));
  it('accepts the well-formed baseline', () => {
    assert.equal(verifyInclusion(lh, 0, 2, proof, root), true);
  });
  it('never throws and returns false on malformed input', () => {
    const junk: unknown[] = [
      undefined,
      null,
      1,
      'x',
      {},
      [],
      new Uint8Array(31),
      new Uint8Array(33),
      [new Uint8Array(31)],
      [null],
    ];
    const call = (f: (...a: unknown[]) => boolean, ...a: unknown[]) => f(...a);
    const inc = verifyInclusion as unknown as (...a: unknown[]) => boolean;
    const con = verifyConsistency as unknown as (...a: unknown[]) => boolean;
    for (const j of junk) {
      assert.equal(call(inc, j, 0, 2, proof, root), false);
      if (!(Array.isArray(j) && j.length === 0)) assert.equal(call(inc, lh, 0, 2, j, root), false);
      assert.equal(call(inc, lh, 0, 2, proof, j), false);
      assert.equal(call(con, 1, 2, j, root, root), false);
      assert.equal(call(con, 1, 2, proof, j, root), false);
      assert.equal(call(con, 1, 2, proof, root, j), false);
    }
    for (const n of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', 1n]) {
      assert.equal(call(inc, lh, n, 2, proof, root), false);
      assert.equal(call(inc, lh, 0, n, proof, root), false);
      assert.equal(call(con, n, 2, proof, root, root), false);
      assert.equal(call(con, 1, n, proof, root, root), false);
    }
  });
  it('rejects out-of-range index and sizes', () => {
    assert.equal(verifyInclusion(lh, 2, 2, proof, root), false);
    assert.equal(verifyInclusion(lh, 0, 0, [], emptyRoot()), false);
    assert.equal(verifyConsistency(3, 2, [], root, root), false);
    assert.equal(verifyConsistency(2, 1, proof, root, root), false);
  });
  it('handles the empty tree', () => {
    assert.equal(verifyConsistency(0, 0, [], emptyRoot(), emptyRoot()), true);
    assert.equal(verifyConsistency(0, 2, [], emptyRoot(), root), true);
    assert.equal(verifyConsistency(0, 2, [], root, root), false);
    assert.equal(verifyConsistency(0, 2, proof, emptyRoot(), root), false);
  });
});

describe('MerkleTree', () => {
  it('random trees up to 300 leaves match the naive RFC recursion; I/O stays logarithmic', async () => {
    const rand = rng(0xb01a7c);
    for (const target of [1, 2, 3, 31, 64, 65, 127, 200, 300]) {
      const store = new CountingStore();
      const tree = await MerkleTree.open(store);
      const leaves: Uint8Array[] = [];
      for (let n = 1; n <= target; n++) {
        const bytes = Uint8Array.from({ length: Math.floor(rand() * 40) }, () =>
          Math.floor(rand() * 256),
        );
        const before = store.writes;
        const reads = store.reads;
        await tree.append(bytes);
        leaves.push(leafHash(bytes));
        assert.ok(
          store.writes - before <= Math.floor(Math.log2(n)) + 1,
          `append ${n} wrote ${store.writes - before}`,
        );
        assert.equal(store.reads, reads, 'append reads nothing');
        assert.deepEqual(await tree.root(), naiveMth(leaves), `root at ${n}`);
      }
      // every historical root, and every inclusion proof at the final size
      const logBound = (s: number) => 2 * Math.ceil(Math.log2(Math.max(s, 2))) + 2;
      for (let s = 0; s <= target; s++) {
        const reads = store.reads;
        const r = await tree.root(s);
        if (s < target) assert.ok(store.reads - reads <= logBound(s), `root(${s}) reads`);
        assert.deepEqual(r, naiveMth(leaves.slice(0, s)));
      }
      const rootN = await tree.root();
      for (let i = 0; i < target; i++) {
        const reads = store.reads;
        const proof = await tree.inclusionProof(i, target);
        assert.ok(
          store.reads - reads <= logBound(target),
          `inclusion ${i}/${target}: ${store.reads - reads} reads`,
        );
        assert.deepEqual(proof, naivePath(i, leaves), `path ${i}/${target}`);
        assert.equal(verifyInclusion(at(leaves, i), i, target, proof, rootN), true);
        if (proof.length > 0)
          assert.equal(verifyInclusion(at(leaves, i), i, target, proof.slice(1), rootN), false);
      }
      // a sample of inclusion proofs at historical sizes and of consistency proofs
      for (let k = 0; k < 60; k++) {
        const s2 = 1 + Math.floor(rand() * target);
        const s1 = Math.floor(rand() * (s2 + 1));
        const i = Math.floor(rand() * s2);
        const prefix = leaves.slice(0, s2);
        const r2 = naiveMth(prefix);
        const path = await tree.inclusionProof(i, s2);
        assert.deepEqual(path, naivePath(i, prefix));
        assert.equal(verifyInclusion(at(leaves, i), i, s2, path, r2), true);
        const reads = store.reads;
        const proof = await tree.consistencyProof(s1, s2);
        assert.ok(
          store.reads - reads <= logBound(s2),
          `consistency ${s1}→${s2}: ${store.reads - reads} reads`,
        );
        assert.deepEqual(
          proof,
          s1 === 0 ? [] : naiveSubproof(s1, prefix, true),
          `consistency ${s1}→${s2}`,
        );
        const r1 = naiveMth(leaves.slice(0, s1));
        assert.equal(verifyConsistency(s1, s2, proof, r1, r2), true, `verify ${s1}→${s2}`);
        if (proof.length > 0) {
          assert.equal(
            verifyConsistency(
              s1,
              s2,
              [...proof.slice(0, -1), flipBit(at(proof, proof.length - 1), 3)],
              r1,
              r2,
            ),
            false,
          );
        }
      }
    }
  });

  it('serialises concurrent appends and reopens from its store', async () => {
    const store = new CountingStore();
    const tree = await MerkleTree.open(store);
    const leaves = Array.from({ length: 37 }, (_, i) => Uint8Array.of(i, i + 1));
    const results = await Promise.all(leaves.map((l) => tree.append(l)));
    assert.deepEqual(
      results.map((r) => r.index),
      leaves.map((_, i) => i),
    );
    const hashes = leaves.map(leafHash);
    assert.deepEqual(await tree.root(), naiveMth(hashes));

    const reopened = await MerkleTree.open(store, 37);
    assert.equal(reopened.size, 37);
    assert.deepEqual(await reopened.root(), await tree.root());
    await reopened.append(Uint8Array.of(99));
    assert.deepEqual(await reopened.root(), naiveMth([...hashes, leafHash(Uint8Array.of(99))]));
    await assert.rejects(MerkleTree.open(new MemoryNodeStore(), 5), /missing node/);
  });

  it('a failed write leaves the tree unchanged', async () => {
    const inner = new MemoryNodeStore();
    let failAt = -1;
    let writes = 0;
    const store: NodeStore = {
      get: (l, i) => inner.get(l, i),
      put: (l, i, h) => {
        if (writes++ === failAt) throw new Error('disk full');
        inner.put(l, i, h);
      },
    };
    const tree = await MerkleTree.open(store);
    for (let i = 0; i < 3; i++) await tree.append(Uint8Array.of(i));
    const root3 = await tree.root();
    failAt = writes + 1; // the 4th leaf writes 3 nodes; fail the second
    await assert.rejects(tree.append(Uint8Array.of(3)), /disk full/);
    assert.equal(tree.size, 3);
    assert.deepEqual(await tree.root(), root3);
    await tree.append(Uint8Array.of(3));
    assert.deepEqual(
      await tree.root(),
      naiveMth([0, 1, 2, 3].map((i) => leafHash(Uint8Array.of(i)))),
    );
  });

  it('rejects out-of-range requests', async () => {
    const tree = await vectorTree();
    await assert.rejects(tree.root(9), RangeError);
    await assert.rejects(tree.root(-1), RangeError);
    await assert.rejects(tree.inclusionProof(8, 8), RangeError);
    await assert.rejects(tree.inclusionProof(0, 9), RangeError);
    await assert.rejects(tree.inclusionProof(0.5, 4), RangeError);
    await assert.rejects(tree.consistencyProof(5, 4), RangeError);
    await assert.rejects(tree.consistencyProof(1, 9), RangeError);
    await assert.rejects(tree.append('x' as unknown as Uint8Array), TypeError);
    await assert.rejects(tree.appendLeafHash(new Uint8Array(31)), TypeError);
    assert.deepEqual(await tree.consistencyProof(0, 8), []);
    assert.equal(tree.size, 8);
  });
});
