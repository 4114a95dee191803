/**
 * RFC 9162 §2.1.3.2 and §2.1.4.2 proof verification (the iterative
 * algorithms). Pure TypeScript, no Node-specific APIs. Never throws: any
 * malformed or out-of-range input yields `false`.
 *
 * Sizes and indices are JavaScript numbers limited to safe integers; bit
 * operations are done arithmetically so trees beyond 2^32 leaves work.
 */
import { emptyRoot, equalBytes, isHash, nodeHash } from './hash.ts';

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isHashList(value: unknown): value is readonly Uint8Array[] {
  return Array.isArray(value) && value.every(isHash);
}

const odd = (n: number): boolean => n % 2 === 1;
const half = (n: number): number => Math.floor(n / 2);

/**
 * Verify that `leafHash` is leaf `index` of the tree of `size` leaves whose
 * root is `root`, given the audit path `proof` (nearest sibling first).
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  try {
    if (!isHash(leafHash) || !isHash(root) || !isHashList(proof)) return false;
    if (!isCount(index) || !isCount(size) || index >= size) return false;
    let fn = index;
    let sn = size - 1;
    let r = leafHash;
    for (const p of proof) {
      if (sn === 0) return false;
      if (odd(fn) || fn === sn) {
        r = nodeHash(p, r);
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = half(fn);
      sn = half(sn);
    }
    return sn === 0 && equalBytes(r, root);
  } catch {
    return false;
  }
}

/**
 * Verify that the tree of `size2` leaves with root `root2` extends the tree
 * of `size1` leaves with root `root1`, given the consistency proof `proof`.
 *
 * Edge cases (outside the RFC's 0 < size1 < size2 algorithm): size1 = size2
 * requires an empty proof and equal roots; size1 = 0 requires an empty proof
 * and root1 = SHA-256("") (every tree extends the empty tree).
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  try {
    if (!isHash(root1) || !isHash(root2) || !isHashList(proof)) return false;
    if (!isCount(size1) || !isCount(size2) || size1 > size2) return false;
    if (size1 === 0) return proof.length === 0 && equalBytes(root1, emptyRoot());
    if (size1 === size2) return proof.length === 0 && equalBytes(root1, root2);
    // 1. An empty path cannot prove anything for 0 < size1 < size2.
    if (proof.length === 0) return false;
    // 2. If size1 is a power of two its root is the first node of the path.
    const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
    // 3–4.
    let fn = size1 - 1;
    let sn = size2 - 1;
    while (odd(fn)) {
      fn = half(fn);
      sn = half(sn);
    }
    // 5.
    const first = path[0];
    if (first === undefined) return false;
    let fr = first;
    let sr = first;
    // 6.
    for (let i = 1; i < path.length; i++) {
      const c = path[i];
      if (c === undefined || sn === 0) return false;
      if (odd(fn) || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        if (!odd(fn)) {
          while (!odd(fn) && fn !== 0) {
            fn = half(fn);
            sn = half(sn);
          }
        }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = half(fn);
      sn = half(sn);
    }
    // 7.
    return sn === 0 && equalBytes(fr, root1) && equalBytes(sr, root2);
  } catch {
    return false;
  }
}

function isPowerOfTwo(n: number): boolean {
  let v = n;
  while (v > 1) {
    if (odd(v)) return false;
    v = half(v);
  }
  return v === 1;
}
