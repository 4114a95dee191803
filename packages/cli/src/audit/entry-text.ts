import canonicalize from 'canonicalize';
import { hashFromHex, leafHash, toHex } from './merkle-verify.ts';

/**
 * The bytes the ledger hashed for an entry: its RFC 8785 canonical JSON
 * (the server stores exactly that text, so re-serialising the parsed object
 * gives it back). Returns the text only when SHA-256(0x00 ‖ text) is the leaf
 * hash the server reported; null when it is not.
 */
export function canonicalEntryText(entry: unknown, expectedLeafHash: string): string | null {
  const text = canonicalize(entry);
  const expected = hashFromHex(expectedLeafHash);
  if (text === undefined || expected === null) return null;
  return toHex(leafHash(new TextEncoder().encode(text))) === toHex(expected) ? text : null;
}
