import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  hashFromHex,
  leafHash,
  toHex,
  verifyConsistency,
  verifyInclusion,
} from './merkle-verify.ts';

const vectorsDir = new URL('../../../../test/vectors/merkle/', import.meta.url);

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

function load<T>(name: string): T[] {
  return JSON.parse(readFileSync(new URL(name, vectorsDir), 'utf8')) as T[];
}

function h(hex: string): Uint8Array {
  const bytes = hashFromHex(hex);
  assert.ok(bytes, `${hex} is a hash`);
  return bytes;
}

/** The same hash with one bit flipped. */
function flipped(hash: Uint8Array): Uint8Array {
  const copy = new Uint8Array(hash);
  copy[copy.length - 1] = (copy[copy.length - 1] ?? 0) ^ 1;
  return copy;
}

const inclusion = load<InclusionVector>('inclusion.json');
const consistency = load<ConsistencyVector>('consistency.json');
const roots = (
  JSON.parse(readFileSync(new URL('roots.json', vectorsDir), 'utf8')) as {
    roots_by_size: Record<string, string>;
  }
).roots_by_size;

/**
 * The root of the vector tree of `size` leaves: a changed size is checked
 * against the head of that size, as a client takes (size, root) together from
 * one signed head (with the roots held fixed, RFC 9162 cannot tell some sizes
 * apart). Beyond the vectors, `fallback`.
 */
function rootOf(size: number, fallback: Uint8Array): Uint8Array {
  const hex = roots[String(size)];
  return hex ? h(hex) : fallback;
}

describe('RFC 9162 inclusion verifier', () => {
  it('hashes leaves as SHA-256(0x00 ‖ data)', () => {
    // The empty leaf of the CT reference suite.
    assert.equal(
      toHex(leafHash(new Uint8Array())),
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
    );
  });

  it('accepts every vector', () => {
    assert.ok(inclusion.length > 0);
    for (const v of inclusion) {
      const leaf = leafHash(Buffer.from(v.leaf_hex, 'hex'));
      assert.ok(
        verifyInclusion(leaf, v.leaf_index, v.tree_size, v.path.map(h), h(v.root)),
        `leaf ${v.leaf_index} of ${v.tree_size}`,
      );
    }
  });

  it('rejects every vector with a hash, index, size or path changed', () => {
    for (const v of inclusion) {
      const what = `leaf ${v.leaf_index} of ${v.tree_size}`;
      const leaf = leafHash(Buffer.from(v.leaf_hex, 'hex'));
      const path = v.path.map(h);
      const root = h(v.root);
      const ok = (l: Uint8Array, i: number, s: number, p: Uint8Array[], r: Uint8Array) =>
        verifyInclusion(l, i, s, p, r);
      assert.ok(!ok(flipped(leaf), v.leaf_index, v.tree_size, path, root), `${what}: leaf`);
      assert.ok(!ok(leaf, v.leaf_index, v.tree_size, path, flipped(root)), `${what}: root`);
      for (let i = 0; i < path.length; i++) {
        const bad = path.map((p, j) => (i === j ? flipped(p) : p));
        assert.ok(!ok(leaf, v.leaf_index, v.tree_size, bad, root), `${what}: path[${i}]`);
      }
      for (const index of [v.leaf_index - 1, v.leaf_index + 1, v.tree_size]) {
        if (index < 0) continue;
        assert.ok(!ok(leaf, index, v.tree_size, path, root), `${what}: index ${index}`);
      }
      for (const size of [v.tree_size - 1, v.tree_size + 1, v.tree_size * 2]) {
        if (size <= 0) continue;
        const other = rootOf(size, root);
        assert.ok(!ok(leaf, v.leaf_index, size, path, other), `${what}: size ${size}`);
      }
      assert.ok(!ok(leaf, v.leaf_index, v.tree_size, [...path, root], root), `${what}: extra`);
      if (path.length > 0) {
        assert.ok(!ok(leaf, v.leaf_index, v.tree_size, path.slice(1), root), `${what}: short`);
        assert.ok(
          !ok(leaf, v.leaf_index, v.tree_size, path.slice(0, -1), root),
          `${what}: truncated`,
        );
      }
    }
  });
});

describe('RFC 9162 consistency verifier', () => {
  it('accepts every vector, and an empty first tree', () => {
    assert.ok(consistency.length > 0);
    for (const v of consistency) {
      assert.ok(
        verifyConsistency(v.size1, v.size2, v.proof.map(h), h(v.root1), h(v.root2)),
        `${v.size1} → ${v.size2}`,
      );
    }
    const any = h(consistency[0]?.root1 ?? '');
    assert.ok(verifyConsistency(0, 5, [], flipped(any), any));
    assert.ok(!verifyConsistency(0, 5, [any], any, any), 'size 0 takes an empty proof');
  });

  it('rejects every vector with a hash, size or proof changed', () => {
    for (const v of consistency) {
      const what = `${v.size1} → ${v.size2}`;
      const proof = v.proof.map(h);
      const root1 = h(v.root1);
      const root2 = h(v.root2);
      assert.ok(!verifyConsistency(v.size1, v.size2, proof, flipped(root1), root2), `${what}: r1`);
      assert.ok(!verifyConsistency(v.size1, v.size2, proof, root1, flipped(root2)), `${what}: r2`);
      for (let i = 0; i < proof.length; i++) {
        const bad = proof.map((p, j) => (i === j ? flipped(p) : p));
        assert.ok(!verifyConsistency(v.size1, v.size2, bad, root1, root2), `${what}: [${i}]`);
      }
      for (const size1 of [v.size1 - 1, v.size1 + 1]) {
        if (size1 <= 0 || (proof.length === 0 && size1 === v.size2)) continue;
        assert.ok(
          !verifyConsistency(size1, v.size2, proof, rootOf(size1, root1), root2),
          `${what}: as size1 ${size1}`,
        );
      }
      for (const size2 of [v.size2 - 1, v.size2 + 1, v.size2 * 2]) {
        if (proof.length === 0 && size2 === v.size1) continue;
        assert.ok(
          !verifyConsistency(v.size1, size2, proof, root1, rootOf(size2, root2)),
          `${what}: as size2 ${size2}`,
        );
      }
      assert.ok(
        !verifyConsistency(v.size2 + 1, v.size2, proof, root1, root2),
        `${what}: a shrinking tree`,
      );
      assert.ok(
        !verifyConsistency(v.size1, v.size2, [...proof, root2], root1, root2),
        `${what}: extra`,
      );
      if (proof.length > 0) {
        assert.ok(
          !verifyConsistency(v.size1, v.size2, proof.slice(0, -1), root1, root2),
          `${what}: truncated`,
        );
      }
    }
  });
});
