/**
 * RFC 9162 Merkle proof verifiers (SHA-256), written from the RFC alone so a
 * client checks the server with nothing of the server's code:
 *
 *     leaf = SHA-256(0x00 ‖ data)        node = SHA-256(0x01 ‖ left ‖ right)
 *
 * Sizes and indices are plain numbers (safe integers): halving is done with
 * arithmetic, not 32-bit shifts, so trees beyond 2^31 leaves work.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const hashBytes = 32;

export function leafHash(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(Uint8Array.of(0x00)).update(data).digest();
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return createHash('sha256').update(Uint8Array.of(0x01)).update(left).update(right).digest();
}

/** Lower-case hex of a 32-byte hash, or null if `text` is not one. */
export function hashFromHex(text: string): Uint8Array | null {
  if (!/^[0-9a-f]{64}$/i.test(text)) return null;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === hashBytes && b.length === hashBytes && timingSafeEqual(a, b);
}

function validPath(path: readonly Uint8Array[]): boolean {
  return path.every((p) => p.length === hashBytes);
}

const isOdd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/**
 * RFC 9162 §2.1.3.2: does `path` prove that the leaf hash `leaf` is at
 * `index` in the tree of `size` leaves whose root is `root`?
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size)) return false;
  if (index < 0 || index >= size || leaf.length !== hashBytes || !validPath(path)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!isOdd(fn)) {
        do {
          fn = half(fn);
          sn = half(sn);
        } while (!isOdd(fn) && fn !== 0);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `size1` leaves with
 * root `root1` is a prefix of the tree of `size2` leaves with root `root2`?
 * Equal sizes need an empty proof and equal roots; an empty first tree is a
 * prefix of anything (with an empty proof).
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(size1) || !Number.isSafeInteger(size2)) return false;
  if (size1 < 0 || size2 < size1 || !validPath(proof)) return false;
  if (root1.length !== hashBytes || root2.length !== hashBytes) return false;
  if (size1 === size2) return proof.length === 0 && sameHash(root1, root2);
  if (size1 === 0) return proof.length === 0;
  if (proof.length === 0) return false;
  // Step 2: when size1 is a power of two its root is the first node of the proof.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  const [first, ...rest] = path;
  if (!first) return false;
  let fr = first;
  let sr = first;
  for (const c of rest) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!isOdd(fn)) {
        do {
          fn = half(fn);
          sn = half(sn);
        } while (!isOdd(fn) && fn !== 0);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(fr, root1) && sameHash(sr, root2);
}

function isPowerOfTwo(n: number): boolean {
  let m = n;
  while (m > 1) {
    if (isOdd(m)) return false;
    m = half(m);
  }
  return m === 1;
}
