/**
 * RFC 9162 §2.1.1 hashing for the audit ledger's Merkle tree (SHA-256).
 *
 * Pure TypeScript with no Node-specific APIs, so it can be bundled for the
 * browser and the CLI verifier unchanged.
 */
import { sha256 } from '@noble/hashes/sha2.js';

/** Length in bytes of every hash in the tree. */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/** MTH({d}) = SHA-256(0x00 ‖ d) */
export function leafHash(bytes: Uint8Array): Uint8Array {
  return sha256.create().update(LEAF_PREFIX).update(bytes).digest();
}

/** Interior node: SHA-256(0x01 ‖ left ‖ right) */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.create().update(NODE_PREFIX).update(left).update(right).digest();
}

/** MTH({}) = SHA-256("") — the root of the empty tree. */
export function emptyRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}

/** True when `value` is a Uint8Array of exactly HASH_SIZE bytes. */
export function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

/** Byte-wise equality without early exit (hashes here are public, but it costs nothing). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

const HEX = '0123456789abcdef';

/** Lower-case hex encoding. */
export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (HEX[b >> 4] ?? '') + (HEX[b & 15] ?? '');
  return out;
}

/** Strict hex decoding (either case, even length); throws TypeError on anything else. */
export function fromHex(hex: string): Uint8Array {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new TypeError('invalid hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A 32-byte hash from hex, or null for anything else (for input from the network). */
export function hashFromHex(text: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) return null;
  return fromHex(text.toLowerCase());
}
